"""`spatialclaw agent`: run the spatialclaw_agent ROS 2 node from the venv (same node as ros2 run)."""
from __future__ import annotations

import argparse

from spatialclaw_ros.config import Config

# The camera topics are relative names (`color`, `depth`, `camera_info`, as image_pipeline nodes
# use); like the launch file, `spatialclaw agent` remaps them to a RealSense-style layout unless
# the ROS arguments remap them. Relative targets keep a namespace (`-r __ns:=/robot1`).
DEFAULT_REMAPS: dict[str, str] = {
    "color": "camera/color/image_raw",
    "depth": "camera/aligned_depth_to_color/image_raw",
    "camera_info": "camera/color/camera_info",
}


def cli_topic(name: str) -> str:
    """Where `spatialclaw agent` (no namespace, no remaps given) subscribes for topic `name`."""
    return "/" + DEFAULT_REMAPS[name] if name in DEFAULT_REMAPS else name


def add_arguments(p: argparse.ArgumentParser) -> None:
    """--params-file (same YAML as --config); ROS arguments go after --ros-args."""
    p.add_argument("--params-file", metavar="FILE",
                   help="the node's parameter YAML (as for ros2 launch; same as --config)")
    p.epilog = ("ROS arguments follow --ros-args, e.g. --ros-args -r __ns:=/robot1 "
                "-p use_sim_time:=true -r color:=/rs/color/image_raw --params-file FILE")


def with_default_remaps(ros_args: list[str]) -> list[str]:
    """`ros_args` plus `-r NAME:=TARGET` for each camera topic the caller did not remap (rcl
    uses the first matching rule, so the caller's own remaps win)."""
    remapped = set()
    for i, a in enumerate(ros_args[:-1]):
        if a in ("-r", "--remap") and ":=" in ros_args[i + 1]:
            remapped.add(ros_args[i + 1].split(":=", 1)[0].split(":", 1)[-1])
    extra: list[str] = []
    for name, target in DEFAULT_REMAPS.items():
        if name not in remapped:
            extra += ["-r", f"{name}:={target}"]
    if not extra:
        return list(ros_args)
    return [*(ros_args or ["--ros-args"]), *extra]


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
    ros_args = list(getattr(args, "ros_args", None) or [])
    if ros_args and ros_args[0] != "--ros-args":
        raise ConfigError(f"unexpected arguments {ros_args}: ROS arguments go after --ros-args")
    return run_node(cfg, with_default_remaps(ros_args))
