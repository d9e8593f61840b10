"""`spatialclaw query --bag BAG --question TEXT`: answer a spatial question about a rosbag, offline.

Exit codes: 0 answered; 1 the query failed (the error code and message go to stdout); 2 bad
arguments; 3 a part of the package this needs is missing from the build.
Stamps (``--at``, ``--start``, ``--end``) are seconds: absolute ROS time when they fall inside the
bag's time range, otherwise (when below 1e9) seconds from the bag's first colour frame.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

from spatialclaw_ros.commands.info import add_topic_arguments, topic_overrides
from spatialclaw_ros.config import Config
from spatialclaw_ros.errors import ErrorCode, SpatialClawError
from spatialclaw_ros.frames.spec import parse_frame_spec
from spatialclaw_ros.offline import offline_metadata, perception_for

NS_PER_S = 1_000_000_000
AT_WINDOW_NS = NS_PER_S // 2     # --at T: the frame nearest T within +-0.5 s


class UsageError(ValueError):
    """Bad command-line arguments (exit code 2)."""


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Flags of `spatialclaw query`."""
    from spatialclaw_ros.agent.types import AnswerType, Executor

    p.add_argument("--bag", metavar="BAG",
                   help="rosbag2 directory, or a .mcap / .db3 file; object names come from its "
                        "instance-label legend topic (<labels topic>/legend), else from a "
                        "simulation sidecar <bag>.scene.json beside it (`spatialclaw info` says "
                        "which)")
    p.add_argument("--memory", metavar="DIR",
                   help="a spatial memory directory (memory.dir of a node): ask over everything it kept; "
                        "tools.Memory searches and loads its keyframes (with --bag, the bag gives the frames)")
    p.add_argument("--question", metavar="TEXT", help="the spatial question")
    p.add_argument("--program", metavar="FILE",
                   help="run this Python program in the sandboxed kernel instead of asking the "
                        "VLM (same static check and isolation as model code)")
    when = p.add_mutually_exclusive_group()
    when.add_argument("--at", type=float, metavar="STAMP",
                      help="use the frame nearest this stamp (seconds; within 0.5 s)")
    when.add_argument("--start", type=float, metavar="S", help="window start (seconds)")
    p.add_argument("--end", type=float, metavar="E", help="window end (seconds)")
    p.add_argument("--frames", metavar="K,...",
                   help="recording frames to use, by index in the bag's colour stream: "
                        "'first', 'last', 12, -2 (from the end), comma-separated; the kernel's "
                        "Metadata['recording_index'] maps keyframes back to them")
    p.add_argument("--answer-type", default=AnswerType.AUTO.value,
                   choices=[t.value for t in AnswerType], help="expected answer type")
    p.add_argument("--choices", metavar="A,B,...", help="comma-separated choices (answer type choice)")
    p.add_argument("--executor", choices=[e.value for e in Executor],
                   help="how the agent answers (default: agent.executor)")
    p.add_argument("--max-steps", type=int, metavar="N", help="step budget (default: agent.max_steps)")
    p.add_argument("--max-frames", type=int, metavar="N",
                   help="frames given to the query (default: keyframes.max_query_frames)")
    p.add_argument("--json", action="store_true", help="print the QueryResult as JSON")
    p.add_argument("--cameras", metavar="NAMES",
                   help="comma-separated camera names to use (default: every camera; "
                        "`spatialclaw info` lists them); --max-frames is then per camera")
    p.add_argument("--demo", action="store_true",
                   help="generate a simulated scene and answer its questions (no bag needed)")
    add_topic_arguments(p)


