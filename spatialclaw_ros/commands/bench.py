"""`spatialclaw bench kernel|ingest|perception|memory`: benchmarks (figures, not tests).

Each target's module is imported only when that target runs, so `spatialclaw --help` stays light
and a target whose module is not in this build says so instead of failing the whole command.
"""
from __future__ import annotations

import argparse
import importlib
import sys

from spatialclaw_ros.config import Config

# target -> (module, help)
TARGETS: dict[str, tuple[str, str]] = {
    "kernel": ("spatialclaw_ros.kernel.bench",
               "our sandboxed kernel vs a Jupyter kernel: start, acquire, cell round trip, frame injection"),
    "ingest": ("spatialclaw_ros.ros.bench_ingest", "ROS image ingest into the frame buffer"),
    "perception": ("spatialclaw_ros.perception.bench", "DA3 / SAM3 latency per runtime"),
    "memory": ("spatialclaw_ros.memory.bench",
               "spatial memory: ingest cost, RSS, disk budget, retrieval on 100k keyframes, load, restart, vs a rosbag"),
}


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Flags of `spatialclaw bench`: a target, then that target's own flags."""
    p.add_argument("target", choices=sorted(TARGETS), metavar="TARGET",
                   help="; ".join(f"{k}: {v[1]}" for k, v in TARGETS.items()))
    p.add_argument("target_args", nargs=argparse.REMAINDER, metavar="...",
                   help="flags of the target (see `spatialclaw bench TARGET --help`)")


def run(args: argparse.Namespace, cfg: Config) -> int:
    """Import the target's module, parse its flags, run its main(args, cfg)."""
    module_name, help_text = TARGETS[args.target]
    try:
        mod = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            print(f"spatialclaw bench {args.target}: not available in this build "
                  f"({module_name} is missing)", file=sys.stderr)
            return 3
        raise
    sub = argparse.ArgumentParser(prog=f"spatialclaw bench {args.target}", description=help_text)
    if hasattr(mod, "add_arguments"):
        mod.add_arguments(sub)
    target_args = sub.parse_args(args.target_args)
    return int(mod.main(target_args, cfg) or 0)
