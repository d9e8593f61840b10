"""What the parent accepts from the kernel: every field of every message checked, images by header.

The kernel runs model code that can write its own bytes to the channel socket, so a message from
it is hostile input. protocol.Channel bounds size, object count and depth before parsing; the
functions here check what was parsed (types, ranges, lengths, the request id) and raise
:class:`~spatialclaw_ros.kernel.protocol.ProtocolError` saying what was wrong. Images are checked
from their PNG/JPEG header (format, width, height, byte size) and never decoded here.
"""
from __future__ import annotations

import json
import math
import struct
from typing import Any

from spatialclaw_ros.kernel.protocol import ProtocolError
from spatialclaw_ros.kernel.runtime import IMAGE_MAX_SIDE, MAX_IMAGES_PER_CELL, MAX_VARIABLES

MAX_TEXT = 512 * 1024            # stdout, stderr, error (the runtime keeps 64 KiB of each)
MAX_NAME = 256                   # variable names, types, dtypes, image titles, handler names
MAX_REPR = 4096
MAX_DIMS = 32
IMAGE_MAX_BYTES = 2 * 1024 * 1024
ANSWER_MAX_CHARS = 256 * 1024    # the answer's JSON text
MAX_NOTES = 64
MAX_PARENT_CALLS = 10_000

RESULT_KEYS = {"op", "id", "ok", "stdout", "stderr", "error", "variables", "images", "answer",
               "duration_s", "parent_calls"}
CALL_KEYS = {"op", "id", "seq", "name", "payload"}
VARIABLE_KEYS = {"name", "type", "repr", "shape", "dtype"}
IMAGE_KEYS = {"jpeg", "title", "width", "height"}


def _fail(what: str) -> None:
    raise ProtocolError(what)


def _str(x: Any, what: str, limit: int, *, optional: bool = False) -> str | None:
    if x is None and optional:
        return None
    if type(x) is not str:
        _fail(f"{what} must be a str, got {type(x).__name__}")
    if len(x) > limit:
        _fail(f"{what} is too long ({len(x)} characters > {limit})")
    return x


def _int(x: Any, what: str, lo: int, hi: int) -> int:
    if type(x) is not int or not lo <= x <= hi:
        _fail(f"{what} must be an int in [{lo}, {hi}], got {_brief(x)}")
    return x


def _number(x: Any, what: str) -> float:
    """A finite float, or an int within +-2**53 (a huge int must not reach float())."""
    if type(x) is int and -2 ** 53 <= x <= 2 ** 53:
        return float(x)
    if type(x) is float and math.isfinite(x):
        return x
    _fail(f"{what} must be a finite number, got {_brief(x)}")
    raise AssertionError  # unreachable


def _brief(x: Any) -> str:
    if type(x) is int:
        return "an int with %d digits" % len(str(abs(x))) if abs(x) > 10 ** 18 else str(x)
    return type(x).__name__


def check_id(msg: dict[str, Any], want: int, what: str) -> None:
    """The message must carry the id of the request it answers."""
    if "id" not in msg:
        _fail(f"{what} without a request id (request {want} was pending)")
    got = msg["id"]
    if type(got) is not int or got != want:
        _fail(f"{what} for request {_brief(got)} while request {want} was pending")


def check_keys(msg: dict[str, Any], allowed: set[str], what: str) -> None:
    """No fields beyond the schema's."""
    extra = sorted(k for k in msg if k not in allowed)
    if extra:
        _fail(f"{what} has unknown field(s) {', '.join(repr(k[:40]) for k in extra[:5])}")


