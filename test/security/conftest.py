"""The escape suite's fixtures and its record of outcomes.

Every probe is a test marked ``@pytest.mark.probe(category=...)``. It runs model-like code that
first gets past the static check (``check_code`` must accept it: the probe asserts that) and then
asserts, on the host, that the effect did not happen. A probe aims only at what the test created
(a victim process, a file in its tmp dir, a segment it made and removes). The hook below writes
every probe's outcome to ``build/security/outcomes-<hostclass>.json`` and ``.md`` (override the
directory with SPATIALCLAW_SECURITY_OUT); scripts/security_table.py puts them into docs/sandbox.md.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from spatialclaw_ros.config import SandboxConfig
from spatialclaw_ros.kernel import KernelPool, check_code
from spatialclaw_ros.kernel.sandbox import child_env

ROOT = Path(__file__).resolve().parents[2]
SECRETS = {"SPATIALCLAW_VLM_API_KEY": "sk-probe-secret-1", "MY_SERVICE_TOKEN": "tok-probe-secret-2"}
# Gets os, ctypes and open without an import statement, __builtins__ name or dunder attribute.
PRELUDE = """\
_B = getattr(np, '__buil' + 'tins__')
_imp = _B['__imp' + 'ort__']
os = _imp('o' + 's')
op = _B['op' + 'en']
ct = np.ctypeslib.ctypes
libc = ct.CDLL(None, use_errno=True)
libc.syscall.restype = ct.c_long
def T(f, *a):
    try:
        return 'ok:' + str(f(*a))[:60]
    except BaseException as e:
        return 'err:' + type(e).__name__
def S(*a):
    r = libc.syscall(*[ct.c_long(x) if isinstance(x, int) else x for x in a])
    return 'ok:' + str(r) if r >= 0 else 'err:' + str(ct.get_errno())
"""
_OUTCOMES: list[dict] = []


def host_class() -> str:
    """root or uid<N>, plus the features a simulated weaker host denies (scripts/degrade.py)."""
    who = "root" if os.geteuid() == 0 else f"uid{os.geteuid()}"
    sim = os.environ.get("SPATIALCLAW_SIMULATED_HOST", "")
    return who + (f"-no-{sim.replace(',', '-no-')}" if sim else "")


def pytest_runtest_makereport(item, call):  # noqa: ANN001,ANN201 - pytest hook
    """Record each probe's outcome (held / escaped / not applicable)."""
    mark = item.get_closest_marker("probe")
    if mark is None or call.when not in ("setup", "call"):
        return
    if call.when == "setup" and call.excinfo is None:
        return
    if call.excinfo is None:
        outcome, detail = "held", dict(item.user_properties).get("detail", "")
    elif call.excinfo.errisinstance(pytest.skip.Exception):
        outcome, detail = "n/a", str(call.excinfo.value)[:200]
    else:
        outcome = "escaped" if call.excinfo.errisinstance(AssertionError) else "error"
        detail = call.excinfo.exconly()[:300]
    _OUTCOMES.append({"category": mark.kwargs.get("category", "?"), "name": item.name,
                      "outcome": outcome, "host_class": host_class(), "detail": str(detail)})


def pytest_sessionfinish(session, exitstatus):  # noqa: ANN001,ANN201 - pytest hook
    """Write the outcome table (JSON and markdown) for this host class."""
    if not _OUTCOMES:
        return
    out = Path(os.environ.get("SPATIALCLAW_SECURITY_OUT", ROOT / "build" / "security"))
    out.mkdir(parents=True, exist_ok=True)
    hc = host_class()
    rows = sorted(_OUTCOMES, key=lambda r: (r["category"], r["name"]))
    (out / f"outcomes-{hc}.json").write_text(json.dumps(rows, indent=1))
    md = [f"Escape suite on host class `{hc}`: {sum(r['outcome'] == 'held' for r in rows)} held, "
          f"{sum(r['outcome'] == 'escaped' for r in rows)} escaped, "
          f"{sum(r['outcome'] == 'n/a' for r in rows)} not applicable, "
          f"{sum(r['outcome'] == 'error' for r in rows)} errors.", "",
          "| category | probe | outcome | detail |", "|---|---|---|---|"]
    md += [f"| {r['category']} | `{r['name']}` | {r['outcome']} | {r['detail'][:90].replace('|', '/')} |"
           for r in rows]
    (out / f"outcomes-{hc}.md").write_text("\n".join(md) + "\n")


def code_of(body: str) -> str:
    """Probe code with the prelude; asserts the static check lets it through (the OS must hold)."""
    code = PRELUDE + body
    assert check_code(code) == [], check_code(code)
    return code


@pytest.fixture(scope="session")
def pool() -> Iterator[KernelPool]:
    """The sandbox under test (mode auto, small limits), started with secrets in the environment."""
    old = {k: os.environ.get(k) for k in SECRETS}
    os.environ.update(SECRETS)
    try:
        p = KernelPool(SandboxConfig(mode="auto", memory_mb=1024, cpu_s=30, max_open_files=64,
                                     max_file_mb=64, max_processes=32), size=1)
        assert p.wait_warm(timeout_s=120)
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    yield p
    p.close()


@pytest.fixture
def run(pool: KernelPool, request: pytest.FixtureRequest):  # noqa: ANN201
    """run(body, frames=()) -> stdout lines of one cell in a fresh kernel (the probe's)."""
    def _run(body: str, frames: list | tuple = (), timeout_s: float = 30, keep: list | None = None) -> list[str]:
        with pool.acquire(list(frames), {}) as k:
            if keep is not None:
                keep.append(k)
            r = k.run_cell(code_of(body), timeout_s=timeout_s)
            lines = r.stdout.split("\n") if r.stdout else []
            if not r.ok:
                lines.append(f"CELL-ERROR {r.error[-300:]}")
            request.node.user_properties.append(("detail", " ".join(lines)[-200:]))
            return [x for x in lines if x]
    return _run


@pytest.fixture
def victim() -> Iterator[subprocess.Popen]:
    """A process the test started (and kills): the target of probes at other processes."""
    env = {**child_env(), "VICTIM_SECRET_TOKEN": "victim-secret-123"}
    p = subprocess.Popen([sys.executable, "-c", "import time\nwhile True: time.sleep(1)"], env=env)
    time.sleep(0.05)
    yield p
    p.kill()
    p.wait()


def proc_field(pid: int, path: str, prefix: str) -> str:
    """A line of /proc/<pid>/<path> that starts with prefix (host view)."""
    with open(f"/proc/{pid}/{path}") as f:
        for line in f:
            if line.startswith(prefix):
                return line.strip()
    return ""


def meminfo_kb(key: str) -> int:
    """A /proc/meminfo field of the host, in kB."""
    with open("/proc/meminfo") as f:
        return int(next(x for x in f if x.startswith(key + ":")).split()[1])


def NR(name: str) -> int:  # noqa: N802 - reads like a constant in probe code
    """This machine's syscall number for name (x86_64 or aarch64)."""
    from spatialclaw_ros.kernel import seccomp

    n = seccomp.nr(name, seccomp.machine() or "x86_64")
    if n is None:
        pytest.skip(f"no {name} syscall on this architecture")
    return n
