"""Every cell that ran is in the transcript, whatever ends the query: a protocol violation, a
timeout, a cancel, or the CLI process killed while the cell runs."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from channel_helpers import PRELUDE, cfg, make_frames, only_jsonl, pool, transcript_events  # noqa: F401

from spatialclaw_ros.agent.runner import run_query
from spatialclaw_ros.agent.types import QueryRequest
from spatialclaw_ros.config import Config
from spatialclaw_ros.errors import ErrorCode
from spatialclaw_ros.kernel import KernelPool

probe = pytest.mark.probe(category="channel")
SPIN = "x = 0\nwhile True:\n    x += 1  # the cell that matters"


def _cells(events: list[dict], code: str) -> list[str]:
    return [e["kind"] for e in events if e.get("kind") in ("cell_start", "cell") and e.get("code") == code]


@probe
def test_cell_is_in_the_transcript_after_a_protocol_violation(cfg: Config, pool: KernelPool) -> None:
    program = PRELUDE + "result(stdout=5)"
    res = run_query(QueryRequest("How far, in metres?"), make_frames(), cfg, program=program, pool=pool)
    assert res.error_code == ErrorCode.KERNEL_DIED
    assert res.error_message.startswith("protocol violation by the kernel: result stdout must be a str")
    events = transcript_events(res.transcript_path)
    assert _cells(events, program) == ["cell_start", "cell"]
    cell = [e for e in events if e.get("kind") == "cell"][0]
    assert cell["protocol_violation"] and cell["error"].startswith("protocol violation by the kernel")
    assert "protocol violation" in Path(res.transcript_path).read_text()


@probe
def test_cell_is_in_the_transcript_after_the_query_timeout(cfg: Config, pool: KernelPool) -> None:
    res = run_query(QueryRequest("How far, in metres?", timeout_s=3.0), make_frames(), cfg,
                    program=SPIN, pool=pool)
    assert res.error_code == ErrorCode.TIMEOUT
    events = transcript_events(res.transcript_path)
    assert _cells(events, SPIN) == ["cell_start", "cell"]
    cell = [e for e in events if e.get("kind") == "cell"][0]
    assert cell["canceled"] or cell["timed_out"]


@probe
def test_cell_is_in_the_transcript_after_a_cancel(cfg: Config, pool: KernelPool) -> None:
    cancel = threading.Event()
    out_dir = Path(cfg.agent.transcript_dir)

    def cancel_when_running() -> None:       # cancel once the cell is recorded as started
        while not cancel.is_set():
            files = list(out_dir.glob("*.jsonl")) if out_dir.exists() else []
            if files and '"cell_start"' in files[0].read_text():
                cancel.set()
            time.sleep(0.05)

    t = threading.Thread(target=cancel_when_running, daemon=True)
    t.start()
    res = run_query(QueryRequest("How far, in metres?"), make_frames(), cfg, program=SPIN, pool=pool,
                    cancel=cancel)
    t.join(10)
    assert res.error_code == ErrorCode.CANCELED
    assert _cells(transcript_events(res.transcript_path), SPIN) == ["cell_start", "cell"]


@probe
def test_cell_is_in_the_transcript_when_the_cli_is_killed(cfg: Config, tmp_path: Path) -> None:
    """The process running the query (as `spatialclaw query` does) is SIGKILLed mid-cell."""
    script = (
        "import sys\nsys.path.insert(0, %r)\n"
        "from channel_helpers import make_frames\n"
        "from spatialclaw_ros.agent.runner import run_query\n"
        "from spatialclaw_ros.agent.types import QueryRequest\n"
        "from spatialclaw_ros.config import Config\n"
        "cfg = Config()\ncfg.agent.transcript_dir = %r\ncfg.sandbox.pool_size = 1\n"
        "run_query(QueryRequest('How far, in metres?'), make_frames(), cfg, program=%r)\n"
    ) % (str(Path(__file__).parent), cfg.agent.transcript_dir, SPIN)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    out_dir = Path(cfg.agent.transcript_dir)
    try:
        for _ in range(1200):                  # up to ~2 min on a loaded machine (not asserted)
            files = list(out_dir.glob("*.jsonl")) if out_dir.exists() else []
            if files and '"cell_start"' in files[0].read_text():
                break
            assert proc.poll() is None, proc.stderr.read()
            time.sleep(0.1)
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    events = [json.loads(line) for line in only_jsonl(out_dir).read_text().splitlines()]
    assert _cells(events, SPIN) == ["cell_start"]
