"""tools.Graph: objects and their pairwise relations as a small scene graph."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


from spatialclaw_ros.tools.base import Tool
from spatialclaw_ros.tools.context import KernelContext
from spatialclaw_ros.tools.geometry import GeometryTool
from spatialclaw_ros.tools.results import Box3D, Direction, Point, PointCloud, Segmentation


@dataclass
class Node:
    """One object: centroid (visible surface), upright box, number of 3-D points."""

    name: str
    centroid: Point
    box: Box3D | None
    n_points: int

    def __repr__(self) -> str:
        size = "?" if self.box is None else "[" + ", ".join(f"{s:.3f}" for s in self.box.size) + "]"
        c = "[" + ", ".join(f"{x:.3f}" for x in self.centroid.xyz) + "]"
        return f"Node({self.name!r}, centroid={c} m in {self.centroid.frame!r}, size_m={size}, n={self.n_points})"


@dataclass
class Edge:
    """Relation of object a to object b: distances and where a is relative to b."""

    a: str
    b: str
    centroid_distance_m: float
    closest_m: float | None           # closest surface distance (None when either is a single point)
    direction: Direction              # where a is relative to b

    def __repr__(self) -> str:
        cl = "None" if self.closest_m is None else f"{self.closest_m:.3f}"
        return (f"Edge({self.a!r} -> {self.b!r}: centroid {self.centroid_distance_m:.3f} m, closest {cl} m, "
                f"{self.direction.left_right}/{self.direction.front_behind}/{self.direction.above_below})")


@dataclass
class SceneGraph:
    """Objects (nodes, by name) and every ordered pair's relation (edges)."""

    nodes: dict[str, Node]
    edges: list[Edge] = field(default_factory=list)
    frame: str = "camera"              # frame the directions are expressed in

    def edge(self, a: str, b: str) -> Edge:
        """The relation of a to b."""
        for e in self.edges:
            if e.a == a and e.b == b:
                return e
        raise KeyError(f"no edge {a!r} -> {b!r}; nodes are {list(self.nodes)}")

    def nearest(self, name: str, by: str = "closest") -> str:
        """Name of the object nearest to `name` (by "closest" surface or "centroid" distance)."""
        if name not in self.nodes:
            raise KeyError(f"no node {name!r}; nodes are {list(self.nodes)}")
        cands = [e for e in self.edges if e.a == name]
        if not cands:
            raise ValueError("the graph has a single node; nothing is near it")

        def dist(e: Edge) -> float:
            if by == "closest" and e.closest_m is not None:
                return e.closest_m
            return e.centroid_distance_m
        return min(cands, key=dist).b

    def describe(self) -> str:
        """Plain-text summary of nodes and relations (print it)."""
        lines = [f"{len(self.nodes)} objects (directions in {self.frame} frame):"]
        lines += [f"  {n!r}" for n in self.nodes.values()]
        lines += [f"  {e!r}" for e in self.edges if e.a < e.b]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"SceneGraph(nodes={list(self.nodes)}, edges={len(self.edges)}, frame={self.frame!r})"


class GraphTool(Tool):
    """A small scene graph: objects with centroid and size, and pairwise distances and directions.

    Use it to get an overview of several objects at once; measure single relations with tools.Geometry.
    """

    doc_name = "Graph"

    def __init__(self, ctx: KernelContext, geometry: GeometryTool) -> None:
        self._ctx = ctx
        self._geo = geometry

    def build(self, objects: dict[str, Any], frame: str = "camera", frame_index: int | None = None) -> SceneGraph:
        """Graph from {name: PointCloud | Point | (N, 3) array in the fixed frame}; directions in `frame` ("camera", "base", "fixed").

        Example: `g = tools.Graph.build({"mug": mug_cloud, "laptop": laptop_cloud}); print(g.describe())`
        """
        if not isinstance(objects, dict) or not objects:
            raise ValueError("objects must be a non-empty dict {name: PointCloud | Point | (N, 3) array}")
        geo = self._geo
        nodes: dict[str, Node] = {}
        for name, obj in objects.items():
            c = geo.centroid(obj)
            pts = geo._points_of(obj)[0]
            box = geo.obb(obj, upright=True) if pts.shape[0] >= 3 and c.frame == self._ctx.fixed_frame else \
                (geo.aabb(obj) if pts.shape[0] >= 1 else None)
            nodes[str(name)] = Node(str(name), c, box, int(pts.shape[0]))
        edges = []
        names = list(nodes)
        closest: dict[frozenset[str], float | None] = {}
        for a in names:
            for b in names:
                if a == b:
                    continue
                oa, ob = objects[a], objects[b]
                key = frozenset((a, b))
                if key not in closest:                 # symmetric: one KD-tree search per pair
                    single = nodes[a].n_points < 2 or nodes[b].n_points < 2
                    closest[key] = None if single else geo.closest_points(oa, ob).distance_m
                d = geo.direction(oa, ob, frame=frame, frame_index=frame_index)
                edges.append(Edge(a, b, geo.distance_m(nodes[a].centroid, nodes[b].centroid), closest[key], d))
        return SceneGraph(nodes, edges, frame)

    def from_segmentation(self, seg: Segmentation, frame: str = "camera", backend: str = "auto") -> SceneGraph:
        """Graph of every mask in a Segmentation (3-D points from its keyframe; repeated names get '#2', '#3').

        Example: `g = tools.Graph.from_segmentation(tools.SAM3.segment(0, text="all objects"))`
        """
        if not isinstance(seg, Segmentation):
            raise TypeError(f"expected a Segmentation from tools.SAM3, got {type(seg).__name__}")
        if len(seg) == 0:
            raise ValueError(f"the segmentation is empty; nothing to put in a graph ({seg.notes})")
        objs: dict[str, PointCloud] = {}
        for k in range(len(seg)):
            base = seg.labels[k] or f"object{k}"
            name, n = base, 2
            while name in objs:
                name, n = f"{base}#{n}", n + 1
            objs[name] = self._geo.mask_points(seg.frame_index, seg.masks[k], backend=backend)
        return self.build(objs, frame=frame, frame_index=seg.frame_index)
