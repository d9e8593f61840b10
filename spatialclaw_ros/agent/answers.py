"""Turn what ReturnAnswer() received (or a text reply) into a validated, typed Answer.

A value that does not fit the expected answer type raises :class:`AnswerMismatch`, whose message
is written for the model (it goes back to it as an error); a mismatch is never returned.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from spatialclaw_ros.agent.types import Answer, AnswerType

# unit name -> (kind, factor to the base unit: metres or degrees)
UNITS: dict[str, tuple[str, float]] = {
    "m": ("length", 1.0), "meter": ("length", 1.0), "meters": ("length", 1.0),
    "metre": ("length", 1.0), "metres": ("length", 1.0),
    "cm": ("length", 0.01), "centimeter": ("length", 0.01), "centimeters": ("length", 0.01),
    "centimetre": ("length", 0.01), "centimetres": ("length", 0.01),
    "mm": ("length", 0.001), "millimeter": ("length", 0.001), "millimeters": ("length", 0.001),
    "millimetre": ("length", 0.001), "millimetres": ("length", 0.001),
    "km": ("length", 1000.0), "kilometer": ("length", 1000.0), "kilometers": ("length", 1000.0),
    "kilometre": ("length", 1000.0), "kilometres": ("length", 1000.0),
    "ft": ("length", 0.3048), "foot": ("length", 0.3048), "feet": ("length", 0.3048),
    "in": ("length", 0.0254), "inch": ("length", 0.0254), "inches": ("length", 0.0254),
    "deg": ("angle", 1.0), "degree": ("angle", 1.0), "degrees": ("angle", 1.0), "°": ("angle", 1.0),
    "rad": ("angle", 180.0 / math.pi), "radian": ("angle", 180.0 / math.pi),
    "radians": ("angle", 180.0 / math.pi),
    "m2": ("area", 1.0), "m^2": ("area", 1.0), "m²": ("area", 1.0), "cm2": ("area", 1e-4),
    "cm^2": ("area", 1e-4), "m3": ("volume", 1.0), "m^3": ("volume", 1.0), "m³": ("volume", 1.0),
    "l": ("volume", 1e-3), "liter": ("volume", 1e-3), "litre": ("volume", 1e-3),
    "liters": ("volume", 1e-3), "litres": ("volume", 1e-3),
    "s": ("time", 1.0), "sec": ("time", 1.0), "second": ("time", 1.0), "seconds": ("time", 1.0),
    "m/s": ("speed", 1.0),
}
CANONICAL = {"length": "m", "angle": "deg", "area": "m2", "volume": "m3", "time": "s", "speed": "m/s"}

_ASKED_UNIT = re.compile(
    r"\b(?:in|into|as|using)\s+(?:units\s+of\s+)?(meters?|metres?|centimet(?:er|re)s?|millimet(?:er|re)s?|"
    r"kilomet(?:er|re)s?|cm|mm|km|m|feet|foot|ft|inch(?:es)?|degrees?|deg|radians?|rad|seconds?)\b",
    re.IGNORECASE)
_LENGTH_WORDS = re.compile(
    r"\b(how\s+far|distance|how\s+(?:long|wide|tall|high|deep|big|thick)|length|width|height|"
    r"depth|radius|diameter|gap|clearance|how\s+much\s+(?:closer|further|farther))\b", re.IGNORECASE)
_ANGLE_WORDS = re.compile(r"\b(angle|rotate|rotation|turn|heading|yaw|bearing)\b", re.IGNORECASE)


class AnswerMismatch(ValueError):
    """ReturnAnswer's value does not fit the expected answer type (message is for the model)."""


class CannotAnswer(Exception):
    """The model said the frames cannot answer the question: ReturnAnswer(None, reason=...)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


_CANNOT_TEXT = re.compile(r"^\W*cannot answer\s*[:\-\u2013]\s*(.+)$", re.IGNORECASE)


def said_cannot_answer(text: str) -> str | None:
    """The reason when a reply's last line is "Cannot answer: <reason>", else None."""
    lines = (text or "").strip().splitlines()
    m = _CANNOT_TEXT.match(lines[-1].strip()) if lines else None
    return m.group(1).strip()[:1000] if m else None


