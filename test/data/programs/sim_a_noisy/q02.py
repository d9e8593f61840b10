# sim_a_noisy/q02 (object_height): How tall is the white table, in metres?
import numpy as np


def object_cloud(name, frames=None):
    """Visible-surface points (N, 3) of the object called `name`, in the fixed frame, all keyframes."""
    parts = []
    for i in (range(len(InputImages)) if frames is None else frames):
        seg = tools.SAM3.segment(i, text=name)
        if len(seg) == 0:
            continue
        k = seg.labels.index(name) if name in seg.labels else 0
        mask = tools.Mask.erode(seg.mask(k), 1) if tools.Mask.area(seg.mask(k)) > 400 else seg.mask(k)
        cloud = tools.Geometry.mask_points(i, mask)
        if len(cloud.points):
            parts.append(np.asarray(cloud.points))
    if not parts:
        raise RuntimeError(f"{name!r} is not visible in any keyframe")
    return np.concatenate(parts)


def object_height(pts):
    """Vertical extent; an object whose lowest visible point is near the floor stands on it (z = 0)."""
    bottom = pts[:, 2].min()
    return pts[:, 2].max() - (0.0 if bottom < 0.08 else bottom)

ReturnAnswer(object_height(object_cloud('white table')), unit="m")
