"""Helpers for the node tests: the agent node, a synthetic camera and an executor in one process."""
from __future__ import annotations

import threading
import time
from typing import Callable

import numpy as np
import rclpy
from geometry_msgs.msg import TransformStamped
from rclpy.executors import MultiThreadedExecutor
from rclpy.node import Node
from sensor_msgs.msg import CameraInfo, Image
from tf2_msgs.msg import TFMessage

from spatialclaw_ros.config import Config
from spatialclaw_ros.ros.node import TF_QOS, TF_STATIC_QOS, SpatialClawNode

NS = 1_000_000_000
W, H = 64, 48
CAMERA_FRAME = "camera_color_optical_frame"


def wait_for(cond: Callable[[], bool], timeout_s: float = 10.0,
             what: str | Callable[[], str] = "condition") -> None:
    """Wait until cond() holds; fail the test with `what` if it never does."""
    deadline = time.monotonic() + timeout_s
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what() if callable(what) else what}")
        time.sleep(0.02)


# The bags and drivers' names; the node's topics are relative (`color`, ...) and are remapped.
BAG_REMAPS = ["-r", "color:=/camera/color/image_raw",
              "-r", "depth:=/camera/aligned_depth_to_color/image_raw",
              "-r", "camera_info:=/camera/color/camera_info"]


def fast_config(**overrides: object) -> Config:
    """A config for fast tests: every frame kept, no sandbox layers, closed VLM port."""
    flat = Config().to_flat()
    flat.update({"keyframes.min_interval_s": 0.0, "keyframes.max_frames": 16,
                 "sandbox.mode": "off", "sandbox.pool_size": 0,
                 "vlm.base_url": "http://127.0.0.1:9/v1", "vlm.retries": 0,
                 "vlm.timeout_s": 5.0, "agent.transcript_dir": "/tmp/spatialclaw-test-transcripts"})
    flat.update(overrides)
    return Config.from_flat(flat)


def cli_config() -> Config:
    """Config() with the topics where `spatialclaw agent` subscribes (its default remaps)."""
    from spatialclaw_ros.commands.agent import cli_topic

    cfg = Config()
    for k in ("color", "depth", "camera_info"):
        setattr(cfg.topics, k, cli_topic(getattr(cfg.topics, k)))
    return cfg


