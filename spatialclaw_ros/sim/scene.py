"""A random indoor scene from a seed: layout sampling, MJCF, and exact object ground truth."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from spatialclaw_ros.sim.library import (
    FLOOR_OBJECTS, FURNITURE, SMALL_OBJECTS, GeomSpec, ObjectTemplate, rgba, template)

ROOM_X = (-1.6, 3.6)       # odom x range of the room interior, metres
ROOM_Y = (-2.6, 2.6)
WALL_HEIGHT_M = 2.4
CAMERA_NAME = "rgbd"
CAMERA_BODY = "camera_rig"


@dataclass
class PlacedObject:
    """One object in the scene: label id, names, class, colour, and pose of its body in odom."""

    id: int
    name: str
    cls: str
    colour: str
    rgba: tuple[float, float, float, float]
    pos: tuple[float, float, float]
    yaw_deg: float
    support: str = "floor"                 # floor | <name of the furniture it rests on>

    @property
    def template(self) -> ObjectTemplate:
        """The class template (geoms)."""
        return template(self.cls)

    @property
    def body_name(self) -> str:
        """MJCF body name."""
        return f"obj{self.id}_{self.cls}"


@dataclass
class SceneLayout:
    """Everything placed in the room, in label-id order."""

    seed: int
    objects: list[PlacedObject] = field(default_factory=list)

    def by_id(self, oid: int) -> PlacedObject:
        """The object with label id ``oid``."""
        for o in self.objects:
            if o.id == oid:
                return o
        raise KeyError(f"no object with id {oid}")


def _rot_z(yaw: float) -> np.ndarray:
    c, s = math.cos(yaw), math.sin(yaw)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def _free(xy: np.ndarray, r: float, taken: list[tuple[np.ndarray, float]], gap: float) -> bool:
    return all(np.linalg.norm(xy - c) >= r + rc + gap for c, rc in taken)


def sample_layout(seed: int, *, n_on_table: int = 3, n_on_floor: int = 3,
                  n_on_shelf: int = 1) -> SceneLayout:
    """Sample a scene layout: a table and a shelf with small objects on them, objects on the floor."""
    rng = np.random.default_rng(seed)
    layout = SceneLayout(seed=seed)
    taken: list[tuple[np.ndarray, float]] = []
    used_names: set[str] = set()

    def add(cls: str, pos: tuple[float, float, float], yaw: float, support: str,
            colour: str | None = None) -> PlacedObject:
        tpl = template(cls)
        if colour is None:
            # Prefer a colour no other object of this class has, so names stay unambiguous.
            free = [c for c in tpl.colours if f"{c} {cls}" not in used_names]
            colour = str(rng.choice(free or list(tpl.colours)))
        name = f"{colour} {cls}"
        k = 2
        while name in used_names:
            name = f"{colour} {cls} {k}"
            k += 1
        used_names.add(name)
        obj = PlacedObject(id=len(layout.objects) + 1, name=name, cls=cls, colour=colour,
                           rgba=rgba(colour, rng), pos=tuple(round(float(v), 4) for v in pos),
                           yaw_deg=round(float(math.degrees(yaw)), 3), support=support)
        layout.objects.append(obj)
        return obj

    # Furniture: a table in the middle of the view, a shelf against the back wall.
    table_xy = np.array([1.55 + rng.uniform(-0.15, 0.15), rng.uniform(-0.45, 0.45)])
    table = add("table", (table_xy[0], table_xy[1], 0.0), math.radians(rng.uniform(-12, 12)),
                "floor")
    taken.append((table_xy, FURNITURE["table"].footprint_radius_m))
    while True:
        shelf_xy = np.array([ROOM_X[1] - 0.26, rng.uniform(-1.6, 1.6)])
        if _free(shelf_xy, FURNITURE["shelf"].footprint_radius_m, taken, 0.1):
            break
    shelf = add("shelf", (shelf_xy[0], shelf_xy[1], 0.0), math.pi / 2, "floor")
    taken.append((shelf_xy, FURNITURE["shelf"].footprint_radius_m))

    def on_surface(furn: PlacedObject, count: int, classes: list[str]) -> None:
        tpl = furn.template
        local: list[tuple[np.ndarray, float]] = []
        R = _rot_z(math.radians(furn.yaw_deg))
        for _ in range(count):
            cls = str(rng.choice(classes))
            r = template(cls).footprint_radius_m
            for _attempt in range(200):
                sx, sy, sz, hx, hy = tpl.surfaces[int(rng.integers(len(tpl.surfaces)))]
                if hx - r <= 0 or hy - r <= 0:
                    continue
                p = np.array([sx + rng.uniform(-(hx - r), hx - r),
                              sy + rng.uniform(-(hy - r), hy - r)])
                if _free(p, r, local, 0.05):
                    local.append((p, r))
                    world = np.array(furn.pos) + R @ np.array([p[0], p[1], sz])
                    yaw = math.radians(furn.yaw_deg + rng.uniform(-30, 30))
                    # Laptops face the room (-x); others any way.
                    if cls == "laptop":
                        yaw = math.radians(furn.yaw_deg + 90.0 + rng.uniform(-10, 10))
                    add(cls, tuple(world), yaw, furn.name)
                    break

    on_surface(table, n_on_table, sorted(SMALL_OBJECTS))
    on_surface(shelf, n_on_shelf, ["book", "bottle", "mug"])
    for _ in range(n_on_floor):
        cls = str(rng.choice(sorted(FLOOR_OBJECTS)))
        r = template(cls).footprint_radius_m
        for _attempt in range(500):
            xy = np.array([rng.uniform(0.5, 2.9), rng.uniform(-1.9, 1.9)])
            if _free(xy, r, taken, 0.15):
                taken.append((xy, r))
                add(cls, (xy[0], xy[1], 0.0), math.radians(rng.uniform(-45, 45)), "floor")
                break
    return layout


def _geom_xml(g: GeomSpec, colour: tuple[float, ...], name: str) -> str:
    size = " ".join(f"{v:.5g}" for v in g.size)
    pos = " ".join(f"{v:.5g}" for v in g.pos)
    eul = " ".join(f"{v:.5g}" for v in g.euler_deg)
    col = " ".join(f"{v:.4g}" for v in colour)
    return (f'<geom name="{name}" type="{g.type}" size="{size}" pos="{pos}" euler="{eul}" '
            f'rgba="{col}"/>')


def build_mjcf(layout: SceneLayout, *, width: int, height: int, fovy_deg: float,
               light: float = 1.0) -> str:
    """The MJCF of the room, the objects and a mocap camera rig (a MuJoCo camera: -z forward, +y up)."""
    x0, x1 = ROOM_X
    y0, y1 = ROOM_Y
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    hx, hy, hz, t = (x1 - x0) / 2, (y1 - y0) / 2, WALL_HEIGHT_M / 2, 0.05
    walls = [
        ("wall_back", (x1 + t, cy, hz), (t, hy + 2 * t, hz)),
        ("wall_front", (x0 - t, cy, hz), (t, hy + 2 * t, hz)),
        ("wall_left", (cx, y1 + t, hz), (hx + 2 * t, t, hz)),
        ("wall_right", (cx, y0 - t, hz), (hx + 2 * t, t, hz)),
    ]
    sun, lamp = 0.55 * light, 0.3 * light
    wall_rgba = ["0.82 0.80 0.74 1", "0.78 0.80 0.82 1", "0.80 0.76 0.70 1", "0.74 0.78 0.74 1"]
    lines = [
        '<mujoco model="spatialclaw_scene">',
        '  <compiler angle="degree"/>',
        f'  <visual><global offwidth="{max(width, 64)}" offheight="{max(height, 64)}"/>'
        '<quality shadowsize="2048"/><headlight ambient="0.35 0.35 0.35" diffuse="0.3 0.3 0.3"/>'
        '</visual>',
        '  <asset><texture name="grid" type="2d" builtin="checker" rgb1="0.62 0.58 0.52" '
        'rgb2="0.55 0.51 0.46" width="256" height="256"/>'
        '<material name="floor" texture="grid" texrepeat="8 8"/></asset>',
        '  <worldbody>',
        '    <light name="sun" directional="true" pos="0 0 3" dir="0.3 0.2 -1" '
        f'diffuse="{sun:.3g} {sun:.3g} {sun:.3g}" castshadow="true"/>',
        f'    <light name="lamp" pos="{cx:.3g} {cy:.3g} 2.3" diffuse="{lamp:.3g} {lamp:.3g} {lamp:.3g}" '
        'castshadow="false"/>',
        f'    <geom name="floor" type="plane" size="{hx + 0.2:.3g} {hy + 0.2:.3g} 0.1" '
        f'pos="{cx:.4g} {cy:.4g} 0" material="floor"/>',
    ]
    for (name, pos, size), col in zip(walls, wall_rgba):
        lines.append(f'    <geom name="{name}" type="box" pos="{pos[0]:.4g} {pos[1]:.4g} {pos[2]:.4g}" '
                     f'size="{size[0]:.4g} {size[1]:.4g} {size[2]:.4g}" rgba="{col}"/>')
    for o in layout.objects:
        lines.append(f'    <body name="{o.body_name}" pos="{o.pos[0]:.6g} {o.pos[1]:.6g} {o.pos[2]:.6g}" '
                     f'euler="0 0 {o.yaw_deg:.6g}">')
        for k, g in enumerate(o.template.geoms):
            lines.append("      " + _geom_xml(g, o.rgba, f"{o.body_name}_g{k}"))
        lines.append("    </body>")
    lines += [
        f'    <body name="{CAMERA_BODY}" mocap="true" pos="0 0 1">',
        f'      <camera name="{CAMERA_NAME}" fovy="{fovy_deg:.6g}" pos="0 0 0"/>',
        "    </body>",
        "  </worldbody>",
        "</mujoco>",
    ]
    return "\n".join(lines)


def geom_aabb(gtype: int, size: np.ndarray, xpos: np.ndarray, xmat: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray]:
    """Exact world-axis-aligned bounds (min, max) of a box, cylinder or sphere geom."""
    import mujoco

    R = xmat.reshape(3, 3)
    if gtype == mujoco.mjtGeom.mjGEOM_BOX:
        half = np.abs(R) @ size[:3]
    elif gtype == mujoco.mjtGeom.mjGEOM_CYLINDER:
        axis = R[:, 2]
        half = np.abs(axis) * size[1] + size[0] * np.sqrt(np.clip(1.0 - axis ** 2, 0.0, 1.0))
    elif gtype == mujoco.mjtGeom.mjGEOM_SPHERE:
        half = np.full(3, size[0])
    else:
        raise ValueError(f"geom type {gtype} has no exact bounds here (use box, cylinder, sphere)")
    return xpos - half, xpos + half


@dataclass
class ObjectTruth:
    """Ground truth of one object in odom: bounds, centroid (bounds centre), size, geom ids."""

    id: int
    name: str
    cls: str
    colour: str
    support: str
    centroid: np.ndarray
    size: np.ndarray
    aabb_min: np.ndarray
    aabb_max: np.ndarray
    geom_ids: list[int]
    geoms: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly dict (sidecar ``objects`` entry)."""
        r = lambda a: [round(float(v), 6) for v in a]  # noqa: E731
        return {"id": self.id, "name": self.name, "class": self.cls, "colour": self.colour,
                "color": self.colour,
                "support": self.support, "centroid": r(self.centroid), "size": r(self.size),
                "aabb_min": r(self.aabb_min), "aabb_max": r(self.aabb_max),
                "top_z": round(float(self.aabb_max[2]), 6), "geoms": self.geoms}


