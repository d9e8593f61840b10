"""What the in-kernel tools return: small dataclasses that say their frame, units and source."""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any, Iterator

import numpy as np


def _arr(a: np.ndarray | None) -> str:
    """Short description of an array for reprs (shape and dtype, never the values)."""
    if a is None:
        return "None"
    return f"array{tuple(a.shape)} {a.dtype}"


def _vec(v: np.ndarray) -> str:
    return "[" + ", ".join(f"{float(x):.4f}" for x in np.asarray(v).ravel()) + "]"


@dataclass
class Point:
    """A 3-D point in a named frame, in metres; iterable like a list of 3 floats."""

    xyz: np.ndarray                   # (3,) float64 metres
    frame: str                        # frame id the coordinates are expressed in
    stamp_ns: int = 0                 # stamp of the keyframe the point was measured in
    frame_index: int = -1             # keyframe index, -1 when not from one frame
    units: str = "m"

    def __post_init__(self) -> None:
        self.xyz = np.asarray(self.xyz, dtype=np.float64).reshape(3)

    def __iter__(self) -> Iterator[float]:
        return iter(float(x) for x in self.xyz)

    def __len__(self) -> int:
        return 3

    def __getitem__(self, i: int) -> float:
        return float(self.xyz[i])

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return self.xyz.astype(dtype) if dtype is not None else self.xyz.copy()

    def tolist(self) -> list[float]:
        """[x, y, z] as Python floats."""
        return [float(x) for x in self.xyz]

    def __repr__(self) -> str:
        return f"Point(xyz={_vec(self.xyz)} m, frame={self.frame!r}, stamp_ns={self.stamp_ns})"


@dataclass
class PointCloud:
    """3-D points (N, 3) in metres in a named frame, e.g. the visible surface of one object."""

    points: np.ndarray                # (N, 3) float64 metres
    frame: str
    stamp_ns: int = 0
    frame_index: int = -1
    units: str = "m"
    n_removed: int = 0                # points dropped as depth outliers
    notes: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return int(self.points.shape[0])

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return self.points.astype(dtype) if dtype is not None else self.points.copy()

    def __repr__(self) -> str:
        extra = f", notes={self.notes}" if self.notes else ""
        return (f"PointCloud(n={len(self)}, frame={self.frame!r}, frame_index={self.frame_index}, "
                f"n_removed={self.n_removed}{extra})")


@dataclass
class Reconstruction:
    """Metric depth, intrinsics, pose and point map of one keyframe."""

    frame_index: int
    stamp_ns: int
    depth: np.ndarray                 # (H, W) float32 metres, NaN invalid
    valid: np.ndarray                 # (H, W) bool, finite depth > 0
    K: np.ndarray                     # (3, 3) float64 intrinsics (pixels)
    T_fixed_camera: np.ndarray | None  # (4, 4) camera optical frame -> fixed frame, or None
    frame: str                        # frame of `points`: the fixed frame, or the camera frame without pose
    camera_frame: str                 # camera optical frame id (x right, y down, z forward)
    backend: str                      # "sensor" or "da3"
    units: str = "m"
    notes: list[str] = field(default_factory=list)

    @functools.cached_property
    def points_camera(self) -> np.ndarray:
        """(H, W, 3) float32 metres in the camera optical frame, NaN where depth is invalid (made on first use)."""
        h, w = self.depth.shape
        K = self.K
        u = np.arange(w, dtype=np.float64)[None, :]
        v = np.arange(h, dtype=np.float64)[:, None]
        z = self.depth.astype(np.float64)
        return np.stack([(u - K[0, 2]) * z / K[0, 0], (v - K[1, 2]) * z / K[1, 1], z], axis=-1).astype(np.float32)

    @functools.cached_property
    def points(self) -> np.ndarray:
        """(H, W, 3) float32 metres in `frame` (the fixed frame when the pose is known), NaN where invalid."""
        pc = self.points_camera
        if self.T_fixed_camera is None:
            return pc
        T = np.asarray(self.T_fixed_camera, dtype=np.float64)
        return (pc.astype(np.float64) @ T[:3, :3].T + T[:3, 3]).astype(np.float32)

    def __repr__(self) -> str:
        n = int(self.valid.sum())
        return (f"Reconstruction(frame_index={self.frame_index}, backend={self.backend!r}, "
                f"frame={self.frame!r}, depth={_arr(self.depth)} m, valid_px={n}, "
                f"has_pose={self.T_fixed_camera is not None}, notes={self.notes})")


