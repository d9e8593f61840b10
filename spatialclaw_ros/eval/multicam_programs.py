"""Reference programs for the multi-camera questions (kinds ``cross_*``), documented kernel API only.

Each object is found by name in every keyframe of every camera with depth (``Metadata['has_depth']``;
the colour-only camera is skipped, it cannot measure), and its points are fused in the fixed frame:
each frame's own intrinsics and pose put the head and wrist cameras' points in one metric frame.
"""
from __future__ import annotations

from typing import Any

from spatialclaw_ros.eval.programs import _PROLOGUE

_MULTI = '''

def object_cloud(name, frames=None):
    """Points (N, 3) of `name` in the fixed frame from every camera with depth; prints who saw it."""
    depth_frames = [i for i in range(len(InputImages)) if Metadata["has_depth"][i]]
    if not depth_frames and not tools.Reconstruct.available().get("da3"):
        ReturnAnswer(None, reason="needs a depth model: no camera has depth and Depth Anything 3 "
                                  "is not set up")
        raise RuntimeError("no depth")
    parts, seen_by = [], set()
    for i in (depth_frames if frames is None else frames):
        seg = tools.SAM3.segment(i, text=name)
        if len(seg) == 0:
            continue
        k = seg.labels.index(name) if name in seg.labels else 0
        if tools.Mask.area(seg.mask(k)) < 20:
            continue
        mask = tools.Mask.erode(seg.mask(k), 1) if tools.Mask.area(seg.mask(k)) > 400 else seg.mask(k)
        cloud = tools.Geometry.mask_points(i, mask)
        if len(cloud.points):
            parts.append(np.asarray(cloud.points))
            seen_by.add(Metadata["camera_names"][i])
    if not parts:
        raise RuntimeError(f"{name!r} is not visible in any keyframe with depth")
    print(name, "seen by", sorted(seen_by))
    return np.concatenate(parts)
'''

_BODIES: dict[str, str] = {
    "cross_closest": '''
a = whole_surface({a!r}, object_cloud({a!r}))
b = whole_surface({b!r}, object_cloud({b!r}))
c = tools.Geometry.closest_points(a, b)
ReturnAnswer(c.distance_m, unit="m",
             geometry={{"closest_points": [c.point_a.tolist(), c.point_b.tolist()], "frame": c.point_a.frame}})
''',
    "cross_centroid": '''
ca = tools.Geometry.aabb(whole_surface({a!r}, object_cloud({a!r}))).center
cb = tools.Geometry.aabb(whole_surface({b!r}, object_cloud({b!r}))).center
ReturnAnswer(tools.Geometry.distance_m(ca, cb), unit="m")
''',
    "cross_closer": '''
cx = tools.Geometry.aabb(whole_surface({x!r}, object_cloud({x!r}))).center
da = tools.Geometry.distance_m(cx, tools.Geometry.aabb(whole_surface({a!r}, object_cloud({a!r}))).center)
db = tools.Geometry.distance_m(cx, tools.Geometry.aabb(whole_surface({b!r}, object_cloud({b!r}))).center)
print("distances", da, db)
ReturnAnswer({a!r} if da < db else {b!r})
''',
    "cross_count": '''
ids = set()
for seg in tools.SAM3.track({word!r}):
    ids.update(k for k in seg.ids if k >= 0)
print("instances over all cameras", sorted(ids))
ReturnAnswer(len(ids))
''',
}


def multicam_program_for(question: dict[str, Any], scene: dict[str, Any]) -> str:
    """The reference program of one ``cross_*`` question (ValueError for another kind)."""
    kind = question.get("kind", "")
    if kind not in _BODIES:
        raise ValueError(f"no multi-camera reference program for question kind {kind!r}")
    names = {o["id"]: o["name"] for o in scene["objects"]}
    objs = [names[i] for i in question.get("objects", [])]
    if kind == "cross_closer":
        fmt = {"x": objs[0], "a": objs[1], "b": objs[2]}
    elif kind == "cross_count":
        classes = {o["class"] for o in scene["objects"] if o["id"] in set(question["objects"])}
        fmt = {"word": classes.pop()}
    else:
        fmt = {"a": objs[0], "b": objs[1]}
    header = f'# {question["id"]} ({kind}): {question["question"]}\n'
    return header + _PROLOGUE + _MULTI + _BODIES[kind].format(**fmt)