def run(args: argparse.Namespace, cfg: Config) -> int:
    """Load the bag, run the query and print the answer; returns the exit code."""
    if args.demo:
        return _run_demo(args, cfg)
    try:
        request, program = _request_from_args(args, cfg)
    except UsageError as exc:
        print(f"spatialclaw query: {exc}", file=sys.stderr)
        return 2
    from spatialclaw_ros.agent.types import QueryResult

    if getattr(args, "memory", None):                       # memory hook: spatialclaw query --memory DIR
        from spatialclaw_ros.commands.query_memory import run_memory_query

        return run_memory_query(args, cfg, request, program, _check_vlm, _load_frames, _runner(),
                                _print_progress, _print_result)
    try:
        if program is None:
            _check_vlm(cfg)
        frames, notes, report = _load_frames(args, cfg, request)
        runner = _runner()
        if runner is None:
            print("spatialclaw query: the agent runner (spatialclaw_ros.agent.runner) is missing "
                  "from this build", file=sys.stderr)
            return 3
        extra = offline_metadata(report, args.bag, cfg)
        with perception_for(frames, cfg) as handlers:
            result = runner(request, frames, cfg, program=program, on_progress=_print_progress,
                            extra_metadata=extra, handlers=handlers)
        result.notes = list(notes) + list(result.notes)
    except SpatialClawError as exc:
        result = QueryResult(success=False, error_code=exc.code, error_message=exc.message)
    return _print_result(result, args.json)


# ---- arguments -------------------------------------------------------------------------------
def _request_from_args(args: argparse.Namespace, cfg: Config) -> tuple[Any, str | None]:
    from spatialclaw_ros.agent.types import AnswerType, Executor, QueryRequest

    if not args.bag and not getattr(args, "memory", None):
        raise UsageError("--bag BAG is required (or --memory DIR, or --demo)")
    if getattr(args, "memory", None) and not Path(args.memory).expanduser().is_dir():
        raise UsageError(f"memory directory '{args.memory}' does not exist")
    if args.bag and not Path(args.bag).expanduser().exists():
        raise UsageError(f"bag '{args.bag}' does not exist")
    if not args.question or not args.question.strip():
        raise UsageError("--question TEXT is required and must not be empty")
    if args.end is not None and args.at is not None:
        raise UsageError("--end goes with --start, not with --at")
    if getattr(args, "frames", None) and args.at is not None:
        raise UsageError("--frames names recording frames; it does not go with --at")
    if getattr(args, "frames", None):
        try:
            parse_frame_spec(args.frames)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    for name in ("at", "start", "end"):
        v = getattr(args, name)
        if v is not None and (not math.isfinite(v) or v < 0):
            raise UsageError(f"--{name} must be a non-negative number of seconds, got {v}")
    if args.start is not None and args.end is not None and args.end < args.start:
        raise UsageError(f"--end {args.end} is before --start {args.start}")
    if args.max_steps is not None and args.max_steps < 1:
        raise UsageError(f"--max-steps must be >= 1, got {args.max_steps}")
    if args.max_frames is not None and args.max_frames < 1:
        raise UsageError(f"--max-frames must be >= 1, got {args.max_frames}")
    choices = [c.strip() for c in (args.choices or "").split(",") if c.strip()]
    answer_type = AnswerType(args.answer_type)
    if answer_type == AnswerType.CHOICE and len(choices) < 2:
        raise UsageError("--answer-type choice needs --choices with at least two options")
    if choices and answer_type not in (AnswerType.CHOICE, AnswerType.AUTO):
        raise UsageError(f"--choices only goes with --answer-type choice, not {answer_type.value}")
    program = None
    if args.program:
        path = Path(args.program).expanduser()
        if not path.is_file():
            raise UsageError(f"--program file '{args.program}' does not exist")
        program = path.read_text()
        if not program.strip():
            raise UsageError(f"--program file '{args.program}' is empty")
    request = QueryRequest(
        question=args.question.strip(),
        fixed_frame=(args.fixed_frame or "").lstrip("/"),
        answer_type=AnswerType.CHOICE if choices and answer_type == AnswerType.AUTO
        else answer_type,
        choices=choices,
        max_steps=args.max_steps or 0,
        executor=Executor(args.executor) if args.executor else None,
        frames=(getattr(args, "frames", None) or "").strip(),
    )
    return request, program


