"""`spatialclaw agent`: run the spatialclaw_agent ROS 2 node from the venv (same node as ros2 run)."""
from __future__ import annotations

import argparse

from spatialclaw_ros.config import Config


def add_arguments(p: argparse.ArgumentParser) -> None:
    """--params-file (same YAML as --config) and ROS arguments after --ros-args."""
    p.add_argument("--params-file", metavar="FILE",
                   help="the node's parameter YAML (as for ros2 launch; same as --config)")
    p.add_argument("ros_args", nargs=argparse.REMAINDER,
                   help="ROS arguments, e.g. --ros-args -r __ns:=/robot -p use_sim_time:=true")


def run(args: argparse.Namespace, cfg: Config) -> int:
    """Start the node with `cfg` (YAML + --set/--vlm-url/--model + env) and spin until Ctrl-C."""
    from spatialclaw_ros.cli import config_from_args
    from spatialclaw_ros.config import ConfigError
    from spatialclaw_ros.ros.node import run as run_node

    if args.params_file:
        if args.config and args.config != args.params_file:
            raise ConfigError("give either --config or --params-file, not both")
        args.config = args.params_file
        cfg = config_from_args(args)
    ros_args = list(args.ros_args or [])
    if ros_args and ros_args[0] != "--ros-args":
        raise ConfigError(f"unexpected arguments {ros_args}: ROS arguments go after --ros-args")
    return run_node(cfg, ros_args)
