"""A bounded, thread-safe buffer of keyframes for queries (the live node feeds it from callbacks)."""
from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from spatialclaw_ros.config import KeyframeConfig
from spatialclaw_ros.frames.keyframes import KeyframeDecision, KeyframeSelector
from spatialclaw_ros.frames.types import Frame

NS_PER_S = 1_000_000_000


@dataclass
class BufferStats:
    """Fill and drops, for diagnostics."""

    frames: int
    max_frames: int
    bytes: int
    memory_cap_bytes: int
    oldest_stamp_ns: int | None
    newest_stamp_ns: int | None
    oldest_age_s: float | None      # against ``now_ns`` given to stats() (ROS time or wall time)
    newest_age_s: float | None
    added: int
    dropped: dict[str, int] = field(default_factory=dict)

    @property
    def fill(self) -> float:
        """The larger of frame-count and memory fill, 0..1."""
        a = self.frames / self.max_frames if self.max_frames else 0.0
        b = self.bytes / self.memory_cap_bytes if self.memory_cap_bytes else 0.0
        return max(a, b)


def spread_indices(n: int, k: int) -> list[int]:
    """``k`` indices out of ``range(n)`` spread evenly, first and last included."""
    if k <= 0 or n <= 0:
        return []
    if k >= n:
        return list(range(n))
    if k == 1:
        return [n - 1]
    return sorted({int(round(x)) for x in np.linspace(0, n - 1, k)})


class FrameBuffer:
    """Keyframes sorted by stamp, at most ``max_frames`` and ``memory_cap_mb``; oldest go first."""

    def __init__(self, cfg: KeyframeConfig, *, select_keyframes: bool = True) -> None:
        """Limits and keyframe thresholds from ``cfg``; ``select_keyframes=False`` keeps every frame."""
        if cfg.max_frames < 1:
            raise ValueError(f"keyframes.max_frames must be >= 1, got {cfg.max_frames}")
        if cfg.memory_cap_mb <= 0:
            raise ValueError(f"keyframes.memory_cap_mb must be > 0, got {cfg.memory_cap_mb}")
        self.cfg = cfg
        self.max_frames = int(cfg.max_frames)
        self.memory_cap_bytes = int(cfg.memory_cap_mb) * 1024 * 1024
        self._select = select_keyframes
        self._selector = KeyframeSelector(cfg)
        self._frames: list[Frame] = []
        self._bytes = 0
        self._added = 0
        self._drops: Counter[str] = Counter()
        self._lock = threading.Lock()

    def should_keep(self, stamp_ns: int, pose: np.ndarray | None) -> KeyframeDecision:
        """Would a frame at this stamp and pose become a keyframe? (Check before converting images.)"""
        with self._lock:
            if not self._select:
                return KeyframeDecision(True, "all")
            return self._selector.evaluate(stamp_ns, pose)

    def add(self, frame: Frame) -> bool:
        """Insert a frame if it is a keyframe; evict the oldest beyond the caps. True if kept."""
        nbytes = frame.nbytes
        with self._lock:
            if nbytes > self.memory_cap_bytes:
                self._drops["larger_than_memory_cap"] += 1
                return False
            if self._select:
                d = self._selector.evaluate(frame.stamp_ns, frame.T_fixed_camera)
                if not d.keep:
                    self._drops["not_keyframe"] += 1
                    return False
                self._selector.accept(frame.stamp_ns, frame.T_fixed_camera)
            stamps = [f.stamp_ns for f in self._frames]
            i = int(np.searchsorted(stamps, frame.stamp_ns, side="right"))
            if i > 0 and stamps[i - 1] == frame.stamp_ns:
                # The same stamp again (a replay after time went back): the newer copy replaces it.
                self._bytes -= self._frames[i - 1].nbytes
                self._frames[i - 1] = frame
                self._bytes += nbytes
                return True
            self._frames.insert(i, frame)
            self._bytes += nbytes
            self._added += 1
            while len(self._frames) > self.max_frames:
                self._evict("max_frames")
            while self._bytes > self.memory_cap_bytes:
                self._evict("memory_cap")
            return True

    def select(self, start_ns: int | None = None, end_ns: int | None = None,
               max_frames: int | None = None) -> list[Frame]:
        """Frames with start <= stamp <= end (None/0: open), at most ``max_frames``, spread evenly."""
        lo = start_ns or None
        hi = end_ns or None
        with self._lock:
            frames = [f for f in self._frames
                      if (lo is None or f.stamp_ns >= lo) and (hi is None or f.stamp_ns <= hi)]
        if max_frames is None:
            max_frames = self.cfg.max_query_frames
        return [frames[i] for i in spread_indices(len(frames), max_frames)]

    def frames(self) -> list[Frame]:
        """Every buffered frame, oldest first."""
        with self._lock:
            return list(self._frames)

    def clear(self) -> None:
        """Drop every frame and forget the last keyframe."""
        with self._lock:
            self._frames.clear()
            self._bytes = 0
            self._selector.reset()

    def clear_after(self, stamp_ns: int) -> int:
        """Drop frames stamped after `stamp_ns` (time went back to it); returns how many."""
        with self._lock:
            keep = [f for f in self._frames if f.stamp_ns <= stamp_ns]
            dropped = len(self._frames) - len(keep)
            self._frames = keep
            self._bytes = sum(f.nbytes for f in keep)
            self._selector.reset()
            if keep:
                self._selector.accept(keep[-1].stamp_ns, keep[-1].T_fixed_camera)
            return dropped

    def __len__(self) -> int:
        with self._lock:
            return len(self._frames)

    @property
    def nbytes(self) -> int:
        """Bytes held by the buffered frames' arrays."""
        with self._lock:
            return self._bytes

    def count_drop(self, reason: str, n: int = 1) -> None:
        """Count a frame dropped upstream (no sync partner, no camera_info, conversion error...)."""
        with self._lock:
            self._drops[reason] += n

    def stats(self, now_ns: int | None = None) -> BufferStats:
        """Fill, bytes, ages against ``now_ns`` (default: wall clock) and drop counts."""
        now = time.time_ns() if now_ns is None else int(now_ns)
        with self._lock:
            oldest = self._frames[0].stamp_ns if self._frames else None
            newest = self._frames[-1].stamp_ns if self._frames else None
            return BufferStats(
                frames=len(self._frames), max_frames=self.max_frames, bytes=self._bytes,
                memory_cap_bytes=self.memory_cap_bytes, oldest_stamp_ns=oldest,
                newest_stamp_ns=newest,
                oldest_age_s=None if oldest is None else (now - oldest) / NS_PER_S,
                newest_age_s=None if newest is None else (now - newest) / NS_PER_S,
                added=self._added, dropped=dict(self._drops))

    def _evict(self, reason: str) -> None:
        old = self._frames.pop(0)
        self._bytes -= old.nbytes
        self._drops[f"evicted_{reason}"] += 1
