"""Keyframes <-> ROS messages (rosbags typestore): JPEG colour, lossless PNG depth and labels, CameraInfo, TF."""
from __future__ import annotations

import json
import struct
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

TOPIC_COLOR = "/camera/color/image_raw/compressed"
TOPIC_DEPTH = "/camera/aligned_depth_to_color/image_raw/compressedDepth"
TOPIC_INFO = "/camera/color/camera_info"
TOPIC_LABELS = "/camera/instance_labels/compressed"
TOPIC_TF = "/tf"
TOPIC_KEYFRAME = "/spatialclaw/memory/keyframe"     # std_msgs/String JSON: id, tags, frames
DEPTH_FORMAT = "16UC1; compressedDepth png"
LABELS_FORMAT = "16UC1; png"


def typestore() -> Any:
    """A new rosbags typestore with the definitions segments are written with (ROS 2 Humble)."""
    from rosbags.typesys import Stores, get_typestore

    return get_typestore(Stores.ROS2_HUMBLE)


_SHARED: list[Any] = []
_SHARED_LOCK = threading.Lock()


def shared_typestore() -> Any:
    """One typestore per process for serialising and deserialising keyframes (never registered into).

    rosbags compiles a message type's (de)serialisers on first use per typestore (~7 ms per type here):
    a fresh store per load cost ~40 ms of a 32-keyframe load."""
    with _SHARED_LOCK:
        if not _SHARED:
            _SHARED.append(typestore())
        return _SHARED[0]


@dataclass
class Encoded:
    """One keyframe as (topic, msgtype, message) triples, all at the keyframe's stamp."""

    stamp_ns: int
    messages: list[tuple[str, str, Any]]
    nbytes: int


def encode_depth_png(depth_m: np.ndarray) -> bytes:
    """float32 metres (NaN invalid) -> compressedDepth payload: 12-byte header + 16-bit PNG of millimetres."""
    import cv2

    mm = np.where(np.isfinite(depth_m), np.round(depth_m * 1000.0), 0.0)
    ok, png = cv2.imencode(".png", np.clip(mm, 0, 65535).astype(np.uint16), [cv2.IMWRITE_PNG_COMPRESSION, 1])
    if not ok:
        raise ValueError("PNG encoding of the depth image failed")
    return struct.pack("<iff", 0, 0.0, 0.0) + png.tobytes()


def encode_labels_png(labels: np.ndarray) -> bytes:
    """int32 instance ids (0..65535) -> 16-bit PNG bytes (lossless)."""
    import cv2

    if labels.min(initial=0) < 0 or labels.max(initial=0) > 65535:
        raise ValueError("instance labels must be in 0..65535 to be stored as 16-bit PNG")
    ok, png = cv2.imencode(".png", labels.astype(np.uint16), [cv2.IMWRITE_PNG_COMPRESSION, 1])
    if not ok:
        raise ValueError("PNG encoding of the label image failed")
    return png.tobytes()


