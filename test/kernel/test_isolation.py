"""Each OS layer holds when the static check is bypassed (CI runs as root: permissions prove nothing).

Every attack is also run in a `mode: off` kernel as a control, to show that it would have worked.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
from kernel_helpers import Listener, children_of

from spatialclaw_ros.config import SandboxConfig
from spatialclaw_ros.errors import SandboxUnavailableError
from spatialclaw_ros.kernel import KernelPool, check_code, detect_sandbox_layers
from spatialclaw_ros.kernel.sandbox import child_env, missing_protections

SECRETS = {"SPATIALCLAW_VLM_API_KEY": "sk-kernel-test-1", "MY_SERVICE_TOKEN": "tok-kernel-test-2",
           "ROS_DOMAIN_ID": "77", "OPENAI_API_KEY": "sk-kernel-test-3"}
LIB = "c = np.ctypeslib.ctypes.CDLL(None, use_errno=True)\n"   # ctypes without an import
DENIED = {"PermissionError": "denied", "FileNotFoundError": "denied"}


def _run(pool: KernelPool, code: str, timeout_s: float = 20) -> str:
    with pool.acquire([], {}) as k:
        r = k.run_cell(code, timeout_s=timeout_s)
        assert r.ok, r.error
        return r.stdout.strip()


@pytest.fixture(scope="module")
def off_pool() -> Iterator[KernelPool]:
    """No sandbox: the control for every attack."""
    p = KernelPool(SandboxConfig(mode="off"), size=1)
    yield p
    p.close()


@pytest.fixture(scope="module")
def tight_pool() -> Iterator[KernelPool]:
    """Small limits, started with secrets in the parent's environment."""
    old = {k: os.environ.get(k) for k in SECRETS}
    os.environ.update(SECRETS)
    try:
        p = KernelPool(SandboxConfig(mode="auto", memory_mb=1024, cpu_s=2, max_open_files=64,
                                     max_file_mb=32, max_processes=16), size=1)
        assert p.wait_warm(timeout_s=60)
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    yield p
    p.close()


def test_all_layers_this_os_offers_are_active(pool: KernelPool) -> None:
    offered = {k for k, v in detect_sandbox_layers().items() if v.startswith("available")}
    with pool.acquire([], {}) as k:
        assert set(k.sandbox_layers) == offered
        assert {"landlock", "seccomp", "rlimits", "env-scrub", "pgroup"} <= offered


