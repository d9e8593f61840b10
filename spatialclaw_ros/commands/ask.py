"""`spatialclaw ask "QUESTION"`: send a SpatialQuery goal to a running node, print progress and the answer."""
from __future__ import annotations

import argparse
import json
import sys

from spatialclaw_ros.config import Config

NS_PER_S = 1_000_000_000


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The question and the goal's optional fields."""
    p.add_argument("question", help="the question, e.g. 'how far is the mug from the laptop?'")
    p.add_argument("--answer-type", default="auto",
                   help="auto, number, point, vector, choice, boolean, count, text")
    p.add_argument("--choices", nargs="+", default=[], metavar="CHOICE",
                   help="options for --answer-type choice")
    p.add_argument("--fixed-frame", default="", help="frame for points/vectors (default: node's)")
    p.add_argument("--start", type=float, default=0.0,
                   help="window start, seconds in the node's clock (0: all buffered frames)")
    p.add_argument("--end", type=float, default=0.0, help="window end, seconds (0: open)")
    p.add_argument("--max-steps", type=int, default=0, help="0: the node's agent.max_steps")
    p.add_argument("--frames", default="", metavar="K,...",
                   help="frames by index, as `spatialclaw query --frames`: 'first', 'last', k, -k "
                        "(e.g. last,0); frame k is the k-th frame the node buffered in the window")
    p.add_argument("--executor", default="", help="code, tool_call, single_pass, no_tool")
    p.add_argument("--timeout", type=float, default=0.0,
                   help="seconds; 0: the node's agent.query_timeout_s (this command then waits "
                        "at most 900 s); a node that dies gives NODE_GONE")
    p.add_argument("--action", default="/spatial_query",
                   help="the node's action name (default /spatial_query)")
    p.add_argument("--server-timeout", type=float, default=10.0,
                   help="seconds to wait for the node (default 10)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")


def run(args: argparse.Namespace, cfg: Config) -> int:
    """Exit 0 with an answer, 1 when the query failed (the error code is printed)."""
    import rclpy

    from spatialclaw_ros.agent.types import StepProgress
    from spatialclaw_ros.ros.client import SpatialQueryClient

    tty = sys.stderr.isatty()

    def show(p: StepProgress) -> None:
        code_first = p.code_excerpt.splitlines()[0] if p.code_excerpt else ""
        what = p.purpose or code_first
        line = f"[step {p.step}/{p.max_steps} {p.phase.value} {p.elapsed_s:5.1f}s] {what}"
        if tty:
            sys.stderr.write("\r\033[K" + line[:200])
        else:
            sys.stderr.write(line[:200] + "\n")
        sys.stderr.flush()

    from spatialclaw_ros.ros.dds import use_default_dds_profile

    use_default_dds_profile()
    rclpy.init(args=["spatialclaw_ask", *(getattr(args, "ros_args", None) or [])])
    node = rclpy.create_node("spatialclaw_ask")
    try:
        client = SpatialQueryClient(node, args.action)
        try:
            result = client.ask(
                args.question, answer_type=args.answer_type, choices=args.choices,
                start_ns=int(args.start * NS_PER_S), end_ns=int(args.end * NS_PER_S),
                fixed_frame=args.fixed_frame, max_steps=args.max_steps, executor=args.executor,
                timeout_s=args.timeout, server_timeout_s=args.server_timeout, on_feedback=show,
                frames=args.frames)
        except KeyboardInterrupt:
            client.cancel()
            raise
        if tty:
            sys.stderr.write("\n")
        if args.json:
            print(json.dumps(result.to_dict(), indent=2))
        elif result.success and result.answer is not None:
            a = result.answer
            print(a.text)
            extra = []
            if a.number is not None:
                extra.append(f"value: {a.number:g} {a.unit}".rstrip())
            if a.point is not None:
                extra.append(f"point: ({a.point[0]:.3f}, {a.point[1]:.3f}, {a.point[2]:.3f}) "
                             f"in {a.frame_id}")
            if a.vector is not None:
                extra.append(f"vector: ({a.vector[0]:.3f}, {a.vector[1]:.3f}, {a.vector[2]:.3f}) "
                             f"in {a.frame_id}")
            extra.append(f"{result.steps_used} steps, {result.timings.total_s:.1f} s")
            if result.transcript_path:
                extra.append(f"transcript: {result.transcript_path}")
            print("  " + "\n  ".join(extra))
        else:
            print(f"{result.error_code.name}: {result.error_message}", file=sys.stderr)
        client.destroy()
        return 0 if result.success else 1
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
