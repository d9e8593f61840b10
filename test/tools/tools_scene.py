"""Analytic ray-cast scenes with exact depth and instance labels, for testing the in-kernel tools."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from spatialclaw_ros.frames.types import CameraModel
from spatialclaw_ros.tools.context import KernelContext

FIXED = "odom"
CAMERA_FRAME = "camera_color_optical_frame"


@dataclass
class Sphere:
    """A sphere in the fixed frame."""

    id: int
    center: np.ndarray
    radius: float


@dataclass
class Box:
    """An oriented box in the fixed frame (R columns = box axes, half = half edge lengths)."""

    id: int
    center: np.ndarray
    half: np.ndarray
    R: np.ndarray = field(default_factory=lambda: np.eye(3))


@dataclass
class Floor:
    """The plane z = height, seen from above."""

    id: int
    height: float = 0.0


def make_K(width: int = 320, height: int = 240, f: float = 300.0) -> np.ndarray:
    """Pinhole intrinsics with the principal point at the image centre."""
    return np.array([[f, 0.0, (width - 1) / 2.0], [0.0, f, (height - 1) / 2.0], [0.0, 0.0, 1.0]])


def look_at(eye: Any, target: Any, up: Any = (0.0, 0.0, 1.0)) -> np.ndarray:
    """T_fixed_camera of an optical camera (x right, y down, z forward) at eye looking at target."""
    eye = np.asarray(eye, float)
    fwd = np.asarray(target, float) - eye
    fwd /= np.linalg.norm(fwd)
    right = np.cross(fwd, np.asarray(up, float))
    right /= np.linalg.norm(right)
    down = np.cross(fwd, right)
    T = np.eye(4)
    T[:3, :3] = np.stack([right, down, fwd], axis=1)
    T[:3, 3] = eye
    return T


def base_pose_under(T_fixed_camera: np.ndarray) -> np.ndarray:
    """T_fixed_base of a robot standing under the camera, facing the camera's horizontal heading."""
    fwd = T_fixed_camera[:3, 2].copy()
    fwd[2] = 0.0
    fwd /= np.linalg.norm(fwd)
    left = np.cross([0.0, 0.0, 1.0], fwd)
    T = np.eye(4)
    T[:3, :3] = np.stack([fwd, left, [0.0, 0.0, 1.0]], axis=1)
    T[:3, 3] = [T_fixed_camera[0, 3], T_fixed_camera[1, 3], 0.0]
    return T


def rays(K: np.ndarray, width: int, height: int) -> np.ndarray:
    """(H, W, 3) camera-frame ray directions with z = 1 (so the ray parameter is the depth)."""
    u = np.arange(width, dtype=float)[None, :]
    v = np.arange(height, dtype=float)[:, None]
    d = np.stack(np.broadcast_arrays((u - K[0, 2]) / K[0, 0], (v - K[1, 2]) / K[1, 1], np.ones((1, 1))), -1)
    return d