def image_size(data: bytes) -> tuple[str, int, int]:
    """("png" | "jpeg", width, height) read from the header alone; ProtocolError if neither."""
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        if len(data) < 24 or data[12:16] != b"IHDR":
            _fail("image: PNG without an IHDR header")
        w, h = struct.unpack(">II", data[16:24])
        return "png", w, h
    if data[:2] == b"\xff\xd8":
        i, n = 2, len(data)
        while i + 4 <= n:
            if data[i] != 0xFF:
                _fail("image: malformed JPEG marker")
            marker = data[i + 1]
            if marker == 0xFF:               # fill byte
                i += 1
                continue
            if marker in (0x01, 0xD8) or 0xD0 <= marker <= 0xD7:
                i += 2
                continue
            (length,) = struct.unpack(">H", data[i + 2:i + 4])
            if length < 2:
                _fail("image: malformed JPEG segment")
            if marker in (0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE,
                          0xCF):
                if i + 9 > n:
                    break
                h, w = struct.unpack(">HH", data[i + 5:i + 9])
                return "jpeg", w, h
            if marker in (0xDA, 0xD9):      # scan data or end before a frame header
                break
            i += 2 + length
        _fail("image: JPEG without a frame header")
    _fail("image: neither JPEG nor PNG")
    raise AssertionError  # unreachable


def check_image(im: Any, i: int) -> dict[str, Any]:
    """One shown image: bytes within IMAGE_MAX_BYTES, a header within IMAGE_MAX_SIDE, not decoded."""
    what = f"result images[{i}]"
    if type(im) is not dict:
        _fail(f"{what} must be an object, got {type(im).__name__}")
    check_keys(im, IMAGE_KEYS, what)
    data = im.get("jpeg")
    if type(data) is not bytes:
        _fail(f"{what}.jpeg must be bytes, got {type(data).__name__}")
    if len(data) > IMAGE_MAX_BYTES:
        _fail(f"{what} is {len(data)} bytes (> {IMAGE_MAX_BYTES})")
    fmt, w, h = image_size(data)
    if not (1 <= w <= IMAGE_MAX_SIDE and 1 <= h <= IMAGE_MAX_SIDE):
        _fail(f"{what} is a {w}x{h} {fmt.upper()} (each side must be 1..{IMAGE_MAX_SIDE}); "
              "it was not decoded")
    width = _int(im.get("width", w), f"{what}.width", 0, IMAGE_MAX_SIDE)
    height = _int(im.get("height", h), f"{what}.height", 0, IMAGE_MAX_SIDE)
    if (width, height) != (w, h):
        _fail(f"{what} says {width}x{height} but its header says {w}x{h}")
    return {"jpeg": data, "title": _str(im.get("title"), f"{what}.title", MAX_NAME, optional=True),
            "width": w, "height": h}


def check_variable(v: Any, i: int) -> dict[str, Any]:
    """One variable summary."""
    what = f"result variables[{i}]"
    if type(v) is not dict:
        _fail(f"{what} must be an object, got {type(v).__name__}")
    check_keys(v, VARIABLE_KEYS, what)
    shape = v.get("shape")
    if shape is not None:
        if type(shape) is not list or len(shape) > MAX_DIMS:
            _fail(f"{what}.shape must be a list of at most {MAX_DIMS} ints or null")
        shape = [_int(s, f"{what}.shape[{j}]", 0, 2 ** 63 - 1) for j, s in enumerate(shape)]
    return {"name": _str(v.get("name"), f"{what}.name", MAX_NAME),
            "type": _str(v.get("type"), f"{what}.type", MAX_NAME),
            "repr": _str(v.get("repr"), f"{what}.repr", MAX_REPR),
            "shape": shape, "dtype": _str(v.get("dtype"), f"{what}.dtype", MAX_NAME, optional=True)}


def _check_answer_value(x: Any, what: str) -> None:
    t = type(x)
    if x is None or t is bool or t is str or t is int:
        return
    if t is float:
        return                           # NaN/inf are the validator's to reject, with a reason
    if t is list:
        for j, v in enumerate(x):
            _check_answer_value(v, f"{what}[{j}]")
        return
    if t is dict:
        for k, v in x.items():
            _check_answer_value(v, f"{what}[{k[:40]!r}]")
        return
    _fail(f"{what} must be JSON data (numbers, str, lists, dicts), got {t.__name__}")


