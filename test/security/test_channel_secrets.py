"""The node's and CLI's own secrets: non-dumpable parents, nothing on command lines, VLM
credentials never in text that reaches the kernel (or the transcript)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from channel_helpers import cfg, closed_port, make_frames, pool  # noqa: F401

from spatialclaw_ros.agent.runner import run_query
from spatialclaw_ros.agent.types import QueryRequest
from spatialclaw_ros.config import Config
from spatialclaw_ros.kernel import KernelPool
from spatialclaw_ros.secrecy import Redactor, has_credentials, redact_url

probe = pytest.mark.probe(category="secrets")
REPO = str(Path(__file__).resolve().parents[2])
SECRET = "sk-live-7d1e0c55aa"

# the victim: a parent holding a secret in its environment, hardened (or not, for the control)
VICTIM = ("import sys, time\nsys.path.insert(0, {repo!r})\n"
          "from spatialclaw_ros.secrecy import harden_process\n"
          "if sys.argv[1] == 'harden':\n    assert harden_process()\n"
          "print('ready', flush=True)\ntime.sleep(60)\n")
# the attacker: another process of the same uid reading its environ and writing its memory
ATTACKER = ("import sys\npid = sys.argv[1]\nout = []\n"
            "try:\n    data = open(f'/proc/{pid}/environ', 'rb').read()\n"
            "    out.append('environ:read' if sys.argv[2].encode() in data else 'environ:empty')\n"
            "except OSError as e:\n    out.append('environ:' + type(e).__name__)\n"
            "try:\n    f = open(f'/proc/{pid}/mem', 'r+b', buffering=0)\n    out.append('mem:opened')\n"
            "except OSError as e:\n    out.append('mem:' + type(e).__name__)\n"
            "print(' '.join(out))\n")


def _same_uid_attack(harden: bool) -> str:
    """Start a victim and an attacker as one unprivileged uid (65534 when the suite runs as root:
    root would bypass the check); returns the attacker's findings."""
    as_root = os.geteuid() == 0
    python = "/usr/bin/python3" if as_root and os.path.exists("/usr/bin/python3") else sys.executable
    ids = {"user": 65534, "group": 65534, "extra_groups": []} if as_root else {}
    env = {"PATH": "/usr/bin:/bin", "VICTIM_TOKEN": SECRET}
    victim = subprocess.Popen([python, "-c", VICTIM.format(repo=REPO), "harden" if harden else "plain"],
                              env=env, stdout=subprocess.PIPE, text=True, cwd="/", **ids)
    try:
        assert victim.stdout.readline().strip() == "ready"
        out = subprocess.run([python, "-c", ATTACKER, str(victim.pid), SECRET], env={"PATH": "/usr/bin"},
                             capture_output=True, text=True, timeout=60, cwd="/", **ids)
        assert out.returncode == 0, out.stderr
        return out.stdout.strip()
    finally:
        victim.kill()
        victim.wait()


@probe
def test_hardened_parent_environ_and_memory_are_closed_to_same_uid() -> None:
    assert _same_uid_attack(harden=True) == "environ:PermissionError mem:PermissionError"


@probe
def test_control_an_unhardened_parent_leaks_to_same_uid() -> None:
    try:
        yama = int(Path("/proc/sys/kernel/yama/ptrace_scope").read_text())
    except (OSError, ValueError):
        yama = 0
    # Yama (Ubuntu's default scope 1) limits opening /proc/<pid>/mem to ancestors; environ stays open
    assert _same_uid_attack(harden=False) == ("environ:read mem:opened" if yama == 0 else
                                              "environ:read mem:PermissionError")