@dataclass
class Segmentation:
    """Instance masks on one keyframe: masks[k] belongs to labels[k], scores[k], boxes[k]."""

    masks: np.ndarray                 # (N, H, W) bool
    scores: np.ndarray                # (N,) float
    boxes: np.ndarray                 # (N, 4) float pixels, xyxy inclusive (u0, v0, u1, v1)
    labels: list[str]                 # object name per mask ("" when unknown)
    ids: list[int]                    # instance id per mask (stable across frames), -1 unknown
    frame_index: int
    backend: str
    notes: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return int(self.masks.shape[0])

    def mask(self, k: int = 0) -> np.ndarray:
        """Mask k (H, W) bool; k=0 is the best-scoring / largest one."""
        if not 0 <= k < len(self):
            raise IndexError(f"Segmentation has {len(self)} masks; asked for mask {k}. "
                             f"Check len(seg) first (0 means nothing matched: see seg.notes).")
        return self.masks[k]

    def union(self) -> np.ndarray:
        """All masks OR-ed into one (H, W) bool mask."""
        if len(self) == 0:
            raise ValueError("Segmentation is empty; nothing to union (see seg.notes).")
        return np.any(self.masks, axis=0)

    def __repr__(self) -> str:
        items = ", ".join(f"{lab or '?'}#{i}:{s:.2f}" for lab, i, s in
                          zip(self.labels, self.ids, self.scores.tolist()))
        extra = f", notes={self.notes}" if self.notes else ""
        return (f"Segmentation(n={len(self)}, frame_index={self.frame_index}, backend={self.backend!r}, "
                f"masks={_arr(self.masks)}, [{items}]{extra})")


@dataclass
class Closest:
    """Closest pair between two point sets: distance and the two surface points."""

    distance_m: float
    point_a: Point
    point_b: Point

    def __repr__(self) -> str:
        return (f"Closest(distance_m={self.distance_m:.4f}, point_a={_vec(self.point_a.xyz)}, "
                f"point_b={_vec(self.point_b.xyz)}, frame={self.point_a.frame!r})")


@dataclass
class Box3D:
    """A 3-D box: centre, full edge lengths along its own axes, and rotation (columns = box axes)."""

    center: np.ndarray                # (3,) metres
    size: np.ndarray                  # (3,) full edge lengths, metres, largest first for oriented boxes
    R: np.ndarray                     # (3, 3) box axes in `frame` (identity for axis-aligned)
    frame: str
    kind: str                         # "aabb" or "obb"

    @property
    def corners(self) -> np.ndarray:
        """(8, 3) corner points in `frame`."""
        signs = np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)], float)
        return self.center + (signs * (self.size / 2.0)) @ self.R.T

    @property
    def volume_m3(self) -> float:
        """Box volume in cubic metres."""
        return float(np.prod(self.size))

    def __repr__(self) -> str:
        return (f"Box3D(kind={self.kind!r}, center={_vec(self.center)} m, size={_vec(self.size)} m, "
                f"frame={self.frame!r})")


