"""Keyframe selection: keep a frame when enough time passed or the camera moved or turned enough."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from spatialclaw_ros.config import KeyframeConfig

NS_PER_S = 1_000_000_000


@dataclass(frozen=True)
class KeyframeDecision:
    """Whether a frame becomes a keyframe and why ("first", "time", "translation", "rotation")."""

    keep: bool
    reason: str
    dt_s: float = 0.0
    translation_m: float = 0.0
    rotation_deg: float = 0.0


def relative_motion(T_a: np.ndarray, T_b: np.ndarray) -> tuple[float, float]:
    """(translation in metres, rotation in degrees) between two camera poses (4x4, same frame)."""
    d = np.linalg.inv(T_a) @ T_b
    trans = float(np.linalg.norm(T_b[:3, 3] - T_a[:3, 3]))
    cos = (float(np.trace(d[:3, :3])) - 1.0) / 2.0
    rot = math.degrees(math.acos(max(-1.0, min(1.0, cos))))
    return trans, rot


class KeyframeSelector:
    """Keeps a frame at least every ``min_interval_s``, or when the camera moved/turned enough.

    Motion is measured against the last kept keyframe, from the poses stored with the frames
    (T_fixed_camera). Frames without a pose are judged by time only. Not thread-safe on its own
    (FrameBuffer holds a lock around it).
    """

    def __init__(self, cfg: KeyframeConfig) -> None:
        """Thresholds from ``cfg`` (min_interval_s, min_translation_m, min_rotation_deg)."""
        self.min_interval_ns = int(cfg.min_interval_s * NS_PER_S)
        self.min_translation_m = float(cfg.min_translation_m)
        self.min_rotation_deg = float(cfg.min_rotation_deg)
        self._last_stamp: int | None = None
        self._last_pose: np.ndarray | None = None

    def evaluate(self, stamp_ns: int, pose: np.ndarray | None) -> KeyframeDecision:
        """Decide without changing state."""
        if self._last_stamp is None:
            return KeyframeDecision(True, "first")
        dt_ns = int(stamp_ns) - self._last_stamp
        if dt_ns < 0:
            return KeyframeDecision(False, "older_than_last_keyframe", dt_ns / NS_PER_S)
        trans = rot = 0.0
        if pose is not None and self._last_pose is not None:
            trans, rot = relative_motion(self._last_pose, pose)
        dt_s = dt_ns / NS_PER_S
        if self.min_interval_ns >= 0 and dt_ns >= self.min_interval_ns:
            return KeyframeDecision(True, "time", dt_s, trans, rot)
        if self.min_translation_m > 0 and trans >= self.min_translation_m:
            return KeyframeDecision(True, "translation", dt_s, trans, rot)
        if self.min_rotation_deg > 0 and rot >= self.min_rotation_deg:
            return KeyframeDecision(True, "rotation", dt_s, trans, rot)
        return KeyframeDecision(False, "too_close", dt_s, trans, rot)

    def accept(self, stamp_ns: int, pose: np.ndarray | None) -> None:
        """Record a kept keyframe."""
        self._last_stamp = int(stamp_ns)
        if pose is not None:
            self._last_pose = np.asarray(pose, dtype=np.float64)

    def consider(self, stamp_ns: int, pose: np.ndarray | None) -> KeyframeDecision:
        """Decide and, if kept, record it."""
        d = self.evaluate(stamp_ns, pose)
        if d.keep:
            self.accept(stamp_ns, pose)
        return d

    def reset(self) -> None:
        """Forget the last keyframe."""
        self._last_stamp = None
        self._last_pose = None
