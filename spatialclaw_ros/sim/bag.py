"""Write simulated RGB-D frames and TF as a rosbag2 MCAP bag with the `rosbags` writer."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from transforms3d.quaternions import mat2quat

TOPIC_COLOR = "/camera/color/image_raw"
TOPIC_DEPTH = "/camera/aligned_depth_to_color/image_raw"
TOPIC_INFO = "/camera/color/camera_info"
TOPIC_LABELS = "/camera/instance_labels"
TOPIC_LEGEND = "/camera/instance_labels/legend"     # std_msgs/String JSON, transient_local
TOPIC_TF = "/tf"
TOPIC_TF_STATIC = "/tf_static"
LEGEND_VERSION = 1


@dataclass
class BagTopics:
    """Topic names of one recording style (our defaults, or a driver's)."""

    color: str = TOPIC_COLOR
    depth: str = TOPIC_DEPTH
    info: str = TOPIC_INFO
    labels: str = TOPIC_LABELS
    legend: str = TOPIC_LEGEND


# The RealSense ROS 2 wrapper (realsense2_camera 4.x) names its topics /camera/camera/...
REALSENSE_TOPICS = BagTopics(
    color="/camera/camera/color/image_raw",
    depth="/camera/camera/aligned_depth_to_color/image_raw",
    info="/camera/camera/color/camera_info",
    labels="/camera/camera/instance_labels",
    legend="/camera/camera/instance_labels/legend")


def legend_json(objects: list[dict]) -> str:
    """The instance-label legend message: {"version", "objects": [{id, name, class, color}]}."""
    return json.dumps({"version": LEGEND_VERSION, "objects": [
        {"id": int(o["id"]), "name": str(o.get("name", "")), "class": str(o.get("class", "")),
         "color": str(o.get("color", o.get("colour", "")))} for o in objects]})


@dataclass
class BagFrame:
    """One camera frame to write (all images share the stamp)."""

    stamp_ns: int
    rgb: np.ndarray          # (H, W, 3) uint8
    depth: np.ndarray        # (H, W) float32 m, NaN invalid
    labels: np.ndarray       # (H, W) uint16


@dataclass
class BagTransform:
    """One transform parent -> child at a stamp."""

    stamp_ns: int
    parent: str
    child: str
    T: np.ndarray            # 4x4, maps child coordinates to parent coordinates


def _qos(*, transient_local: bool, depth: int):  # noqa: ANN202 - rosbags Qos
    from rosbags.interfaces import (
        Qos, QosDurability, QosHistory, QosLiveliness, QosReliability, QosTime)

    zero = QosTime(sec=0, nsec=0)
    return Qos(history=QosHistory.KEEP_LAST, depth=depth, reliability=QosReliability.RELIABLE,
               durability=(QosDurability.TRANSIENT_LOCAL if transient_local
                           else QosDurability.VOLATILE),
               deadline=zero, lifespan=zero,
               liveliness=QosLiveliness.AUTOMATIC, liveliness_lease_duration=zero,
               avoid_ros_namespace_conventions=False)


def write_bag(path: Path, *, frames: list[BagFrame], K: np.ndarray, optical_frame: str,
              tf: list[BagTransform], tf_static: list[BagTransform], depth_encoding: str = "32FC1",
              distro: str = "humble", legend: list[dict] | None = None,
              topics: BagTopics | None = None, storage: str = "mcap", color_format: str = "rgb8",
              jpeg_quality: int = 90) -> None:
    """Write a rosbag2 at ``path`` (a new directory; refuses to overwrite).

    storage "mcap" (zstd chunks) or "sqlite3"; depth_encoding "32FC1", "16UC1" or "none" (no depth
    topic); color_format "rgb8" (Image) or "jpeg" (CompressedImage on ``<color>/compressed``);
    ``legend`` (objects with id, name, class, color) is published once, transient_local, on
    ``topics.legend`` next to the label images.
    """
    from rosbags.rosbag2 import CompressionFormat, CompressionMode, StoragePlugin, Writer
    from rosbags.typesys import Stores, get_typestore

    if depth_encoding not in ("32FC1", "16UC1", "none"):
        raise ValueError(f"depth encoding must be 32FC1, 16UC1 or none, got {depth_encoding!r}")
    if storage not in ("mcap", "sqlite3"):
        raise ValueError(f"storage must be mcap or sqlite3, got {storage!r}")
    if color_format not in ("rgb8", "jpeg"):
        raise ValueError(f"color_format must be rgb8 or jpeg, got {color_format!r}")
    topics = topics or BagTopics()
    stores = {"humble": Stores.ROS2_HUMBLE, "jazzy": Stores.ROS2_JAZZY, "kilted": Stores.ROS2_KILTED}
    if distro not in stores:
        raise ValueError(f"distro must be one of {', '.join(stores)}, got {distro!r}")
    ts = get_typestore(stores[distro])
    T_ = ts.types
    Header, Time = T_["std_msgs/msg/Header"], T_["builtin_interfaces/msg/Time"]
    Image, CameraInfo = T_["sensor_msgs/msg/Image"], T_["sensor_msgs/msg/CameraInfo"]
    Compressed, String = T_["sensor_msgs/msg/CompressedImage"], T_["std_msgs/msg/String"]
    ROI = T_["sensor_msgs/msg/RegionOfInterest"]
    TFMessage, TransformStamped = T_["tf2_msgs/msg/TFMessage"], T_["geometry_msgs/msg/TransformStamped"]
    Transform, Vector3, Quaternion = (T_["geometry_msgs/msg/Transform"], T_["geometry_msgs/msg/Vector3"],
                                      T_["geometry_msgs/msg/Quaternion"])

    def header(stamp_ns: int, frame_id: str):  # noqa: ANN202
        return Header(stamp=Time(sec=stamp_ns // 1_000_000_000, nanosec=stamp_ns % 1_000_000_000),
                      frame_id=frame_id)

    def image(stamp_ns: int, arr: np.ndarray, encoding: str):  # noqa: ANN202
        arr = np.ascontiguousarray(arr)
        h, w = arr.shape[:2]
        step = arr.strides[0]
        return Image(header=header(stamp_ns, optical_frame), height=h, width=w, encoding=encoding,
                     is_bigendian=0, step=step, data=arr.reshape(-1).view(np.uint8))

    def jpeg(stamp_ns: int, rgb: np.ndarray):  # noqa: ANN202
        import cv2

        ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(rgb[:, :, ::-1]),
                               [cv2.IMWRITE_JPEG_QUALITY, int(jpeg_quality)])
        if not ok:
            raise RuntimeError("JPEG encoding failed")
        return Compressed(header=header(stamp_ns, optical_frame), format="rgb8; jpeg compressed bgr8",
                          data=np.frombuffer(buf.tobytes(), np.uint8))

    def tf_msg(items: list[BagTransform]):  # noqa: ANN202
        out = []
        for it in items:
            q = mat2quat(it.T[:3, :3])  # w, x, y, z
            t = it.T[:3, 3]
            out.append(TransformStamped(
                header=header(it.stamp_ns, it.parent), child_frame_id=it.child,
                transform=Transform(translation=Vector3(x=float(t[0]), y=float(t[1]), z=float(t[2])),
                                    rotation=Quaternion(x=float(q[1]), y=float(q[2]), z=float(q[3]),
                                                        w=float(q[0])))))
        return TFMessage(transforms=out)

    h, w = frames[0].rgb.shape[:2]
    P = np.zeros((3, 4))
    P[:3, :3] = K

    path = Path(path)
    plugin = StoragePlugin.MCAP if storage == "mcap" else StoragePlugin.SQLITE3
    writer = Writer(path, version=8, storage_plugin=plugin)
    if storage == "mcap":
        writer.set_compression(CompressionMode.STORAGE, CompressionFormat.ZSTD)
    with writer:
        sensor_qos = [_qos(transient_local=False, depth=10)]
        if color_format == "jpeg":
            c_color = writer.add_connection(topics.color + "/compressed", Compressed.__msgtype__,
                                            typestore=ts, offered_qos_profiles=sensor_qos)
        else:
            c_color = writer.add_connection(topics.color, Image.__msgtype__, typestore=ts,
                                            offered_qos_profiles=sensor_qos)
        c_depth = None if depth_encoding == "none" else writer.add_connection(
            topics.depth, Image.__msgtype__, typestore=ts, offered_qos_profiles=sensor_qos)
        c_info = writer.add_connection(topics.info, CameraInfo.__msgtype__, typestore=ts,
                                       offered_qos_profiles=sensor_qos)
        c_labels = writer.add_connection(topics.labels, Image.__msgtype__, typestore=ts,
                                         offered_qos_profiles=sensor_qos)
        c_tf = writer.add_connection(TOPIC_TF, TFMessage.__msgtype__, typestore=ts,
                                     offered_qos_profiles=[_qos(transient_local=False, depth=100)])
        c_static = writer.add_connection(TOPIC_TF_STATIC, TFMessage.__msgtype__, typestore=ts,
                                         offered_qos_profiles=[_qos(transient_local=True, depth=1)])
        events: list[tuple[int, int, object, object]] = []  # (stamp, order, connection, message)
        t_static = min([f.stamp_ns for f in frames] + [x.stamp_ns for x in tf])
        events.append((t_static, 0, c_static, tf_msg([BagTransform(t_static, s.parent, s.child, s.T)
                                                      for s in tf_static])))
        if legend is not None:
            c_legend = writer.add_connection(topics.legend, String.__msgtype__, typestore=ts,
                                             offered_qos_profiles=[_qos(transient_local=True,
                                                                        depth=1)])
            events.append((t_static, 0, c_legend, String(data=legend_json(legend))))
        for x in tf:
            events.append((x.stamp_ns, 1, c_tf, tf_msg([x])))
        for f in frames:
            info = CameraInfo(header=header(f.stamp_ns, optical_frame), height=h, width=w,
                              distortion_model="plumb_bob", d=np.zeros(5), k=K.reshape(-1).astype(float),
                              r=np.eye(3).reshape(-1), p=P.reshape(-1), binning_x=0, binning_y=0,
                              roi=ROI(x_offset=0, y_offset=0, height=0, width=0, do_rectify=False))
            events.append((f.stamp_ns, 2, c_info, info))
            events.append((f.stamp_ns, 3, c_color, jpeg(f.stamp_ns, f.rgb) if color_format == "jpeg"
                           else image(f.stamp_ns, f.rgb, "rgb8")))
            if c_depth is not None:
                if depth_encoding == "16UC1":
                    mm = np.where(np.isfinite(f.depth), np.round(f.depth * 1000.0), 0.0)
                    depth_arr = np.clip(mm, 0, 65535).astype(np.uint16)
                else:
                    depth_arr = f.depth.astype(np.float32)
                events.append((f.stamp_ns, 4, c_depth, image(f.stamp_ns, depth_arr, depth_encoding)))
            events.append((f.stamp_ns, 5, c_labels, image(f.stamp_ns, f.labels.astype(np.uint16),
                                                          "16UC1")))
        events.sort(key=lambda e: (e[0], e[1]))
        for stamp, _order, conn, msg in events:
            writer.write(conn, stamp, ts.serialize_cdr(msg, msg.__msgtype__))
