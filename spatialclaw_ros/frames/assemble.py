"""Matched messages -> Frame: image conversion, camera model and the pose from TF at the stamp."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from spatialclaw_ros.errors import NoTransformError
from spatialclaw_ros.frames.images import (
    camera_model_from_info,
    image_to_depth_m,
    image_to_labels,
    image_to_rgb,
)
from spatialclaw_ros.frames.tf import TfBuffer
from spatialclaw_ros.frames.types import CameraModel, Frame

NS_PER_S = 1_000_000_000


def stamp_ns_of(msg: Any) -> int:
    """header.stamp of a message in nanoseconds."""
    st = msg.header.stamp
    return int(st.sec) * NS_PER_S + int(st.nanosec)


def camera_frame_of(color_msg: Any, camera: CameraModel | None) -> str:
    """The optical frame: the colour image's header.frame_id, else CameraInfo's."""
    fid = str(getattr(getattr(color_msg, "header", None), "frame_id", "") or "").lstrip("/")
    return fid or (camera.frame_id if camera else "")


@dataclass
class PoseLookup:
    """T_fixed_camera at a stamp, or why it is missing; T_base/base_error: the same for the robot base."""

    T: np.ndarray | None
    error: str = ""
    T_base: np.ndarray | None = None  # T_fixed_base (4x4), when a base frame was asked for and found
    base_error: str = ""              # why T_base is None ("" when no base frame was asked for)


def lookup_camera_pose(tf: TfBuffer | None, fixed_frame: str, camera_frame: str,
                       stamp_ns: int, base_frame: str = "") -> PoseLookup:
    """Pose of the camera optical frame (and of ``base_frame``, if given) in the fixed frame at ``stamp_ns``.

    A missing camera pose is None + reason; a missing base pose is only None + ``base_error``.
    """
    base = lookup_base_pose(tf, fixed_frame, base_frame, stamp_ns) if base_frame else None
    T_base, base_error = (base.T, base.error) if base is not None else (None, "")
    if tf is None:
        return PoseLookup(None, "no TF buffer", T_base, base_error)
    if not camera_frame:
        return PoseLookup(None, "the image has no header.frame_id", T_base, base_error)
    try:
        return PoseLookup(tf.lookup_transform(fixed_frame, camera_frame, stamp_ns), "",
                          T_base, base_error)
    except NoTransformError as exc:
        return PoseLookup(None, exc.message, T_base, base_error)


def lookup_base_pose(tf: TfBuffer | None, fixed_frame: str, base_frame: str,
                     stamp_ns: int) -> PoseLookup:
    """T_fixed_base of the robot base frame at ``stamp_ns`` (None + reason if TF lacks it)."""
    if tf is None:
        return PoseLookup(None, "no TF buffer")
    if not base_frame:
        return PoseLookup(None, "no base frame configured (base_frame is empty)")
    try:
        return PoseLookup(tf.lookup_transform(fixed_frame, base_frame, stamp_ns))
    except NoTransformError as exc:
        return PoseLookup(None, exc.message)


def frame_from_messages(color: Any, info: Any | CameraModel, *, depth: Any = None,
                        labels: Any = None, pose: np.ndarray | None = None,
                        fixed_frame: str = "", source: str = "",
                        base_pose: np.ndarray | None = None) -> Frame:
    """Convert one matched set of messages into a Frame (the poses are looked up by the caller)."""
    camera = info if isinstance(info, CameraModel) else camera_model_from_info(info)
    return frame_from_arrays(
        stamp_ns_of(color), image_to_rgb(color), camera,
        depth=image_to_depth_m(depth) if depth is not None else None,
        labels=image_to_labels(labels) if labels is not None else None,
        camera_frame=camera_frame_of(color, camera), pose=pose, fixed_frame=fixed_frame,
        source=source, base_pose=base_pose)


def frame_from_arrays(stamp_ns: int, rgb: np.ndarray, camera: CameraModel, *,
                      depth: np.ndarray | None = None, labels: np.ndarray | None = None,
                      camera_frame: str = "", pose: np.ndarray | None = None,
                      fixed_frame: str = "", source: str = "",
                      base_pose: np.ndarray | None = None) -> Frame:
    """A Frame from converted arrays; checks that depth/labels are aligned with the colour image.

    ``base_pose`` (T_fixed_base) is kept only with a camera pose: both are in ``fixed_frame``.
    """
    if camera_frame and camera_frame != camera.frame_id:
        camera = CameraModel(camera.width, camera.height, camera.K, camera.D,
                             camera.distortion_model, camera_frame)
    h, w = rgb.shape[:2]
    if depth is not None and depth.shape != (h, w):
        raise ValueError(f"depth image is {depth.shape[1]}x{depth.shape[0]} but colour is "
                         f"{w}x{h}: depth must be aligned to colour (aligned_depth_to_color)")
    if labels is not None and labels.shape != (h, w):
        raise ValueError(f"label image is {labels.shape[1]}x{labels.shape[0]} but colour is "
                         f"{w}x{h}")
    if (camera.width, camera.height) != (w, h):
        camera = _scaled_camera(camera, w, h)
    return Frame(stamp_ns=int(stamp_ns), rgb=rgb, camera=camera, depth=depth, labels=labels,
                 fixed_frame=fixed_frame if pose is not None else "",
                 T_fixed_camera=None if pose is None else np.asarray(pose, dtype=np.float64),
                 source=source,
                 T_fixed_base=(None if pose is None or base_pose is None
                               else np.asarray(base_pose, dtype=np.float64)))


def _scaled_camera(cam: CameraModel, w: int, h: int) -> CameraModel:
    """Intrinsics rescaled to an image of another size (e.g. CameraInfo at full res, image binned)."""
    sx, sy = w / cam.width, h / cam.height
    K = cam.K.copy()
    K[0, :] *= sx
    K[1, :] *= sy
    return CameraModel(w, h, K, cam.D, cam.distortion_model, cam.frame_id)
