"""Conversions between the SpatialQuery messages and the core's dataclasses (agent/types.py)."""
from __future__ import annotations

import math
from typing import Any

from builtin_interfaces.msg import Time as TimeMsg

from spatialclaw_ros.agent.types import (
    Answer,
    AnswerType,
    Executor,
    Phase,
    QueryRequest,
    QueryResult,
    StageTimings,
    StepProgress,
)
from spatialclaw_ros.errors import ErrorCode, InvalidRequestError
from spatialclaw_ros.frames.spec import parse_frame_spec
from spatialclaw_ros.msg import Answer as AnswerMsg
from spatialclaw_ros.msg import QueryError as QueryErrorMsg
from spatialclaw_ros.msg import StageTimings as StageTimingsMsg
from spatialclaw_ros.msg import StepProgress as StepProgressMsg

_NS = 1_000_000_000


def time_to_ns(t: TimeMsg) -> int:
    """builtin_interfaces/Time -> integer nanoseconds."""
    return int(t.sec) * _NS + int(t.nanosec)


def ns_to_time(ns: int) -> TimeMsg:
    """Integer nanoseconds -> builtin_interfaces/Time (negative values clamp to zero)."""
    ns = max(0, int(ns))
    return TimeMsg(sec=ns // _NS, nanosec=ns % _NS)


def request_from_goal(goal: Any) -> QueryRequest:
    """A SpatialQuery goal or service request -> QueryRequest; malformed fields raise InvalidRequestError."""
    question = (goal.question or "").strip()
    if not question:
        raise InvalidRequestError("the question is empty: put the question text in goal.question")
    answer_type_text = (goal.answer_type or "auto").strip().lower()
    try:
        answer_type = AnswerType(answer_type_text)
    except ValueError:
        valid = ", ".join(a.value for a in AnswerType)
        raise InvalidRequestError(
            f"unknown answer_type '{goal.answer_type}': use one of {valid}") from None
    executor: Executor | None = None
    if goal.executor:
        try:
            executor = Executor(goal.executor.strip().lower())
        except ValueError:
            valid = ", ".join(e.value for e in Executor)
            raise InvalidRequestError(
                f"unknown executor '{goal.executor}': use one of {valid}, or leave it empty") from None
    choices = [str(c) for c in goal.choices]
    if answer_type is AnswerType.CHOICE and len(choices) < 2:
        raise InvalidRequestError("answer_type 'choice' needs at least two entries in choices")
    start_ns, end_ns = time_to_ns(goal.start), time_to_ns(goal.end)
    if start_ns and end_ns and end_ns < start_ns:
        raise InvalidRequestError(
            f"the time window ends before it starts (start {start_ns * 1e-9:.3f} s, "
            f"end {end_ns * 1e-9:.3f} s): swap them or leave both zero for all buffered frames")
    timeout_s = float(goal.timeout_s)
    if not math.isfinite(timeout_s) or timeout_s < 0:
        raise InvalidRequestError(f"timeout_s must be >= 0 (0 = the node's default), got {timeout_s}")
    frames = (getattr(goal, "frames", "") or "").strip()
    if frames:
        try:
            parse_frame_spec(frames, "goal.frames")
        except ValueError as exc:
            raise InvalidRequestError(f"{exc}; or leave it empty for the default window") from None
    return QueryRequest(
        question=question,
        start_ns=start_ns,
        end_ns=end_ns,
        fixed_frame=(goal.fixed_frame or "").strip(),
        answer_type=answer_type,
        choices=choices,
        max_steps=int(goal.max_steps),
        executor=executor,
        timeout_s=timeout_s,
        cameras=[str(c).strip() for c in getattr(goal, "cameras", []) if str(c).strip()],
        frames=frames,
    )


def goal_fields(request: QueryRequest) -> dict[str, Any]:
    """QueryRequest -> keyword arguments for SpatialQuery.Goal / SpatialQuery.Request."""
    return {
        "question": request.question,
        "start": ns_to_time(request.start_ns),
        "end": ns_to_time(request.end_ns),
        "fixed_frame": request.fixed_frame,
        "answer_type": request.answer_type.value if request.answer_type is not AnswerType.AUTO
        else "auto",
        "choices": list(request.choices),
        "max_steps": int(request.max_steps),
        "executor": request.executor.value if request.executor else "",
        "timeout_s": float(request.timeout_s),
        "cameras": list(request.cameras),
        "frames": request.frames,
    }


def answer_to_msg(answer: Answer, fixed_frame: str) -> AnswerMsg:
    """Answer -> Answer.msg; point and vector are stamped in the answer's frame (else fixed_frame)."""
    msg = AnswerMsg()
    msg.answer_type = answer.answer_type.value
    msg.text = answer.text or ""
    msg.number = float(answer.number) if answer.number is not None else math.nan
    msg.unit = answer.unit or ""
    frame = answer.frame_id or fixed_frame
    stamp = ns_to_time(answer.stamp_ns)
    msg.point.header.frame_id = frame
    msg.point.header.stamp = stamp
    if answer.point is not None:
        msg.point.point.x, msg.point.point.y, msg.point.point.z = (float(v) for v in answer.point)
    msg.vector.header.frame_id = frame
    msg.vector.header.stamp = stamp
    if answer.vector is not None:
        msg.vector.vector.x, msg.vector.vector.y, msg.vector.vector.z = (
            float(v) for v in answer.vector)
    msg.choice_index = int(answer.choice_index)
    msg.choice = answer.choice or ""
    msg.boolean = bool(answer.boolean) if answer.boolean is not None else False
    msg.count = int(answer.count) if answer.count is not None else 0
    msg.uncertainty = float(answer.uncertainty)
    msg.is_fallback = bool(answer.is_fallback)
    return msg


def answer_from_msg(msg: AnswerMsg) -> Answer:
    """Answer.msg -> Answer (typed fields that the answer type does not use stay None)."""
    try:
        answer_type = AnswerType(msg.answer_type or "text")
    except ValueError:
        answer_type = AnswerType.TEXT
    point = (msg.point.point.x, msg.point.point.y, msg.point.point.z)
    vector = (msg.vector.vector.x, msg.vector.vector.y, msg.vector.vector.z)
    return Answer(
        answer_type=answer_type,
        text=msg.text,
        number=msg.number if answer_type is AnswerType.NUMBER else None,
        unit=msg.unit,
        point=point if answer_type is AnswerType.POINT else None,
        vector=vector if answer_type is AnswerType.VECTOR else None,
        frame_id=msg.point.header.frame_id or msg.vector.header.frame_id,
        stamp_ns=time_to_ns(msg.point.header.stamp),
        choice_index=msg.choice_index,
        choice=msg.choice,
        boolean=msg.boolean if answer_type is AnswerType.BOOLEAN else None,
        count=msg.count if answer_type is AnswerType.COUNT else None,
        uncertainty=msg.uncertainty,
        is_fallback=msg.is_fallback,
    )


def timings_to_msg(t: StageTimings) -> StageTimingsMsg:
    """StageTimings -> StageTimings.msg."""
    return StageTimingsMsg(
        vlm_s=float(t.vlm_s), perception_s=float(t.perception_s), kernel_s=float(t.kernel_s),
        total_s=float(t.total_s), vlm_calls=max(0, int(t.vlm_calls)),
        prompt_tokens=max(0, int(t.prompt_tokens)),
        completion_tokens=max(0, int(t.completion_tokens)))


def error_to_msg(code: ErrorCode, message: str) -> QueryErrorMsg:
    """An error code and message -> QueryError.msg (name filled from the code)."""
    return QueryErrorMsg(code=int(code), name=ErrorCode(code).name, message=message or "")


def fill_result(msg: Any, result: QueryResult, fixed_frame: str) -> Any:
    """Copy a QueryResult into a SpatialQuery action Result or service Response; returns msg."""
    msg.success = bool(result.success)
    msg.error = error_to_msg(result.error_code, result.error_message)
    if result.answer is not None:
        msg.answer = answer_to_msg(result.answer, fixed_frame)
        if not result.answer.stamp_ns and result.frame_stamps_ns:
            # Geometry is expressed at the query's frames: stamp it with the newest one used.
            stamp = ns_to_time(max(result.frame_stamps_ns))
            msg.answer.point.header.stamp = stamp
            msg.answer.vector.header.stamp = stamp
    else:
        msg.answer.number = math.nan
        msg.answer.uncertainty = math.nan
    msg.steps_used = max(0, int(result.steps_used))
    msg.frame_stamps = [ns_to_time(ns) for ns in result.frame_stamps_ns]
    msg.transcript_path = result.transcript_path or ""
    msg.timings = timings_to_msg(result.timings)
    msg.sandbox_layers = [str(x) for x in result.sandbox_layers]
    if hasattr(msg, "frame_cameras"):
        msg.frame_cameras = [str(c) for c in result.frame_cameras]
    return msg


def result_from_msg(msg: Any) -> QueryResult:
    """A SpatialQuery action Result or service Response -> QueryResult."""
    try:
        code = ErrorCode(msg.error.code)
    except ValueError:
        code = ErrorCode.INTERNAL
    answer = answer_from_msg(msg.answer) if msg.success or msg.answer.text else None
    t = msg.timings
    return QueryResult(
        success=bool(msg.success),
        answer=answer,
        error_code=code,
        error_message=msg.error.message,
        steps_used=int(msg.steps_used),
        frame_stamps_ns=[time_to_ns(s) for s in msg.frame_stamps],
        transcript_path=msg.transcript_path,
        timings=StageTimings(vlm_s=t.vlm_s, perception_s=t.perception_s, kernel_s=t.kernel_s,
                             total_s=t.total_s, vlm_calls=t.vlm_calls,
                             prompt_tokens=t.prompt_tokens,
                             completion_tokens=t.completion_tokens),
        sandbox_layers=list(msg.sandbox_layers),
        frame_cameras=list(getattr(msg, "frame_cameras", [])),
    )


def progress_to_msg(p: StepProgress) -> StepProgressMsg:
    """StepProgress -> StepProgress.msg."""
    phase = p.phase.value if isinstance(p.phase, Phase) else str(p.phase)
    return StepProgressMsg(
        step=max(0, int(p.step)), max_steps=max(0, int(p.max_steps)), phase=phase,
        purpose=p.purpose or "", code_excerpt=p.code_excerpt or "",
        output_excerpt=p.output_excerpt or "", elapsed_s=float(p.elapsed_s))


def progress_from_msg(msg: StepProgressMsg) -> StepProgress:
    """StepProgress.msg -> StepProgress (an unknown phase string is kept as planning)."""
    try:
        phase = Phase(msg.phase)
    except ValueError:
        phase = Phase.PLANNING
    return StepProgress(step=msg.step, max_steps=msg.max_steps, phase=phase,
                        purpose=msg.purpose, code_excerpt=msg.code_excerpt,
                        output_excerpt=msg.output_excerpt, elapsed_s=msg.elapsed_s)


def error_result(code: ErrorCode, message: str) -> QueryResult:
    """A failed QueryResult with an error code and a message."""
    return QueryResult(success=False, error_code=code, error_message=message)
