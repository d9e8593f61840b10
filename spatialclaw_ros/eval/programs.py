"""Reference kernel programs for simulation questions, written with the documented kernel API only.

``spatialclaw eval --write-programs DIR`` writes one per question (``DIR/<scene>/<qNN>.py``); with
``--programs DIR`` the set then runs through the real pipeline without a VLM: a regression test of
the tools, the kernel and the loop. The programs see what a model would: InputImages, Metadata,
tools.* and ReturnAnswer; they find objects by name through tools.SAM3 (labels backend in
simulation), never by reading the ground truth.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

# Shared prologue: a fused fixed-frame point cloud of one named object over every keyframe.
_PROLOGUE = '''import numpy as np


def object_cloud(name, frames=None):
    """Visible-surface points (N, 3) of the object called `name`, in the fixed frame, all keyframes."""
    avail = tools.Reconstruct.available()
    if not (any(avail["depth"]) or avail.get("da3")):
        ReturnAnswer(None, reason="needs a depth model: the recording has no depth and Depth "
                                  "Anything 3 is not set up")
        raise RuntimeError("no depth: cannot measure " + repr(name))
    parts = []
    for i in (range(len(InputImages)) if frames is None else frames):
        seg = tools.SAM3.segment(i, text=name)
        if len(seg) == 0:
            continue
        k = seg.labels.index(name) if name in seg.labels else 0
        if tools.Mask.area(seg.mask(k)) < 20:        # a sliver at the image edge: not measurable
            continue
        mask = tools.Mask.erode(seg.mask(k), 1) if tools.Mask.area(seg.mask(k)) > 400 else seg.mask(k)
        cloud = tools.Geometry.mask_points(i, mask)
        if len(cloud.points):
            parts.append(np.asarray(cloud.points))
    if not parts:
        raise RuntimeError(f"{name!r} is not visible in any keyframe")
    return np.concatenate(parts)


SHAPES = {"ball": "sphere", "mug": "cylinder", "bottle": "cylinder", "cup": "cylinder", "can": "cylinder",
          "box": "box", "book": "box"}


def whole_surface(name, pts):
    """Visible points plus, for a ball/mug/bottle/box/book, its fitted whole surface (hidden sides)."""
    shape = SHAPES.get(name.split()[-1])
    if shape is None or len(pts) < 30:
        return pts
    fit = tools.Geometry.amodal(pts, shape)
    if fit.residual_m > 0.01 or fit.uncertainty_m > 0.02:
        return pts                                   # a poor fit: keep what was seen
    return np.concatenate([pts, fit.surface_points(0.004)])


def object_height(pts):
    """Vertical extent; an object whose lowest visible point is near the floor stands on it (z = 0)."""
    bottom = pts[:, 2].min()
    return pts[:, 2].max() - (0.0 if bottom < 0.08 else bottom)
'''

_BODIES: dict[str, str] = {
    "distance_closest": '''
a = whole_surface({a!r}, object_cloud({a!r}))
b = whole_surface({b!r}, object_cloud({b!r}))
c = tools.Geometry.closest_points(a, b)
print("closest points", c.point_a.xyz, c.point_b.xyz)
show(tools.Draw.points3d(InputImages[0], 0, [c.point_a, c.point_b], color=(255, 0, 255), radius=4),
     title="closest points (keyframe 0)")
ReturnAnswer(c.distance_m, unit="m",
             geometry={{"closest_points": [c.point_a.tolist(), c.point_b.tolist()], "frame": c.point_a.frame}})
''',
    "distance_centroid": '''
ca = tools.Geometry.aabb(object_cloud({a!r})).center
cb = tools.Geometry.aabb(object_cloud({b!r})).center
ReturnAnswer(tools.Geometry.distance_m(ca, cb), unit="m")
''',
    "object_height": '''
ReturnAnswer(object_height(object_cloud({a!r})), unit="m")
''',
    "top_height": '''
ReturnAnswer(float(object_cloud({a!r})[:, 2].max()), unit="m")
''',
    "camera_travel": '''
m = tools.Geometry.camera_travel(0, len(InputImages) - 1)
ReturnAnswer(m.travel_m, unit="m")
''',
    "camera_turn": '''
m = tools.Geometry.camera_travel(0, len(InputImages) - 1)
ReturnAnswer(m.rotation_deg, unit="deg")
''',
    "closer_to_camera": '''
cam = tools.Geometry.camera_position(0).xyz
da = np.linalg.norm(tools.Geometry.aabb(object_cloud({a!r}, [0])).center - cam)
db = np.linalg.norm(tools.Geometry.aabb(object_cloud({b!r}, [0])).center - cam)
print("distances", da, db)
ReturnAnswer({a!r} if da < db else {b!r})
''',
    "left_right": '''
d = tools.Geometry.direction(object_cloud({a!r}, [0]), object_cloud({b!r}, [0]), "camera", 0)
print(d.components_m)
ReturnAnswer(d.left_right)
''',
    "higher": '''
ReturnAnswer(bool(object_cloud({a!r})[:, 2].max() > object_cloud({b!r})[:, 2].max()))
''',
    "count_colour": '''
ids = set()
for seg in tools.SAM3.track({word!r}):
    ids.update(k for k in seg.ids if k >= 0)
print("instances", sorted(ids))
ReturnAnswer(len(ids))
''',
    "position": '''
box = tools.Geometry.aabb(object_cloud({a!r}))
ReturnAnswer([float(v) for v in box.center], unit="m", frame=Metadata["fixed_frame"])
''',
}
_BODIES["count_class"] = _BODIES["count_colour"]


def program_for(question: dict[str, Any], scene: dict[str, Any]) -> str:
    """The reference program of one question (ValueError for an unknown kind)."""
    kind = question.get("kind", "")
    if kind.startswith("cross_"):                 # multi-camera scenes (issue 16)
        from spatialclaw_ros.eval.multicam_programs import multicam_program_for

        return multicam_program_for(question, scene)
    if kind not in _BODIES:
        raise ValueError(f"no reference program for question kind {kind!r}")
    names = {o["id"]: o["name"] for o in scene["objects"]}
    objs = [names[i] for i in question.get("objects", [])]
    word = ""
    if kind == "count_colour":
        word = question["question"].split()[2]                 # "How many <colour> objects ..."
    elif kind == "count_class":
        word = scene_class_of(question, scene)
    body = _BODIES[kind].format(a=objs[0] if objs else "", b=objs[1] if len(objs) > 1 else "",
                                word=word)
    header = f'# {question["id"]} ({kind}): {question["question"]}\n'
    return header + _PROLOGUE + body


def scene_class_of(question: dict[str, Any], scene: dict[str, Any]) -> str:
    """The object class a count_class question counts."""
    ids = set(question.get("objects", []))
    classes = {o["class"] for o in scene["objects"] if o["id"] in ids}
    if len(classes) != 1:
        raise ValueError(f"{question['id']}: count_class over {sorted(classes)}")
    return classes.pop()


def write_programs(items: list[Any], out_dir: str | Path, *, overwrite: bool = False) -> list[Path]:
    """Write the reference program of every EvalItem under ``out_dir/<scene>/<qNN>.py``."""
    written = []
    for it in items:
        scene, _, q = it.qid.partition("/")
        path = Path(out_dir) / scene / f"{q}.py"
        if path.exists() and not overwrite:
            raise FileExistsError(f"{path} exists; pass --force to overwrite")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(program_for(it.question, it.scene))
        written.append(path)
    return written
