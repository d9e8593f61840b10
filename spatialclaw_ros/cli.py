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
                   help="OpenAI-compatible endpoint (env SPATIALCLAW_VLM_URL); a URL with "
                        "credentials goes in the environment or --vlm-url-file, not on the command line")
    p.add_argument("--vlm-url-file", metavar="FILE",
                   help="read the endpoint URL (it may hold credentials) from this file")
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
    from spatialclaw_ros.secrecy import has_credentials

    if has_credentials(str(overrides.get("vlm.base_url") or "")):
        raise ConfigError("--set vlm.base_url=... holds credentials, which every user can read in "
                          "the process list: put the URL in SPATIALCLAW_VLM_URL or --vlm-url-file")
    if getattr(args, "vlm_url", None):
        if has_credentials(args.vlm_url):
            raise ConfigError("--vlm-url holds credentials (user:password@ or ?key=...), which every "
                              "user can read in the process list: put the URL in the environment "
                              "(SPATIALCLAW_VLM_URL) or a file (--vlm-url-file FILE), and an API key "
                              "in SPATIALCLAW_VLM_API_KEY (vlm.api_key_env)")
        overrides["vlm.base_url"] = args.vlm_url
    if getattr(args, "vlm_url_file", None):
        try:
            with open(args.vlm_url_file, encoding="utf-8") as f:
                overrides["vlm.base_url"] = f.read().strip()
        except OSError as exc:
            raise ConfigError(f"--vlm-url-file: cannot read {args.vlm_url_file}: {exc.strerror}") from None
    if getattr(args, "model", None):
        overrides["vlm.model"] = args.model
    return load_config(getattr(args, "config", None), overrides)


def split_ros_args(argv: Sequence[str]) -> tuple[list[str], list[str]]:
    """(our arguments, ROS arguments): everything from the first `--ros-args` on goes to rclpy
    (rcl ends it at a lone `--`; what follows that is ours again); a `--` before it is dropped."""
    argv = list(argv)
    if "--ros-args" not in argv:
        return argv, []
    i = argv.index("--ros-args")
    ours, ros = argv[:i], argv[i:]
    if "--" in ros:
        j = ros.index("--")
        ours += ros[j + 1:]
        ros = ros[:j]
    if ours and ours[-1] == "--":
        ours.pop()
    return ours, ros


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the process exit code."""
    from spatialclaw_ros.secrecy import harden_process

    harden_process()     # same-uid processes (a kernel on a weak host) cannot read our env/memory
    parser = build_parser()
    ours, ros_args = split_ros_args(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(ours)
    args.ros_args = ros_args
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
