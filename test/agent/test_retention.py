"""Disk (issue 13, defect 9): transcripts under a retention policy, scratch of dead runs removed."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from spatialclaw_ros.agent.retention import (FAILED_SUFFIX, prune_transcripts,
                                              remove_dead_scratch, scratch_prefix)


def _query(d: Path, qid: str, *, age_days: float, size: int, failed: bool = False) -> None:
    t = time.time() - age_days * 86400
    files = [d / f"{qid}.jsonl", d / f"{qid}.html"] + ([d / f"{qid}{FAILED_SUFFIX}"] if failed else [])
    for i, f in enumerate(files):
        f.write_bytes(b"x" * (size // 2 if i < 2 else 0))
        os.utime(f, (t, t))


def test_age_limits_keep_failures_longer(tmp_path: Path) -> None:
    _query(tmp_path, "old-ok", age_days=20, size=100)
    _query(tmp_path, "old-failed", age_days=20, size=100, failed=True)
    _query(tmp_path, "ancient-failed", age_days=90, size=100, failed=True)
    _query(tmp_path, "new-ok", age_days=1, size=100)
    rep = prune_transcripts(str(tmp_path), max_mb=0, max_age_days=14, keep_failures_days=60)
    assert sorted(rep.removed) == ["ancient-failed", "old-ok"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "new-ok.html", "new-ok.jsonl", "old-failed.failed", "old-failed.html", "old-failed.jsonl"]


def test_size_cap_removes_oldest_successes_first(tmp_path: Path) -> None:
    for i in range(6):
        _query(tmp_path, f"ok{i}", age_days=5 - i * 0.1, size=400_000)
    _query(tmp_path, "failed", age_days=6, size=400_000, failed=True)
    rep = prune_transcripts(str(tmp_path), max_mb=1.0, max_age_days=0, keep_failures_days=0)
    assert rep.bytes_left <= 1_000_000 and rep.removed[:2] == ["ok0", "ok1"]
    assert "failed" not in rep.removed and (tmp_path / "failed.jsonl").exists()


def test_scratch_of_a_killed_process_is_removed_and_a_live_ones_kept(tmp_path: Path) -> None:
    mine = tmp_path / f"{scratch_prefix()}abc"
    mine.mkdir()
    victim = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    dead = tmp_path / f"spatialclaw-scratch-{victim.pid}-xyz"
    dead.mkdir()
    (dead / "cell_output.npy").write_bytes(b"123")
    victim.kill()
    victim.wait()
    other = tmp_path / "not-ours"
    other.mkdir()
    removed = remove_dead_scratch(str(tmp_path))
    assert removed == [str(dead)] and not dead.exists()
    assert mine.exists() and other.exists()