def check_answer(ans: Any) -> dict[str, Any] | None:
    """ReturnAnswer's record: a dict of JSON data, at most ANSWER_MAX_CHARS of JSON."""
    if ans is None:
        return None
    if type(ans) is not dict:
        _fail(f"result answer must be an object or null, got {type(ans).__name__}")
    _check_answer_value(ans, "result answer")
    try:
        size = len(json.dumps(ans))
    except ValueError as exc:            # e.g. an int beyond the str conversion limit
        _fail(f"result answer cannot be serialised: {exc}")
    if size > ANSWER_MAX_CHARS:
        _fail(f"result answer is {size} characters of JSON (> {ANSWER_MAX_CHARS})")
    return ans


def check_result(msg: dict[str, Any], rid: int) -> dict[str, Any]:
    """A cell's result message -> its checked fields (ok, stdout, stderr, error, variables,
    images, answer)."""
    check_id(msg, rid, "a result")
    check_keys(msg, RESULT_KEYS, "the result")
    ok = msg.get("ok")
    if type(ok) is not bool:
        _fail(f"result ok must be a bool, got {type(ok).__name__}")
    out: dict[str, Any] = {"ok": ok}
    for key in ("stdout", "stderr"):
        out[key] = _str(msg.get(key, ""), f"result {key}", MAX_TEXT)
    out["error"] = _str(msg.get("error"), "result error", MAX_TEXT, optional=True)
    variables = msg.get("variables", [])
    if type(variables) is not list or len(variables) > MAX_VARIABLES:
        _fail(f"result variables must be a list of at most {MAX_VARIABLES}, got "
              + (f"{len(variables)} items" if type(variables) is list else type(variables).__name__))
    out["variables"] = [check_variable(v, i) for i, v in enumerate(variables)]
    images = msg.get("images", [])
    if type(images) is not list:
        _fail(f"result images must be a list, got {type(images).__name__}")
    if len(images) > MAX_IMAGES_PER_CELL:
        _fail(f"result has {len(images)} images (at most {MAX_IMAGES_PER_CELL} per cell); none "
              "was decoded")
    out["images"] = [check_image(im, i) for i, im in enumerate(images)]
    out["answer"] = check_answer(msg.get("answer"))
    if _number(msg.get("duration_s", 0.0), "result duration_s") < 0:
        _fail("result duration_s must be >= 0")
    calls = msg.get("parent_calls", [])
    if type(calls) is not list or len(calls) > MAX_PARENT_CALLS:
        _fail("result parent_calls must be a short list")       # the parent keeps its own record
    return out


def check_call(msg: dict[str, Any], rid: int, seq: int) -> tuple[str, Any]:
    """A call_parent request: (handler name, payload); the payload's own checks are the handler's."""
    check_id(msg, rid, "a call")
    check_keys(msg, CALL_KEYS, "the call")
    got = msg.get("seq")
    if type(got) is not int or got != seq:
        _fail(f"call number {_brief(got) if type(got) is int else type(got).__name__} while "
              f"call {seq} was expected")
    name = _str(msg.get("name"), "call name", MAX_NAME)
    return name, msg.get("payload")


def check_init_ok(msg: dict[str, Any], rid: int) -> tuple[list[str], list[str], dict[str, Any]]:
    """The kernel's answer to init: (layers, notes, timings)."""
    check_id(msg, rid, "init_ok")
    lists = []
    for key in ("layers", "notes"):
        xs = msg.get(key, [])
        if type(xs) is not list or len(xs) > MAX_NOTES:
            _fail(f"init_ok {key} must be a list of at most {MAX_NOTES} str")
        lists.append([_str(x, f"init_ok {key}[{i}]", MAX_REPR) for i, x in enumerate(xs)])
    timings = msg.get("timings", {})
    if type(timings) is not dict or len(timings) > MAX_NOTES:
        _fail("init_ok timings must be an object of numbers")
    return lists[0], lists[1], {str(k)[:MAX_NAME]: _number(v, f"init_ok timings[{str(k)[:40]!r}]")
                                for k, v in timings.items()}