def test_writes_outside_scratch_are_denied(pool: KernelPool, off_pool: KernelPool, tmp_path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("original")
    new = tmp_path / "new.npy"
    code = (f"try:\n    np.save({str(new)!r}, np.zeros(3))\n    print('saved')\nexcept OSError as e:\n"
            f"    print(type(e).__name__)\n"
            f"w = getattr(__builtins__, 'op' + 'en')\n"
            f"try:\n    w({str(victim)!r}, 'w').write('owned')\nexcept OSError as e:\n"
            f"    print(type(e).__name__)\n"
            "np.save('inside.npy', np.ones(2))\nprint(np.load('inside.npy').tolist())")
    assert check_code(code.split("w = ")[0]) == []          # np.save passes the static check
    # not in the kernel's view (mount namespace) or denied (Landlock without one)
    assert [DENIED.get(x, x) for x in _run(pool, code).splitlines()] == ["denied", "denied", "[1.0, 1.0]"]
    assert victim.read_text() == "original" and not new.exists()
    assert _run(off_pool, code).splitlines()[0] == "saved"  # control: it works without the sandbox
    assert victim.read_text() == "owned"


def test_secret_files_cannot_be_read(pool: KernelPool, off_pool: KernelPool, tmp_path) -> None:
    key = tmp_path / ".ssh" / "id_ed25519"
    key.parent.mkdir()
    key.write_text("-----BEGIN OPENSSH PRIVATE KEY----- kernel-test")
    shadow = tmp_path / "shadow"
    shadow.write_text("root:$6$hash:19000:0:99999:7:::")
    code = "".join(
        f"try:\n    print(np.fromfile({str(p)!r}, dtype=np.uint8).tobytes()[:10])\n"
        f"except OSError as e:\n    print(type(e).__name__)\n" for p in (key, shadow))
    code += "try:\n    np.fromfile('/etc/hostname', dtype=np.uint8)\n    print('etc')\n" \
            "except OSError as e:\n    print(type(e).__name__)\n"
    assert check_code(code) == []
    assert [DENIED.get(x, x) for x in _run(pool, code).splitlines()] == ["denied"] * 3
    assert _run(off_pool, code).splitlines()[:2] == [repr(b"-----BEGIN"), repr(b"root:$6$ha")]


def test_no_network(pool: KernelPool, off_pool: KernelPool, listener: Listener) -> None:
    via_ctypes = LIB + "fd = c.socket(2, 1, 0)\nprint(fd, np.ctypeslib.ctypes.get_errno())"
    assert check_code(via_ctypes) == []
    assert _run(pool, via_ctypes) == "-1 1"                  # EPERM from seccomp
    via_socket = (f"import socket\ntry:\n    s = socket.create_connection(('127.0.0.1', {listener.port}), 2)\n"
                  f"    print('connected')\nexcept OSError as e:\n    print(type(e).__name__)")
    assert _run(pool, via_socket) == "PermissionError"
    time.sleep(0.3)
    assert listener.accepted == 0
    assert _run(off_pool, via_socket) == "connected"        # control
    for _ in range(50):
        if listener.accepted:
            break
        time.sleep(0.05)
    assert listener.accepted == 1


def test_own_network_namespace_has_no_interfaces(pool: KernelPool) -> None:
    with pool.acquire([], {}) as k:
        if "netns" not in k.sandbox_layers:
            pytest.fail(f"netns not active here: {k.notes}")
        r = k.run_cell("print(sorted(l.split(':')[0].strip() for l in "
                       "open('/proc/net/dev').read().splitlines()[2:]))", timeout_s=10)
        assert r.ok, r.error
        assert r.stdout.strip() == "['lo']"
    with open("/proc/net/dev") as f:
        assert len(f.read().splitlines()[2:]) >= 1


def test_cannot_signal_or_trace_other_processes(pool: KernelPool, off_pool: KernelPool) -> None:
    victim = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"],
                              env={**child_env(), "VICTIM_SECRET_TOKEN": "victim-secret"})
    try:
        code = (f"import os\nfor pid in ({victim.pid}, os.getppid()):\n"
                "    try:\n        os.kill(pid, 0)\n        print('signal ok')\n"
                "    except OSError as e:\n        print(type(e).__name__)\n"
                + LIB + f"print(c.ptrace(16, {victim.pid}, 0, 0))\n"
                f"try:\n    print(open('/proc/{victim.pid}/environ', 'rb').read()[:5])\n"
                "except OSError as e:\n    print(type(e).__name__)")
        out = _run(pool, code).splitlines()
        assert out[:3] == ["PermissionError", "PermissionError", "-1"] and DENIED.get(out[3]) == "denied"
        assert victim.poll() is None
        assert _run(off_pool, code).splitlines()[:2] == ["signal ok", "signal ok"]  # control
    finally:
        victim.kill()
        victim.wait()


FORK_BOMB = ("import os, time\nn = 0\nerr = ''\nfor i in range(40):\n    try:\n        p = os.fork()\n"
             "    except OSError as e:\n        err = type(e).__name__\n        break\n"
             "    if p == 0:\n        time.sleep(60)\n        os._exit(0)\n    n += 1\nprint(n, err)")


def test_fork_bombs_are_stopped_and_the_group_is_killed(pool: KernelPool, off_pool: KernelPool) -> None:
    assert _run(pool, FORK_BOMB) == "0 PermissionError"     # seccomp: threads only, no processes
    escape = ("import os\ntry:\n    os.execv('/bin/true', ['true'])\nexcept OSError as e:\n"
              "    print(type(e).__name__)")
    assert _run(pool, escape) == "PermissionError"
    with off_pool.acquire([], {}) as k:                    # control, and the pgroup layer
        r = k.run_cell(FORK_BOMB, timeout_s=30)
        assert r.stdout.strip() == "40", r.error
        pid = k.pid
        assert len(children_of(pid)) == 41
    for _ in range(100):                                    # SIGKILL is delivered asynchronously
        if not children_of(pid):
            break
        time.sleep(0.02)
    assert children_of(pid) == []                           # the whole group died at close


