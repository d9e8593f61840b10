"""Replay a rosbag2 into ROS 2 with rosbags + rclpy (where `ros2 bag play` is not installed).

Messages are published as recorded (their CDR bytes, no re-serialisation), paced by their record
stamps scaled by `rate`; `/clock` follows the bag's time so nodes with `use_sim_time` run on it;
`/tf_static` is published transient-local (latched), as tf2's static broadcaster does.
"""
from __future__ import annotations

import importlib
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from rosgraph_msgs.msg import Clock

from spatialclaw_ros.errors import InvalidRequestError

NS_PER_S = 1_000_000_000
LATCHED_TOPICS = ("/tf_static",)
LATCHED_QOS = QoSProfile(depth=100, history=HistoryPolicy.KEEP_LAST,
                         reliability=ReliabilityPolicy.RELIABLE,
                         durability=DurabilityPolicy.TRANSIENT_LOCAL)
DEFAULT_QOS = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
CLOCK_QOS = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE)


@dataclass
class PlayStats:
    """What one `play()` call published."""

    messages: int = 0
    per_topic: dict[str, int] = field(default_factory=dict)
    skipped_topics: dict[str, str] = field(default_factory=dict)   # topic -> why
    loops: int = 0
    bag_duration_s: float = 0.0
    wall_s: float = 0.0
    clock_msgs: int = 0


def message_class(msgtype: str) -> type:
    """'sensor_msgs/msg/Image' -> the rclpy message class (ImportError if not installed)."""
    parts = msgtype.split("/")
    if len(parts) == 2:                      # 'sensor_msgs/Image' (ROS 1 style)
        parts = [parts[0], "msg", parts[1]]
    if len(parts) != 3:
        raise ImportError(f"not a ROS 2 message type name: '{msgtype}'")
    module = importlib.import_module(f"{parts[0]}.{parts[1]}")
    try:
        return getattr(module, parts[2])
    except AttributeError:
        raise ImportError(f"{parts[0]}.{parts[1]} has no type {parts[2]}") from None


def open_bag(path: str | Path) -> Any:
    """Open a rosbag2 (directory, or the .mcap/.db3 file inside one) with rosbags' AnyReader."""
    from rosbags.highlevel import AnyReader  # noqa: PLC0415

    p = Path(path).expanduser()
    if not p.exists():
        raise InvalidRequestError(f"bag not found: {p}")
    candidates = [p] + ([p.parent] if p.is_file() else [])
    last: Exception | None = None
    for c in candidates:
        try:
            reader = AnyReader([c])
            reader.open()
            return reader
        except Exception as exc:  # noqa: BLE001 - rosbags raises several types; report the last
            last = exc
    raise InvalidRequestError(f"cannot read {p} as a rosbag2: {last}")


class BagPlayer:
    """Publishes a bag's messages on their recorded topics with recorded timing."""

    def __init__(self, node: Node, bag: str | Path, *, rate: float = 1.0, loop: bool = False,
                 topics: Sequence[str] | None = None, publish_clock: bool = True,
                 clock_hz: float = 50.0) -> None:
        """`topics`: only these (None: all); `rate`: 2.0 plays twice as fast."""
        if not rate > 0:
            raise InvalidRequestError(f"--rate must be > 0, got {rate}")
        if not clock_hz > 0:
            raise InvalidRequestError(f"--clock-hz must be > 0, got {clock_hz}")
        self.node, self.bag, self.rate, self.loop = node, Path(bag), float(rate), loop
        self.topics = set(topics) if topics else None
        self.publish_clock, self.clock_period_s = publish_clock, 1.0 / clock_hz
        self._reader = open_bag(bag)
        self._pubs: dict[int, Any] = {}
        self.stats = PlayStats()
        self._clock_pub = node.create_publisher(Clock, "/clock", CLOCK_QOS) if publish_clock else None
        for conn in self._reader.connections:
            if self.topics is not None and conn.topic not in self.topics:
                continue
            fmt = getattr(getattr(conn, "ext", None), "serialization_format", "cdr")
            if fmt != "cdr":
                self.stats.skipped_topics[conn.topic] = f"serialization '{fmt}' is not cdr"
                continue
            try:
                cls = message_class(conn.msgtype)
            except ImportError as exc:
                self.stats.skipped_topics[conn.topic] = f"{conn.msgtype} not installed ({exc})"
                continue
            qos = LATCHED_QOS if conn.topic in LATCHED_TOPICS else DEFAULT_QOS
            self._pubs[conn.id] = node.create_publisher(cls, conn.topic, qos)
        if self.topics is not None:
            missing = self.topics - {c.topic for c in self._reader.connections}
            for t in sorted(missing):
                self.stats.skipped_topics[t] = "not in the bag"
        self.stats.bag_duration_s = (self._reader.end_time - self._reader.start_time) / NS_PER_S

    @property
    def published_topics(self) -> list[str]:
        """Topics this player will publish."""
        ids = set(self._pubs)
        return sorted({c.topic for c in self._reader.connections if c.id in ids})

    def play(self, stop: threading.Event | None = None,
             on_message: Callable[[str, int], None] | None = None) -> PlayStats:
        """Publish until the end (or forever with loop) or until `stop` is set; returns stats."""
        stop = stop or threading.Event()
        conns = [c for c in self._reader.connections if c.id in self._pubs]
        t_wall0 = time.monotonic()
        while not stop.is_set():
            self._play_once(conns, stop, on_message)
            self.stats.loops += 1
            if not self.loop:
                break
        self.stats.wall_s = time.monotonic() - t_wall0
        return self.stats

    def _play_once(self, conns: list[Any], stop: threading.Event,
                   on_message: Callable[[str, int], None] | None) -> None:
        bag_t0 = self._reader.start_time
        wall_t0 = time.monotonic()
        for conn, stamp_ns, raw in self._reader.messages(connections=conns):
            target = wall_t0 + (stamp_ns - bag_t0) / NS_PER_S / self.rate
            if not self._wait_until(target, bag_t0, wall_t0, stamp_ns, stop):
                return
            self._publish_clock(stamp_ns)
            self._pubs[conn.id].publish(bytes(raw))
            self.stats.messages += 1
            self.stats.per_topic[conn.topic] = self.stats.per_topic.get(conn.topic, 0) + 1
            if on_message is not None:
                on_message(conn.topic, stamp_ns)

    def _wait_until(self, target: float, bag_t0: int, wall_t0: float, next_stamp: int,
                    stop: threading.Event) -> bool:
        """Sleep until `target` (monotonic), ticking /clock meanwhile; False if stopped."""
        while True:
            now = time.monotonic()
            left = target - now
            if left <= 0:
                return not stop.is_set()
            if self._clock_pub is not None:
                sim = bag_t0 + int((now - wall_t0) * self.rate * NS_PER_S)
                self._publish_clock(min(sim, next_stamp))
            if stop.wait(min(left, self.clock_period_s)):
                return False

    def _publish_clock(self, stamp_ns: int) -> None:
        if self._clock_pub is None:
            return
        msg = Clock()
        msg.clock.sec, msg.clock.nanosec = divmod(int(stamp_ns), NS_PER_S)
        self._clock_pub.publish(msg)
        self.stats.clock_msgs += 1

    def close(self) -> None:
        """Close the bag and destroy the publishers."""
        for pub in self._pubs.values():
            self.node.destroy_publisher(pub)
        if self._clock_pub is not None:
            self.node.destroy_publisher(self._clock_pub)
        self._pubs.clear()
        self._reader.close()
