"""run_query: a question plus frames in, a validated typed answer plus a transcript out.

Usage::

    from spatialclaw_ros.agent.runner import run_query
    result = run_query(QueryRequest("How far is the mug from the laptop, in metres?",
                                    answer_type=AnswerType.NUMBER), frames, cfg)
    print(result.answer.text if result.success else result.error_message, result.transcript_path)

Every outcome is a QueryResult (errors carry an ErrorCode and a message saying what to do); the
function only raises on programming errors in its caller (e.g. a wrong argument type).
"""
from __future__ import annotations

import logging
import shutil
import tempfile
import threading
import time
from typing import Any, Callable

from spatialclaw_ros.agent.answers import AnswerValidator
from spatialclaw_ros.agent.executors import EXECUTORS, run_program
from spatialclaw_ros.agent.loop import Outcome, QueryRun
from spatialclaw_ros.agent.metadata import answer_spec, build_metadata, validate_request
from spatialclaw_ros.agent.transcript import Transcript
from spatialclaw_ros.agent.types import Executor, QueryRequest, QueryResult, StageTimings, StepProgress
from spatialclaw_ros.config import Config
from spatialclaw_ros.errors import (ErrorCode, InvalidRequestError, NoFramesError, NoTransformError,
                                    QueryCanceledError, QueryTimeoutError, SpatialClawError)
from spatialclaw_ros.frames.types import Frame
from spatialclaw_ros.secrecy import redact_url
from spatialclaw_ros.vlm.client import VlmClient

log = logging.getLogger(__name__)


def resolve_executor(request: QueryRequest, cfg: Config) -> Executor:
    """The request's executor, else the configured one (InvalidRequestError if unknown)."""
    value = request.executor if request.executor is not None else cfg.agent.executor
    try:
        return value if isinstance(value, Executor) else Executor(str(value))
    except ValueError:
        raise InvalidRequestError(f"unknown executor {value!r}; use one of "
                                  f"{[e.value for e in Executor]}") from None


def _check_frames(frames: list[Frame], fixed_frame: str) -> None:
    if not frames:
        raise NoFramesError("no camera frames for this query: check the topics (spatialclaw info "
                            "BAG, or ros2 topic hz) and the request's time window")
    for i, f in enumerate(frames):
        if not isinstance(f, Frame):
            raise InvalidRequestError(f"frames[{i}] is a {type(f).__name__}, not a Frame")
        if f.T_fixed_camera is not None and f.fixed_frame and f.fixed_frame != fixed_frame:
            raise NoTransformError(f"frame {i} has its pose in {f.fixed_frame!r} but the query asks for "
                                   f"{fixed_frame!r}; ask in {f.fixed_frame!r} or publish TF between them")


def _merge_extra_metadata(metadata: dict[str, Any], extra: dict[str, Any] | None,
                         transcript: Transcript) -> None:
    """Add the caller's Metadata entries; a core key keeps its value (noted in the transcript)."""
    if extra is None:
        return
    if not isinstance(extra, dict):
        raise InvalidRequestError(f"extra_metadata must be a dict, got {type(extra).__name__}")
    kept = sorted(str(k) for k in extra if k in metadata)
    metadata.update({k: v for k, v in extra.items() if k not in metadata})
    if kept:
        transcript.add("note", text="extra_metadata cannot override core Metadata keys; ignored: "
                                    + ", ".join(kept))