def encode_jpeg(rgb: np.ndarray, quality: int) -> bytes:
    """(H, W, 3) uint8 RGB -> JPEG bytes."""
    import cv2

    ok, jpg = cv2.imencode(".jpg", np.ascontiguousarray(rgb[:, :, ::-1]), [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise ValueError("JPEG encoding of the colour image failed")
    return jpg.tobytes()


def transform_msg(ts: Any, stamp_ns: int, parent: str, child: str, T: np.ndarray) -> Any:
    """A geometry_msgs/TransformStamped (T maps child coordinates into parent)."""
    from transforms3d.quaternions import mat2quat

    t_ = ts.types
    q = mat2quat(np.asarray(T, float)[:3, :3])
    t = np.asarray(T, float)[:3, 3]
    return t_["geometry_msgs/msg/TransformStamped"](
        header=_header(ts, stamp_ns, parent), child_frame_id=child,
        transform=t_["geometry_msgs/msg/Transform"](
            translation=t_["geometry_msgs/msg/Vector3"](x=float(t[0]), y=float(t[1]), z=float(t[2])),
            rotation=t_["geometry_msgs/msg/Quaternion"](x=float(q[1]), y=float(q[2]), z=float(q[3]), w=float(q[0]))))


def tf_message(ts: Any, transforms: list[Any]) -> Any:
    """A tf2_msgs/TFMessage holding the transforms."""
    return ts.types["tf2_msgs/msg/TFMessage"](transforms=transforms)


def _header(ts: Any, stamp_ns: int, frame_id: str) -> Any:
    t_ = ts.types
    return t_["std_msgs/msg/Header"](stamp=t_["builtin_interfaces/msg/Time"](
        sec=int(stamp_ns) // 1_000_000_000, nanosec=int(stamp_ns) % 1_000_000_000), frame_id=frame_id)


def encode_keyframe(ts: Any, *, kf_id: int, stamp_ns: int, rgb: np.ndarray, depth: np.ndarray | None,
                    labels: np.ndarray | None, K: np.ndarray, D: np.ndarray, distortion_model: str,
                    optical_frame: str, fixed_frame: str, T_fixed_camera: np.ndarray | None,
                    base_frame: str, T_fixed_base: np.ndarray | None, tags: list[str],
                    jpeg_quality: int) -> Encoded:
    """The messages of one keyframe: colour, depth, labels, CameraInfo, TF and a JSON descriptor."""
    t_ = ts.types
    optical = optical_frame or "camera_color_optical_frame"
    Compressed = t_["sensor_msgs/msg/CompressedImage"]
    out: list[tuple[str, str, Any]] = []
    nbytes = 0
    jpg = encode_jpeg(rgb, jpeg_quality)
    nbytes += len(jpg)
    out.append((TOPIC_COLOR, Compressed.__msgtype__, Compressed(
        header=_header(ts, stamp_ns, optical), format="jpeg", data=np.frombuffer(jpg, np.uint8))))
    if depth is not None:
        d = encode_depth_png(depth)
        nbytes += len(d)
        out.append((TOPIC_DEPTH, Compressed.__msgtype__, Compressed(
            header=_header(ts, stamp_ns, optical), format=DEPTH_FORMAT, data=np.frombuffer(d, np.uint8))))
    if labels is not None:
        lb = encode_labels_png(labels)
        nbytes += len(lb)
        out.append((TOPIC_LABELS, Compressed.__msgtype__, Compressed(
            header=_header(ts, stamp_ns, optical), format=LABELS_FORMAT, data=np.frombuffer(lb, np.uint8))))
    h, w = rgb.shape[:2]
    P = np.zeros((3, 4))
    P[:3, :3] = K
    Dv = np.asarray(D, float).ravel()
    info = t_["sensor_msgs/msg/CameraInfo"](
        header=_header(ts, stamp_ns, optical), height=h, width=w, distortion_model=distortion_model or "plumb_bob",
        d=Dv if Dv.size else np.zeros(5), k=np.asarray(K, float).reshape(-1), r=np.eye(3).reshape(-1),
        p=P.reshape(-1), binning_x=0, binning_y=0,
        roi=t_["sensor_msgs/msg/RegionOfInterest"](x_offset=0, y_offset=0, height=0, width=0, do_rectify=False))
    out.append((TOPIC_INFO, info.__msgtype__, info))
    tfs = []
    if T_fixed_camera is not None:
        if T_fixed_base is not None and base_frame:
            tfs.append(transform_msg(ts, stamp_ns, fixed_frame, base_frame, T_fixed_base))
            tfs.append(transform_msg(ts, stamp_ns, base_frame, optical,
                                     np.linalg.inv(T_fixed_base) @ np.asarray(T_fixed_camera, float)))
        else:
            tfs.append(transform_msg(ts, stamp_ns, fixed_frame, optical, T_fixed_camera))
        out.append((TOPIC_TF, "tf2_msgs/msg/TFMessage", tf_message(ts, tfs)))
    desc = {"id": int(kf_id), "stamp_ns": int(stamp_ns), "tags": list(tags), "fixed_frame": fixed_frame,
            "optical_frame": optical, "base_frame": base_frame if T_fixed_base is not None else ""}
    out.append((TOPIC_KEYFRAME, "std_msgs/msg/String", t_["std_msgs/msg/String"](data=json.dumps(desc))))
    nbytes += 2000
    return Encoded(int(stamp_ns), out, nbytes)
