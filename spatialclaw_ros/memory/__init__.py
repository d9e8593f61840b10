"""Long-horizon spatial memory: keyframes chosen by novelty, stored as rosbag2 MCAP segments with an
SQLite index, thinned to a disk budget, and searched by time, place and content from the kernel.

Layout of a memory directory::

    index.sqlite              keyframes, trajectory, corrections, segments, FTS5 over tags/captions
    segments/seg_000001/      one rosbag2 (MCAP) per segment: `spatialclaw query --bag` reads it
"""
from __future__ import annotations

from spatialclaw_ros.memory.store import MemoryStore

__all__ = ["MemoryStore"]
