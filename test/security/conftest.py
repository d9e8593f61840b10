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
from security_helpers import SECRETS, code_of, host_class

from spatialclaw_ros.config import SandboxConfig
from spatialclaw_ros.kernel import KernelPool
from spatialclaw_ros.kernel.sandbox import child_env

ROOT = Path(__file__).resolve().parents[2]
_OUTCOMES: list[dict] = []


ACTIVE_LAYERS: list[str] = []          # what the pool's kernels report (set by the pool fixture)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):  # noqa: ANN001,ANN201 - pytest hook
    """Record each probe's outcome: held, escaped, exposed (a guarantee this host lacks), n/a.

    A probe may say which layers its guarantee rests on (``needs=("mountns", "landlock")``: any
    of them). Where the host offers none of them, a failure is the documented state of that host
    class ("exposed", reported as xfail) rather than an escape from the sandbox it promises.
    """
    outcome_ = yield
    rep = outcome_.get_result()
    mark = item.get_closest_marker("probe")
    if mark is None or rep.when not in ("setup", "call") or (rep.when == "setup" and rep.passed):
        return
    needs = tuple(mark.kwargs.get("needs", ()))
    missing = bool(needs) and not any(x in ACTIVE_LAYERS for x in needs)
    if rep.passed:
        outcome, detail = "held", dict(item.user_properties).get("detail", "")
    elif rep.skipped:
        outcome, detail = "n/a", str(rep.longrepr[-1] if isinstance(rep.longrepr, tuple) else rep.longrepr)
    else:
        is_assert = call.excinfo is not None and call.excinfo.errisinstance(AssertionError)
        detail = call.excinfo.exconly() if call.excinfo is not None else str(rep.longrepr)
        if is_assert and missing:
            outcome = "exposed"
            detail = f"this host offers none of {', '.join(needs)}: {detail}"
            rep.outcome = "skipped"
            rep.wasxfail = detail[:300]
        else:
            outcome = "escaped" if is_assert else "error"
    _OUTCOMES.append({"category": mark.kwargs.get("category", "?"), "name": item.name,
                      "outcome": outcome, "host_class": host_class(),
                      "needs": list(needs), "detail": " ".join(str(detail).split())[:300]})


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
          f"{sum(r['outcome'] == 'exposed' for r in rows)} exposed (guarantee not offered on this "
          f"host class), {sum(r['outcome'] == 'n/a' for r in rows)} not applicable, "
          f"{sum(r['outcome'] == 'error' for r in rows)} errors.", "",
          f"Active layers: {', '.join(ACTIVE_LAYERS)}.", "",
          "| category | probe | outcome | detail |", "|---|---|---|---|"]
    md += [f"| {r['category']} | `{r['name']}` | {r['outcome']} | {r['detail'][:90].replace('|', '/')} |"
           for r in rows]
    (out / f"outcomes-{hc}.md").write_text("\n".join(md) + "\n")


@pytest.fixture(scope="session")
def pool() -> Iterator[KernelPool]:
    """The sandbox under test (mode auto, small limits), started with secrets in the environment."""
    old = {k: os.environ.get(k) for k in SECRETS}
    os.environ.update(SECRETS)
    try:
        p = KernelPool(SandboxConfig(mode="auto", memory_mb=1024, cpu_s=30, max_open_files=64,
                                     max_file_mb=64, max_processes=32), size=1)
        assert p.wait_warm(timeout_s=120)
        with p.acquire([], {}) as k:
            ACTIVE_LAYERS[:] = k.sandbox_layers
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