def cannot_answer_reason(raw: Any) -> str | None:
    """The reason of a typed "cannot answer" (value None with a non-empty reason), else None."""
    if not isinstance(raw, dict) or "value" not in raw or raw.get("value") is not None:
        return None
    reason = raw.get("reason")
    if isinstance(reason, str) and reason.strip():
        return reason.strip()[:1000]
    return None


@dataclass
class AnswerSpec:
    """What the query expects: type, options, frame, the unit the question asks for."""

    answer_type: AnswerType = AnswerType.AUTO
    choices: list[str] = field(default_factory=list)
    fixed_frame: str = "odom"
    question: str = ""
    stamps_ns: list[int] = field(default_factory=list)
    camera_frames: list[str] = field(default_factory=list)            # optical frame id per keyframe
    poses: list[np.ndarray | None] = field(default_factory=list)       # T_fixed_camera per keyframe

    @property
    def asked_unit(self) -> str:
        """The unit the question names ("m", "cm", "deg"...), else "" ."""
        m = _ASKED_UNIT.search(self.question)
        return normalize_unit(m.group(1)) if m else ""

    @property
    def expected_kind(self) -> str:
        """"length", "angle"... when the question is about one, else ""."""
        unit = self.asked_unit
        if unit:
            return UNITS[unit][0]
        if _LENGTH_WORDS.search(self.question):
            return "length"
        if _ANGLE_WORDS.search(self.question):
            return "angle"
        return ""

    def describe(self) -> str:
        """One line telling the model how to call ReturnAnswer for this query."""
        t = self.answer_type
        unit = self.asked_unit or CANONICAL.get(self.expected_kind, "")
        if t == AnswerType.NUMBER:
            u = f"unit={unit!r}" if unit else "unit='<unit>' (or unit='' for a pure number)"
            return f"ReturnAnswer(<number>, {u}, uncertainty=<optional, same unit>)"
        if t == AnswerType.POINT:
            return (f"ReturnAnswer([x, y, z], unit='m', frame={self.fixed_frame!r}) "
                    "(a point in the fixed frame, metres)")
        if t == AnswerType.VECTOR:
            return (f"ReturnAnswer([dx, dy, dz], unit='m', frame={self.fixed_frame!r}) "
                    "(a vector in the fixed frame)")
        if t == AnswerType.CHOICE:
            return (f"ReturnAnswer(<one of {self.choices!r}, exactly as written, or its 0-based "
                    "index>)")
        if t == AnswerType.BOOLEAN:
            return "ReturnAnswer(True or False)"
        if t == AnswerType.COUNT:
            return "ReturnAnswer(<non-negative integer>)"
        if t == AnswerType.TEXT:
            return "ReturnAnswer('<short text>')"
        return ("ReturnAnswer(value, unit=..., frame=...): a number with its unit, a point/vector "
                "[x, y, z] with frame, True/False, an integer count, or text"
                + (f"; one of {self.choices!r}" if self.choices else ""))


def normalize_unit(unit: Any) -> str:
    """Canonical spelling of a unit name ("metres" -> "m"); unknown units are returned lower-cased."""
    if unit is None:
        return ""
    u = str(unit).strip().lower().replace(" ", "")
    if u in UNITS:
        kind, factor = UNITS[u]
        for name, (k, f) in UNITS.items():
            if k == kind and f == factor:
                return name  # first spelling in the table is the short one
    return u


TEXT_MAX = 4096          # characters of a text answer
GEOMETRY_MAX_VALUES = 4096


def _finite_float(x: Any, what: str) -> float:
    if isinstance(x, (bool, np.bool_)):
        raise AnswerMismatch(f"{what} must be a number, got a boolean {x!r}")
    try:
        v = float(x)
    except OverflowError:
        raise AnswerMismatch(f"{what} must be a finite number, got an integer too large for a float "
                             f"({_digits(x)} digits); check the computation and return the value "
                             "in a sensible unit") from None
    except (TypeError, ValueError):
        raise AnswerMismatch(f"{what} must be a number, got {type(x).__name__} {_short(x)}") from None
    if not math.isfinite(v):
        raise AnswerMismatch(f"{what} must be finite, got {v}")
    return v


