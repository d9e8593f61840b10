"""Spatial questions about a generated scene, with exact answers from the simulator.

Every question is a dict (the sidecar's ``questions`` entries):
``id``, ``kind``, ``question``, ``answer_type`` (number | point | choice | count | boolean, as in
``spatialclaw_ros.agent.types.AnswerType``), ``answer``, ``unit``, ``tolerance`` (relative error
allowed at the strictest MRA threshold, informative), ``choices``, ``objects`` (label ids),
``frame_index``/``stamp_ns`` where the question is about one moment, ``scale_m`` for points (what a
point's error is relative to), and ``evidence`` (the numbers the answer came from).
"""
from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np

from spatialclaw_ros.sim.scene import ObjectTruth, closest_distance

MIN_VISIBLE_FRACTION = 0.0015      # an object counts as seen when it covers this much of a frame
REL_TOL = 0.05                     # the strictest MRA threshold (0.95) allows 5 % relative error


def _r(v: float, n: int = 4) -> float:
    return round(float(v), n)


def _seen(obj_id: int, cams: list[dict[str, Any]], min_px: int, frame: int | None = None) -> bool:
    frames = cams if frame is None else [cams[frame]]
    return any(c["visible_pixels"].get(obj_id, 0) >= min_px for c in frames)


def make_questions(scene_name: str, model: Any, data: Any, truths: list[ObjectTruth],
                   cams: list[dict[str, Any]], K: np.ndarray, opts: Any) -> list[dict[str, Any]]:
    """Questions with exact answers; ordered so the first few cover every kind once."""
    rng = np.random.default_rng([int(opts.seed), 3])
    min_px = max(12, int(MIN_VISIBLE_FRACTION * opts.width * opts.height))
    seen = [t for t in truths if _seen(t.id, cams, min_px)]
    small = [t for t in seen if t.cls not in ("table", "shelf")]
    first = [t for t in small if _seen(t.id, cams, min_px, 0)]
    T0 = np.array(cams[0]["T_odom_optical"])
    T1 = np.array(cams[-1]["T_odom_optical"])
    cam0 = T0[:3, 3]
    by_kind: dict[str, list[dict[str, Any]]] = {}

    def add(kind: str, q: dict[str, Any]) -> None:
        q = {"kind": kind, "unit": "", "tolerance": None, "choices": [], "objects": [],
             "frame_index": None, "stamp_ns": None, "scale_m": None, "evidence": {}, **q}
        by_kind.setdefault(kind, []).append(q)

    def the(t: ObjectTruth) -> str:
        return f"the {t.name}"

    # Closest surface distance (mj_geomDistance), pairs far enough apart for a 5 % reading.
    for a, b in itertools.combinations(small, 2):
        d, pa, pb = closest_distance(model, data, a, b)
        if d >= 0.35:
            add("distance_closest", {
                "question": f"What is the closest distance between the surfaces of {the(a)} and "
                            f"{the(b)}, in metres?",
                "answer_type": "number", "answer": _r(d), "unit": "m", "tolerance": REL_TOL,
                "objects": [a.id, b.id],
                "evidence": {"point_a": [_r(v) for v in pa], "point_b": [_r(v) for v in pb]}})
    # Centroid distance (centre of the objects' exact bounds).
    for a, b in itertools.combinations(small, 2):
        d = float(np.linalg.norm(a.centroid - b.centroid))
        if d >= 0.8:
            add("distance_centroid", {
                "question": f"How far apart are the centres of {the(a)} and {the(b)}, in metres?",
                "answer_type": "number", "answer": _r(d), "unit": "m", "tolerance": REL_TOL,
                "objects": [a.id, b.id]})
    # Height of an object (its vertical extent) and of its top above the floor.
    for t in seen:
        if t.size[2] >= 0.15:
            add("object_height", {
                "question": f"How tall is {the(t)}, in metres?", "answer_type": "number",
                "answer": _r(t.size[2]), "unit": "m", "tolerance": REL_TOL, "objects": [t.id]})
        add("top_height", {
            "question": f"How high above the floor is the top of {the(t)}, in metres?",
            "answer_type": "number", "answer": _r(t.aabb_max[2]), "unit": "m",
            "tolerance": REL_TOL, "objects": [t.id]})
    # Camera motion between the first and the last frame.
    travel = float(np.linalg.norm(T1[:3, 3] - T0[:3, 3]))
    add("camera_travel", {
        "question": "How far did the camera move in a straight line from the first frame to the "
                    "last frame, in metres?",
        "answer_type": "number", "answer": _r(travel), "unit": "m", "tolerance": REL_TOL,
        "evidence": {"start": [_r(v) for v in T0[:3, 3]], "end": [_r(v) for v in T1[:3, 3]]}})
    R_rel = T0[:3, :3].T @ T1[:3, :3]
    angle = math.degrees(math.acos(max(-1.0, min(1.0, (np.trace(R_rel) - 1.0) / 2.0))))
    add("camera_turn", {
        "question": "By how many degrees did the camera turn between the first frame and the last "
                    "frame?",
        "answer_type": "number", "answer": _r(angle, 3), "unit": "deg", "tolerance": REL_TOL})
    # Which of two objects is closer to the camera in the first frame / left or right of another.
    inv0 = np.linalg.inv(T0)
    for a, b in itertools.combinations(first, 2):
        da, db = (float(np.linalg.norm(t.centroid - cam0)) for t in (a, b))
        if abs(da - db) >= 0.25 * min(da, db):
            near = a if da < db else b
            add("closer_to_camera", {
                "question": f"In the first frame, which is closer to the camera: {the(a)} or "
                            f"{the(b)}?",
                "answer_type": "choice", "choices": [a.name, b.name], "answer": near.name,
                "objects": [a.id, b.id], "frame_index": 0, "stamp_ns": cams[0]["stamp_ns"],
                "evidence": {"distance_a": _r(da), "distance_b": _r(db)}})
        pa = inv0[:3, :3] @ a.centroid + inv0[:3, 3]
        pb = inv0[:3, :3] @ b.centroid + inv0[:3, 3]
        ua, ub = (K[0, 0] * p[0] / p[2] + K[0, 2] for p in (pa, pb))
        if abs(pa[0] - pb[0]) >= 0.25 and (pa[0] - pb[0]) * (ua - ub) > 0:
            side = "left" if pa[0] < pb[0] else "right"
            add("left_right", {
                "question": f"From the camera's viewpoint in the first frame, is {the(a)} to the "
                            f"left or to the right of {the(b)}?",
                "answer_type": "choice", "choices": ["left", "right"], "answer": side,
                "objects": [a.id, b.id], "frame_index": 0, "stamp_ns": cams[0]["stamp_ns"],
                "evidence": {"x_a_optical": _r(pa[0]), "x_b_optical": _r(pb[0])}})
    # Higher or not (boolean).
    for a, b in itertools.combinations(small, 2):
        if abs(a.aabb_max[2] - b.aabb_max[2]) >= 0.15:
            add("higher", {
                "question": f"Is the top of {the(a)} higher above the floor than the top of "
                            f"{the(b)}?",
                "answer_type": "boolean", "answer": bool(a.aabb_max[2] > b.aabb_max[2]),
                "objects": [a.id, b.id],
                "evidence": {"top_a": _r(a.aabb_max[2]), "top_b": _r(b.aabb_max[2])}})
    # Counts by colour and by class, only where every matching object was seen.
    for colour in sorted({t.colour for t in truths}):
        match = [t for t in truths if t.colour == colour]
        if all(t in seen for t in match):
            add("count_colour", {
                "question": f"How many {colour} objects are there?", "answer_type": "count",
                "answer": len(match), "objects": [t.id for t in match]})
    for cls in sorted({t.cls for t in truths}):
        match = [t for t in truths if t.cls == cls]
        if all(t in seen for t in match):
            plural = cls + ("es" if cls.endswith(("x", "sh")) else "s")
            add("count_class", {
                "question": f"How many {plural} are there?", "answer_type": "count",
                "answer": len(match), "objects": [t.id for t in match]})
    # Position of an object in the fixed frame.
    for t in small:
        add("position", {
            "question": f"Where is the centre of {the(t)} in the odom frame (x, y, z in metres)?",
            "answer_type": "point", "answer": [_r(v) for v in t.centroid], "unit": "m",
            "tolerance": REL_TOL, "objects": [t.id],
            "scale_m": _r(np.linalg.norm(t.centroid - cam0)),
            "evidence": {"frame": "odom"}})

    # Shuffle within each kind (seeded), then interleave kinds so a prefix covers all of them.
    for qs in by_kind.values():
        order = rng.permutation(len(qs))
        qs[:] = [qs[i] for i in order]
    kinds = ["distance_closest", "distance_centroid", "object_height", "top_height",
             "camera_travel", "camera_turn", "closer_to_camera", "left_right", "higher",
             "count_colour", "count_class", "position"]
    out: list[dict[str, Any]] = []
    for rnd in range(max((len(v) for v in by_kind.values()), default=0)):
        for k in kinds:
            if rnd < len(by_kind.get(k, [])):
                out.append(by_kind[k][rnd])
    for i, q in enumerate(out):
        q["id"] = f"{scene_name}/q{i:02d}"
    return [{"id": q.pop("id"), **q} for q in out]
