"""`spatialclaw query --memory DIR`: a query over a spatial memory (tools.Memory in the kernel).

Without --bag the query starts from the memory's newest keyframes (or those in --start/--end, seconds:
absolute, or from the memory's first keyframe when below 1e9); tools.Memory reaches the rest.
"""
from __future__ import annotations

import argparse
import sys
from typing import Any, Callable

from spatialclaw_ros.config import Config
from spatialclaw_ros.errors import SpatialClawError

NS = 1_000_000_000


def run_memory_query(args: argparse.Namespace, cfg: Config, request: Any, program: str | None,
                     check_vlm: Callable, load_frames: Callable, runner: Any, on_progress: Callable,
                     print_result: Callable) -> int:
    """Load the starting frames, run the query with the memory.* handlers, print the answer."""
    from spatialclaw_ros.agent.types import QueryResult
    from spatialclaw_ros.memory.query import memory_frames_and_handlers
    from spatialclaw_ros.memory.retrieve import MemoryNotFoundError, MemoryReader

    if runner is None:
        print("spatialclaw query: the agent runner is missing from this build", file=sys.stderr)
        return 3
    reader = None
    notes: list[str] = []
    try:
        if program is None:
            check_vlm(cfg)
        frames = None
        start_ns = end_ns = None
        if args.bag:
            frames, notes = load_frames(args, cfg, request)
        else:
            try:
                probe = MemoryReader(args.memory)
            except MemoryNotFoundError as exc:
                print(f"spatialclaw query: {exc}", file=sys.stderr)
                return 2
            first = int(probe.info()["first_ns"])
            probe.close()

            def to_ns(v: float | None) -> int | None:
                if v is None:
                    return None
                return int(round(v * NS)) if v >= 1e9 else first + int(round(v * NS))

            at = getattr(args, "at", None)
            start_ns = to_ns(at - 0.5 if at is not None else args.start)
            end_ns = to_ns(at + 0.5 if at is not None else args.end)
        k = args.max_frames or cfg.keyframes.max_query_frames
        frames, handlers, extra, reader = memory_frames_and_handlers(
            args.memory, max_frames=k, start_ns=start_ns, end_ns=end_ns, frames=frames)
        if not request.fixed_frame:
            request.fixed_frame = next((f.fixed_frame for f in frames if f.fixed_frame), "")
        m = extra["memory"]
        print(f"spatialclaw query: memory {args.memory}: {m['keyframes']} keyframes over {m['span_s']:.0f} s "
              f"(frame {m['frame']}{', corrected' if m['correction'] else ''}); {len(frames)} frames to start",
              file=sys.stderr)
        result = runner(request, frames, cfg, program=program, on_progress=on_progress, handlers=handlers,
                        extra_metadata=extra)
        result.notes = list(notes) + list(result.notes)
        if m["correction"]:
            c = m["correction"]
            result.notes.append(f"memory poses re-expressed in {c['parent']} through the {c['parent']}->"
                                f"{c['child']} correction of {c['stamp_ns'] / NS:.3f} s")
    except SpatialClawError as exc:
        result = QueryResult(success=False, error_code=exc.code, error_message=exc.message)
    finally:
        if reader is not None:
            reader.close()
    return print_result(result, args.json)