def render(shapes: list[Any], K: np.ndarray, T: np.ndarray, width: int, height: int
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exact depth (float32 m, NaN = nothing hit), labels (int32), and world hit points (H, W, 3)."""
    dc = rays(K, width, height)
    d = dc @ T[:3, :3].T
    o = T[:3, 3]
    best = np.full((height, width), np.inf)
    lab = np.zeros((height, width), np.int32)
    for s in shapes:
        t = _intersect(s, o, d)
        hit = t < best
        best[hit] = t[hit]
        lab[hit] = s.id
    depth = np.where(np.isfinite(best), best, np.nan).astype(np.float32)
    world = o + d * np.where(np.isfinite(best), best, np.nan)[..., None]
    return depth, lab, world


def _intersect(s: Any, o: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Ray parameter of the first hit in front of the camera (inf where none)."""
    eps = 1e-9
    if isinstance(s, Sphere):
        oc = o - s.center
        a = np.sum(d * d, -1)
        b = 2.0 * (d @ oc)
        c = oc @ oc - s.radius ** 2
        disc = b * b - 4 * a * c
        sq = np.sqrt(np.maximum(disc, 0.0))
        t = (-b - sq) / (2 * a)
        return np.where((disc >= 0) & (t > eps), t, np.inf)
    if isinstance(s, Floor):
        with np.errstate(divide="ignore", invalid="ignore"):
            t = (s.height - o[2]) / d[..., 2]
        return np.where(np.isfinite(t) & (t > eps), t, np.inf)
    if isinstance(s, Box):
        ol = s.R.T @ (o - s.center)
        dl = d @ s.R
        with np.errstate(divide="ignore", invalid="ignore"):
            t1 = (-s.half - ol) / dl
            t2 = (s.half - ol) / dl
        tmin = np.nanmax(np.minimum(t1, t2), axis=-1)
        tmax = np.nanmin(np.maximum(t1, t2), axis=-1)
        return np.where((tmax >= tmin) & (tmin > eps), tmin, np.inf)
    raise TypeError(type(s))


def rgb_from_labels(lab: np.ndarray) -> np.ndarray:
    """A deterministic colour image from a label image."""
    pal = np.array([[90, 90, 90], [120, 100, 80], [220, 30, 30], [30, 30, 220], [30, 200, 30],
                    [200, 200, 30], [200, 30, 200]], np.uint8)
    return pal[np.clip(lab, 0, len(pal) - 1)]


def make_context(shapes: list[Any], poses: list[np.ndarray], *, width: int = 320, height: int = 240,
                 f: float = 300.0, objects: list[dict[str, Any]] | None = None, with_depth: bool = True,
                 with_pose: bool = True, with_labels: bool = True, with_base: bool = True,
                 dt_ns: int = 500_000_000, t0_ns: int = 1_700_000_000_000_000_000,
                 call_parent: Any = None) -> tuple[KernelContext, list[dict[str, np.ndarray]]]:
    """A KernelContext over rendered frames (read-only arrays, like shared memory) and the exact truth."""
    K = make_K(width, height, f)
    cam = CameraModel(width=width, height=height, K=K, frame_id=CAMERA_FRAME)
    images, depths, labels, truth = [], [], [], []
    for T in poses:
        depth, lab, world = render(shapes, K, T, width, height)
        rgb = rgb_from_labels(lab)
        for a in (depth, lab, rgb):
            a.setflags(write=False)
        images.append(rgb)
        depths.append(depth if with_depth else None)
        labels.append(lab if with_labels else None)
        truth.append({"depth": depth, "labels": lab, "world": world, "T": T})
    ctx = KernelContext(
        images=images, depths=depths, labels=labels, cameras=[cam] * len(poses),
        poses=[T.copy() if with_pose else None for T in poses],
        stamps_ns=[t0_ns + k * dt_ns for k in range(len(poses))], fixed_frame=FIXED,
        metadata={"objects": objects or []}, call_parent=call_parent,
        base_frame="base_link" if with_base else "",
        base_poses=[base_pose_under(T) for T in poses] if with_base else [])
    return ctx, truth


OBJECTS = [
    {"id": 1, "name": "floor", "class": "floor", "color": "grey"},
    {"id": 2, "name": "red_ball", "class": "ball", "color": "red"},
    {"id": 3, "name": "blue_ball", "class": "ball", "color": "blue"},
    {"id": 4, "name": "green_box", "class": "box", "color": "green"},
]


def two_balls_scene() -> list[Any]:
    """Floor, two spheres 0.2 m apart (surface to surface) left and right, a box behind them."""
    return [
        Floor(1, 0.0),
        Sphere(2, np.array([2.0, 0.3, 0.2]), 0.2),    # left (+y) as seen from a camera looking +x
        Sphere(3, np.array([2.0, -0.3, 0.2]), 0.2),   # right
        Box(4, np.array([3.2, 0.0, 0.3]), np.array([0.15, 0.3, 0.3])),
    ]


# Camera poses (T_fixed_camera) of the two-balls fixture: 0 looks into the gap between the balls,
# 1 and 2 from the sides.
POSES = [
    look_at([1.0, 0.0, 0.5], [2.0, 0.0, 0.2]),
    look_at([0.8, 0.6, 0.6], [2.0, 0.0, 0.2]),
    look_at([0.6, -0.5, 0.7], [2.2, 0.0, 0.2]),
]