def object_truths(model: Any, data: Any, layout: SceneLayout) -> list[ObjectTruth]:
    """Per object: exact axis-aligned bounds in odom from its geoms' world poses (after mj_forward)."""
    import mujoco

    out: list[ObjectTruth] = []
    type_names = {int(mujoco.mjtGeom.mjGEOM_BOX): "box", int(mujoco.mjtGeom.mjGEOM_CYLINDER): "cylinder",
                  int(mujoco.mjtGeom.mjGEOM_SPHERE): "sphere"}
    for o in layout.objects:
        bid = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, o.body_name)
        gids = [g for g in range(model.ngeom) if model.geom_bodyid[g] == bid]
        lo, hi = np.full(3, np.inf), np.full(3, -np.inf)
        geoms = []
        for g in gids:
            a, b = geom_aabb(int(model.geom_type[g]), model.geom_size[g], data.geom_xpos[g],
                             data.geom_xmat[g])
            lo, hi = np.minimum(lo, a), np.maximum(hi, b)
            quat = np.zeros(4)
            mujoco.mju_mat2Quat(quat, data.geom_xmat[g])
            geoms.append({"type": type_names[int(model.geom_type[g])],
                          "size": [round(float(v), 6) for v in model.geom_size[g]],
                          "pos": [round(float(v), 6) for v in data.geom_xpos[g]],
                          "quat_wxyz": [round(float(v), 6) for v in quat]})
        out.append(ObjectTruth(o.id, o.name, o.cls, o.colour, o.support, (lo + hi) / 2, hi - lo,
                               lo, hi, gids, geoms))
    return out


