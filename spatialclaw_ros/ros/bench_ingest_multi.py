"""`spatialclaw bench ingest --multicam`: two RGB-D cameras and one colour-only camera (issue 16).

The node gets ``cameras.spec`` for ``head`` and ``wrist`` (colour + 16UC1 depth + CameraInfo) and
``side`` (colour + CameraInfo, no depth); this process publishes all three at ``--rate`` Hz plus /tf.
CPU per camera = the node's CPU / number of cameras, to compare with the single-camera run.
"""
from __future__ import annotations

import json
import time

import numpy as np

from spatialclaw_ros.config import Config

NS = 1_000_000_000
CAMERAS = (("head", True), ("wrist", True), ("side", False))


def multicam_spec() -> str:
    """The cameras.spec the bench node runs with."""
    return json.dumps([{"name": n, "color": f"/{n}/color/image_raw",
                        "camera_info": f"/{n}/color/camera_info",
                        "depth": f"/{n}/aligned_depth_to_color/image_raw" if d else ""}
                       for n, d in CAMERAS])


def set_args() -> list[str]:
    """`--set` arguments that give the node the three cameras (quoted: a YAML string)."""
    return ["--set", f"cameras.spec='{multicam_spec()}'"]


class MultiPublishers:
    """Pre-built messages for the three cameras; only the stamps change per frame."""

    def __init__(self, node, cfg: Config, w: int, h: int, image_qos) -> None:  # noqa: ANN001
        from geometry_msgs.msg import TransformStamped
        from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
        from sensor_msgs.msg import CameraInfo, Image
        from tf2_msgs.msg import TFMessage

        rng = np.random.default_rng(0)
        self.pubs: list = []
        self.msgs: list[tuple] = []
        statics = []
        for k, (name, has_depth) in enumerate(CAMERAS):
            optical = f"{name}_optical_frame"
            rgb = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
            color = Image(height=h, width=w, encoding="rgb8", step=w * 3, data=rgb.tobytes())
            info = CameraInfo(width=w, height=h, distortion_model="plumb_bob")
            info.k = [500.0, 0.0, w / 2, 0.0, 500.0, h / 2, 0.0, 0.0, 1.0]
            info.p = [500.0, 0.0, w / 2, 0.0, 0.0, 500.0, h / 2, 0.0, 0.0, 0.0, 1.0, 0.0]
            info.d = [0.0] * 5
            pubs = [(node.create_publisher(Image, f"/{name}/color/image_raw", image_qos), color),
                    (node.create_publisher(CameraInfo, f"/{name}/color/camera_info", 10), info)]
            if has_depth:
                d = rng.integers(400, 4000, (h, w), dtype=np.uint16)
                depth = Image(height=h, width=w, encoding="16UC1", step=w * 2, data=d.tobytes())
                pubs.append((node.create_publisher(
                    Image, f"/{name}/aligned_depth_to_color/image_raw", image_qos), depth))
            for _, m in pubs:
                m.header.frame_id = optical
            self.pubs.extend(pubs)
            s = TransformStamped()
            s.header.frame_id, s.child_frame_id = "base_link", optical
            s.transform.translation.y = 0.1 * k
            r = s.transform.rotation
            r.x, r.y, r.z, r.w = -0.5, 0.5, -0.5, 0.5
            statics.append(s)
        self.tf = TransformStamped()
        self.tf.header.frame_id, self.tf.child_frame_id = cfg.fixed_frame, "base_link"
        self.tf.transform.rotation.w = 1.0
        self.tf_pub = node.create_publisher(TFMessage, "/tf", 100)
        self.static_pub = node.create_publisher(TFMessage, "/tf_static", QoSProfile(
            depth=10, reliability=ReliabilityPolicy.RELIABLE,
            durability=DurabilityPolicy.TRANSIENT_LOCAL))
        self._tf_msg = TFMessage(transforms=[self.tf])
        self._static_msg = TFMessage(transforms=statics)

    def wait_subscribed(self, timeout_s: float) -> bool:
        """True once the node subscribes to every topic."""
        deadline = time.monotonic() + timeout_s
        pubs = [p for p, _ in self.pubs] + [self.tf_pub, self.static_pub]
        while time.monotonic() < deadline:
            if all(p.get_subscription_count() > 0 for p in pubs):
                return True
            time.sleep(0.1)
        return False

    def publish_static(self) -> None:
        """/tf_static: base_link -> each optical frame."""
        self.static_pub.publish(self._static_msg)

    def publish_frame(self, stamp_ns: int) -> None:
        """One frame of every camera and /tf at ``stamp_ns``."""
        sec, nsec = divmod(stamp_ns, NS)
        self.tf.header.stamp.sec, self.tf.header.stamp.nanosec = sec, nsec
        self.tf.transform.translation.x = (stamp_ns % (20 * NS)) / (20 * NS)
        self.tf_pub.publish(self._tf_msg)
        for pub, m in self.pubs:
            m.header.stamp.sec, m.header.stamp.nanosec = sec, nsec
            pub.publish(m)
