"""Scores of one answer against ground truth: Mean Relative Accuracy for numbers and points, exact match else.

MRA (as in VSI-Bench): the mean over thresholds t in {0.50, 0.55, ..., 0.95} of
``1[|pred - gt| / |gt| < 1 - t]``. A prediction within 5 % scores 1.0, within 50 % at least 0.1.
Points use the same thresholds on ``|pred - gt| / scale``, where ``scale`` is the question's
``scale_m`` (the distance from the first camera position to the true point): a point 10 cm off at
2 m scores like a 5 % distance error. Choices, counts and booleans score 1 or 0.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

THRESHOLDS = tuple(round(0.50 + 0.05 * k, 2) for k in range(10))

_LENGTH = {"m": 1.0, "meter": 1.0, "meters": 1.0, "metre": 1.0, "metres": 1.0, "cm": 0.01,
           "mm": 0.001, "km": 1000.0, "in": 0.0254, "inch": 0.0254, "inches": 0.0254,
           "ft": 0.3048, "feet": 0.3048, "foot": 0.3048}
_ANGLE = {"deg": 1.0, "degree": 1.0, "degrees": 1.0, "°": 1.0, "rad": 180.0 / math.pi,
          "radian": 180.0 / math.pi, "radians": 180.0 / math.pi}


def mra(pred: float, gt: float) -> float:
    """Mean Relative Accuracy of a number (0 for NaN/inf; gt must be non-zero)."""
    if gt == 0:
        raise ValueError("MRA needs a non-zero ground truth (relative error is undefined at 0)")
    if pred is None or not math.isfinite(pred):
        return 0.0
    rel = abs(pred - gt) / abs(gt)
    return float(np.mean([rel < 1.0 - t for t in THRESHOLDS]))


def point_mra(pred: Any, gt: Any, scale: float) -> float:
    """MRA of a 3-D point: relative error = Euclidean error / scale (metres)."""
    if scale <= 0:
        raise ValueError("point MRA needs a positive scale (distance the error is relative to)")
    p = np.asarray(pred, float).reshape(-1)
    g = np.asarray(gt, float).reshape(-1)
    if p.shape != (3,) or not np.all(np.isfinite(p)):
        return 0.0
    rel = float(np.linalg.norm(p - g)) / scale
    return float(np.mean([rel < 1.0 - t for t in THRESHOLDS]))


def convert_unit(value: float, unit: str, target: str) -> float:
    """Convert a length or angle between units; unknown or empty units are taken as the target."""
    u, t = (unit or "").strip().lower(), (target or "").strip().lower()
    if not u or u == t:
        return value
    for table in (_LENGTH, _ANGLE):
        if u in table and t in table:
            return value * table[u] / table[t]
    return value


def normalise_choice(text: str) -> str:
    """Lower-case, articles and punctuation removed ("The red mug." -> "red mug")."""
    words = re.split(r"[^a-z0-9]+", str(text).lower())
    return " ".join(w for w in words if w and w not in ("the", "a", "an"))


@dataclass
class Score:
    """How one answer scored."""

    score: float                       # 0..1
    metric: str                        # mra | point_mra | exact
    predicted: Any = None
    ground_truth: Any = None
    error: float | None = None         # absolute error (numbers, points) where defined
    notes: list[str] = field(default_factory=list)


def score_answer(question: dict[str, Any], answer: dict[str, Any] | None) -> Score:
    """Score an Answer dict (Answer.to_dict()) or None (no answer) against a question dict."""
    at = question["answer_type"]
    gt = question["answer"]
    if answer is None:
        return Score(0.0, "mra" if at == "number" else "point_mra" if at == "point" else "exact",
                     None, gt, notes=["no answer"])
    if at == "number":
        value = answer.get("number")
        if value is None:
            value = _number_from_text(answer.get("text", ""))
        if value is None:
            return Score(0.0, "mra", None, gt, notes=["answer has no number"])
        value = convert_unit(float(value), answer.get("unit", ""), question.get("unit", ""))
        return Score(mra(value, float(gt)), "mra", value, gt, error=abs(value - float(gt)))
    if at == "point":
        p = answer.get("point")
        if p is None:
            return Score(0.0, "point_mra", None, gt, notes=["answer has no point"])
        frame = answer.get("frame_id", "")
        notes = []
        want = question.get("evidence", {}).get("frame", "odom")
        if frame and frame != want:
            notes.append(f"point is in {frame!r}, ground truth in {want!r}")
            return Score(0.0, "point_mra", list(p), gt, notes=notes)
        scale = float(question.get("scale_m") or np.linalg.norm(gt) or 1.0)
        err = float(np.linalg.norm(np.subtract(p, gt)))
        return Score(point_mra(p, gt, scale), "point_mra", [float(x) for x in p], gt, error=err,
                     notes=notes)
    if at == "choice":
        pred = answer.get("choice") or answer.get("text", "")
        ok = normalise_choice(pred) == normalise_choice(gt)
        return Score(float(ok), "exact", pred, gt)
    if at == "count":
        c = answer.get("count")
        if c is None:
            c = answer.get("number")
        if c is None:
            c = _number_from_text(answer.get("text", ""))
        if c is None:
            return Score(0.0, "exact", None, gt, notes=["answer has no count"])
        ok = float(c) == float(gt)
        return Score(float(ok), "exact", c, gt, error=abs(float(c) - float(gt)))
    if at == "boolean":
        b = answer.get("boolean")
        if b is None:
            t = normalise_choice(answer.get("text", ""))
            b = True if t in ("yes", "true") else False if t in ("no", "false") else None
        if b is None:
            return Score(0.0, "exact", None, gt, notes=["answer has no yes/no"])
        return Score(float(bool(b) == bool(gt)), "exact", bool(b), gt)
    raise ValueError(f"cannot score answer type {at!r} (number, point, choice, count, boolean)")


def _number_from_text(text: str) -> float | None:
    m = re.search(r"[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?", str(text or ""))
    return float(m.group(0)) if m else None
