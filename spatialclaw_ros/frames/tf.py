"""A ROS-free TF buffer for /tf and /tf_static: interpolated lookups through the frame tree.

Transforms are stored per child frame (each child has one parent, as in tf2). Dynamic transforms
are interpolated between stamps (linear translation, spherical-linear rotation); static ones hold
forever. ``lookup_transform(target, source, stamp_ns)`` returns the 4x4 matrix ``T_target_source``
that maps points expressed in ``source`` into ``target`` (tf2's lookupTransform convention).

Example::

    tf = TfBuffer()
    tf.add_transform("odom", "base_link", 0, (0, 0, 0), (0, 0, 0, 1))
    tf.add_transform("odom", "base_link", 10**9, (1, 0, 0), (0, 0, 0, 1))
    tf.lookup_transform("odom", "base_link", 5 * 10**8)[:3, 3]   # -> [0.5, 0, 0]
"""
from __future__ import annotations

import bisect
import math
import threading
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

import numpy as np
from transforms3d.quaternions import quat2mat

from spatialclaw_ros.errors import NoTransformError

NS_PER_S = 1_000_000_000


class UnknownFrameError(NoTransformError):
    """A frame name never appeared in /tf or /tf_static."""


class ExtrapolationError(NoTransformError):
    """The requested stamp lies outside the buffered time range of a transform in the chain."""


class DisconnectedTreeError(NoTransformError):
    """The two frames belong to different TF trees (no common ancestor)."""


def _fmt_s(stamp_ns: int) -> str:
    return f"{stamp_ns / NS_PER_S:.9f} s"


def quat_xyzw_normalized(q: Sequence[float]) -> np.ndarray:
    """Return the quaternion (x, y, z, w) as a unit float64 array; raise ValueError if degenerate."""
    arr = np.asarray(q, dtype=np.float64).reshape(4)
    n = float(np.linalg.norm(arr))
    if not math.isfinite(n) or n < 1e-9:
        raise ValueError(f"quaternion {list(arr)} has zero or non-finite norm")
    return arr / n


def slerp_xyzw(q0: np.ndarray, q1: np.ndarray, t: float) -> np.ndarray:
    """Spherical-linear interpolation between unit quaternions (x, y, z, w), shortest arc."""
    dot = float(np.dot(q0, q1))
    if dot < 0.0:
        q1 = -q1
        dot = -dot
    if dot > 0.9999995:
        out = q0 + t * (q1 - q0)
        return out / np.linalg.norm(out)
    theta = math.acos(min(1.0, dot))
    s = math.sin(theta)
    return (math.sin((1.0 - t) * theta) / s) * q0 + (math.sin(t * theta) / s) * q1


def transform_matrix(translation: Sequence[float], quaternion_xyzw: Sequence[float]) -> np.ndarray:
    """4x4 homogeneous matrix from a translation and a quaternion (x, y, z, w)."""
    q = quat_xyzw_normalized(quaternion_xyzw)
    T = np.eye(4)
    T[:3, :3] = quat2mat((q[3], q[0], q[1], q[2]))
    T[:3, 3] = np.asarray(translation, dtype=np.float64).reshape(3)
    return T


def invert_transform(T: np.ndarray) -> np.ndarray:
    """Inverse of a rigid 4x4 transform."""
    R = T[:3, :3]
    out = np.eye(4)
    out[:3, :3] = R.T
    out[:3, 3] = -R.T @ T[:3, 3]
    return out


@dataclass
class _Edge:
    """All samples of parent -> child (sorted by stamp)."""

    parent: str
    static: bool
    stamps: list[int] = field(default_factory=list)
    translations: list[np.ndarray] = field(default_factory=list)
    rotations: list[np.ndarray] = field(default_factory=list)  # unit xyzw

    def insert(self, stamp_ns: int, t: np.ndarray, q: np.ndarray) -> None:
        i = bisect.bisect_left(self.stamps, stamp_ns)
        if i < len(self.stamps) and self.stamps[i] == stamp_ns:
            self.translations[i] = t
            self.rotations[i] = q
            return
        self.stamps.insert(i, stamp_ns)
        self.translations.insert(i, t)
        self.rotations.insert(i, q)

    def prune(self, cache_ns: int) -> None:
        if self.static or not self.stamps:
            return
        cut = bisect.bisect_left(self.stamps, self.stamps[-1] - cache_ns)
        if cut > 0:
            del self.stamps[:cut], self.translations[:cut], self.rotations[:cut]