def _digits(x: Any) -> int:
    try:
        return len(str(abs(int(x))))
    except (TypeError, ValueError, OverflowError):
        return 0


def _short(x: Any, n: int = 80) -> str:
    if isinstance(x, int) and not isinstance(x, bool) and abs(x) > 10 ** 30:
        return f"an int of {_digits(x)} digits"
    if isinstance(x, str) and len(x) > n:
        return repr(x[:n]) + f"... ({len(x)} characters)"
    try:
        s = repr(x)
    except ValueError:            # e.g. an int beyond the str conversion limit
        return f"a {type(x).__name__}"
    return s if len(s) <= n else s[:n] + "..."


def _check_geometry(x: Any, path: str, count: list[int]) -> None:
    """Geometry holds finite numbers, str, bool and lists/dicts of them, at most 4096 values."""
    count[0] += 1
    if count[0] > GEOMETRY_MAX_VALUES:
        raise AnswerMismatch(f"geometry holds more than {GEOMETRY_MAX_VALUES} values; keep the key "
                             "points only")
    if isinstance(x, dict):
        for k, v in x.items():
            _check_geometry(v, f"{path}[{str(k)[:40]!r}]", count)
    elif isinstance(x, (list, tuple)):
        for i, v in enumerate(x):
            _check_geometry(v, f"{path}[{i}]", count)
    elif isinstance(x, (bool, np.bool_, str)) or x is None:
        return
    else:
        _finite_float(x, f"geometry {path}")


def _vec3(value: Any, what: str) -> tuple[float, float, float]:
    try:
        arr = np.asarray(value, dtype=np.float64).reshape(-1)
    except OverflowError:
        raise AnswerMismatch(f"{what} must be 3 finite numbers [x, y, z]; a coordinate is too "
                             "large for a float") from None
    except (TypeError, ValueError):
        raise AnswerMismatch(f"{what} must be 3 numbers [x, y, z], got {_short(value)}") from None
    if arr.size != 3:
        raise AnswerMismatch(f"{what} must be 3 numbers [x, y, z], got {arr.size} values: "
                             f"{_short(value)}")
    if not np.all(np.isfinite(arr)):
        raise AnswerMismatch(f"{what} must be finite, got {arr.tolist()} (NaN/inf: check the mask "
                             "or depth you computed it from)")
    return float(arr[0]), float(arr[1]), float(arr[2])


def _bool(value: Any) -> bool:
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("yes", "true", "no", "false"):
        return value.strip().lower() in ("yes", "true")
    raise AnswerMismatch(f"this question expects True or False, got {_short(value)}")


def _count(value: Any) -> int:
    if isinstance(value, (bool, np.bool_)):
        raise AnswerMismatch(f"this question expects a count (integer >= 0), got {value!r}")
    v = _finite_float(value, "the count")
    if v != round(v) or v < 0:
        raise AnswerMismatch(f"this question expects a count (integer >= 0), got {_short(value)}")
    return int(round(v))


def _choice(value: Any, choices: Sequence[str]) -> tuple[int, str]:
    if not choices:
        raise AnswerMismatch("this query has no choices")
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
        if 0 <= int(value) < len(choices):
            return int(value), choices[int(value)]
        raise AnswerMismatch(f"choice index {value} is out of range 0..{len(choices) - 1}; options: "
                             f"{list(choices)!r}")
    if isinstance(value, str):
        v = value.strip()
        norm = [c.strip().lower() for c in choices]
        if v.lower() in norm:
            i = norm.index(v.lower())
            return i, choices[i]
        m = re.fullmatch(r"\(?([A-Za-z])[\).:]?(?:\s+(.*))?", v)
        if m and (m.group(2) is None or m.group(2).strip().lower() in norm):
            i = ord(m.group(1).upper()) - ord("A")
            if 0 <= i < len(choices) and not (len(v) == 1 and v.lower() in norm):
                return i, choices[i]
    raise AnswerMismatch(f"the answer must be one of {list(choices)!r} (the text exactly, or its "
                         f"0-based index), got {_short(value)}")


