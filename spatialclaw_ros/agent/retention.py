"""Disk hygiene: transcripts under a retention policy, scratch directories of dead runs removed.

Transcripts are `<query_id>.jsonl` + `<query_id>.html` (+ `<query_id>.failed` for a query without
an answer). `prune_transcripts` deletes successful ones older than `max_age_days`, failed ones
older than `keep_failures_days`, then the oldest (successes first) until the folder is under
`max_mb`. Scratch directories are named `spatialclaw-scratch-<pid>-*`: one whose process is gone
(killed with -9) is removed by `remove_dead_scratch`.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

SCRATCH_PREFIX = "spatialclaw-scratch-"
FAILED_SUFFIX = ".failed"
DAY_S = 86400.0


@dataclass
class PruneReport:
    """What `prune_transcripts` removed and what is left."""

    removed: list[str] = field(default_factory=list)     # query ids
    kept: int = 0
    bytes_left: int = 0


def scratch_prefix() -> str:
    """The prefix of this process's scratch directories (its pid inside)."""
    return f"{SCRATCH_PREFIX}{os.getpid()}-"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_dead_scratch(tmp_dir: str | None = None) -> list[str]:
    """Remove `spatialclaw-scratch-<pid>-*` directories whose process no longer exists."""
    base = Path(tmp_dir or tempfile.gettempdir())
    removed: list[str] = []
    try:
        entries = list(base.iterdir())
    except OSError:
        return removed
    for p in entries:
        if not p.name.startswith(SCRATCH_PREFIX) or not p.is_dir() or p.is_symlink():
            continue
        pid_text = p.name[len(SCRATCH_PREFIX):].split("-", 1)[0]
        if not pid_text.isdigit() or _pid_alive(int(pid_text)):
            continue
        shutil.rmtree(p, ignore_errors=True)
        removed.append(str(p))
    return removed


def mark_failed(jsonl_path: str) -> None:
    """Mark a transcript as a failed query (kept longer by the retention policy)."""
    if not jsonl_path:
        return
    try:
        Path(jsonl_path).with_suffix(FAILED_SUFFIX).touch()
    except OSError:
        pass


def prune_transcripts(directory: str, *, max_mb: float, max_age_days: float,
                      keep_failures_days: float, now: float | None = None) -> PruneReport:
    """Apply the retention policy to `directory` (0 turns a limit off); never raises."""
    report = PruneReport()
    d = Path(os.path.expanduser(directory))
    groups: dict[str, list[Path]] = {}
    try:
        for p in d.iterdir():
            if p.is_file() and p.suffix in (".jsonl", ".html", FAILED_SUFFIX):
                groups.setdefault(p.stem, []).append(p)
    except OSError:
        return report
    now = time.time() if now is None else now
    items = []                      # (failed, mtime, size, id)
    for qid, files in groups.items():
        try:
            mtime = max(f.stat().st_mtime for f in files)
            size = sum(f.stat().st_size for f in files)
        except OSError:
            continue
        items.append((any(f.suffix == FAILED_SUFFIX for f in files), mtime, size, qid))

    def remove(qid: str) -> None:
        for f in groups[qid]:
            try:
                f.unlink()
            except OSError:
                pass
        report.removed.append(qid)

    left = []
    for failed, mtime, size, qid in items:
        limit_days = keep_failures_days if failed else max_age_days
        if limit_days > 0 and now - mtime > limit_days * DAY_S:
            remove(qid)
        else:
            left.append((failed, mtime, size, qid))
    total = sum(x[2] for x in left)
    if max_mb > 0 and total > max_mb * 1e6:
        for failed, mtime, size, qid in sorted(left, key=lambda x: (x[0], x[1])):
            if total <= max_mb * 1e6:
                break
            remove(qid)
            total -= size
            left.remove((failed, mtime, size, qid))
    report.kept, report.bytes_left = len(left), total
    return report
