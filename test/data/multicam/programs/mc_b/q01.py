# mc_b/q01 (cross_closest): What is the closest distance between the surfaces of the blue box and the green box, in metres?
import numpy as np


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

a = whole_surface('blue box', object_cloud('blue box'))
b = whole_surface('green box', object_cloud('green box'))
c = tools.Geometry.closest_points(a, b)
ReturnAnswer(c.distance_m, unit="m",
             geometry={"closest_points": [c.point_a.tolist(), c.point_b.tolist()], "frame": c.point_a.frame})
