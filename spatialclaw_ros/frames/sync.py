"""Matching colour, depth, camera_info (and labels) by header stamp within a tolerance.

The same matcher serves live topics and bags: ``push(stream, stamp_ns, item)`` as messages arrive
and collect the ``Match``es it returns; ``flush()`` at the end of a bag. Each colour message (the
primary stream) is matched with the nearest message of every other stream within the tolerance,
once no later message could be nearer (a newer message on that stream has been seen). A colour
message whose required partner can no longer arrive within the tolerance is dropped and counted.
Streams are assumed to arrive in stamp order each (as ROS topics and bags deliver them).
"""
from __future__ import annotations

import bisect
import threading
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any, Iterable


@dataclass
class Match:
    """One primary message and its partners (stream -> item; absent optional streams missing)."""

    stamp_ns: int
    items: dict[str, Any]
    stamps_ns: dict[str, int]

    def offset_ns(self, stream: str) -> int:
        """Partner stamp minus primary stamp."""
        return self.stamps_ns[stream] - self.stamp_ns


@dataclass
class SyncStats:
    """Counts for diagnostics: matched frames and drops by reason."""

    matched: int = 0
    pending: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    latest_fallback: dict[str, int] = field(default_factory=dict)


class StampSynchronizer:
    """Approximate-time matching keyed on a primary stream (thread-safe)."""

    def __init__(self, primary: str, required: Iterable[str] = (), optional: Iterable[str] = (),
                 *, tolerance_ns: int = 20_000_000, queue_size: int = 30,
                 latest_fallback: Iterable[str] = (), max_wait_ns: int = 1_000_000_000) -> None:
        """Match on ``primary``; ``required`` partners or drop, ``optional`` partners if near.

        Streams in ``latest_fallback`` (e.g. a latched camera_info) use their newest message when
        none is within the tolerance. A primary message waits for a silent optional stream until
        the primary stream is ``max_wait_ns`` ahead of it (or the queue is full).
        """
        if tolerance_ns < 0:
            raise ValueError(f"tolerance_ns must be >= 0, got {tolerance_ns}")
        if queue_size < 1:
            raise ValueError(f"queue_size must be >= 1, got {queue_size}")
        self.primary = primary
        self.required = tuple(required)
        self.optional = tuple(optional)
        self.tolerance_ns = int(tolerance_ns)
        self.queue_size = int(queue_size)
        self.latest_fallback = set(latest_fallback)
        self.max_wait_ns = int(max_wait_ns)
        self._partners: dict[str, deque[tuple[int, Any]]] = {
            s: deque() for s in self.required + self.optional}
        self._newest: dict[str, int] = {}
        self._pending: deque[tuple[int, Any]] = deque()
        self._drops: Counter[str] = Counter()
        self._fallbacks: Counter[str] = Counter()
        self._matched = 0
        self._lock = threading.Lock()

    def push(self, stream: str, stamp_ns: int, item: Any) -> list[Match]:
        """Add one message; return the matches it completes (oldest first)."""
        with self._lock:
            stamp_ns = int(stamp_ns)
            if stream == self.primary:
                self._pending.append((stamp_ns, item))
                while len(self._pending) > self.queue_size:
                    self._pending.popleft()
                    self._drops["queue_overflow"] += 1
            elif stream in self._partners:
                q = self._partners[stream]
                q.append((stamp_ns, item))
                # Keep partners a colour message might still need, and at least the newest few.
                keep = max(self.queue_size * 4, 8)
                while len(q) > keep:
                    q.popleft()
                self._newest[stream] = max(self._newest.get(stream, stamp_ns), stamp_ns)
            else:
                raise ValueError(f"unknown stream '{stream}'; expected {self.primary}, "
                                 f"{', '.join(self._partners)}")
            return self._resolve(final=False)

    def reset(self, newer_than_ns: int | None = None) -> None:
        """Time went back: forget held messages stamped after `newer_than_ns` (None: all) and
        recompute the newest stamps from what is left; counters are kept."""
        with self._lock:
            cut = None if newer_than_ns is None else int(newer_than_ns)
            for stream, q in self._partners.items():
                kept = [] if cut is None else [(s, m) for s, m in q if s <= cut]
                q.clear()
                q.extend(kept)
                if kept:
                    self._newest[stream] = max(s for s, _ in kept)
                else:
                    self._newest.pop(stream, None)
            kept_p = [] if cut is None else [(s, m) for s, m in self._pending if s <= cut]
            self._pending.clear()
            self._pending.extend(kept_p)

    def flush(self) -> list[Match]:
        """Resolve every pending primary message with what has arrived (end of a bag)."""
        with self._lock:
            return self._resolve(final=True)

    def stats(self) -> SyncStats:
        """Matched and dropped counts so far."""
        with self._lock:
            return SyncStats(self._matched, len(self._pending), dict(self._drops),
                             dict(self._fallbacks))

    # ---- internals ---------------------------------------------------------------------------
    def _resolve(self, final: bool) -> list[Match]:
        out: list[Match] = []
        while self._pending:
            stamp, item = self._pending[0]
            decision = self._try_match(stamp, final)
            if decision is None:          # wait for more partner messages
                break
            self._pending.popleft()
            if isinstance(decision, str):
                self._drops[decision] += 1
                continue
            items, stamps = decision
            items[self.primary] = item
            stamps[self.primary] = stamp
            self._matched += 1
            out.append(Match(stamp, items, stamps))
        return out

    def _nearest(self, stream: str, stamp: int) -> tuple[int, Any] | None:
        q = self._partners[stream]
        if not q:
            return None
        stamps = [s for s, _ in q]
        i = bisect.bisect_left(stamps, stamp)
        cands = [q[j] for j in (i - 1, i) if 0 <= j < len(q)]
        best = min(cands, key=lambda c: abs(c[0] - stamp))
        return best if abs(best[0] - stamp) <= self.tolerance_ns else None

    def _settled(self, stream: str, stamp: int, near: tuple[int, Any] | None) -> bool:
        """No future message on ``stream`` (arriving in stamp order) can beat what we hold."""
        newest = self._newest.get(stream)
        if newest is None:
            return False
        if newest >= stamp + self.tolerance_ns:
            return True
        return near is not None and newest - stamp >= abs(near[0] - stamp)

    def _try_match(self, stamp: int, final: bool) -> tuple[dict, dict] | str | None:
        """Partners for the primary at ``stamp``; a drop reason; or None to wait for more."""
        items: dict[str, Any] = {}
        stamps: dict[str, int] = {}
        newest_primary = self._pending[-1][0] if self._pending else stamp
        gave_up = (len(self._pending) >= self.queue_size
                   or newest_primary - stamp >= self.max_wait_ns)
        for stream in self.required + self.optional:
            required = stream in self.required
            held = self._partners[stream]
            near = self._nearest(stream, stamp)
            settled = final or self._settled(stream, stamp, near)
            if not settled and not gave_up:
                return None               # a nearer partner may still arrive
            if near is None and stream in self.latest_fallback and held:
                near = held[-1]
                self._fallbacks[stream] += 1
            if near is None:
                if required:
                    return f"no_{stream}"
                continue
            items[stream] = near[1]
            stamps[stream] = near[0]
        return items, stamps