# ---- frames ----------------------------------------------------------------------------------
def _load_frames(args: argparse.Namespace, cfg: Config,
                 request: Any) -> tuple[list, list[str], Any]:
    """Frames for the request (window resolved, stamps set on the request), notes and the report."""
    from spatialclaw_ros.bags.reader import load_bag, require_poses
    from spatialclaw_ros.frames.buffer import spread_indices

    overrides = topic_overrides(args)
    notes: list[str] = []
    start_ns = end_ns = None
    at_ns = None
    if args.at is not None or args.start is not None or args.end is not None:
        first, last = _bag_stamp_range(args, cfg, overrides)
        if args.at is not None:
            at_ns = _to_ns(args.at, first, last)
            start_ns, end_ns = at_ns - AT_WINDOW_NS, at_ns + AT_WINDOW_NS
        else:
            start_ns = _to_ns(args.start, first, last) if args.start is not None else None
            end_ns = _to_ns(args.end, first, last) if args.end is not None else None
    spec = parse_frame_spec(args.frames) if getattr(args, "frames", None) else None
    multi = (spec is None and not any(v for k, v in overrides.items() if k != "fixed_frame"))
    if multi:          # several cameras (cameras.spec, or found in the bag): frames of each
        from spatialclaw_ros.bags.multicam import is_multi_camera, load_bag_cameras

        multi = bool(getattr(args, "cameras", None)) or is_multi_camera(args.bag, cfg)
    if multi:
        names = [c.strip() for c in (getattr(args, "cameras", None) or "").split(",") if c.strip()]
        data = load_bag_cameras(args.bag, cfg, start_ns=start_ns, end_ns=end_ns,
                                fixed_frame=overrides.get("fixed_frame"),
                                max_frames_per_camera=args.max_frames if at_ns is None else 10_000,
                                cameras=names or None, select_keyframes=at_ns is None)
    else:
        data = load_bag(args.bag, cfg, start_ns=start_ns, end_ns=end_ns,
                        select_keyframes=at_ns is None, recording_frames=spec, **overrides)
    if request.fixed_frame:
        require_poses(data)        # an explicit --fixed-frame must be reachable
    for line in data.report.missing:
        print(f"spatialclaw query: note: {line}", file=sys.stderr)
        notes.append(line)
    frames = data.frames
    if at_ns is not None and multi:  # the frame of each camera nearest to --at (one moment)
        frames = sorted((min((f for f in frames if f.camera_name == n),
                             key=lambda f: abs(f.stamp_ns - at_ns))
                         for n in dict.fromkeys(f.camera_name for f in frames)),
                        key=lambda f: f.stamp_ns)
        request.start_ns, request.end_ns = frames[0].stamp_ns, frames[-1].stamp_ns
    elif at_ns is not None:
        nearest = min(frames, key=lambda f: abs(f.stamp_ns - at_ns))
        frames = [nearest]
        request.start_ns = request.end_ns = nearest.stamp_ns
    elif spec is not None:
        request.start_ns, request.end_ns = frames[0].stamp_ns, frames[-1].stamp_ns
    elif multi:                      # already at most --max-frames per camera
        request.start_ns = start_ns or 0
        request.end_ns = end_ns or 0
    else:
        k = args.max_frames or cfg.keyframes.max_query_frames
        frames = [frames[i] for i in spread_indices(len(frames), k)]
        request.start_ns = start_ns or 0
        request.end_ns = end_ns or 0
    if not request.fixed_frame:
        request.fixed_frame = data.fixed_frame or ""
    print(f"spatialclaw query: {len(frames)} frames from {args.bag} "
          f"({frames[0].stamp_ns / NS_PER_S:.3f} .. {frames[-1].stamp_ns / NS_PER_S:.3f} s), "
          f"fixed frame {request.fixed_frame or '(none: camera frame only)'}", file=sys.stderr)
    if multi:
        per = {n: sum(f.camera_name == n for f in frames) for n in dict.fromkeys(
            f.camera_name for f in frames)}
        print("spatialclaw query: frames per camera: " + ", ".join(f"{n} {k}" for n, k in per.items()),
              file=sys.stderr)
    return frames, notes, data.report



