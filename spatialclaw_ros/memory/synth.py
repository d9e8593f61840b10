"""A small synthetic long run for memory tests, the memory eval and `spatialclaw bench memory`.

A robot drives counter-clockwise loops around a room (one loop every ``loop_s``) with a camera
looking inwards; objects sit on a table and on the floor, some move or leave at known times. Frames
are ray-cast exactly (RGB, metric depth, instance labels), so every answer has an exact ground truth.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Iterator

import numpy as np

from spatialclaw_ros.frames.types import CameraModel, Frame

NS = 1_000_000_000
T0_NS = 1_700_000_000 * NS          # absolute time of t = 0


@dataclass
class Placement:
    """An object's box centre from t0_s (inclusive) to t1_s (exclusive); None centre = absent."""

    t0_s: float
    t1_s: float
    center: tuple[float, float, float] | None


@dataclass
class SynthObject:
    """A box-shaped object with a label id, a name and where it is over time."""

    id: int
    name: str
    cls: str
    color: tuple[int, int, int]
    size: tuple[float, float, float]
    placements: list[Placement]

    def center_at(self, t_s: float) -> np.ndarray | None:
        """Box centre at time t_s (None when absent)."""
        for p in self.placements:
            if p.t0_s <= t_s < p.t1_s:
                return None if p.center is None else np.array(p.center, float)
        return None


TABLE_TOP = 0.75


def default_objects() -> list[SynthObject]:
    """The scene: a table, and objects that stay, move, leave or appear."""
    inf = 1e12
    top = TABLE_TOP
    return [
        SynthObject(1, "table", "table", (140, 90, 40), (1.2, 0.7, 0.05), [Placement(0, inf, (3.5, 1.2, top - 0.025))]),
        SynthObject(2, "red mug", "mug", (220, 30, 30), (0.10, 0.10, 0.12),
                    [Placement(0, 300, (3.2, 1.1, top + 0.06)), Placement(300, inf, (4.3, -0.6, 0.06))]),
        SynthObject(3, "green book", "book", (30, 180, 60), (0.25, 0.18, 0.05),
                    [Placement(0, 420, (3.8, 1.3, top + 0.025)), Placement(420, inf, None)]),
        SynthObject(4, "blue ball", "ball", (40, 60, 220), (0.2, 0.2, 0.2), [Placement(0, inf, (2.4, -0.4, 0.1))]),
        SynthObject(5, "yellow box", "box", (230, 210, 40), (0.35, 0.35, 0.35),
                    [Placement(0, 200, None), Placement(200, inf, (4.8, 0.1, 0.175))]),
        SynthObject(6, "keys", "keys", (200, 200, 210), (0.16, 0.10, 0.05),
                    [Placement(0, 500, (3.5, 1.0, top + 0.025)), Placement(500, inf, (2.0, 1.6, 0.025))]),
    ]


