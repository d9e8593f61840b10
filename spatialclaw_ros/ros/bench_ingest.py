"""`spatialclaw bench ingest`: what live RGB-D ingest costs the node (CPU of one core, memory).

The node runs as its own process (`spatialclaw agent`, no kernels pre-warmed) with the config's
keyframe policy; this process publishes colour (rgb8), depth (16UC1 mm), camera_info and /tf at
`--rate` Hz for `--duration` s over the shared-memory Fast DDS profile. The node's CPU time and RSS
come from /proc; its buffer fill from its own /diagnostics. Prints a table and writes JSON.
Targets (issue 6): < 15 % of one core at 30 Hz 640x480; memory flat once the buffer is at its cap.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from spatialclaw_ros.config import Config
from spatialclaw_ros.ros.dds import PROFILE_VARS, set_profile_env

NS = 1_000_000_000
CLK_TCK = os.sysconf("SC_CLK_TCK")
PROFILE = Path(__file__).resolve().parents[2] / "test" / "fastdds-shm-only.xml"
SHIPPED_PROFILE = Path(__file__).resolve().parents[1] / "data" / "fastdds_one_host.xml"


@dataclass
class IngestBench:
    """Figures of one run."""

    rate_hz: float
    width: int
    height: int
    duration_s: float
    keyframes_min_interval_s: float
    keyframes_max_frames: int
    memory_cap_mb: int
    frames_published: int = 0
    images_received: int = 0
    frames_dropped: int = 0
    frames_buffered_end: int = 0
    buffer_mb_end: float = 0.0
    cap_reached_at_s: float | None = None
    cpu_percent_one_core: float = 0.0      # steady window (after warm-up)
    cpu_percent_per_window: list[float] = field(default_factory=list)
    rss_mb_start: float = 0.0
    rss_mb_at_cap: float | None = None
    rss_mb_end: float = 0.0
    rss_mb_max: float = 0.0
    rss_growth_after_cap_mb: float | None = None
    rss_samples: list[tuple[float, float]] = field(default_factory=list)
    python: str = sys.version.split()[0]
    cpu_count: int = os.cpu_count() or 0
    dds: str = "shipped"                   # shipped | test | none (Fast DDS defaults)
    cameras: int = 1                       # --multicam: 3 (two RGB-D + one colour-only)
    cpu_percent_per_camera: float = 0.0    # node CPU / cameras


def add_arguments(p: argparse.ArgumentParser) -> None:
    """--rate, --duration, --warmup, --width, --height, --out, --keep-every."""
    p.add_argument("--rate", type=float, default=30.0, help="frames per second (default 30)")
    p.add_argument("--duration", type=float, default=60.0, help="seconds of publishing (default 60)")
    p.add_argument("--warmup", type=float, default=5.0, help="seconds excluded from the CPU mean")
    p.add_argument("--width", type=int, default=640)
    p.add_argument("--height", type=int, default=480)
    p.add_argument("--memory-cap-mb", type=int, default=0,
                   help="keyframes.memory_cap_mb for the node (0: the config's)")
    p.add_argument("--out", default="bench-ingest.json", help="JSON output path")
    p.add_argument("--dds", choices=("shipped", "test", "none"), default="shipped",
                   help="Fast DDS profile for both sides: shipped (the node's default, "
                        "spatialclaw_ros/data/fastdds_one_host.xml), test (SHM only), none "
                        "(Fast DDS defaults); compare frame loss")
    p.add_argument("--multicam", action="store_true",
                   help="three cameras (cameras.spec): two RGB-D and one colour-only, each at --rate")


def main(args: argparse.Namespace, cfg: Config) -> int:
    """Run the benchmark; returns 0 when the node took frames, 1 otherwise."""
    import rclpy
    from rclpy.qos import qos_profile_sensor_data

    env = dict(os.environ)
    for var in PROFILE_VARS:
        env.pop(var, None)
        os.environ.pop(var, None)
    if args.dds == "none":
        env["SPATIALCLAW_DDS_PROFILE"] = "0"
    else:
        chosen = str(SHIPPED_PROFILE if args.dds == "shipped" else PROFILE)
        set_profile_env(env, chosen)
        set_profile_env(os.environ, chosen)
    env.setdefault("ROS_DOMAIN_ID", str(150 + os.getpid() % 50))
    os.environ["ROS_DOMAIN_ID"] = env["ROS_DOMAIN_ID"]
    cap_mb = args.memory_cap_mb or cfg.keyframes.memory_cap_mb
    res = IngestBench(rate_hz=args.rate, width=args.width, height=args.height,
                      duration_s=args.duration,
                      keyframes_min_interval_s=cfg.keyframes.min_interval_s,
                      keyframes_max_frames=cfg.keyframes.max_frames, memory_cap_mb=cap_mb,
                      dds=args.dds)
    k = cfg.keyframes
    cmd = [sys.executable, "-m", "spatialclaw_ros.cli", "agent", "--set", "sandbox.pool_size=0",
           "--set", f"keyframes.memory_cap_mb={cap_mb}", "--set", f"keyframes.max_frames={k.max_frames}",
           "--set", f"keyframes.min_interval_s={k.min_interval_s}",
           "--set", f"keyframes.min_translation_m={k.min_translation_m}",
           "--set", f"keyframes.min_rotation_deg={k.min_rotation_deg}",
           "--set", f"fixed_frame={cfg.fixed_frame}"]
    if getattr(args, "multicam", False):
        from spatialclaw_ros.ros.bench_ingest_multi import CAMERAS, set_args

        cmd += set_args()
        res.cameras = len(CAMERAS)
    node = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    rclpy.init()
    pub_node = rclpy.create_node("spatialclaw_bench_ingest")
    from diagnostic_msgs.msg import DiagnosticArray

    diags: list[DiagnosticArray] = []
    pub_node.create_subscription(DiagnosticArray, "/diagnostics", diags.append, 10)
    spin = threading.Thread(target=rclpy.spin, args=(pub_node,), daemon=True)
    spin.start()
    try:
        if res.cameras > 1:
            from spatialclaw_ros.ros.bench_ingest_multi import MultiPublishers

            pubs = MultiPublishers(pub_node, cfg, args.width, args.height, qos_profile_sensor_data)
        else:
            pubs = _Publishers(pub_node, cfg, args.width, args.height, qos_profile_sensor_data)
        if not pubs.wait_subscribed(60.0):
            print("bench ingest: the node did not subscribe within 60 s", file=sys.stderr)
            return 1
        pubs.publish_static()
        t0 = time.monotonic()
        cpu0 = _cpu_s(node.pid)
        window_start, window_cpu = t0, cpu0
        steady_cpu0 = steady_t0 = None
        next_sample = t0
        period = 1.0 / args.rate
        i = 0
        while True:
            now = time.monotonic()
            elapsed = now - t0
            if elapsed >= args.duration:
                break
            pubs.publish_frame(time.time_ns())
            res.frames_published += 1
            i += 1
            if steady_cpu0 is None and elapsed >= args.warmup:
                steady_cpu0, steady_t0 = _cpu_s(node.pid), now
            if now >= next_sample:
                rss = _rss_mb(node.pid)
                res.rss_samples.append((round(elapsed, 2), round(rss, 1)))
                cpu = _cpu_s(node.pid)
                if now > window_start:
                    res.cpu_percent_per_window.append(
                        round(100.0 * (cpu - window_cpu) / (now - window_start), 2))
                window_start, window_cpu = now, cpu
                next_sample += 1.0
                st = _frames_status(diags)
                if st and res.cap_reached_at_s is None and _at_cap(st, cap_mb, cfg):
                    res.cap_reached_at_s = round(elapsed, 2)
                    res.rss_mb_at_cap = round(rss, 1)
            sleep = t0 + i * period - time.monotonic()
            if sleep > 0:
                time.sleep(sleep)
        end = time.monotonic()
        cpu_end = _cpu_s(node.pid)
        if steady_cpu0 is not None and end > steady_t0:
            res.cpu_percent_one_core = round(100.0 * (cpu_end - steady_cpu0) / (end - steady_t0), 2)
        res.cpu_percent_per_camera = round(res.cpu_percent_one_core / res.cameras, 2)
        time.sleep(1.5)                               # one more diagnostics message
        st = _frames_status(diags) or {}
        res.images_received = int(st.get("images_received", 0))
        res.frames_dropped = int(st.get("frames_dropped", 0))
        res.frames_buffered_end = int(st.get("frames_buffered", 0))
        res.buffer_mb_end = float(st.get("buffer_mb", 0.0))
        rss = [r for _, r in res.rss_samples]
        res.rss_mb_start, res.rss_mb_end, res.rss_mb_max = rss[0], rss[-1], max(rss)
        if res.rss_mb_at_cap is not None:
            res.rss_growth_after_cap_mb = round(res.rss_mb_end - res.rss_mb_at_cap, 1)
    finally:
        node.terminate()
        try:
            node.wait(20)
        except subprocess.TimeoutExpired:
            node.kill()
            node.wait()
        pub_node.destroy_node()
        rclpy.try_shutdown()
    _print(res)
    Path(args.out).write_text(json.dumps(asdict(res), indent=2))
    print(f"wrote {args.out}")
    return 0 if res.images_received else 1


class _Publishers:
    """Pre-built RGB-D messages; only the stamps change per frame."""

    def __init__(self, node, cfg: Config, w: int, h: int, image_qos) -> None:  # noqa: ANN001
        from geometry_msgs.msg import TransformStamped
        from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
        from sensor_msgs.msg import CameraInfo, Image
        from tf2_msgs.msg import TFMessage

        from spatialclaw_ros.commands.agent import cli_topic

        t = cfg.topics     # where `spatialclaw agent` (default remaps) subscribes
        self.color_pub = node.create_publisher(Image, cli_topic(t.color), image_qos)
        self.depth_pub = node.create_publisher(Image, cli_topic(t.depth), image_qos)
        self.info_pub = node.create_publisher(CameraInfo, cli_topic(t.camera_info), 10)
        self.tf_pub = node.create_publisher(TFMessage, "/tf", 100)
        self.static_pub = node.create_publisher(TFMessage, "/tf_static", QoSProfile(
            depth=10, reliability=ReliabilityPolicy.RELIABLE,
            durability=DurabilityPolicy.TRANSIENT_LOCAL))
        rng = np.random.default_rng(0)
        rgb = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
        depth = rng.integers(400, 4000, (h, w), dtype=np.uint16)
        self.color = Image(height=h, width=w, encoding="rgb8", step=w * 3, data=rgb.tobytes())
        self.depth = Image(height=h, width=w, encoding="16UC1", step=w * 2, data=depth.tobytes())
        for m in (self.color, self.depth):
            m.header.frame_id = "camera_color_optical_frame"
        self.info = CameraInfo(width=w, height=h, distortion_model="plumb_bob")
        self.info.header.frame_id = "camera_color_optical_frame"
        self.info.k = [500.0, 0.0, w / 2, 0.0, 500.0, h / 2, 0.0, 0.0, 1.0]
        self.info.p = [500.0, 0.0, w / 2, 0.0, 0.0, 500.0, h / 2, 0.0, 0.0, 0.0, 1.0, 0.0]
        self.info.d = [0.0] * 5
        self.tf = TransformStamped()
        self.tf.header.frame_id, self.tf.child_frame_id = cfg.fixed_frame, "base_link"
        self.tf.transform.rotation.w = 1.0
        self.static = TransformStamped()
        self.static.header.frame_id = "base_link"
        self.static.child_frame_id = "camera_color_optical_frame"
        r = self.static.transform.rotation
        r.x, r.y, r.z, r.w = -0.5, 0.5, -0.5, 0.5
        self._tf_msg = TFMessage(transforms=[self.tf])
        self._static_msg = TFMessage(transforms=[self.static])

    def wait_subscribed(self, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        pubs = (self.color_pub, self.depth_pub, self.info_pub, self.tf_pub, self.static_pub)
        while time.monotonic() < deadline:
            if all(p.get_subscription_count() > 0 for p in pubs):
                return True
            time.sleep(0.1)
        return False

    def publish_static(self) -> None:
        self.static_pub.publish(self._static_msg)

    def publish_frame(self, stamp_ns: int) -> None:
        sec, nsec = divmod(stamp_ns, NS)
        self.tf.header.stamp.sec, self.tf.header.stamp.nanosec = sec, nsec
        self.tf.transform.translation.x = (stamp_ns % (20 * NS)) / (20 * NS)   # slow motion
        self.tf_pub.publish(self._tf_msg)
        for m in (self.color, self.depth, self.info):
            m.header.stamp.sec, m.header.stamp.nanosec = sec, nsec
        self.color_pub.publish(self.color)
        self.depth_pub.publish(self.depth)
        self.info_pub.publish(self.info)


def _cpu_s(pid: int) -> float:
    with open(f"/proc/{pid}/stat", "rb") as f:
        fields = f.read().decode().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK        # utime + stime


def _rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return 0.0


def _frames_status(diags: list) -> dict[str, str] | None:  # noqa: ANN401
    if not diags:
        return None
    for s in diags[-1].status:
        if s.name.endswith(": frames"):
            return {kv.key: kv.value for kv in s.values}
    return None


def _at_cap(st: dict[str, str], cap_mb: int, cfg: Config) -> bool:
    try:
        return (int(st["frames_buffered"]) >= cfg.keyframes.max_frames
                or float(st["buffer_mb"]) >= 0.95 * cap_mb * 1.048576)
    except (KeyError, ValueError):
        return False


def _print(r: IngestBench) -> None:
    print(f"ingest benchmark: {r.rate_hz:g} Hz RGB-D {r.width}x{r.height} for {r.duration_s:g} s "
          f"(keyframes every {r.keyframes_min_interval_s:g} s, max {r.keyframes_max_frames}, "
          f"cap {r.memory_cap_mb} MB); DDS profile: {r.dds}; {r.cpu_count} CPUs, Python {r.python}")
    rows = [
        ("node CPU, % of one core (steady)", f"{r.cpu_percent_one_core:.1f}"),
        (f"node CPU per camera ({r.cameras} cameras)", f"{r.cpu_percent_per_camera:.1f}"),
        ("node CPU per 1 s window, median", f"{statistics.median(r.cpu_percent_per_window):.1f}"
         if r.cpu_percent_per_window else "n/a"),
        ("frames published / received", f"{r.frames_published} / {r.images_received}"),
        ("frames dropped (sync/conversion)", str(r.frames_dropped)),
        ("keyframes buffered at end", f"{r.frames_buffered_end} ({r.buffer_mb_end:.1f} MB)"),
        ("buffer at its cap after", f"{r.cap_reached_at_s} s"),
        ("RSS start / at cap / end / max MB", f"{r.rss_mb_start:.0f} / {r.rss_mb_at_cap} / "
                                              f"{r.rss_mb_end:.0f} / {r.rss_mb_max:.0f}"),
        ("RSS growth after the cap, MB", str(r.rss_growth_after_cap_mb)),
    ]
    width = max(len(a) for a, _ in rows)
    for a, b in rows:
        print(f"  {a:<{width}}  {b}")
