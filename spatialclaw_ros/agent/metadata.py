"""The kernel's ``Metadata`` dict and the answer spec, built from a request and its frames."""
from __future__ import annotations

from typing import Any

import numpy as np

from spatialclaw_ros.agent.answers import AnswerSpec
from spatialclaw_ros.agent.types import AnswerType, QueryRequest
from spatialclaw_ros.cameras import group_moments
from spatialclaw_ros.frames.spec import parse_frame_spec
from spatialclaw_ros.frames.types import Frame


def build_metadata(request: QueryRequest, frames: list[Frame], fixed_frame: str,
                   base_frame: str = "", moment_tolerance_s: float = 0.1) -> dict[str, Any]:
    """JSON-friendly facts the model may read as ``Metadata`` (no secrets, no arrays).

    ``base_frame`` is the robot base frame (REP-103: x forward, y left, z up) for frame="base"
    tools; ``has_base_pose`` says per frame whether its T_fixed_base is known.
    """
    spec = answer_spec(request, frames, fixed_frame)
    cams = []
    for f in frames:
        c = f.camera
        cams.append({"frame_id": c.frame_id, "width": int(c.width), "height": int(c.height),
                     "fx": c.fx, "fy": c.fy, "cx": c.cx, "cy": c.cy,
                     "K": np.asarray(c.K, dtype=float).round(6).tolist(),
                     "distortion_model": c.distortion_model,
                     "name": getattr(f, "camera_name", "camera")})
    names = [getattr(f, "camera_name", "camera") for f in frames]
    by_camera: dict[str, list[int]] = {}
    for i, n in enumerate(names):
        by_camera.setdefault(n, []).append(i)
    t0 = frames[0].stamp_ns if frames else 0
    return {
        "question": request.question,
        "answer_type": request.answer_type.value,
        "choices": list(request.choices),
        "expected_unit": spec.asked_unit or ("m" if spec.expected_kind == "length" else ""),
        "fixed_frame": fixed_frame,
        "num_frames": len(frames),
        "stamps_ns": [int(f.stamp_ns) for f in frames],
        "times_s": [round((f.stamp_ns - t0) * 1e-9, 3) for f in frames],
        "camera_frame_ids": [f.camera.frame_id for f in frames],
        "cameras": cams,
        "has_depth": [f.depth is not None for f in frames],
        "has_pose": [f.T_fixed_camera is not None for f in frames],
        "base_frame": base_frame,
        "has_base_pose": [getattr(f, "T_fixed_base", None) is not None for f in frames],
        "has_labels": [f.labels is not None for f in frames],
        "sources": sorted({f.source for f in frames if f.source}),
        "recording_index": [int(getattr(f, "recording_index", -1)) for f in frames],
        "camera_names": names,
        "frames_by_camera": by_camera,
        "moments": group_moments([int(f.stamp_ns) for f in frames], names,
                                 int(moment_tolerance_s * 1e9)),
    }


def answer_spec(request: QueryRequest, frames: list[Frame], fixed_frame: str) -> AnswerSpec:
    """What ReturnAnswer must satisfy for this request."""
    return AnswerSpec(answer_type=request.answer_type, choices=list(request.choices),
                      fixed_frame=fixed_frame, question=request.question,
                      stamps_ns=[int(f.stamp_ns) for f in frames],
                      camera_frames=[f.camera.frame_id for f in frames],
                      poses=[f.T_fixed_camera for f in frames])


def metadata_summary(md: dict[str, Any]) -> str:
    """A compact text rendering of Metadata for prompts."""
    lines = [f"- fixed_frame: {md['fixed_frame']}",
             f"- num_frames: {md['num_frames']} (InputImages[0..{max(0, md['num_frames'] - 1)}])",
             f"- times_s (relative to frame 0): {md['times_s']}",
             f"- answer_type: {md['answer_type']}"]
    if md.get("choices"):
        lines.append(f"- choices: {md['choices']}")
    if md.get("expected_unit"):
        lines.append(f"- expected_unit: {md['expected_unit']}")
    cams = md.get("cameras") or []
    if cams:
        c = cams[0]
        same = all(x["width"] == c["width"] and x["height"] == c["height"] for x in cams)
        lines.append(f"- image size: {c['width']}x{c['height']}" + ("" if same else " (varies)")
                     + f", fx={c['fx']:.1f} fy={c['fy']:.1f} cx={c['cx']:.1f} cy={c['cy']:.1f}"
                     + f", camera frame {c['frame_id']!r}")
    by_cam = md.get("frames_by_camera") or {}
    if len(by_cam) > 1:
        mounts = md.get("camera_mounts") or {}
        lines.append("- cameras (frames): " + "; ".join(
            f"{n} {idx}" + (f" on {mounts[n]!r}" if mounts.get(n) else "") for n, idx in by_cam.items())
            + f"; moments (same time) per frame: {md.get('moments')}")
    rec = md.get("recording_index") or []
    if rec and all(k >= 0 for k in rec):
        total = md.get("recording_count")
        lines.append(f"- recording_index (keyframe -> recording frame): {rec}"
                     + (f" of {total} recording frames (last = {total - 1})" if total else ""))
    lines.append(f"- depth sensor: {sum(md['has_depth'])}/{md['num_frames']} frames; "
                 f"camera pose in {md['fixed_frame']}: {sum(md['has_pose'])}/{md['num_frames']}")
    n_base = sum(md.get("has_base_pose") or [])
    if md.get("base_frame") and n_base:
        lines.append(f"- robot base frame {md['base_frame']!r} (x forward, y left, z up; frame=\"base\"): "
                     f"{n_base}/{md['num_frames']} frames")
    return "\n".join(lines)


def validate_request(request: QueryRequest, frames: list[Frame]) -> str:
    """The reason the request cannot run ("" if it can)."""
    if not isinstance(request.question, str) or not request.question.strip():
        return "the question is empty: ask something about what the cameras saw"
    if len(request.question) > 4000:
        return f"the question is {len(request.question)} characters long; keep it under 4000"
    if not isinstance(request.answer_type, AnswerType):
        return f"unknown answer_type {request.answer_type!r}; use one of {[t.value for t in AnswerType]}"
    if request.answer_type == AnswerType.CHOICE and len(request.choices) < 2:
        return "answer_type 'choice' needs at least 2 choices"
    if any(not isinstance(c, str) or not c.strip() for c in request.choices):
        return "choices must be non-empty strings"
    if len({c.strip().lower() for c in request.choices}) != len(request.choices):
        return "choices must be distinct"
    if request.choices and request.answer_type not in (AnswerType.CHOICE, AnswerType.AUTO):
        return f"choices were given but answer_type is {request.answer_type.value!r}; use 'choice'"
    if request.max_steps < 0:
        return "max_steps must be >= 0 (0 = the configured default)"
    if request.timeout_s < 0:
        return "timeout_s must be >= 0 (0 = the configured default)"
    if request.start_ns and request.end_ns and request.end_ns < request.start_ns:
        return "end_ns is before start_ns"
    if request.frames:
        try:
            parse_frame_spec(request.frames, "frames")
        except ValueError as exc:
            return str(exc)
    return ""