@dataclass
class SynthWorld:
    """Robot path, camera and objects; `frames()` yields the recording."""

    objects: list[SynthObject] = field(default_factory=default_objects)
    center: tuple[float, float] = (3.5, 0.4)
    radii: tuple[float, float] = (2.4, 2.0)
    loop_s: float = 120.0
    width: int = 240
    height: int = 180
    focal: float = 170.0
    camera_height: float = 1.1
    pitch_deg: float = 30.0
    max_range_m: float = 8.0
    fixed_frame: str = "odom"

    # ---- robot
    def base_pose(self, t_s: float) -> np.ndarray:
        """T_odom_base at t_s: position on the ellipse, heading along the path (counter-clockwise)."""
        w = 2 * math.pi / self.loop_s
        a = w * t_s
        x = self.center[0] + self.radii[0] * math.cos(a)
        y = self.center[1] + self.radii[1] * math.sin(a)
        yaw = math.atan2(self.radii[1] * math.cos(a), -self.radii[0] * math.sin(a))
        T = np.eye(4)
        c, s = math.cos(yaw), math.sin(yaw)
        T[:3, :3] = [[c, -s, 0], [s, c, 0], [0, 0, 1]]
        T[:3, 3] = [x, y, 0.0]
        return T

    def base_T_camera(self) -> np.ndarray:
        """Camera optical frame in the base: looking left (into the loop), pitched down."""
        p = math.radians(self.pitch_deg)
        # optical z (forward) = base +y pitched down; optical x (image right) = base -x
        fwd = np.array([0.0, math.cos(p), -math.sin(p)])
        right = np.array([-1.0, 0.0, 0.0])
        down = np.cross(fwd, right)
        T = np.eye(4)
        T[:3, :3] = np.column_stack([right, down, fwd])
        T[:3, 3] = [0.0, 0.0, self.camera_height]
        return T

    def camera_pose(self, t_s: float) -> np.ndarray:
        """T_odom_camera (optical) at t_s."""
        return self.base_pose(t_s) @ self.base_T_camera()

    def path_length(self, t0_s: float, t1_s: float, steps: int = 20000) -> float:
        """Exact (finely integrated) distance the base travelled between two times."""
        ts = np.linspace(t0_s, t1_s, steps + 1)
        pts = np.array([self.base_pose(t)[:2, 3] for t in ts])
        return float(np.linalg.norm(np.diff(pts, axis=0), axis=1).sum())

    def camera_model(self) -> CameraModel:
        """Pinhole intrinsics."""
        K = np.array([[self.focal, 0, self.width / 2], [0, self.focal, self.height / 2], [0, 0, 1.0]])
        return CameraModel(self.width, self.height, K, frame_id="camera_color_optical_frame")

    def objects_metadata(self) -> list[dict]:
        """Metadata['objects'] form of the legend."""
        return [{"id": o.id, "name": o.name, "class": o.cls, "color": ""} for o in self.objects]

    def object(self, name: str) -> SynthObject:
        """The object with this name."""
        for o in self.objects:
            if o.name == name:
                return o
        raise KeyError(name)

    # ---- rendering
    def render(self, t_s: float) -> Frame:
        """Ray-cast the frame at t_s (exact depth and labels)."""
        cam = self.camera_model()
        T = self.camera_pose(t_s)
        u, v = np.meshgrid(np.arange(self.width) + 0.5, np.arange(self.height) + 0.5)
        d_cam = np.stack([(u - cam.cx) / cam.fx, (v - cam.cy) / cam.fy, np.ones_like(u)], -1).reshape(-1, 3)
        d = d_cam @ T[:3, :3].T
        o = T[:3, 3]
        n = d.shape[0]
        best = np.full(n, np.inf)
        label = np.zeros(n, np.int32)
        color = np.zeros((n, 3), np.uint8)
        with np.errstate(divide="ignore", invalid="ignore"):
            tf = -o[2] / d[:, 2]
        floor = (tf > 0) & np.isfinite(tf)
        best[floor] = tf[floor]
        hit = o + d * np.where(floor, tf, 0)[:, None]
        checker = ((np.floor(hit[:, 0] * 2) + np.floor(hit[:, 1] * 2)) % 2).astype(np.uint8)
        color[floor] = np.stack([110 + 30 * checker, 110 + 30 * checker, 105 + 30 * checker], -1)[floor]
        for ob in self.objects:
            c = ob.center_at(t_s)
            if c is None:
                continue
            h = np.array(ob.size) / 2
            rays = self._rays_near(T, cam, c, h)
            if rays is None:
                continue
            dd = d[rays]
            with np.errstate(divide="ignore", invalid="ignore"):
                inv = 1.0 / dd
                t1 = (c - h - o) * inv
                t2 = (c + h - o) * inv
            tmin = np.nanmax(np.minimum(t1, t2), axis=1)
            tmax = np.nanmin(np.maximum(t1, t2), axis=1)
            m = (tmax >= tmin) & (tmin > 0) & (tmin < best[rays])
            sel = rays[m]
            best[sel] = tmin[m]
            label[sel] = ob.id
            color[sel] = ob.color
        depth = (best * d_cam[:, 2]).astype(np.float32)
        depth[~np.isfinite(best) | (depth > self.max_range_m)] = np.nan
        shp = (self.height, self.width)
        return Frame(stamp_ns=T0_NS + int(round(t_s * NS)), rgb=color.reshape(*shp, 3), camera=cam,
                     depth=depth.reshape(shp), labels=label.reshape(shp), fixed_frame=self.fixed_frame,
                     T_fixed_camera=T, source="synth", T_fixed_base=self.base_pose(t_s))

    def _rays_near(self, T: np.ndarray, cam: CameraModel, c: np.ndarray, h: np.ndarray) -> np.ndarray | None:
        """Flat indices of the pixels whose rays may hit the box (its projected bounding box)."""
        corners = c + h * np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)])
        pc = (corners - T[:3, 3]) @ T[:3, :3]
        if (pc[:, 2] <= 0.05).any():
            if (pc[:, 2] <= 0.05).all():
                return None
            return np.arange(self.width * self.height)
        u = cam.fx * pc[:, 0] / pc[:, 2] + cam.cx
        v = cam.fy * pc[:, 1] / pc[:, 2] + cam.cy
        u0, u1 = max(0, int(u.min()) - 1), min(self.width, int(u.max()) + 2)
        v0, v1 = max(0, int(v.min()) - 1), min(self.height, int(v.max()) + 2)
        if u0 >= u1 or v0 >= v1:
            return None
        vv, uu = np.mgrid[v0:v1, u0:u1]
        return (vv * self.width + uu).ravel()

    def visible(self, t_s: float, name: str, min_pixels: int = 20) -> bool:
        """Whether the object is in view (at least min_pixels) at t_s."""
        f = self.render(t_s)
        return int((f.labels == self.object(name).id).sum()) >= min_pixels

    def frames(self, t0_s: float, t1_s: float, rate_hz: float) -> Iterator[Frame]:
        """Frames from t0_s (inclusive) to t1_s (exclusive) at rate_hz."""
        k0, k1 = int(math.ceil(t0_s * rate_hz - 1e-9)), int(math.ceil(t1_s * rate_hz - 1e-9))
        for k in range(k0, k1):
            yield self.render(k / rate_hz)


def record(store: "object", world: SynthWorld, t0_s: float, t1_s: float, rate_hz: float = 1.0,
           pose_hz: float = 5.0) -> int:
    """Feed a MemoryStore the frames (and base poses at pose_hz) of [t0_s, t1_s); returns keyframes added."""
    added = 0
    k0, k1 = int(math.ceil(t0_s * pose_hz - 1e-9)), int(math.ceil(t1_s * pose_hz - 1e-9))
    step = max(1, int(round(pose_hz / rate_hz)))
    for k in range(k0, k1):
        t = k / pose_hz
        store.add_pose(T0_NS + int(round(t * NS)), world.base_pose(t))  # type: ignore[attr-defined]
        if k % step == 0:
            if store.add_frame(world.render(t)) is not None:             # type: ignore[attr-defined]
                added += 1
    return added
