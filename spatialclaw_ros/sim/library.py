"""What a synthetic scene is made of: named colours and everyday object templates (geoms in metres)."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# Colour names the questions use, with the RGB (0..1) the renderer paints them in.
COLOURS: dict[str, tuple[float, float, float]] = {
    "red": (0.85, 0.12, 0.10),
    "green": (0.15, 0.65, 0.20),
    "blue": (0.12, 0.30, 0.85),
    "yellow": (0.95, 0.85, 0.10),
    "orange": (0.95, 0.50, 0.05),
    "purple": (0.55, 0.20, 0.70),
    "white": (0.92, 0.92, 0.92),
    "black": (0.08, 0.08, 0.08),
    "brown": (0.50, 0.32, 0.16),
    "grey": (0.55, 0.55, 0.55),
}


@dataclass(frozen=True)
class GeomSpec:
    """One MuJoCo geom of an object, in the object's body frame (MJCF size convention)."""

    type: str                              # box | cylinder | sphere
    size: tuple[float, ...]                # box: half-extents; cylinder: radius, half-height; sphere: radius
    pos: tuple[float, float, float] = (0.0, 0.0, 0.0)
    euler_deg: tuple[float, float, float] = (0.0, 0.0, 0.0)  # MJCF xyz euler of the geom in the body


@dataclass(frozen=True)
class ObjectTemplate:
    """An object class: its geoms (body origin on the floor or surface it rests on) and allowed colours."""

    cls: str
    geoms: tuple[GeomSpec, ...]
    colours: tuple[str, ...]
    footprint_radius_m: float              # for non-overlapping placement
    furniture: bool = False
    surfaces: tuple[tuple[float, float, float, float, float], ...] = field(default=())
    # surfaces: (x, y, z, half_x, half_y) rectangles in the body frame other objects may rest on


def _mug() -> ObjectTemplate:
    return ObjectTemplate("mug", (
        GeomSpec("cylinder", (0.04, 0.05), (0.0, 0.0, 0.05)),
        GeomSpec("box", (0.012, 0.006, 0.03), (0.05, 0.0, 0.055)),
    ), ("red", "blue", "white", "yellow", "green"), 0.07)


def _bottle() -> ObjectTemplate:
    return ObjectTemplate("bottle", (
        GeomSpec("cylinder", (0.035, 0.09), (0.0, 0.0, 0.09)),
        GeomSpec("cylinder", (0.014, 0.03), (0.0, 0.0, 0.21)),
    ), ("green", "blue", "white", "orange"), 0.05)


def _laptop() -> ObjectTemplate:
    return ObjectTemplate("laptop", (
        GeomSpec("box", (0.17, 0.12, 0.01), (0.0, 0.0, 0.01)),
        GeomSpec("box", (0.17, 0.006, 0.11), (0.0, 0.114, 0.13)),
    ), ("grey", "black", "white"), 0.22)


def _box() -> ObjectTemplate:
    return ObjectTemplate("box", (GeomSpec("box", (0.12, 0.09, 0.08), (0.0, 0.0, 0.08)),),
                          ("brown", "blue", "red", "yellow", "green"), 0.16)


def _ball() -> ObjectTemplate:
    return ObjectTemplate("ball", (GeomSpec("sphere", (0.09,), (0.0, 0.0, 0.09)),),
                          ("red", "orange", "yellow", "blue", "purple", "green"), 0.1)


def _book() -> ObjectTemplate:
    return ObjectTemplate("book", (GeomSpec("box", (0.11, 0.075, 0.02), (0.0, 0.0, 0.02)),),
                          ("red", "blue", "green", "purple", "black"), 0.14)


def _table() -> ObjectTemplate:
    top_z, hx, hy, leg = 0.75, 0.55, 0.38, 0.025
    legs = tuple(GeomSpec("box", (leg, leg, (top_z - 0.03) / 2),
                          (sx * (hx - 0.06), sy * (hy - 0.06), (top_z - 0.03) / 2))
                 for sx in (-1, 1) for sy in (-1, 1))
    return ObjectTemplate("table", (GeomSpec("box", (hx, hy, 0.015), (0.0, 0.0, top_z - 0.015)),)
                          + legs, ("brown", "white"), 0.68, furniture=True,
                          surfaces=((0.0, 0.0, top_z, hx - 0.08, hy - 0.08),))


def _shelf() -> ObjectTemplate:
    w, d, h, t = 0.45, 0.18, 1.2, 0.015
    boards = tuple(GeomSpec("box", (w, d, t), (0.0, 0.0, z)) for z in (0.12, 0.6, h - t))
    sides = tuple(GeomSpec("box", (t, d, h / 2), (sx * (w + t), 0.0, h / 2)) for sx in (-1, 1))
    return ObjectTemplate("shelf", boards + sides, ("brown", "white", "grey"), 0.5, furniture=True,
                          surfaces=((0.0, 0.0, 0.12 + t, w - 0.1, d - 0.1),
                                    (0.0, 0.0, 0.6 + t, w - 0.1, d - 0.1)))


SMALL_OBJECTS: dict[str, ObjectTemplate] = {
    t.cls: t for t in (_mug(), _bottle(), _laptop(), _book())}
FLOOR_OBJECTS: dict[str, ObjectTemplate] = {t.cls: t for t in (_box(), _ball())}
FURNITURE: dict[str, ObjectTemplate] = {t.cls: t for t in (_table(), _shelf())}


def template(cls: str) -> ObjectTemplate:
    """The template of an object class; ValueError naming the known classes otherwise."""
    for lib in (SMALL_OBJECTS, FLOOR_OBJECTS, FURNITURE):
        if cls in lib:
            return lib[cls]
    known = sorted({*SMALL_OBJECTS, *FLOOR_OBJECTS, *FURNITURE})
    raise ValueError(f"unknown object class {cls!r}; known: {', '.join(known)}")


def rgba(colour: str, rng: np.random.Generator | None = None) -> tuple[float, float, float, float]:
    """RGBA of a named colour, slightly varied when an rng is given (still the same name)."""
    r, g, b = COLOURS[colour]
    if rng is not None:
        j = rng.uniform(-0.04, 0.04, 3)
        r, g, b = (float(np.clip(c + d, 0, 1)) for c, d in zip((r, g, b), j))
    return (round(r, 3), round(g, 3), round(b, 3), 1.0)
