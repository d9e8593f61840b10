#!/usr/bin/env python3
"""Remove Fast DDS shared-memory files in /dev/shm that no process has open or mapped.

Processes killed with SIGKILL (the node-gone and restart tests do it on purpose) leave their Fast
DDS segments and port mutexes behind; enough of them make later participants on the machine lose
discovery or samples. A file is removed only when no process on the machine has it open or mapped.
Not root: if any process cannot be inspected, nothing is removed. Root: a process even root cannot
inspect lives outside our user namespace (a container's supervisor) and is not one of ours. Fast DDS's own `fastdds shm
clean` does the same, but is not part of the PyPI wheels.
"""
from __future__ import annotations

import os
import re
import sys
from pathlib import Path

SHM = Path("/dev/shm")
PATTERN = re.compile(r"^(sem\.)?(fastrtps|fastdds)_")


def in_use() -> set[str] | None:
    """Paths under /dev/shm any process has open or mapped; None if some process is unreadable."""
    used: set[str] = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            for line in (entry / "maps").read_text().splitlines():
                parts = line.split(maxsplit=5)
                if len(parts) == 6 and parts[5].startswith("/dev/shm/"):
                    used.add(parts[5].split(" (deleted)")[0])
            for fd in (entry / "fd").iterdir():
                try:
                    target = os.readlink(fd)
                except OSError:
                    continue
                if target.startswith("/dev/shm/"):
                    used.add(target)
        except (FileNotFoundError, ProcessLookupError):     # the process ended meanwhile
            continue
        except PermissionError:
            if os.geteuid() != 0:
                return None
    return used


def main() -> int:
    """Remove stale Fast DDS files; print how many. Always exits 0 (a clean-up, not a check)."""
    if not SHM.is_dir():
        return 0
    candidates = [p for p in SHM.iterdir() if PATTERN.match(p.name)]
    if not candidates:
        return 0
    try:
        used = in_use()
    except OSError as exc:
        print(f"clean_stale_dds_shm: cannot scan /proc ({exc}); nothing removed", file=sys.stderr)
        return 0
    if used is None:
        print("clean_stale_dds_shm: some processes cannot be inspected (not root); nothing removed",
              file=sys.stderr)
        return 0
    removed = 0
    for p in candidates:
        if str(p) not in used:
            try:
                p.unlink()
                removed += 1
            except OSError:
                pass
    print(f"clean_stale_dds_shm: removed {removed} stale Fast DDS file(s) from /dev/shm "
          f"({len(candidates) - removed} in use)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