def closest_distance(model: Any, data: Any, a: ObjectTruth, b: ObjectTruth
                     ) -> tuple[float, np.ndarray, np.ndarray]:
    """Closest surface distance between two objects (mj_geomDistance over geom pairs) and the points."""
    import mujoco

    best, pa, pb = math.inf, np.zeros(3), np.zeros(3)
    fromto = np.zeros(6)
    for g1 in a.geom_ids:
        for g2 in b.geom_ids:
            d = mujoco.mj_geomDistance(model, data, g1, g2, 50.0, fromto)
            if d < best:
                best, pa, pb = d, fromto[:3].copy(), fromto[3:].copy()
    return float(best), pa, pb


def geom_surface_distance(points: np.ndarray, geom: dict[str, Any]) -> np.ndarray:
    """Signed distance (m) from odom points (N, 3) to a sidecar geom's exact surface (box/cylinder/sphere)."""
    from transforms3d.quaternions import quat2mat

    R = quat2mat(geom["quat_wxyz"])
    p = (np.asarray(points, float) - np.asarray(geom["pos"])) @ R   # into the geom frame
    size = np.asarray(geom["size"], float)
    if geom["type"] == "sphere":
        return np.linalg.norm(p, axis=1) - size[0]
    if geom["type"] == "box":
        q = np.abs(p) - size[:3]
    elif geom["type"] == "cylinder":
        q = np.stack([np.linalg.norm(p[:, :2], axis=1) - size[0], np.abs(p[:, 2]) - size[1]], axis=1)
    else:
        raise ValueError(f"no surface distance for geom type {geom['type']!r}")
    outside = np.linalg.norm(np.maximum(q, 0.0), axis=1)
    inside = np.minimum(q.max(axis=1), 0.0)
    return outside + inside