@probe
def test_cli_and_node_make_themselves_non_dumpable() -> None:
    code = ("import sys\nfrom spatialclaw_ros import cli\nfrom spatialclaw_ros.secrecy import is_dumpable\n"
            "rc = cli.main([])\nprint(rc, is_dumpable())\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip().splitlines()[-1] == "2 False", out.stderr
    pytest.importorskip("rclpy")
    code = ("from spatialclaw_ros.ros.node import run\nfrom spatialclaw_ros.secrecy import is_dumpable\n"
            "rc = run(None, ['--ros-args', '-p', 'vlm.base_url:=http://bob:pw-99x@h:8000/v1'])\n"
            "print(rc, is_dumpable())\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip().splitlines()[-1] == "2 False", out.stderr
    assert "holds credentials" in out.stderr and "pw-99x" not in out.stderr


@probe
def test_cli_refuses_credentials_on_the_command_line(tmp_path: Path) -> None:
    from spatialclaw_ros import cli

    url = "http://alice:pw-s3cret-9@127.0.0.1:9/v1"
    args = cli.build_parser().parse_args(["info", "--vlm-url", url, "--bag", "x.bag"])
    from spatialclaw_ros.config import ConfigError

    with pytest.raises(ConfigError, match="holds credentials") as exc:
        cli.config_from_args(args)
    assert "pw-s3cret-9" not in str(exc.value)
    f = tmp_path / "url"
    f.write_text(url + "\n")
    args = cli.build_parser().parse_args(["info", "--vlm-url-file", str(f), "--bag", "x.bag"])
    assert cli.config_from_args(args).vlm.base_url == url


@probe
def test_kernel_and_fork_server_command_lines_and_env_hold_no_secrets(monkeypatch) -> None:
    monkeypatch.setenv("SPATIALCLAW_VLM_API_KEY", SECRET)
    monkeypatch.setenv("SPATIALCLAW_VLM_URL", f"http://u:{SECRET}@h/v1")
    from spatialclaw_ros.config import SandboxConfig

    p = KernelPool(SandboxConfig(mode="auto"), size=1)
    try:
        with p.acquire(make_frames(), {}) as k:
            pids = [k.pid, p._zygote.pid]
            closed = []
            for pid in pids:
                for what in ("cmdline", "environ"):
                    try:
                        data = Path(f"/proc/{pid}/{what}").read_bytes()
                    except PermissionError:   # non-dumpable: closed to a non-root parent too
                        closed.append((pid, what))
                        continue
                    assert SECRET.encode() not in data, (pid, what)
            # and from inside: the kernel (a fork of the fork server, so the same argv and exec
            # environment) looks at its own environment, argv and /proc/self
            r = k.run_cell(KERNEL_SELF_LOOK, timeout_s=30)
            assert r.ok, r.error
            assert r.stdout.split()[0] == "clean", (r.stdout, closed)
    finally:
        p.close()


KERNEL_SELF_LOOK = (
    "_i = getattr(np, '__buil' + 'tins__')['__imp' + 'ort__']\n"
    "_os, _sys = _i('os'), _i('sys')\n"
    "_parts = [repr(dict(_os.environ)), repr(_sys.argv), repr(getattr(_sys, 'orig_argv', []))]\n"
    "_seen = []\n"
    "for _p in ('/proc/self/environ', '/proc/self/cmdline'):\n"
    "    try:\n"
    "        _fd = _os.open(_p, _os.O_RDONLY)\n"
    "        _parts.append(_os.read(_fd, 1 << 20).decode('latin-1'))\n"
    "        _os.close(_fd)\n"
    "        _seen.append(_p)\n"
    "    except OSError:\n"
    "        pass\n"
    f"print('leaked' if {SECRET!r} in ''.join(_parts) else 'clean', _seen)\n")


@probe
def test_vlm_credentials_never_reach_the_kernel(cfg: Config, pool: KernelPool, monkeypatch) -> None:
    """vlm() against an unreachable endpoint whose URL and key hold secrets, and a handler whose
    error quotes the URL: the kernel, the transcript and the result see *** instead."""
    password, token = "pw-s3cret-9c1", "tok-9f8e7d6c5b"
    monkeypatch.setenv("SPATIALCLAW_TEST_KEY", SECRET)
    cfg.vlm.api_key_env = "SPATIALCLAW_TEST_KEY"
    cfg.vlm.base_url = f"http://alice:{password}@127.0.0.1:{closed_port()}/v1?api_key={token}"

    def leaky(payload: dict) -> dict:
        raise RuntimeError(f"backend at {cfg.vlm.base_url} refused key {SECRET}")

    program = ("for f in (lambda: vlm('what is this?'), lambda: _call_parent('leaky', {})):\n"
               "    try:\n        f()\n    except Exception as e:\n        print('ERR', e)\n"
               "ReturnAnswer(1.0, unit='m')")
    res = run_query(QueryRequest("How far, in metres?"), make_frames(), cfg, program=program,
                    pool=pool, handlers={"leaky": leaky})
    assert res.success, res.error_message
    jsonl = Path(res.transcript_path.replace(".html", ".jsonl")).read_text()
    html = Path(res.transcript_path).read_text()
    import json

    cell = [json.loads(line) for line in jsonl.splitlines() if '"kind": "cell"' in line][0]
    assert cell["stdout"].count("ERR") == 2 and cell["stdout"].count("***") >= 3, cell["stdout"]
    for secret in (password, token, SECRET):
        assert secret not in jsonl and secret not in html, secret


@probe
def test_redaction_helpers() -> None:
    url = "https://alice:pw%2Fx-1@api.example.com/v1?key=tok-123456&x=1"
    assert has_credentials(url) and not has_credentials("http://127.0.0.1:8000/v1")
    shown = redact_url(url)
    assert "alice" not in shown and "tok-123456" not in shown and "api.example.com/v1" in shown
    r = Redactor.for_vlm(url)
    assert r(f"GET {url} failed; password pw/x-1 and pw%2Fx-1") .count("***") >= 3
    assert "tok-123456" not in r(f"error for {url}") and "pw%2Fx-1" not in r(url)


@probe
def test_diagnostics_show_the_vlm_url_without_credentials() -> None:
    pytest.importorskip("diagnostic_msgs")
    from spatialclaw_ros.ros.diagnostics import probe_vlm

    r = probe_vlm(f"http://alice:pw-s3cret-9c1@127.0.0.1:{closed_port()}/v1?key=tok-9f8e7d6c5b")
    assert not r.reachable and "***" in r.detail
    assert "pw-s3cret-9c1" not in r.detail and "tok-9f8e7d6c5b" not in r.detail


@probe
def test_node_parameter_shows_the_vlm_url_without_credentials() -> None:
    rclpy = pytest.importorskip("rclpy")
    from spatialclaw_ros.ros.node import SpatialClawNode

    c = Config()
    c.vlm.base_url = "http://alice:pw-s3cret-9c1@127.0.0.1:9/v1?key=tok-9f8e7d6c5b"
    c.sandbox.pool_size = 0
    context = rclpy.Context()
    rclpy.init(context=context)
    try:
        node = SpatialClawNode(context=context, cfg=c, node_name="channel_secrets_probe")
        try:
            shown = node.get_parameter("vlm.base_url").value
            assert "pw-s3cret-9c1" not in shown and "tok-9f8e7d6c5b" not in shown and "***" in shown
            assert node.cfg.vlm.base_url == c.vlm.base_url       # the node still uses the real one
        finally:
            node.shutdown()
            node.destroy_node()
    finally:
        rclpy.shutdown(context=context)