def _bag_stamp_range(args: argparse.Namespace, cfg: Config,
                     overrides: dict[str, Any]) -> tuple[int, int]:
    from spatialclaw_ros.bags.reader import load_bag

    data = load_bag(args.bag, cfg, load_frames=False, **overrides)
    rng = data.report.color_stamps_range_ns
    if rng is None:
        from spatialclaw_ros.errors import NoFramesError
        raise NoFramesError(data.report.missing[0] if data.report.missing
                            else f"no colour frames in {args.bag}")
    return rng


def _to_ns(value_s: float, first_ns: int, last_ns: int) -> int:
    """Absolute stamp if inside the bag's range, else seconds from its first frame (< 1e9)."""
    ns = int(round(value_s * NS_PER_S))
    if first_ns - NS_PER_S <= ns <= last_ns + NS_PER_S or value_s >= 1e9:
        return ns
    return first_ns + ns


# ---- running -----------------------------------------------------------------------------------
def _runner() -> Any:
    try:
        from spatialclaw_ros.agent.runner import run_query
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith("spatialclaw_ros.agent.runner"):
            return None
        raise
    return run_query


def _check_vlm(cfg: Config) -> None:
    """Without --program the VLM must answer; say plainly what is missing if it does not."""
    import urllib.error
    import urllib.request

    from spatialclaw_ros.errors import VlmUnreachableError
    from spatialclaw_ros.secrecy import redact_url

    url = cfg.vlm.base_url.rstrip("/") + "/models"
    try:
        with urllib.request.urlopen(url, timeout=min(5.0, cfg.vlm.timeout_s)) as resp:
            resp.read(1)
    except urllib.error.HTTPError:
        return                     # it answered (e.g. 401 without a key): reachable
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise VlmUnreachableError(
            f"no --program given and the VLM at {redact_url(cfg.vlm.base_url)} is not reachable ({reason}); "
            "start an OpenAI-compatible server (vLLM) and pass --vlm-url URL --model NAME, or "
            "pass --program FILE to run a program instead") from None


def _print_progress(p: Any) -> None:
    phase = getattr(getattr(p, "phase", ""), "value", getattr(p, "phase", ""))
    line = f"[step {p.step}/{p.max_steps}] {phase}"
    if getattr(p, "purpose", ""):
        line += f": {p.purpose}"
    print(line, file=sys.stderr, flush=True)


def _print_result(result: Any, as_json: bool) -> int:
    if as_json:
        print(json.dumps(result.to_dict(), indent=2, default=_json_default))
    elif result.success and result.answer is not None:
        a = result.answer
        extra = []
        if a.unit and a.unit not in a.text:
            extra.append(a.unit)
        if a.frame_id:
            extra.append(f"in {a.frame_id}")
        if a.is_fallback:
            extra.append("fallback: best answer when the step budget ran out, not a checked result")
        print(a.text + (f"  ({', '.join(extra)})" if extra else ""))
    else:
        code = ErrorCode(result.error_code)
        print(f"error {code.name}: {result.error_message}")
    return 0 if result.success else 1


def _json_default(o: Any) -> Any:
    import numpy as np

    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


def _run_demo(args: argparse.Namespace, cfg: Config) -> int:
    try:
        from spatialclaw_ros.eval.demo import run_demo
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith("spatialclaw_ros.eval"):
            print("spatialclaw query --demo: the demo (spatialclaw_ros.eval.demo) is not part of "
                  "this build", file=sys.stderr)
            return 3
        raise
    return int(run_demo(args, cfg) or 0)
