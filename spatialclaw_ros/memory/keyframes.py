"""Which frames become memory keyframes: novelty of pose, view and content, and time since the place was last seen."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from spatialclaw_ros.memory.index import camera_yaw

SECTORS = 8


@dataclass
class GateConfig:
    """Thresholds of the novelty gate (from memory.* config)."""

    min_interval_s: float = 2.0
    min_translation_m: float = 0.3
    min_rotation_deg: float = 20.0
    place_cell_m: float = 1.0
    revisit_s: float = 60.0


def place_key(T_fixed_camera: np.ndarray | None, cell_m: float) -> str:
    """A place: the xy cell of the camera and the heading sector it looks into ("" without a pose)."""
    if T_fixed_camera is None:
        return ""
    x, y = float(T_fixed_camera[0, 3]), float(T_fixed_camera[1, 3])
    sector = int(((camera_yaw(T_fixed_camera) + math.pi) / (2 * math.pi)) * SECTORS) % SECTORS
    return f"{math.floor(x / cell_m)}:{math.floor(y / cell_m)}:{sector}"


def _angle_deg(Ra: np.ndarray, Rb: np.ndarray) -> float:
    c = (np.trace(Ra.T @ Rb) - 1.0) / 2.0
    return math.degrees(math.acos(max(-1.0, min(1.0, c))))


class NoveltyGate:
    """Decides keyframes; its memory is one entry per place (bounded by the area, not by run time)."""

    def __init__(self, cfg: GateConfig) -> None:
        self.cfg = cfg
        self._last_stamp: int | None = None
        self._last_T: np.ndarray | None = None
        self._last_labels: frozenset[int] | None = None
        self._place_seen: dict[str, int] = {}

    def seed(self, stamp_ns: int, T: np.ndarray | None, place: str, labels: frozenset[int] | None) -> None:
        """Restore the state after a restart from the newest stored keyframe."""
        self._last_stamp, self._last_T, self._last_labels = stamp_ns, T, labels
        if place:
            self._place_seen[place] = stamp_ns

    def seed_place(self, place: str, stamp_ns: int) -> None:
        """Restore when a place was last recorded."""
        if place:
            self._place_seen[place] = max(stamp_ns, self._place_seen.get(place, stamp_ns))

    def decide(self, stamp_ns: int, T: np.ndarray | None, labels: frozenset[int] | None) -> str:
        """The reason this frame is a keyframe ("first", "moved", "turned", "new_place", "revisit",
        "content", "interval"), or "" when it is not novel enough."""
        c = self.cfg
        if self._last_stamp is None:
            return "first"
        dt = (stamp_ns - self._last_stamp) * 1e-9
        if dt < c.min_interval_s:
            return ""
        if T is None or self._last_T is None:
            return "interval"
        place = place_key(T, c.place_cell_m)
        seen = self._place_seen.get(place)
        if seen is None:
            return "new_place"
        if np.linalg.norm(T[:3, 3] - self._last_T[:3, 3]) >= c.min_translation_m:
            return "moved"
        if _angle_deg(T[:3, :3], self._last_T[:3, :3]) >= c.min_rotation_deg:
            return "turned"
        if labels is not None and self._last_labels is not None and labels != self._last_labels:
            return "content"
        if (stamp_ns - seen) * 1e-9 >= c.revisit_s:
            return "revisit"
        return ""

    def accept(self, stamp_ns: int, T: np.ndarray | None, labels: frozenset[int] | None) -> str:
        """Record that the frame became a keyframe; returns its place key."""
        place = place_key(T, self.cfg.place_cell_m)
        self._last_stamp, self._last_T, self._last_labels = stamp_ns, T, labels
        if place:
            self._place_seen[place] = stamp_ns
        return place
