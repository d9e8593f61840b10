"""The `spatialclaw` command: one entry point, one subcommand module each under commands/."""
from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

# name -> (module under spatialclaw_ros.commands, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "query": ("query", "answer a question about a rosbag (offline)"),
    "info": ("info", "show what a rosbag holds and what is missing for queries"),
    "agent": ("agent", "run the spatialclaw_agent ROS 2 node"),
    "play": ("play", "replay a rosbag into ROS 2 (stamps, /clock, /tf_static)"),
    "ask": ("ask", "send a SpatialQuery goal to a running node and print progress"),
    "eval": ("eval", "run a question set and score it (MRA, exact match)"),
    "sim": ("sim", "generate synthetic MuJoCo scenes as rosbags with ground truth"),
    "build-engines": ("build_engines", "export perception models to ONNX and TensorRT"),
    "bench": ("bench", "benchmarks: kernel, ingest, perception, memory"),
    "memory": ("memory", "spatial memory: record a long simulated run, show a memory, run its question set"),
}


def add_common_arguments(p: argparse.ArgumentParser) -> None:
    """Flags every subcommand shares: config file and VLM endpoint overrides."""
    p.add_argument("--config", metavar="FILE",
                   help="parameter YAML shared with the node (default: config/agent.yaml)")
    p.add_argument("--vlm-url", metavar="URL",
                   help="OpenAI-compatible endpoint (env SPATIALCLAW_VLM_URL)")
    p.add_argument("--model", metavar="NAME", help="served model name (env SPATIALCLAW_VLM_MODEL)")
    p.add_argument("--set", metavar="KEY=VALUE", action="append", default=[],
                   help="override a parameter, e.g. --set agent.max_steps=10 (YAML value)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="spatialclaw", description="Spatial questions about what a robot's cameras saw.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        add_common_arguments(p)
        p.set_defaults(_module=module)
        mod = _load(module)
        if mod is not None:
            mod.add_arguments(p)
        else:
            p.set_defaults(_missing=True)
    return parser


def _load(module: str):  # noqa: ANN202 - returns a module or None
    try:
        return importlib.import_module(f"spatialclaw_ros.commands.{module}")
    except ModuleNotFoundError as exc:
        if exc.name == f"spatialclaw_ros.commands.{module}":
            return None
        raise


def config_from_args(args: argparse.Namespace):  # noqa: ANN201 - Config
    """Load the YAML config and apply --vlm-url, --model and --set overrides."""
    import yaml

    from spatialclaw_ros.config import ConfigError, load_config

    overrides: dict[str, object] = {}
    for item in getattr(args, "set", []) or []:
        if "=" not in item:
            raise ConfigError(f"--set expects KEY=VALUE, got {item!r}")
        key, value = item.split("=", 1)
        overrides[key.strip()] = yaml.safe_load(value)
    if getattr(args, "vlm_url", None):
        overrides["vlm.base_url"] = args.vlm_url
    if getattr(args, "model", None):
        overrides["vlm.model"] = args.model
    return load_config(getattr(args, "config", None), overrides)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 2
    if getattr(args, "_missing", False):
        print(f"spatialclaw {args.command}: not available in this build "
              f"(module spatialclaw_ros.commands.{args._module} is missing)", file=sys.stderr)
        return 3
    from spatialclaw_ros.config import ConfigError
    from spatialclaw_ros.errors import SpatialClawError

    try:
        cfg = config_from_args(args)
        return int(_load(args._module).run(args, cfg) or 0)
    except ConfigError as exc:
        print(f"spatialclaw {args.command}: configuration error: {exc}", file=sys.stderr)
        return 2
    except SpatialClawError as exc:
        print(f"spatialclaw {args.command}: {exc.code.name}: {exc.message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"spatialclaw {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
