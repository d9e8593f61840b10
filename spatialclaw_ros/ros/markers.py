"""RViz markers for an answer's geometry (visualization_msgs/MarkerArray in the fixed frame).

``Answer.geometry`` is a plain dict filled by the tools / ReturnAnswer. The keys read here (all
optional, coordinates in metres in ``geometry["frame"]`` or else the answer's / fixed frame):

- ``closest_points``: ``[[x, y, z], [x, y, z]]``: two spheres, the segment between them and its length
- ``segments``: ``[[p0, p1], ...]`` or ``[{"start": p0, "end": p1, "label": str}, ...]``
- ``centroids`` / ``points``: ``{name: [x, y, z]}`` or ``[{"name": str, "xyz": [x, y, z]}, ...]``
- ``boxes``: ``[{"center": [x, y, z], "size": [dx, dy, dz], "name": str}, ...]`` (axis-aligned)
- ``labels``: ``[{"text": str, "xyz": [x, y, z]}, ...]``
- ``vector_origin``: ``[x, y, z]``: where the arrow of a vector answer starts (default: origin)

A point answer becomes a sphere and a vector answer an arrow. Malformed entries are skipped and
reported, never raised: markers must not break the answer path.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Iterable

from builtin_interfaces.msg import Time as TimeMsg
from geometry_msgs.msg import Point
from std_msgs.msg import ColorRGBA
from visualization_msgs.msg import Marker, MarkerArray

from spatialclaw_ros.agent.types import Answer

NAMESPACE = "spatialclaw"
_PALETTE = [(0.90, 0.30, 0.20), (0.20, 0.60, 0.90), (0.30, 0.80, 0.30), (0.95, 0.75, 0.10),
            (0.70, 0.40, 0.90), (0.10, 0.80, 0.80)]


@dataclass
class MarkerBuild:
    """The markers made from one answer and the geometry entries that had to be skipped."""

    markers: MarkerArray
    skipped: list[str] = field(default_factory=list)


def answer_markers(answer: Answer | None, fixed_frame: str, stamp: TimeMsg | None = None
                   ) -> MarkerBuild:
    """Build a MarkerArray for an answer: a DELETEALL first, then one marker per geometric item."""
    out = MarkerBuild(MarkerArray())
    clear = Marker(action=Marker.DELETEALL, ns=NAMESPACE)
    clear.header.frame_id = fixed_frame
    out.markers.markers.append(clear)
    if answer is None:
        return out
    geometry = answer.geometry if isinstance(answer.geometry, dict) else {}
    frame = str(geometry.get("frame") or answer.frame_id or fixed_frame)
    b = _Builder(frame, stamp or TimeMsg(), out)

    if answer.point is not None:
        p = _xyz(answer.point)
        if p is not None:
            b.sphere(p, 0.04, (1.0, 0.1, 0.6), "answer")
            b.text(p, answer.text or "answer", offset=0.08)
    if answer.vector is not None:
        v = _xyz(answer.vector)
        origin = _xyz(geometry.get("vector_origin", (0.0, 0.0, 0.0)))
        if v is not None and origin is not None:
            b.arrow(origin, (origin[0] + v[0], origin[1] + v[1], origin[2] + v[2]),
                    (1.0, 0.1, 0.6), "answer")

    cp = geometry.get("closest_points")
    if cp is not None:
        pts = [_xyz(p) for p in cp] if isinstance(cp, (list, tuple)) and len(cp) == 2 else [None]
        if None in pts:
            out.skipped.append("closest_points: expected two [x, y, z] points")
        else:
            p0, p1 = pts
            b.sphere(p0, 0.025, (1.0, 0.9, 0.1), "closest_points")
            b.sphere(p1, 0.025, (1.0, 0.9, 0.1), "closest_points")
            b.line([p0, p1], (1.0, 0.9, 0.1), "closest_points")
            mid = tuple((a + c) / 2 for a, c in zip(p0, p1))
            b.text(mid, f"{math.dist(p0, p1):.3f} m", offset=0.05)

    for i, seg in enumerate(_as_list(geometry.get("segments"))):
        if isinstance(seg, dict):
            p0, p1, label = _xyz(seg.get("start")), _xyz(seg.get("end")), seg.get("label")
        elif isinstance(seg, (list, tuple)) and len(seg) == 2:
            p0, p1, label = _xyz(seg[0]), _xyz(seg[1]), None
        else:
            p0 = p1 = label = None
        if p0 is None or p1 is None:
            out.skipped.append(f"segments[{i}]: expected [p0, p1] or {{start, end}}")
            continue
        b.line([p0, p1], (0.2, 0.9, 0.9), "segments")
        if label:
            b.text(tuple((a + c) / 2 for a, c in zip(p0, p1)), str(label), offset=0.05)

    for key in ("centroids", "points"):
        for i, (name, p) in enumerate(_named_points(geometry.get(key), key, out.skipped)):
            color = _PALETTE[i % len(_PALETTE)]
            b.sphere(p, 0.03, color, key)
            if name:
                b.text(p, name, offset=0.06)

    for i, box in enumerate(_as_list(geometry.get("boxes"))):
        center = _xyz(box.get("center")) if isinstance(box, dict) else None
        size = _xyz(box.get("size")) if isinstance(box, dict) else None
        if center is None or size is None:
            out.skipped.append(f"boxes[{i}]: expected {{center: [x, y, z], size: [dx, dy, dz]}}")
            continue
        b.cube(center, size, _PALETTE[i % len(_PALETTE)], "boxes")
        if box.get("name"):
            b.text(center, str(box["name"]), offset=size[2] / 2 + 0.05)

    for i, lab in enumerate(_as_list(geometry.get("labels"))):
        p = _xyz(lab.get("xyz")) if isinstance(lab, dict) else None
        if p is None or not lab.get("text"):
            out.skipped.append(f"labels[{i}]: expected {{text: str, xyz: [x, y, z]}}")
            continue
        b.text(p, str(lab["text"]), offset=0.0)
    return out


class _Builder:
    """Appends markers with consecutive ids in one frame."""

    def __init__(self, frame: str, stamp: TimeMsg, out: MarkerBuild) -> None:
        self.frame, self.stamp, self.out = frame, stamp, out

    def _new(self, mtype: int, color: tuple[float, float, float], ns_suffix: str,
             alpha: float = 1.0) -> Marker:
        m = Marker(type=mtype, action=Marker.ADD, ns=f"{NAMESPACE}/{ns_suffix}",
                   id=len(self.out.markers.markers))
        m.header.frame_id = self.frame
        m.header.stamp = self.stamp
        m.pose.orientation.w = 1.0
        m.color = ColorRGBA(r=float(color[0]), g=float(color[1]), b=float(color[2]), a=alpha)
        self.out.markers.markers.append(m)
        return m

    def sphere(self, p: tuple[float, ...], d: float, color: tuple[float, float, float],
               ns: str) -> None:
        m = self._new(Marker.SPHERE, color, ns)
        m.pose.position = _point(p)
        m.scale.x = m.scale.y = m.scale.z = d

    def cube(self, c: tuple[float, ...], size: tuple[float, ...],
             color: tuple[float, float, float], ns: str) -> None:
        m = self._new(Marker.CUBE, color, ns, alpha=0.35)
        m.pose.position = _point(c)
        m.scale.x, m.scale.y, m.scale.z = (max(abs(float(s)), 1e-3) for s in size)

    def line(self, pts: list[tuple[float, ...]], color: tuple[float, float, float],
             ns: str) -> None:
        m = self._new(Marker.LINE_STRIP, color, ns)
        m.points = [_point(p) for p in pts]
        m.scale.x = 0.01

    def arrow(self, p0: tuple[float, ...], p1: tuple[float, ...],
              color: tuple[float, float, float], ns: str) -> None:
        m = self._new(Marker.ARROW, color, ns)
        m.points = [_point(p0), _point(p1)]
        m.scale.x, m.scale.y, m.scale.z = 0.015, 0.03, 0.05

    def text(self, p: tuple[float, ...], text: str, offset: float) -> None:
        m = self._new(Marker.TEXT_VIEW_FACING, (1.0, 1.0, 1.0), "labels")
        m.pose.position = _point((p[0], p[1], p[2] + offset))
        m.scale.z = 0.05
        m.text = text[:120]


def _xyz(v: Any) -> tuple[float, float, float] | None:
    try:
        vals = tuple(float(x) for x in v)
    except (TypeError, ValueError):
        return None
    if len(vals) != 3 or not all(math.isfinite(x) for x in vals):
        return None
    return vals  # type: ignore[return-value]


def _as_list(v: Any) -> list[Any]:
    if v is None:
        return []
    return list(v) if isinstance(v, (list, tuple)) else [v]


def _named_points(v: Any, key: str, skipped: list[str]
                  ) -> Iterable[tuple[str, tuple[float, float, float]]]:
    if v is None:
        return []
    items: list[tuple[str, Any]]
    if isinstance(v, dict):
        items = [(str(k), p) for k, p in v.items()]
    else:
        items = []
        for entry in _as_list(v):
            if isinstance(entry, dict):
                items.append((str(entry.get("name") or entry.get("label") or ""),
                              entry.get("xyz", entry.get("position"))))
            else:
                items.append(("", entry))
    good = []
    for i, (name, p) in enumerate(items):
        q = _xyz(p)
        if q is None:
            skipped.append(f"{key}[{name or i}]: expected [x, y, z]")
        else:
            good.append((name, q))
    return good


def _point(p: tuple[float, ...]) -> Point:
    return Point(x=float(p[0]), y=float(p[1]), z=float(p[2]))