@dataclass(frozen=True)
class TfEdgeInfo:
    """One parent -> child link of the TF tree, for `spatialclaw info` and diagnostics."""

    parent: str
    child: str
    static: bool
    first_ns: int
    last_ns: int
    count: int


class TfBuffer:
    """Transforms from /tf and /tf_static with interpolation, a cache duration and clear errors.

    Thread-safe: a ROS node may feed it from subscription callbacks while queries look up poses.
    """

    def __init__(self, cache_duration_s: float = 10.0) -> None:
        """Keep dynamic transforms for ``cache_duration_s`` behind the newest one per link (inf: all)."""
        if not cache_duration_s > 0:
            raise ValueError(f"cache_duration_s must be > 0, got {cache_duration_s}")
        self._cache_ns = (2**62 if math.isinf(cache_duration_s)
                          else int(cache_duration_s * NS_PER_S))
        self._edges: dict[str, _Edge] = {}
        self._lock = threading.RLock()

    # ---- input -------------------------------------------------------------------------------
    def add_transform(self, parent: str, child: str, stamp_ns: int,
                      translation: Sequence[float], quaternion_xyzw: Sequence[float],
                      static: bool = False) -> None:
        """Add parent -> child at ``stamp_ns`` (static: valid at every stamp, replaces the old one)."""
        parent, child = _clean(parent), _clean(child)
        if not parent or not child:
            raise ValueError(f"transform needs both frame ids, got parent={parent!r} child={child!r}")
        if parent == child:
            raise ValueError(f"transform from '{parent}' to itself")
        t = np.asarray(translation, dtype=np.float64).reshape(3)
        if not np.all(np.isfinite(t)):
            raise ValueError(f"transform {parent} -> {child}: non-finite translation {list(t)}")
        q = quat_xyzw_normalized(quaternion_xyzw)
        with self._lock:
            edge = self._edges.get(child)
            if edge is None or edge.parent != parent or edge.static != static:
                # A new parent (or a switch static <-> dynamic) starts a fresh history, like tf2.
                edge = _Edge(parent=parent, static=static)
                self._edges[child] = edge
            if static:
                edge.stamps[:] = [int(stamp_ns)]
                edge.translations[:] = [t]
                edge.rotations[:] = [q]
            else:
                edge.insert(int(stamp_ns), t, q)
                edge.prune(self._cache_ns)

    def add_tf_message(self, msg: Any, static: bool = False) -> int:
        """Add every transform of a tf2_msgs/TFMessage-like object (live rclpy or rosbags); count."""
        n = 0
        for ts in getattr(msg, "transforms", None) or []:
            stamp = ts.header.stamp
            stamp_ns = int(stamp.sec) * NS_PER_S + int(stamp.nanosec)
            tr, rot = ts.transform.translation, ts.transform.rotation
            self.add_transform(ts.header.frame_id, ts.child_frame_id, stamp_ns,
                               (tr.x, tr.y, tr.z), (rot.x, rot.y, rot.z, rot.w), static=static)
            n += 1
        return n

    def clear(self) -> None:
        """Forget every transform."""
        with self._lock:
            self._edges.clear()

    def clear_dynamic(self, newer_than_ns: int | None = None) -> int:
        """Forget dynamic samples stamped after `newer_than_ns` (None: all); keep static ones, as
        tf2 does when time jumps back. Returns how many samples were dropped."""
        dropped = 0
        with self._lock:
            for child in list(self._edges):
                e = self._edges[child]
                if e.static:
                    continue
                keep = (0 if newer_than_ns is None
                        else bisect.bisect_right(e.stamps, int(newer_than_ns)))
                dropped += len(e.stamps) - keep
                del e.stamps[keep:], e.translations[keep:], e.rotations[keep:]
                if not e.stamps:
                    del self._edges[child]
        return dropped

    # ---- queries -----------------------------------------------------------------------------
    def frames(self) -> set[str]:
        """Every frame name seen (parents and children)."""
        with self._lock:
            return set(self._edges) | {e.parent for e in self._edges.values()}

    def edges(self) -> list[TfEdgeInfo]:
        """The links of the tree, sorted by parent then child."""
        with self._lock:
            out = [TfEdgeInfo(e.parent, child, e.static, e.stamps[0], e.stamps[-1], len(e.stamps))
                   for child, e in self._edges.items() if e.stamps]
        return sorted(out, key=lambda x: (x.parent, x.child))

    def root_of(self, frame: str) -> str:
        """The root of the tree that holds ``frame``."""
        with self._lock:
            return self._path_to_root(_clean(frame))[-1]

    def can_transform(self, target: str, source: str, stamp_ns: int | None = None) -> bool:
        """Whether ``lookup_transform(target, source, stamp_ns)`` would succeed."""
        try:
            self.lookup_transform(target, source, stamp_ns)
        except NoTransformError:
            return False
        return True

    def lookup_transform(self, target: str, source: str, stamp_ns: int | None = None) -> np.ndarray:
        """T_target_source (4x4) at ``stamp_ns``; None: the latest time all links share.

        Raises UnknownFrameError, ExtrapolationError or DisconnectedTreeError (all
        NoTransformError) with a message naming the frames and the available time range.
        """
        target, source = _clean(target), _clean(source)
        with self._lock:
            known = self.frames()
            for name, role in ((target, "target"), (source, "source")):
                if name not in known:
                    hint = ", ".join(sorted(known)[:12]) or "none: no /tf or /tf_static received"
                    raise UnknownFrameError(
                        f"{role} frame '{name}' does not exist in TF (known frames: {hint}); "
                        "check the frame id or that /tf and /tf_static are published/recorded")
            if target == source:
                return np.eye(4)
            up_src = self._path_to_root(source)
            up_tgt = self._path_to_root(target)
            if up_src[-1] != up_tgt[-1]:
                raise DisconnectedTreeError(
                    f"frames '{target}' and '{source}' are not connected: '{target}' is in the "
                    f"tree rooted at '{up_tgt[-1]}', '{source}' in the tree rooted at "
                    f"'{up_src[-1]}'; a transform linking the two trees is missing")
            tgt_set = set(up_tgt)
            common = next(f for f in up_src if f in tgt_set)
            chain_src = up_src[:up_src.index(common)]   # children whose edge leads to common
            chain_tgt = up_tgt[:up_tgt.index(common)]
            if stamp_ns is None:
                stamp_ns = self._latest_common(chain_src + chain_tgt)
            T_common_src = self._compose(chain_src, int(stamp_ns), target, source)
            T_common_tgt = self._compose(chain_tgt, int(stamp_ns), target, source)
        return invert_transform(T_common_tgt) @ T_common_src

    def time_range(self, parent: str, child: str) -> tuple[int, int] | None:
        """(first, last) stamp of the direct link parent -> child, or None if there is none."""
        with self._lock:
            e = self._edges.get(_clean(child))
            if e is None or e.parent != _clean(parent) or not e.stamps:
                return None
            return e.stamps[0], e.stamps[-1]

    # ---- internals ---------------------------------------------------------------------------
    def _path_to_root(self, frame: str) -> list[str]:
        path = [frame]
        seen = {frame}
        while frame in self._edges:
            frame = self._edges[frame].parent
            if frame in seen:
                raise NoTransformError(f"TF has a loop through '{frame}': {' -> '.join(path)}")
            seen.add(frame)
            path.append(frame)
        return path

    def _latest_common(self, children: Iterable[str]) -> int:
        lasts = [self._edges[c].stamps[-1] for c in children if not self._edges[c].static]
        return min(lasts) if lasts else 0

    def _compose(self, children: list[str], stamp_ns: int, target: str, source: str) -> np.ndarray:
        """T_top_bottom for the chain children[0] -> ... -> parent of children[-1]."""
        T = np.eye(4)
        for child in children:
            T = self._edge_matrix(child, stamp_ns, target, source) @ T
        return T

    def _edge_matrix(self, child: str, stamp_ns: int, target: str, source: str) -> np.ndarray:
        e = self._edges[child]
        if e.static:
            return transform_matrix(e.translations[0], e.rotations[0])
        stamps = e.stamps
        i = bisect.bisect_left(stamps, stamp_ns)
        if i < len(stamps) and stamps[i] == stamp_ns:
            return transform_matrix(e.translations[i], e.rotations[i])
        if i == 0 or i == len(stamps):
            direction = "past" if i == 0 else "future"
            raise ExtrapolationError(
                f"looking up '{source}' in '{target}' at {_fmt_s(stamp_ns)} would require "
                f"extrapolation into the {direction}: transform {e.parent} -> {child} is "
                f"available from {_fmt_s(stamps[0])} to {_fmt_s(stamps[-1])} "
                f"({len(stamps)} samples)")
        s0, s1 = stamps[i - 1], stamps[i]
        a = (stamp_ns - s0) / (s1 - s0)
        t = e.translations[i - 1] + a * (e.translations[i] - e.translations[i - 1])
        q = slerp_xyzw(e.rotations[i - 1], e.rotations[i], a)
        return transform_matrix(t, q)


def _clean(frame: str) -> str:
    """tf2 frame ids carry no leading slash."""
    return str(frame).strip().lstrip("/")