def run_query(request: QueryRequest, frames: list[Frame], cfg: Config, *, program: str | None = None,
              pool: Any | None = None, handlers: dict[str, Callable[[dict], Any]] | None = None,
              on_progress: Callable[[StepProgress], None] | None = None,
              cancel: threading.Event | None = None, vlm: VlmClient | None = None,
              extra_metadata: dict[str, Any] | None = None) -> QueryResult:
    """Answer one question about the frames (or run a given program); always returns a QueryResult.

    ``extra_metadata`` adds entries to the kernel's ``Metadata`` (e.g. a simulation scene's
    ``objects`` for the labels segmentation backend); it never overrides the core keys.
    """
    t_start = time.monotonic()
    cancel = cancel or threading.Event()
    transcript = Transcript(cfg.agent.transcript_dir)
    result = QueryResult(success=False, frame_stamps_ns=[int(getattr(f, "stamp_ns", 0)) for f in frames],
                         frame_cameras=[str(getattr(f, "camera_name", "camera")) for f in frames])
    run: QueryRun | None = None
    session: Any = None
    own_pool: Any = None
    scratch = ""
    try:
        executor = resolve_executor(request, cfg)
        transcript.add("query", question=request.question, answer_type=request.answer_type,
                       choices=request.choices, executor="program" if program is not None else executor.value,
                       fixed_frame=request.fixed_frame or cfg.fixed_frame, n_frames=len(frames),
                       stamps_ns=result.frame_stamps_ns, model=cfg.vlm.model or "(first listed)",
                       base_url=redact_url(cfg.vlm.base_url))
        reason = validate_request(request, frames)
        if reason:
            raise InvalidRequestError(reason)
        fixed_frame = request.fixed_frame or cfg.fixed_frame
        _check_frames(frames, fixed_frame)
        if not request.fixed_frame and all(f.T_fixed_camera is None for f in frames) \
                and frames[0].camera.frame_id:
            fixed_frame = frames[0].camera.frame_id
            transcript.add("note", text=f"no camera pose in {cfg.fixed_frame!r}: answers are in the "
                                        f"camera frame {fixed_frame!r}")
            pose_note = (f"no camera pose: points and vectors are in the camera frame {fixed_frame!r}, "
                         f"not {cfg.fixed_frame!r}")
        else:
            pose_note = ""
        max_steps = request.max_steps or cfg.agent.max_steps
        if max_steps < 1:
            raise InvalidRequestError("agent.max_steps must be >= 1")
        timeout_s = request.timeout_s or cfg.agent.query_timeout_s
        metadata = build_metadata(request, frames, fixed_frame, base_frame=cfg.base_frame,
                                  moment_tolerance_s=cfg.cameras.moment_tolerance_s)
        _merge_extra_metadata(metadata, extra_metadata, transcript)
        validator = AnswerValidator(answer_spec(request, frames, fixed_frame))
        run = QueryRun(request, frames, cfg, metadata=metadata, validator=validator,
                       max_steps=max_steps, deadline=t_start + timeout_s, cancel=cancel,
                       transcript=transcript, vlm=vlm, on_progress=on_progress)
        needs_kernel = program is not None or executor != Executor.NO_TOOL
        if needs_kernel:
            from spatialclaw_ros.kernel import KernelPool

            all_handlers = {name: run.wrap_handler(name, fn) for name, fn in (handlers or {}).items()}
            all_handlers["vlm"] = run.wrap_handler("vlm", run.vlm_side_query)
            if pool is None:
                own_pool = pool = KernelPool(cfg.sandbox)
            from spatialclaw_ros.agent.retention import scratch_prefix

            scratch = tempfile.mkdtemp(prefix=scratch_prefix())
            run.check_stop()
            try:
                session = pool.acquire(frames, metadata, handlers=all_handlers, scratch_dir=scratch)
            except SpatialClawError:
                run.check_stop()  # canceled or past the deadline while the kernel was starting
                raise
            run.session = session
            result.sandbox_layers = list(getattr(session, "sandbox_layers", []) or [])
            transcript.add("note", text="sandbox layers: " + (", ".join(result.sandbox_layers) or "none"))
            for note in list(getattr(session, "notes", None) or []):
                transcript.add("note", text=f"kernel: {note}")
                if "fail" in note or "unavailable" in note:
                    run.notes.append(f"kernel: {note}")
        if program is not None:
            outcome = run_program(run, program)
        else:
            outcome = EXECUTORS[executor.value](run)
        if pose_note:
            outcome.notes.append(pose_note)
    except QueryCanceledError as exc:
        outcome = Outcome(error=exc)
    except QueryTimeoutError as exc:
        outcome = Outcome(error=QueryTimeoutError(run.timeout_message() if run else exc.message))
    except SpatialClawError as exc:
        outcome = Outcome(error=exc)
    except Exception as exc:  # noqa: BLE001 - a query never crashes its caller
        log.exception("query failed with an internal error")
        outcome = Outcome(error=SpatialClawError(f"internal error: {type(exc).__name__}: {exc} "
                                                 "(see the log and the transcript)", ErrorCode.INTERNAL))
    finally:
        if session is not None:
            try:
                session.close()
            except Exception:  # noqa: BLE001 - closing must not mask the result
                log.warning("closing the kernel session failed", exc_info=True)
        if own_pool is not None:
            closer = getattr(own_pool, "close", None) or getattr(own_pool, "shutdown", None)
            if closer is not None:
                try:
                    closer()
                except Exception:  # noqa: BLE001
                    log.warning("closing the kernel pool failed", exc_info=True)
        if scratch:
            shutil.rmtree(scratch, ignore_errors=True)
    return _finish(result, outcome, run, transcript, t_start)


def _finish(result: QueryResult, outcome: Outcome, run: QueryRun | None, transcript: Transcript,
            t_start: float) -> QueryResult:
    if outcome.answer is not None:
        result.success = True
        result.answer = outcome.answer
    else:
        err = outcome.error or SpatialClawError("no answer", ErrorCode.INTERNAL)
        result.error_code = err.code
        result.error_message = err.message
    result.steps_used = outcome.steps_used
    if not result.steps_used and run is not None and result.error_code != ErrorCode.CANCELED:
        # TIMEOUT, INTERNAL & co. end the loop by an exception: count the steps it reached.
        result.steps_used = run.steps_reached
    result.notes = list(outcome.notes)
    timings = StageTimings()
    if run is not None:
        result.notes += run.notes
        if run.vlm_used:
            u = run.vlm_usage()
            timings.vlm_s = round(u.seconds, 4)
            timings.vlm_calls = u.calls
            timings.prompt_tokens = u.prompt_tokens
            timings.completion_tokens = u.completion_tokens
        timings.perception_s = round(run.perception_s, 4)
        timings.kernel_s = round(run.kernel_s, 4)
        run.close()
    timings.total_s = round(time.monotonic() - t_start, 4)
    result.timings = timings
    if transcript.error:
        result.notes.append(transcript.error)
    path = transcript.close(result.to_dict())
    result.transcript_path = path
    if not result.success:
        from spatialclaw_ros.agent.retention import mark_failed

        mark_failed(transcript.jsonl_path)
    if transcript.error and transcript.error not in result.notes:
        result.notes.append(transcript.error)
    return result