class AnswerValidator:
    """Checks ReturnAnswer(...) kwargs against an AnswerSpec and builds the typed Answer."""

    def __init__(self, spec: AnswerSpec) -> None:
        self.spec = spec

    def validate(self, raw: dict[str, Any], *, is_fallback: bool = False) -> Answer:
        """ReturnAnswer kwargs (value, unit, frame, stamp_ns, uncertainty) -> Answer, or AnswerMismatch."""
        try:
            return self._validate(raw, is_fallback)
        except AnswerMismatch:
            raise
        except (ArithmeticError, ValueError, TypeError, RecursionError) as exc:
            # whatever the value was, the model gets a reason, never an internal error
            raise AnswerMismatch(f"the answer could not be read ({type(exc).__name__}: "
                                 f"{_short(str(exc), 200)}); return a plain number, point, "
                                 "choice, bool, count or short text") from None

    def _validate(self, raw: dict[str, Any], is_fallback: bool) -> Answer:
        if not isinstance(raw, dict) or "value" not in raw:
            raise AnswerMismatch("call ReturnAnswer(value, ...) with the answer as its first argument")
        reason = cannot_answer_reason(raw)
        if reason is not None:
            raise CannotAnswer(reason)
        if raw.get("value") is None:
            raise AnswerMismatch("ReturnAnswer(None) means the question cannot be answered from these "
                                 "frames: say why with reason='...' (e.g. ReturnAnswer(None, "
                                 "reason='needs a depth model')), or give the answer")
        value = raw.get("value")
        unit = raw.get("unit")
        frame = raw.get("frame") or ""
        spec = self.spec
        t = spec.answer_type
        if t == AnswerType.AUTO:
            t = self._infer(value, unit, frame)
        ans = Answer(answer_type=t, text="", is_fallback=is_fallback)
        stamp = raw.get("stamp_ns")
        if stamp is not None:
            if isinstance(stamp, bool) or not isinstance(stamp, (int, np.integer)) or stamp < 0 \
                    or stamp >= 2 ** 63:
                raise AnswerMismatch(f"stamp_ns must be a non-negative int (nanoseconds), got "
                                     f"{_short(stamp)}; see Metadata['stamps_ns']")
            ans.stamp_ns = int(stamp)
        geometry = raw.get("geometry")
        if geometry is not None:
            if not isinstance(geometry, dict):
                raise AnswerMismatch("geometry must be a dict such as {'closest_points': [[x, y, z], "
                                     f"[x, y, z]], 'frame': ...}}, got {_short(geometry)}")
            _check_geometry(geometry, "", [0])
            ans.geometry = dict(geometry)
            ans.geometry.setdefault("frame", frame or spec.fixed_frame)
        unc = raw.get("uncertainty")
        unc_v = math.nan if unc is None else _finite_float(unc, "uncertainty")
        if unc_v < 0:
            raise AnswerMismatch("uncertainty must be >= 0")
        if t == AnswerType.NUMBER:
            number = _finite_float(value, "the answer")
            target_unit, factor = self._number_unit(unit)
            ans.number = number * factor
            if not math.isfinite(ans.number):
                raise AnswerMismatch(f"the answer {number:g} {unit} is out of range in "
                                     f"{target_unit or 'the base unit'}; return a finite number")
            ans.unit = target_unit
            ans.uncertainty = unc_v * factor
            ans.text = f"{ans.number:.4g} {ans.unit}".strip()
        elif t in (AnswerType.POINT, AnswerType.VECTOR):
            vec = _vec3(value, "the point" if t == AnswerType.POINT else "the vector")
            factor = 1.0
            if unit not in (None, ""):
                u = normalize_unit(unit)
                if UNITS.get(u, ("", 0))[0] != "length":
                    raise AnswerMismatch(f"a {t.value} is in a length unit (metres), got unit={unit!r}")
                factor = UNITS[u][1]
            vec = tuple(c * factor for c in vec)  # type: ignore[assignment]
            vec = self._to_fixed(vec, frame, ans.stamp_ns, is_point=t == AnswerType.POINT)
            ans.frame_id = spec.fixed_frame
            ans.unit = "m"
            ans.uncertainty = unc_v * factor
            if t == AnswerType.POINT:
                ans.point = vec
            else:
                ans.vector = vec
            ans.text = f"[{vec[0]:.3f}, {vec[1]:.3f}, {vec[2]:.3f}] m in {spec.fixed_frame}"
        elif t == AnswerType.CHOICE:
            ans.choice_index, ans.choice = _choice(value, spec.choices)
            ans.text = ans.choice
        elif t == AnswerType.BOOLEAN:
            ans.boolean = _bool(value)
            ans.text = "yes" if ans.boolean else "no"
        elif t == AnswerType.COUNT:
            ans.count = _count(value)
            ans.number = float(ans.count)
            ans.text = str(ans.count)
        else:  # TEXT
            if isinstance(value, (list, dict, tuple, np.ndarray)) or value is None:
                raise AnswerMismatch(f"this question expects a short text answer, got {_short(value)}")
            if isinstance(value, str) and len(value) > TEXT_MAX:
                raise AnswerMismatch(f"the text answer is {len(value)} characters long (at most "
                                     f"{TEXT_MAX}); answer briefly, print details instead")
            text = str(value).strip()
            if not text:
                raise AnswerMismatch("the text answer is empty")
            if len(text) > TEXT_MAX:
                raise AnswerMismatch(f"the text answer is {len(text)} characters long (at most "
                                     f"{TEXT_MAX}); answer briefly")
            ans.text = text
        return ans

    def _infer(self, value: Any, unit: Any, frame: Any) -> AnswerType:
        if self.spec.choices:
            return AnswerType.CHOICE
        if isinstance(value, (bool, np.bool_)):
            return AnswerType.BOOLEAN
        if isinstance(value, str):
            low = value.strip().lower()
            return AnswerType.BOOLEAN if low in ("yes", "no", "true", "false") else AnswerType.TEXT
        if isinstance(value, (list, tuple, np.ndarray)):
            return AnswerType.POINT if frame else AnswerType.VECTOR
        if isinstance(value, (int, np.integer)) and value >= 0 and not unit \
                and not self.spec.expected_kind:
            return AnswerType.COUNT
        return AnswerType.NUMBER

    def _number_unit(self, unit: Any) -> tuple[str, float]:
        """(unit of the returned Answer, factor from the model's unit to it)."""
        spec = self.spec
        kind = spec.expected_kind
        given = normalize_unit(unit)
        if not given:
            if kind:
                want = spec.asked_unit or CANONICAL[kind]
                raise AnswerMismatch(f"this question asks for a {kind}: give the unit, e.g. "
                                     f"ReturnAnswer(value, unit={want!r})")
            return "", 1.0
        if given not in UNITS:
            if kind:
                raise AnswerMismatch(f"unknown unit {unit!r}; use one of "
                                     f"{sorted(k for k, (kd, _) in UNITS.items() if kd == kind)[:8]}")
            return given, 1.0
        g_kind, g_factor = UNITS[given]
        if kind and g_kind != kind:
            raise AnswerMismatch(f"this question asks for a {kind}, but unit={unit!r} is a {g_kind}")
        target = spec.asked_unit if spec.asked_unit and UNITS[spec.asked_unit][0] == g_kind \
            else CANONICAL[g_kind]
        return target, g_factor / UNITS[target][1]

    def _to_fixed(self, vec: tuple[float, float, float], frame: str, stamp_ns: int,
                  *, is_point: bool) -> tuple[float, float, float]:
        spec = self.spec
        if not frame:
            raise AnswerMismatch(f"say which frame the coordinates are in: frame={spec.fixed_frame!r} "
                                 "(the fixed frame, Metadata['fixed_frame'])")
        if frame == spec.fixed_frame:
            return vec
        idx = [i for i, f in enumerate(spec.camera_frames) if f == frame]
        if stamp_ns:
            idx = [i for i in idx if i < len(spec.stamps_ns) and spec.stamps_ns[i] == stamp_ns]
        poses = [spec.poses[i] for i in idx if i < len(spec.poses) and spec.poses[i] is not None]
        if not idx:
            raise AnswerMismatch(f"frame {frame!r} is unknown; give the answer in the fixed frame "
                                 f"{spec.fixed_frame!r}")
        if not poses:
            raise AnswerMismatch(f"frame {frame!r} has no pose in {spec.fixed_frame!r} for this "
                                 f"query; answer in {spec.fixed_frame!r} or the camera frame cannot "
                                 "be converted")
        distinct = {np.asarray(p).tobytes() for p in poses}
        if len(distinct) != 1:
            raise AnswerMismatch(
                f"frame {frame!r} moves between keyframes: convert to the fixed frame "
                f"{spec.fixed_frame!r} with the keyframe's pose (Reconstruct(...).T_fixed_camera), or "
                "pass stamp_ns= of the keyframe the coordinates come from")
        T = np.asarray(poses[0], dtype=np.float64)
        v = np.asarray(vec, dtype=np.float64)
        out = T[:3, :3] @ v + (T[:3, 3] if is_point else 0.0)
        return float(out[0]), float(out[1]), float(out[2])


