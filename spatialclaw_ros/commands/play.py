"""`spatialclaw play BAG`: replay a rosbag2 into ROS 2 (stamps, /clock, latched /tf_static)."""
from __future__ import annotations

import argparse
import sys
import threading

from spatialclaw_ros.config import Config


def add_arguments(p: argparse.ArgumentParser) -> None:
    """BAG, --rate, --loop, --topics, --no-clock, --clock-hz, --delay."""
    p.add_argument("bag", help="rosbag2 directory (or the .mcap / .db3 file in it)")
    p.add_argument("--rate", type=float, default=1.0, help="playback speed factor (default 1.0)")
    p.add_argument("--loop", action="store_true", help="start again at the end")
    p.add_argument("--topics", nargs="+", metavar="TOPIC", help="only these topics")
    p.add_argument("--no-clock", action="store_true", help="do not publish /clock")
    p.add_argument("--clock-hz", type=float, default=50.0,
                   help="/clock rate between messages (default 50)")
    p.add_argument("--delay", type=float, default=1.0,
                   help="seconds to wait after creating publishers, for discovery (default 1.0)")
    p.add_argument("--quiet", action="store_true", help="no progress output")


def run(args: argparse.Namespace, cfg: Config) -> int:
    """Play the bag; Ctrl-C stops. Exit 0 when the bag played, 1 when nothing could be published."""
    import rclpy

    from spatialclaw_ros.ros.player import BagPlayer

    from spatialclaw_ros.ros.dds import use_default_dds_profile

    use_default_dds_profile()          # the same one-host profile as the node (1 MB images)
    rclpy.init(args=["spatialclaw_player", *(getattr(args, "ros_args", None) or [])])
    node = rclpy.create_node("spatialclaw_player")
    stop = threading.Event()
    player = None
    try:
        player = BagPlayer(node, args.bag, rate=args.rate, loop=args.loop, topics=args.topics,
                           publish_clock=not args.no_clock, clock_hz=args.clock_hz)
        for topic, why in sorted(player.stats.skipped_topics.items()):
            print(f"spatialclaw play: skipping {topic}: {why}", file=sys.stderr)
        if not player.published_topics:
            print("spatialclaw play: no topic can be published", file=sys.stderr)
            return 1
        if not args.quiet:
            print(f"playing {args.bag} ({player.stats.bag_duration_s:.1f} s of bag time, "
                  f"rate {args.rate}{', loop' if args.loop else ''}); Ctrl-C stops", flush=True)
        stop.wait(max(0.0, args.delay))
        try:
            stats = player.play(stop)
        except KeyboardInterrupt:
            stop.set()
            stats = player.stats
        if not args.quiet:
            print(f"published {stats.messages} messages in {stats.wall_s:.1f} s "
                  f"({stats.loops} loop(s)): " + ", ".join(
                      f"{t}={n}" for t, n in sorted(stats.per_topic.items())), flush=True)
        return 0
    finally:
        if player is not None:
            player.close()
        node.destroy_node()
        rclpy.try_shutdown()