def test_descendants_cannot_leave_the_process_group(off_pool: KernelPool) -> None:
    # Without seccomp a process could setsid() out of the group the parent kills; with it, setsid
    # and setpgid fail (a process cannot even be created: see the test above).
    code = ("import os\nr, w = os.pipe()\np = os.fork()\nif p == 0:\n    try:\n        os.setsid()\n"
            "        os.write(w, b'escaped')\n    except OSError as e:\n        os.write(w, str(e.errno).encode())\n"
            "    os._exit(0)\nos.waitpid(p, 0)\nprint(os.read(r, 100).decode())")
    assert _run(off_pool, code) == "escaped"
    from spatialclaw_ros.kernel import seccomp
    prog = seccomp.build_filter(1234)
    assert len(prog) % 8 == 0 and len(prog) // 8 < 4096      # BPF_MAXINSNS


def test_environment_is_scrubbed(tight_pool: KernelPool) -> None:
    code = ("import os\nprint(sorted(k for k in os.environ if 'KEY' in k or 'TOKEN' in k or "
            "k.startswith(('ROS_', 'SPATIALCLAW_', 'OPENAI'))))\n"
            "try:\n    print(open('/proc/self/environ', 'rb').read().count(b'kernel-test'))\n"
            "except PermissionError:\n    print(0)\n"
            "print(os.environ['_ROS_WHEELS_BOOTSTRAP_COMPLETE'], os.environ['OPENBLAS_NUM_THREADS'])")
    assert _run(tight_pool, code).splitlines() == ["[]", "0", "1 1"]


def test_rlimits_bound_files_and_memory(tight_pool: KernelPool, off_pool: KernelPool) -> None:
    big_file = ("chunk = b'x' * (1 << 20)\nf = open('big.bin', 'wb')\ntry:\n    for i in range(300):\n"
                "        f.write(chunk)\n        f.flush()\nexcept OSError as e:\n    print(e.strerror)\n"
                "import os\nprint(os.path.getsize('big.bin') // (1 << 20))")
    many_files = ("fs = []\ntry:\n    for i in range(200):\n        fs.append(open('/dev/null'))\n"
                  "except OSError as e:\n    print(e.strerror, len(fs) < 64)")
    memory = ("try:\n    a = np.empty(1536 * 1024**2, np.uint8)\n    print('allocated')\n"
              "except MemoryError:\n    print('MemoryError')")
    with tight_pool.acquire([], {}) as k:
        out = [k.run_cell(c, timeout_s=30) for c in (big_file, many_files, memory)]
        assert all(r.ok for r in out), [r.error for r in out]
        assert [r.stdout.strip() for r in out] == [
            "File too large\n32", "Too many open files True", "MemoryError"]
    assert _run(off_pool, memory) == "allocated"            # control


def test_cpu_seconds_are_bounded(tight_pool: KernelPool) -> None:
    with tight_pool.acquire([], {}) as k:
        k.run_cell("kept = 5", timeout_s=10)
        r = k.run_cell("while True:\n    pass", timeout_s=60)
        assert r.crashed and not r.timed_out
        assert "SIGXCPU" in r.error and "2 CPU seconds" in r.error
        assert k.run_cell("print(kept)", timeout_s=10).stdout.strip() == "5"


def test_strict_mode(pool: KernelPool) -> None:
    assert missing_protections(["rlimits", "env-scrub", "pgroup", "seccomp"]) == [
        "no privilege over the host", "other processes out of reach", "host IPC out of reach",
        "file system view and scratch quota", "network"]
    assert missing_protections(["identity", "pidns", "ipcns", "mountns", "netns", "seccomp",
                                "rlimits", "env-scrub"]) == []
    with pytest.raises(ValueError, match="sandbox.mode must be one of"):
        KernelPool(SandboxConfig(mode="paranoid"))
    offered = [k for k, v in detect_sandbox_layers().items() if v.startswith("available")]
    if missing_protections(offered):
        with pytest.raises(SandboxUnavailableError, match="strict"):
            KernelPool(SandboxConfig(mode="strict"), size=0)
    else:
        strict = KernelPool(SandboxConfig(mode="strict"), size=0)
        try:
            with strict.acquire([], {}) as k:
                assert missing_protections(k.sandbox_layers) == []
        finally:
            strict.close()


