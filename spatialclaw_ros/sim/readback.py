"""Read a simulation bag back with `rosbags` alone (independent of frames/ and bags/, for checks)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from transforms3d.quaternions import quat2mat


@dataclass
class SimBagContents:
    """Arrays and transforms of a simulation bag, by stamp."""

    rgb: dict[int, np.ndarray] = field(default_factory=dict)
    depth: dict[int, np.ndarray] = field(default_factory=dict)     # float32 m, NaN invalid
    labels: dict[int, np.ndarray] = field(default_factory=dict)
    K: dict[int, np.ndarray] = field(default_factory=dict)
    frame_ids: dict[str, str] = field(default_factory=dict)        # topic -> header.frame_id
    tf: dict[tuple[str, str], dict[int, np.ndarray]] = field(default_factory=dict)
    tf_static: dict[tuple[str, str], np.ndarray] = field(default_factory=dict)
    static_durability: str = ""


def _T(tr) -> np.ndarray:  # noqa: ANN001 - geometry_msgs/Transform
    T = np.eye(4)
    q = tr.rotation
    T[:3, :3] = quat2mat([q.w, q.x, q.y, q.z])
    T[:3, 3] = [tr.translation.x, tr.translation.y, tr.translation.z]
    return T


def read_sim_bag(path: Path | str) -> SimBagContents:
    """Every image, camera_info and transform of a simulation bag."""
    from rosbags.highlevel import AnyReader

    out = SimBagContents()
    with AnyReader([Path(path)]) as reader:
        for conn in reader.connections:
            if conn.topic == "/tf_static":
                qos = conn.ext.offered_qos_profiles
                out.static_durability = qos[0].durability.name if qos else ""
        for conn, _t, raw in reader.messages():
            msg = reader.deserialize(raw, conn.msgtype)
            if conn.msgtype == "sensor_msgs/msg/Image":
                stamp = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
                out.frame_ids[conn.topic] = msg.header.frame_id
                data = np.asarray(msg.data, np.uint8)
                if msg.encoding == "rgb8":
                    out.rgb[stamp] = data.reshape(msg.height, msg.width, 3)
                elif msg.encoding == "32FC1":
                    out.depth[stamp] = data.view(np.float32).reshape(msg.height, msg.width)
                elif msg.encoding == "16UC1" and "depth" in conn.topic:
                    mm = data.view(np.uint16).reshape(msg.height, msg.width).astype(np.float32)
                    out.depth[stamp] = np.where(mm > 0, mm / 1000.0, np.nan).astype(np.float32)
                elif msg.encoding == "16UC1":
                    out.labels[stamp] = data.view(np.uint16).reshape(msg.height, msg.width)
            elif conn.msgtype == "sensor_msgs/msg/CameraInfo":
                stamp = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
                out.K[stamp] = np.asarray(msg.k, float).reshape(3, 3)
                out.frame_ids[conn.topic] = msg.header.frame_id
            elif conn.msgtype == "tf2_msgs/msg/TFMessage":
                for ts in msg.transforms:
                    key = (ts.header.frame_id, ts.child_frame_id)
                    stamp = ts.header.stamp.sec * 1_000_000_000 + ts.header.stamp.nanosec
                    if conn.topic == "/tf_static":
                        out.tf_static[key] = _T(ts.transform)
                    else:
                        out.tf.setdefault(key, {})[stamp] = _T(ts.transform)
    return out