@dataclass
class Amodal:
    """An object's whole shape estimated from its visible surface: centre, extent, uncertainty."""

    shape: str                        # "box", "cylinder" or "sphere"
    center: np.ndarray                # (3,) metres, the whole object's centre (not the visible surface's)
    size: np.ndarray                  # (3,) full extents: box (length, width, height); cylinder
                                      # (diameter, diameter, height); sphere (diameter x3)
    R: np.ndarray                     # (3, 3) axes (columns) in `frame`
    uncertainty_m: float              # 1-sigma of centre and extents (fit residual, unseen sides)
    residual_m: float                 # RMS distance of the points to the fitted surface
    frame: str
    support_z: float | None = None    # height of the support plane used (fixed frame z), if any
    notes: list[str] = field(default_factory=list)

    @property
    def box(self) -> "Box3D":
        """The estimate as a Box3D (for drawing and for boxes= in ReturnAnswer geometry)."""
        return Box3D(self.center, self.size, self.R, self.frame, "amodal-" + self.shape)

    def surface_points(self, spacing_m: float = 0.005) -> np.ndarray:
        """(N, 3) points on the whole fitted surface (hidden sides too), about spacing_m apart, in `frame`."""
        sp = max(float(spacing_m), 1e-3)
        c, (a, b, h) = np.asarray(self.center, float), np.asarray(self.size, float) / 2
        if self.shape == "sphere":
            n = max(50, int(4 * np.pi * a * a / sp ** 2))
            k = np.arange(n) + 0.5
            phi, th = np.arccos(1 - 2 * k / n), np.pi * (1 + 5 ** 0.5) * k
            return c + a * np.c_[np.cos(th) * np.sin(phi), np.sin(th) * np.sin(phi), np.cos(phi)]
        if self.shape == "cylinder":
            nt = max(24, int(2 * np.pi * a / sp))
            t = np.linspace(0, 2 * np.pi, nt, endpoint=False)
            zs = np.linspace(-h, h, max(2, int(2 * h / sp) + 1))
            side = np.c_[np.repeat(a * np.cos(t)[None], len(zs), 0).ravel(),
                         np.repeat(a * np.sin(t)[None], len(zs), 0).ravel(), np.repeat(zs, nt)]
            rr = np.linspace(0, a, max(2, int(a / sp) + 1))
            disc = np.c_[(rr[:, None] * np.cos(t)).ravel(), (rr[:, None] * np.sin(t)).ravel()]
            caps = np.r_[np.c_[disc, np.full(len(disc), -h)], np.c_[disc, np.full(len(disc), h)]]
            return c + np.r_[side, caps] @ np.asarray(self.R, float).T
        half = np.array([a, b, h])
        faces = []
        for ax in range(3):
            o1, o2 = [k for k in range(3) if k != ax]
            g1 = np.linspace(-half[o1], half[o1], max(2, int(2 * half[o1] / sp) + 1))
            g2 = np.linspace(-half[o2], half[o2], max(2, int(2 * half[o2] / sp) + 1))
            m1, m2 = np.meshgrid(g1, g2)
            for sgn in (-1, 1):
                f = np.zeros((m1.size, 3))
                f[:, o1], f[:, o2], f[:, ax] = m1.ravel(), m2.ravel(), sgn * half[ax]
                faces.append(f)
        return c + np.concatenate(faces) @ np.asarray(self.R, float).T

    def __repr__(self) -> str:
        return (f"Amodal(shape={self.shape!r}, center={_vec(self.center)} m, size={_vec(self.size)} m, "
                f"uncertainty_m={self.uncertainty_m:.3f}, residual_m={self.residual_m:.4f}, "
                f"frame={self.frame!r})")


@dataclass
class Direction:
    """Where `target` is relative to `reference` in one frame, in words and as a vector."""

    vector: np.ndarray                # (3,) target - reference, metres, in `frame`
    distance_m: float
    frame: str                        # "camera", "base" or "fixed" (with the frame id in frame_id)
    frame_id: str
    left_right: str                   # "left" / "right" / "aligned"
    front_behind: str                 # camera, fixed: "closer"/"farther" (from the camera); base: "front"/"behind"
    above_below: str                  # "above" / "below" / "level"
    dominant: str                     # the word of the largest component
    components_m: dict[str, float] = field(default_factory=dict)

    def __repr__(self) -> str:
        return (f"Direction(dominant={self.dominant!r}, {self.left_right}/{self.front_behind}/"
                f"{self.above_below}, components_m={ {k: round(v, 4) for k, v in self.components_m.items()} }, "
                f"distance_m={self.distance_m:.4f}, frame={self.frame!r})")


@dataclass
class CameraMotion:
    """Camera motion between two keyframes (from the poses of the chosen backend)."""

    from_index: int
    to_index: int
    travel_m: float                   # straight-line distance between the two camera positions
    path_m: float                     # length of the path: full-rate TF when known, else keyframes
    rotation_deg: float               # angle of the relative rotation (net, first to last)
    duration_s: float
    frame: str
    translation: np.ndarray = field(default_factory=lambda: np.zeros(3))  # (3,) in `frame`
    turn_deg: float = 0.0             # total turning along the path (summed, same source as path_m)
    path_source: str = "keyframes"    # "tf" (every TF sample between the stamps) or "keyframes"

    def __repr__(self) -> str:
        return (f"CameraMotion({self.from_index}->{self.to_index}, travel_m={self.travel_m:.4f}, "
                f"path_m={self.path_m:.4f}, rotation_deg={self.rotation_deg:.2f}, "
                f"turn_deg={self.turn_deg:.2f}, path_source={self.path_source!r}, "
                f"duration_s={self.duration_s:.3f}, frame={self.frame!r})")