def test_off_mode_reports_only_bookkeeping_layers(off_pool: KernelPool) -> None:
    with off_pool.acquire([], {}) as k:
        assert sorted(k.sandbox_layers) == ["env-scrub", "pgroup"]


DEGRADED = r'''
import json
from spatialclaw_ros.config import SandboxConfig
from spatialclaw_ros.errors import SandboxUnavailableError
from spatialclaw_ros.kernel import KernelPool
out = {}
for mode in ("auto", "strict"):
    try:
        pool = KernelPool(SandboxConfig(mode=mode), size=0)
    except SandboxUnavailableError as exc:
        out[mode] = {"refused": str(exc)}
        continue
    try:
        k = pool.acquire([], {})
    except Exception as exc:  # noqa: BLE001 - strict may refuse only once the kernel reports
        out[mode] = {"refused": str(exc)}
        pool.close()
        continue
    with k:
        r = k.run_cell("import socket, os\ntry:\n    socket.socket()\n    print('socket')\nexcept OSError as e:\n"
                       "    print(type(e).__name__)\nprint(os.getcwd())", timeout_s=20)
        out[mode] = {"layers": k.sandbox_layers, "notes": k.notes, "out": r.stdout.split(), "err": r.error}
    pool.close()
print(json.dumps(out))
'''
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _degraded(deny: str) -> dict:
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "degrade.py"), "--deny", deny,
                           "--", sys.executable, "-c", DEGRADED],
                          capture_output=True, text=True, timeout=180, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    import json

    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_degrades_without_user_namespaces() -> None:
    """As on a robot where AppArmor refuses user namespaces: start anyway, say so, stay closed."""
    out = _degraded("userns")
    layers = out["auto"]["layers"]
    assert "userns" not in layers and "seccomp" in layers and "landlock" in layers
    assert any("unshare(CLONE_NEWUSER) failed" in n for n in out["auto"]["notes"])
    assert out["auto"]["out"][0] == "PermissionError"
    if os.geteuid() == 0:     # root still gets the other namespaces, and its kernels become nobody
        assert {"identity", "pidns", "ipcns", "mountns", "netns"} <= set(layers)
        assert "layers" in out["strict"]
    else:
        assert "refused" in out["strict"]


def test_without_any_namespace_strict_refuses_and_auto_keeps_the_rest() -> None:
    """As in a container under Docker's default seccomp profile, and without Landlock."""
    out = _degraded("ns,landlock")
    assert "refused" in out["strict"] and "SANDBOX_UNAVAILABLE" not in out["strict"]["refused"][:0]
    layers = out["auto"]["layers"]
    assert not {"userns", "pidns", "mountns", "landlock"} & set(layers)
    assert {"identity", "seccomp", "rlimits", "env-scrub", "pgroup"} <= set(layers), out["auto"]
    assert out["auto"]["out"][0] == "PermissionError", out["auto"]


def test_auto_falls_back_when_the_namespaced_fork_server_cannot_start() -> None:
    """A host that allows namespaces but not mounts (e.g. an LSM policy): auto runs without them."""
    out = _degraded("mount")
    layers = out["auto"]["layers"]
    assert "mountns" not in layers and {"identity", "seccomp", "rlimits"} <= set(layers), out["auto"]
    assert any("namespaces: not used" in n for n in out["auto"]["notes"])
    assert out["auto"]["out"][0] == "PermissionError"
    assert "refused" in out["strict"]


def test_stale_empty_scratch_dirs_are_cleaned(tmp_path, monkeypatch) -> None:
    import tempfile

    from spatialclaw_ros.kernel.pool import clean_stale_scratch

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    old_empty, old_full, new_empty = (tmp_path / f"spatialclaw-scratch-{x}" for x in "abc")
    for d in (old_empty, old_full, new_empty):
        d.mkdir()
    (old_full / "kept.npy").write_bytes(b"x")
    for d in (old_empty, old_full):
        os.utime(d, (1, 1))
    os.utime(old_full, (1, 1))
    assert clean_stale_scratch() == 1
    assert not old_empty.exists() and old_full.exists() and new_empty.exists()
