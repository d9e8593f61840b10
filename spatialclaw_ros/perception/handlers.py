"""Parent-side handlers for the kernel's ``perception.*`` calls (payloads in docs/CONTRACTS.md).

The agent runner passes ``perception_handlers(frames, cfg, service)`` to the kernel
(``run_query(..., handlers=...)``); the in-kernel tools reach them with ``ctx.call_parent``.
Bad payloads get a PerceptionError that says what was wrong, never a crash.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from spatialclaw_ros.config import Config
from spatialclaw_ros.errors import ModelUnavailableError, PerceptionError
from spatialclaw_ros.frames.types import Frame
from spatialclaw_ros.perception.service import PerceptionService


def _frame_index(v: Any, n: int, what: str) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
        raise PerceptionError(f"{what}: frame index must be an int, got {v!r}")
    if not 0 <= int(v) < n:
        raise PerceptionError(f"{what}: frame index {v} out of range; the query has {n} frames (0..{n - 1})")
    return int(v)


def _check_backend(payload: dict, want: str, call: str) -> None:
    b = payload.get("backend", want)
    if b != want:
        raise PerceptionError(f"{call}: backend {b!r} is not served by the perception service (only {want!r}); "
                              "sensor depth and label masks are computed in the kernel")


def parse_segment_payload(payload: dict, n_frames: int) -> dict[str, Any]:
    """Validate a perception.segment payload; returns the normalised prompt."""
    if not isinstance(payload, dict):
        raise PerceptionError(f"perception.segment: payload must be a dict, got {type(payload).__name__}")
    _check_backend(payload, "sam3", "perception.segment")
    idx = _frame_index(payload.get("frame_index"), n_frames, "perception.segment")
    text = payload.get("text")
    if text is not None and (not isinstance(text, str) or not text.strip()):
        raise PerceptionError("perception.segment: text must be a non-empty string or None")
    points, labels, box = payload.get("points"), payload.get("point_labels"), payload.get("box")
    if points is not None:
        pts = np.asarray(points, float)
        if pts.ndim != 2 or pts.shape[1] != 2 or len(pts) == 0:
            raise PerceptionError(f"perception.segment: points must be [[u, v], ...], got shape {pts.shape}")
        lab = np.ones(len(pts), int) if labels is None else np.asarray(labels, int)
        if lab.shape != (len(pts),) or not np.isin(lab, (0, 1)).all():
            raise PerceptionError("perception.segment: point_labels must be one 0/1 per point")
        points, labels = pts, lab
    elif labels is not None:
        raise PerceptionError("perception.segment: point_labels given without points")
    if box is not None:
        b = np.asarray(box, float)
        if b.shape != (4,) or not np.isfinite(b).all() or b[2] <= b[0] or b[3] <= b[1]:
            raise PerceptionError(f"perception.segment: box must be [u0, v0, u1, v1] with u1>u0, v1>v0, got {box!r}")
        box = b
    if text is None and points is None and box is None:
        raise PerceptionError("perception.segment: give a text, points or a box prompt")
    return {"frame_index": idx, "text": text, "points": points, "point_labels": labels, "box": box}


def perception_handlers(frames: list[Frame], cfg: Config,
                        service: PerceptionService) -> dict[str, Callable[[dict], Any]]:
    """Handlers for ``perception.reconstruct`` and ``perception.segment`` over one query's frames."""

    from spatialclaw_ros.perception.status import da3_status, sam3_status

    def reconstruct(payload: dict) -> dict[str, Any]:
        st = da3_status(cfg, engine_dir=getattr(service, "engine_dir", None),
                        runtime=getattr(service, "runtime", None))
        if not st.available:
            raise ModelUnavailableError(
                f"{st.missing}. Frames without sensor depth cannot be measured in this query: if "
                "nothing else answers the question, end with ReturnAnswer(None, reason='needs a "
                "depth model')")
        if not isinstance(payload, dict):
            raise PerceptionError(f"perception.reconstruct: payload must be a dict, got {type(payload).__name__}")
        _check_backend(payload, "da3", "perception.reconstruct")
        idx = payload.get("frame_indices")
        if idx is None:
            idx = list(range(len(frames)))
        if not isinstance(idx, (list, tuple)) or not idx:
            raise PerceptionError("perception.reconstruct: frame_indices must be a non-empty list of ints")
        sel = [_frame_index(i, len(frames), "perception.reconstruct") for i in idx]
        if len(set(sel)) != len(sel):
            raise PerceptionError(f"perception.reconstruct: frame_indices repeat a frame: {sel}")
        return service.reconstruct([frames[i] for i in sel], fixed_frame=cfg.fixed_frame).to_reply()

    def segment(payload: dict) -> dict[str, Any]:
        prompt = parse_segment_payload(payload, len(frames))
        st = sam3_status(cfg, checkpoint=getattr(service, "sam3_checkpoint", None),
                         random_weights=bool(getattr(service, "sam3_random_weights", False)))
        if not st.available:
            raise ModelUnavailableError(
                f"{st.missing}. Without SAM 3, find objects with backend='vlm' (the VLM gives boxes, "
                "masks come from depth) or backend='labels' where the bag has label images and a "
                "legend")
        return service.segment(frames[prompt["frame_index"]], prompt).to_reply()

    return {"perception.reconstruct": reconstruct, "perception.segment": segment}