_JSON_OBJ = re.compile(r"\{[^{}]*\}", re.DOTALL)
_NUMBER_UNIT = re.compile(r"(-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)\s*([A-Za-z°²³/^0-9]*)")


def parse_text_answer(text: str, validator: AnswerValidator, *, is_fallback: bool = False) -> Answer:
    """Read a typed answer from a reply's text: a JSON object {"value", "unit", "frame"} preferred."""
    for m in reversed(list(_JSON_OBJ.finditer(text or ""))):
        try:
            obj = json.loads(m.group(0))
        except json.JSONDecodeError:
            continue
        if isinstance(obj, dict) and "value" in obj:
            return validator.validate(obj, is_fallback=is_fallback)
    spec = validator.spec
    body = (text or "").strip()
    said = _CANNOT_TEXT.match(body.splitlines()[-1].strip()) if body else None
    if said:
        raise CannotAnswer(said.group(1).strip()[:1000])
    if not body:
        raise AnswerMismatch('the reply is empty; answer with a JSON object {"value": ..., "unit": ...}')
    t = spec.answer_type
    last = body.splitlines()[-1].strip()
    if t == AnswerType.CHOICE or spec.choices:
        hits = [c for c in spec.choices if c.strip().lower() in body.lower()]
        if len(hits) == 1:
            return validator.validate({"value": hits[0]}, is_fallback=is_fallback)
    if t == AnswerType.BOOLEAN:
        words = re.findall(r"\b(yes|no|true|false)\b", last.lower()) or \
            re.findall(r"\b(yes|no|true|false)\b", body.lower())
        if words:
            return validator.validate({"value": words[-1]}, is_fallback=is_fallback)
    if t in (AnswerType.NUMBER, AnswerType.COUNT, AnswerType.AUTO):
        nums = list(_NUMBER_UNIT.finditer(last)) or list(_NUMBER_UNIT.finditer(body))
        if nums:
            m = nums[-1]
            unit = m.group(2) if normalize_unit(m.group(2)) in UNITS else None
            raw = {"value": float(m.group(1)) if t != AnswerType.COUNT else int(float(m.group(1)))}
            if unit:
                raw["unit"] = unit
            return validator.validate(raw, is_fallback=is_fallback)
    if t == AnswerType.TEXT:
        return validator.validate({"value": last}, is_fallback=is_fallback)
    raise AnswerMismatch('no answer found in the reply; answer with one JSON object like '
                         '{"value": ..., "unit": ..., "frame": ...}')