class SyntheticCamera:
    """Publishes colour, depth, camera_info and TF like a RealSense on a moving base."""

    def __init__(self, node: Node, cfg: Config) -> None:
        from rclpy.qos import qos_profile_sensor_data

        t = cfg.topics
        self.node = node
        self.color = node.create_publisher(Image, t.color, qos_profile_sensor_data)
        self.depth = node.create_publisher(Image, t.depth, qos_profile_sensor_data)
        self.info = node.create_publisher(CameraInfo, t.camera_info, 10)
        self.tf = node.create_publisher(TFMessage, "/tf", TF_QOS)
        self.tf_static = node.create_publisher(TFMessage, "/tf_static", TF_STATIC_QOS)

    def publish_static(self) -> None:
        """base_link -> camera optical frame (latched)."""
        self.tf_static.publish(TFMessage(transforms=[
            _tf("base_link", CAMERA_FRAME, 0, (0.1, 0.0, 0.5), (-0.5, 0.5, -0.5, 0.5))]))

    def publish_tf(self, stamp_ns: int, x: float = 0.0) -> None:
        """odom -> base_link at stamp."""
        self.tf.publish(TFMessage(transforms=[_tf("odom", "base_link", stamp_ns, (x, 0.0, 0.0),
                                                  (0.0, 0.0, 0.0, 1.0))]))

    def publish_frame(self, stamp_ns: int, *, depth_m: float = 1.0, info: bool = True,
                      depth: bool = True) -> None:
        """One RGB-D frame (+ camera_info) at stamp."""
        rgb = np.zeros((H, W, 3), np.uint8)
        rgb[:, : W // 2] = (200, 30, 30)
        self.color.publish(_image(rgb, "rgb8", stamp_ns))
        if depth:
            d = np.full((H, W), depth_m, np.float32)
            self.depth.publish(_image(d, "32FC1", stamp_ns))
        if info:
            ci = CameraInfo(width=W, height=H, distortion_model="plumb_bob")
            ci.header.frame_id = CAMERA_FRAME
            ci.header.stamp.sec, ci.header.stamp.nanosec = divmod(stamp_ns, NS)
            ci.k = [50.0, 0.0, W / 2, 0.0, 50.0, H / 2, 0.0, 0.0, 1.0]
            ci.p = [50.0, 0.0, W / 2, 0.0, 0.0, 50.0, H / 2, 0.0, 0.0, 0.0, 1.0, 0.0]
            ci.d = [0.0] * 5
            self.info.publish(ci)

    def stream(self, n: int, *, t0_ns: int, dt_ns: int = NS // 10, tf: bool = True,
               **kw: object) -> list[int]:
        """n frames with TF around each (TF leads the frames, as a robot's does)."""
        stamps = []
        if tf:
            self.publish_static()
        for i in range(n):
            s = t0_ns + i * dt_ns
            if tf:
                self.publish_tf(s, x=0.01 * i)
                self.publish_tf(s + dt_ns // 2, x=0.01 * i + 0.005)
            self.publish_frame(s, **kw)  # type: ignore[arg-type]
            stamps.append(s)
            time.sleep(0.01)
        if tf:
            self.publish_tf(t0_ns + n * dt_ns, x=0.01 * n)
        return stamps


def _tf(parent: str, child: str, stamp_ns: int, t: tuple, q: tuple) -> TransformStamped:
    ts = TransformStamped()
    ts.header.frame_id, ts.child_frame_id = parent, child
    ts.header.stamp.sec, ts.header.stamp.nanosec = divmod(stamp_ns, NS)
    ts.transform.translation.x, ts.transform.translation.y, ts.transform.translation.z = t
    r = ts.transform.rotation
    r.x, r.y, r.z, r.w = q
    return ts


def _image(arr: np.ndarray, encoding: str, stamp_ns: int) -> Image:
    msg = Image(height=arr.shape[0], width=arr.shape[1], encoding=encoding, is_bigendian=0)
    msg.header.frame_id = CAMERA_FRAME
    msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(stamp_ns, NS)
    msg.step = arr.strides[0]
    msg.data = arr.tobytes()
    return msg


class Graph:
    """The agent node, a helper node (camera publisher, clients) and an executor thread."""

    def __init__(self, cfg: Config, pool: object = None, cli_args: list[str] | None = None) -> None:
        self.context = rclpy.Context()
        rclpy.init(context=self.context)
        self.cfg = cfg
        self.agent = SpatialClawNode(cfg=cfg, context=self.context, pool=pool, cli_args=cli_args)
        self.helper = rclpy.create_node("test_helper", context=self.context)
        self.camera = SyntheticCamera(self.helper, cfg)
        self.executor = MultiThreadedExecutor(num_threads=self.agent.executor_threads() + 2,
                                              context=self.context)
        self.executor.add_node(self.agent)
        self.executor.add_node(self.helper)
        self._thread = threading.Thread(target=self.executor.spin, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.agent.shutdown()
        self.executor.shutdown(timeout_sec=5.0)
        self.agent.destroy_node()
        self.helper.destroy_node()
        rclpy.shutdown(context=self.context)
        self._thread.join(5.0)


def call_service(g: Graph, question: str, timeout_s: float = 30.0, **fields: object) -> object:
    """Call the agent's SpatialQuery service from the helper node; returns the response."""
    from spatialclaw_ros.srv import SpatialQuery

    client = g.helper.create_client(SpatialQuery, "/spatial_query")
    try:
        assert client.wait_for_service(timeout_sec=10.0), "SpatialQuery service not found"
        req = SpatialQuery.Request(question=question, **fields)
        fut = client.call_async(req)
        done = threading.Event()
        fut.add_done_callback(lambda _f: done.set())
        assert done.wait(timeout_s), "service call did not return"
        return fut.result()
    finally:
        g.helper.destroy_client(client)


def _procs() -> dict[int, tuple[int, str, bytes]]:
    """pid -> (ppid, state, cmdline) of every process."""
    import os

    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat", "rb") as f:
                stat = f.read().decode(errors="replace")
            with open(f"/proc/{d}/cmdline", "rb") as f:
                cmd = f.read()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        out[int(d)] = (int(fields[1]), fields[0], cmd)
    return out


def descendants(root: int) -> set[int]:
    """Live (non-zombie) descendants of `root`."""
    procs = _procs()
    found: set[int] = set()
    frontier = {root}
    while frontier:
        nxt = {p for p, (pp, st, _) in procs.items() if pp in frontier and st != "Z"}
        nxt -= found
        found |= nxt
        frontier = nxt
    return found


def kernel_children(root: int | None = None) -> set[int]:
    """Live kernel processes under `root` (default: this process): python -I -B -c children,
    or the processes a kernel zygote forked (the zygote itself is not a kernel)."""
    import os

    root = os.getpid() if root is None else root
    procs = _procs()
    out = set()
    for pid in descendants(root):
        ppid, _, cmd = procs.get(pid, (0, "", b""))
        argv = cmd.split(b"\0")
        if not (b"-I" in argv and b"-B" in argv and b"-c" in argv):
            continue
        if ppid == root and b"zygote" in cmd:
            continue
        out.add(pid)
    return out


def pid_alive(pid: int) -> bool:
    """True while the process exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().decode(errors="replace").rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
