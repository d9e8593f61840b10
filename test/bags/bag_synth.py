"""Small rosbag2 bags with exact truth, written with the `rosbags` writer (MCAP or sqlite3)."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore
from transforms3d.euler import euler2quat

from spatialclaw_ros.frames.tf import transform_matrix

NS = 1_000_000_000
TS = get_typestore(Stores.ROS2_JAZZY)
OPTICAL_Q_XYZW = (-0.5, 0.5, -0.5, 0.5)     # camera_link -> optical (REP-103)
BASE_CAM_T = (0.2, 0.0, 0.5)
W, H = 32, 24
K = np.array([[40.0, 0, 15.5], [0, 40.0, 11.5], [0, 0, 1.0]])
T0_NS = 1_700_000_000 * NS                   # a realistic epoch stamp


def base_pose(t_s: float) -> tuple[tuple[float, float, float], tuple[float, float, float, float]]:
    """odom -> base_link at time t: linear translation, constant yaw rate (exact under slerp)."""
    w, x, y, z = euler2quat(0.0, 0.0, 0.2 * t_s)
    return (0.1 * t_s, 0.05 * t_s, 0.0), (x, y, z, w)


def camera_truth(t_s: float) -> np.ndarray:
    """T_odom_optical at time t."""
    tr, q = base_pose(t_s)
    return (transform_matrix(tr, q) @ transform_matrix(BASE_CAM_T, (0, 0, 0, 1))
            @ transform_matrix((0, 0, 0), OPTICAL_Q_XYZW))


def rgb_at(i: int, w: int = W, h: int = H) -> np.ndarray:
    """A colour image whose pixels encode the frame index (R) and position (G, B)."""
    img = np.zeros((h, w, 3), np.uint8)
    img[..., 0] = i % 256
    img[..., 1] = (np.arange(w) % 256).astype(np.uint8)[None, :]
    img[..., 2] = (np.arange(h) % 256).astype(np.uint8)[:, None]
    return img


def depth_at(i: int, w: int = W, h: int = H) -> np.ndarray:
    """Depth in metres: a ramp, with the top-left pixel invalid."""
    d = (1.0 + 0.01 * np.arange(w)[None, :] + 0.02 * np.arange(h)[:, None] + 0.001 * i)
    d = d.astype(np.float32)
    d[0, 0] = np.nan
    return d


def labels_at(i: int, w: int = W, h: int = H) -> np.ndarray:
    """Instance ids: object 1 on the left half, object 2 on the bottom right, 0 elsewhere."""
    lab = np.zeros((h, w), np.uint16)
    lab[:, : w // 2] = 1
    lab[h // 2:, w // 2:] = 2
    return lab


def _header(stamp_ns: int, frame_id: str):
    return TS.types["std_msgs/msg/Header"](
        stamp=TS.types["builtin_interfaces/msg/Time"](sec=stamp_ns // NS, nanosec=stamp_ns % NS),
        frame_id=frame_id)


def image_msg(stamp_ns: int, frame_id: str, arr: np.ndarray, encoding: str,
              big_endian: bool = False, pad: int = 0):
    """A sensor_msgs/Image (rosbags type) from an array."""
    a = np.ascontiguousarray(arr)
    if big_endian:
        a = a.astype(a.dtype.newbyteorder(">"))
    h, w = a.shape[:2]
    row = a.reshape(h, -1).view(np.uint8)
    if pad:
        row = np.concatenate([row, np.full((h, pad), 0xAB, np.uint8)], axis=1)
    return TS.types["sensor_msgs/msg/Image"](
        header=_header(stamp_ns, frame_id), height=h, width=w, encoding=encoding,
        is_bigendian=int(big_endian), step=row.shape[1],
        data=np.ascontiguousarray(row).reshape(-1))


def info_msg(stamp_ns: int, frame_id: str, k: np.ndarray = K, w: int = W, h: int = H):
    """A sensor_msgs/CameraInfo."""
    R = np.eye(3).reshape(-1)
    P = np.zeros(12)
    P[[0, 1, 2, 4, 5, 6, 10]] = [k[0, 0], 0, k[0, 2], 0, k[1, 1], k[1, 2], 1]
    roi = TS.types["sensor_msgs/msg/RegionOfInterest"](
        x_offset=0, y_offset=0, height=0, width=0, do_rectify=False)
    return TS.types["sensor_msgs/msg/CameraInfo"](
        header=_header(stamp_ns, frame_id), height=h, width=w, distortion_model="plumb_bob",
        d=np.zeros(5), k=np.asarray(k, float).reshape(-1), r=R, p=P, binning_x=0, binning_y=0,
        roi=roi)


def tf_msg(items):
    """tf2_msgs/TFMessage from (stamp_ns, parent, child, translation, quaternion_xyzw)."""
    T = TS.types
    tfs = []
    for stamp, parent, child, tr, q in items:
        tfs.append(T["geometry_msgs/msg/TransformStamped"](
            header=_header(stamp, parent), child_frame_id=child,
            transform=T["geometry_msgs/msg/Transform"](
                translation=T["geometry_msgs/msg/Vector3"](x=tr[0], y=tr[1], z=tr[2]),
                rotation=T["geometry_msgs/msg/Quaternion"](x=q[0], y=q[1], z=q[2], w=q[3]))))
    return T["tf2_msgs/msg/TFMessage"](transforms=tfs)


@dataclass
class BagSpec:
    """What to put in a synthetic bag."""

    n_frames: int = 20
    fps: float = 10.0
    tf_hz: float = 20.0
    depth: str | None = "32FC1"          # 32FC1, 16UC1 or None
    camera_info: bool = True
    tf: bool = True
    labels: bool = True
    color_topic: str = "/camera/color/image_raw"
    depth_topic: str = "/camera/aligned_depth_to_color/image_raw"
    info_topic: str = "/camera/color/camera_info"
    color_encoding: str = "rgb8"
    depth_offset_ns: int = 3_000_000     # depth stamps lag colour by 3 ms
    width: int = W
    height: int = H
    extra: list = field(default_factory=list)   # (topic, msgtype, stamp_ns, msg)


def frame_stamp(i: int, spec: BagSpec) -> int:
    """Stamp of frame i (starts 0.2537 s after T0, between TF samples so TF covers it)."""
    return T0_NS + int(round((0.2537 + i / spec.fps) * NS))


def write_bag(path: Path, spec: BagSpec | None = None, storage: str = "mcap",
              version: int = 9) -> Path:
    """Write a bag (rosbag2 metadata version 8 or 9: Jazzy/Kilted); returns its path."""
    spec = spec or BagSpec()
    plugin = StoragePlugin.MCAP if storage == "mcap" else StoragePlugin.SQLITE3
    optical = "camera_color_optical_frame"
    with Writer(path, version=version, storage_plugin=plugin) as w:
        conns = {}

        def conn(topic: str, msgtype: str):
            if topic not in conns:
                conns[topic] = w.add_connection(topic, msgtype, typestore=TS)
            return conns[topic]

        out: list[tuple[int, str, str, object]] = []
        if spec.tf:
            out.append((T0_NS, "/tf_static", "tf2_msgs/msg/TFMessage", tf_msg([
                (T0_NS, "base_link", "camera_link", BASE_CAM_T, (0, 0, 0, 1)),
                (T0_NS, "camera_link", optical, (0, 0, 0), OPTICAL_Q_XYZW)])))
            duration = spec.n_frames / spec.fps + 0.5
            for j in range(int(duration * spec.tf_hz) + 1):
                t = j / spec.tf_hz
                tr, q = base_pose(t)
                st = T0_NS + int(round(t * NS))
                out.append((st, "/tf", "tf2_msgs/msg/TFMessage",
                            tf_msg([(st, "odom", "base_link", tr, q)])))
        for i in range(spec.n_frames):
            st = frame_stamp(i, spec)
            img = rgb_at(i, spec.width, spec.height)
            enc = spec.color_encoding
            if enc == "bgr8":
                img = img[..., ::-1]
            out.append((st + 1000, spec.color_topic, "sensor_msgs/msg/Image",
                        image_msg(st, optical, img, enc)))
            if spec.camera_info:
                out.append((st + 2000, spec.info_topic, "sensor_msgs/msg/CameraInfo",
                            info_msg(st, optical)))
            if spec.depth:
                d = depth_at(i, spec.width, spec.height)
                if spec.depth == "16UC1":
                    d = np.nan_to_num(np.round(d * 1000), nan=0).astype(np.uint16)
                out.append((st + spec.depth_offset_ns + 3000, spec.depth_topic,
                            "sensor_msgs/msg/Image",
                            image_msg(st + spec.depth_offset_ns, optical, d, spec.depth)))
            if spec.labels:
                out.append((st + 4000, "/camera/instance_labels", "sensor_msgs/msg/Image",
                            image_msg(st, optical, labels_at(i, spec.width, spec.height),
                                      "16UC1")))
        for topic, msgtype, st, msg in spec.extra:
            out.append((st, topic, msgtype, msg))
        out.sort(key=lambda x: x[0])
        for st, topic, msgtype, msg in out:
            w.write(conn(topic, msgtype), st, TS.serialize_cdr(msg, msgtype))
    return path


def angle_deg(t_s: float) -> float:
    """Yaw of base_link at t, degrees."""
    return math.degrees(0.2 * t_s)


def humbleize(bag: Path) -> Path:
    """Turn a sqlite3 bag into what Humble's rosbag2 writes: metadata v5, no type definitions."""
    import sqlite3

    import yaml

    db = next(bag.glob("*.db3"))
    con = sqlite3.connect(db)
    con.execute("UPDATE schema SET schema_version = 3")
    con.execute("DROP TABLE message_definitions")
    con.commit()
    con.close()
    meta = yaml.safe_load((bag / "metadata.yaml").read_text())
    info = meta["rosbag2_bagfile_information"]
    info["version"] = 5
    info.pop("ros_distro", None)
    info.pop("custom_data", None)
    for t in info["topics_with_message_count"]:
        t["topic_metadata"].pop("type_description_hash", None)
        t["topic_metadata"]["offered_qos_profiles"] = ""
    (bag / "metadata.yaml").write_text(yaml.safe_dump(meta))
    return bag
