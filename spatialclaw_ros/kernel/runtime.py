"""Child-side runtime: the namespace helpers (show, vlm, ReturnAnswer) and running one cell.

Runs inside the sandboxed kernel process only. Nothing here trusts or protects the cell: the OS
sandbox does that. This module only turns a cell's effects into a tidy, bounded result.
"""
from __future__ import annotations

import ast
import io
import linecache
import reprlib
import sys
import time
import traceback
import types
from typing import Any, Callable

import numpy as np

STREAM_HEAD = 48 * 1024
STREAM_TAIL = 16 * 1024
MAX_IMAGES_PER_CELL = 8
IMAGE_MAX_SIDE = 1024
MAX_VARIABLES = 40
IMAGE_MAX_BYTES = 2 * 1024 * 1024     # one shown JPEG (the parent rejects larger ones)
NAME_MAX = 200                         # variable names, type names, image titles
ERROR_MAX = 32 * 1024                  # a cell's error text (exception messages can be huge)
ANSWER_MAX_CHARS = 64 * 1024           # ReturnAnswer's record as JSON text
ANSWER_MAX_CONTAINERS = 4096           # lists/dicts in it
ANSWER_MAX_DEPTH = 16
ANSWER_INT_DIGITS = 1000               # larger ints are refused here; smaller ones by the checker


class ParentCallError(RuntimeError):
    """A call to the parent (VLM, perception) failed; the message says why."""


class _Capture(io.TextIOBase):
    """A text stream keeping the first and last part of what is written, counting the rest."""

    def __init__(self) -> None:
        self.head: list[str] = []
        self.head_len = 0
        self.tail: list[str] = []
        self.tail_len = 0
        self.dropped = 0

    def writable(self) -> bool:
        return True

    def write(self, s: str) -> int:  # noqa: D401 - io API
        if not isinstance(s, str):
            raise TypeError(f"write() argument must be str, not {type(s).__name__}")
        n = len(s)
        room = STREAM_HEAD - self.head_len
        if room > 0:
            part = s[:room]
            self.head.append(part)
            self.head_len += len(part)
            s = s[room:] if len(s) > room else ""
        if s:
            if len(s) >= STREAM_TAIL:
                self.dropped += self.tail_len + len(s) - STREAM_TAIL
                self.tail, self.tail_len = [s[-STREAM_TAIL:]], STREAM_TAIL
            else:
                self.tail.append(s)
                self.tail_len += len(s)
                if self.tail_len > 2 * STREAM_TAIL:      # trim now and then, not on every write
                    joined = "".join(self.tail)
                    self.dropped += len(joined) - STREAM_TAIL
                    self.tail, self.tail_len = [joined[-STREAM_TAIL:]], STREAM_TAIL
        return n

    def getvalue(self) -> str:
        text = "".join(self.head)
        tail = "".join(self.tail)
        if len(tail) > STREAM_TAIL:
            self.dropped += len(tail) - STREAM_TAIL
            tail = tail[-STREAM_TAIL:]
        if self.dropped:
            text += f"\n[... {self.dropped} characters of output dropped ...]\n"
        return text + tail


def short_repr(value: Any, limit: int = 200) -> str:
    """A bounded repr that never raises."""
    try:
        if isinstance(value, np.generic):
            value = value.item()
        if isinstance(value, np.ndarray):
            if value.size == 0:
                text = f"array([], shape={value.shape})"
            else:
                text = np.array2string(value, threshold=8, edgeitems=2, precision=4,
                                       max_line_width=100, separator=", ")
                if value.dtype.kind in "fiu" and value.size > 8:
                    finite = value[np.isfinite(value)] if value.dtype.kind == "f" else value
                    if finite.size:
                        text += f" (min {finite.min():.4g}, max {finite.max():.4g})"
        else:
            r = reprlib.Repr()
            r.maxstring = 120
            r.maxother = 120
            r.maxlist = r.maxtuple = r.maxdict = r.maxset = 8
            text = r.repr(value)
    except Exception as exc:  # noqa: BLE001 - a repr must never break the summary
        text = f"<repr failed: {type(exc).__name__}>"
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def summarize(name: str, value: Any) -> dict[str, Any]:
    """name, type, shape, dtype, short repr of one variable."""
    shape = dtype = None
    if isinstance(value, np.ndarray):
        shape, dtype = list(value.shape), str(value.dtype)
    elif hasattr(value, "shape") and hasattr(value, "dtype"):
        try:
            shape, dtype = [int(s) for s in value.shape], str(value.dtype)
        except Exception:  # noqa: BLE001
            shape = dtype = None
    if shape is not None and (len(shape) > 32 or not all(0 <= x < 2 ** 63 for x in shape)):
        shape = None
    return {"name": _cap(str(name), NAME_MAX), "type": _cap(type(value).__name__, NAME_MAX),
            "shape": shape, "dtype": None if dtype is None else _cap(dtype, NAME_MAX),
            "repr": short_repr(value)}


def _cap(text: str, limit: int) -> str:
    """text cut to limit characters, with a visible mark."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


class AnswerTooLarge(ValueError):
    """ReturnAnswer's value is too large or not finite (the message says what to return instead)."""


def to_jsonable(value: Any, path: str = "value", _budget: list[int] | None = None,
                _depth: int = 0) -> Any:
    """Numbers, str, bool, None, lists and str-keyed dicts; numpy becomes lists; else TypeError.

    Bounded for ReturnAnswer: at most ANSWER_MAX_CONTAINERS lists/dicts, ANSWER_MAX_DEPTH deep,
    finite floats, ints of at most ANSWER_INT_DIGITS digits (AnswerTooLarge otherwise).
    """
    budget = [ANSWER_MAX_CONTAINERS] if _budget is None else _budget
    if _depth > ANSWER_MAX_DEPTH:
        raise AnswerTooLarge(f"ReturnAnswer: {path} nests deeper than {ANSWER_MAX_DEPTH} levels; "
                             "return a flat value")
    if isinstance(value, np.generic):
        return to_jsonable(value.item(), path, budget, _depth)
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        if value.bit_length() > ANSWER_INT_DIGITS * 3.33:
            raise AnswerTooLarge(f"ReturnAnswer: {path} is an int of about "
                                 f"{int(value.bit_length() / 3.33)} digits; return a float or a "
                                 "meaningful number")
        return value
    if isinstance(value, float):
        if not np.isfinite(value):
            raise AnswerTooLarge(f"ReturnAnswer: {path} is {value} (not finite); check the mask or "
                                 "depth you computed it from and return a finite number")
        return value
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "biuf?":
            raise TypeError(f"ReturnAnswer: {path} is an array of {value.dtype}; give numbers")
        if value.size > ANSWER_MAX_CHARS // 2:
            raise AnswerTooLarge(f"ReturnAnswer: {path} is an array of {value.size} values; return "
                                 "the answer itself (a number, a point), not the data behind it")
        return to_jsonable(value.tolist(), path, budget, _depth)
    if isinstance(value, (list, tuple, dict)):
        budget[0] -= 1
        if budget[0] < 0:
            raise AnswerTooLarge(f"ReturnAnswer: the answer holds more than {ANSWER_MAX_CONTAINERS} "
                                 "lists/dicts; return the answer itself, not the data behind it")
    if isinstance(value, (list, tuple)):
        if len(value) > ANSWER_MAX_CHARS // 2:
            raise AnswerTooLarge(f"ReturnAnswer: {path} has {len(value)} items; return the answer "
                                 "itself (a number, a point), not the data behind it")
        return [to_jsonable(v, f"{path}[{i}]", budget, _depth + 1) for i, v in enumerate(value)]
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise TypeError(f"ReturnAnswer: {path} has a non-str key {k!r}")
            out[k] = to_jsonable(v, f"{path}[{k[:40]!r}]", budget, _depth + 1)
        return out
    if hasattr(value, "__array__"):  # e.g. tools' Point / Vector: array-like with a frame
        return to_jsonable(np.asarray(value), path, budget, _depth)
    raise TypeError(f"ReturnAnswer: {path} is a {type(value).__name__}; give a number, str, bool, "
                    "list or numpy array")


def check_answer_size(ans: dict[str, Any]) -> None:
    """AnswerTooLarge when the record is over ANSWER_MAX_CHARS of JSON (e.g. 'A' * 10**8)."""
    import json

    for v in ans.values():              # cheap first look at long strings, before dumping them
        if isinstance(v, str) and len(v) > ANSWER_MAX_CHARS:
            raise AnswerTooLarge(f"ReturnAnswer: the answer is {len(v)} characters long (at most "
                                 f"{ANSWER_MAX_CHARS}); return a short answer, print details instead")
    size = len(json.dumps(ans))
    if size > ANSWER_MAX_CHARS:
        raise AnswerTooLarge(f"ReturnAnswer: the answer is {size} characters as JSON (at most "
                             f"{ANSWER_MAX_CHARS}); return a short answer, print details instead")


def encode_image(img: Any) -> tuple[bytes, int, int]:
    """JPEG bytes of an image array (RGB, gray, bool mask or float map), longest side <= 1024."""
    import cv2

    a = np.asarray(img)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] not in (3, 4)) or a.size == 0:
        raise ValueError(f"show(): expected an (H, W), (H, W, 3) or (H, W, 4) image, got shape {a.shape}")
    if a.dtype == bool:
        a = a.astype(np.uint8) * 255
    elif a.dtype != np.uint8:
        f = a.astype(np.float64)
        finite = np.isfinite(f)
        if not finite.any():
            f = np.zeros_like(f)
        else:
            lo, hi = float(f[finite].min()), float(f[finite].max())
            if a.dtype.kind == "f" and lo >= 0.0 and hi <= 1.0:
                lo, hi = 0.0, 1.0
            f = np.where(finite, (f - lo) / (hi - lo if hi > lo else 1.0), 0.0)
        a = (f * 255.0).round().astype(np.uint8)
    if a.ndim == 3:
        a = a[:, :, :3][:, :, ::-1]          # RGB -> BGR for OpenCV
    h, w = a.shape[:2]
    scale = IMAGE_MAX_SIDE / max(h, w)
    if scale < 1.0:
        a = cv2.resize(np.ascontiguousarray(a), (max(1, round(w * scale)), max(1, round(h * scale))),
                       interpolation=cv2.INTER_AREA)
    for quality in (85, 60, 30):
        ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(a), [cv2.IMWRITE_JPEG_QUALITY, quality])
        if not ok:
            raise ValueError("show(): JPEG encoding failed")
        if buf.size <= IMAGE_MAX_BYTES:
            return buf.tobytes(), a.shape[1], a.shape[0]
    raise ValueError(f"show(): the image is over {IMAGE_MAX_BYTES} bytes even as a JPEG of quality "
                     "30; show a smaller or smoother image")


class Runtime:
    """The kernel's namespace and the per-cell bookkeeping."""

    def __init__(self, call_parent: Callable[[str, dict], Any], memory_mb: int) -> None:
        self.call_parent = call_parent
        self.memory_mb = memory_mb
        import builtins

        self.ns: dict[str, Any] = {"__name__": "__kernel__", "__builtins__": builtins}
        self.images: list[dict[str, Any]] = []
        self.image_notes: list[str] = []
        self.answer: dict[str, Any] | None = None
        self.baseline: set[str] = set()

    # ------------------------------------------------------------------ namespace helpers
    def show(self, img: Any, title: str | None = None) -> None:
        """Show an image to the model (RGB, gray, bool mask or float map); titles help."""
        if len(self.images) >= MAX_IMAGES_PER_CELL:
            if not self.image_notes:
                self.image_notes.append(
                    f"show(): only {MAX_IMAGES_PER_CELL} images per cell are kept; later ones were dropped")
            return
        jpeg, w, h = encode_image(img)
        self.images.append({"jpeg": jpeg, "title": None if title is None else _cap(str(title), NAME_MAX),
                            "width": w, "height": h})

    def vlm(self, prompt: str, images: list[Any] | None = None) -> str:
        """Ask the vision-language model a side question about some images; returns its text."""
        if not isinstance(prompt, str) or not prompt.strip():
            raise ValueError("vlm(): prompt must be a non-empty str")
        imgs = []
        for i, img in enumerate(images or []):
            a = np.asarray(img)
            if a.ndim != 3 or a.shape[2] != 3 or a.dtype != np.uint8:
                raise ValueError(f"vlm(): images[{i}] must be an (H, W, 3) uint8 RGB array, "
                                 f"got shape {a.shape} dtype {a.dtype}")
            imgs.append(a)
        reply = self.call_parent("vlm", {"prompt": prompt, "images": imgs})
        if isinstance(reply, dict) and "text" in reply:
            return str(reply["text"])
        return str(reply)

    def return_answer(self, value: Any, unit: str | None = None, frame: str | None = None,
                      **extra: Any) -> None:
        """Record the final answer: value (number, point, vector, choice, bool, count or text), unit, frame."""
        if frame is None and isinstance(getattr(value, "frame", None), str):
            frame = value.frame  # a tools Point/Vector knows its frame and stamp
            if "stamp_ns" not in extra and isinstance(getattr(value, "stamp_ns", None), int):
                extra["stamp_ns"] = value.stamp_ns
        budget = [ANSWER_MAX_CONTAINERS]
        ans = {"value": to_jsonable(value, "value", budget),
               "unit": unit if unit is None else _cap(str(unit), NAME_MAX),
               "frame": frame if frame is None else _cap(str(frame), NAME_MAX)}
        for k, v in extra.items():
            ans[k] = to_jsonable(v, k, budget)
        check_answer_size(ans)
        self.answer = ans
        print("ReturnAnswer recorded:", short_repr(ans["value"], 120),
              *(x for x in (ans["unit"],) if x))

    def install(self, extra: dict[str, Any]) -> None:
        """Put the standard names in the namespace."""
        import cv2
        import scipy

        self.ns.update({"np": np, "scipy": scipy, "cv2": cv2, "show": self.show, "vlm": self.vlm,
                        "ReturnAnswer": self.return_answer,
                        # what tools use for GPU/VLM work; hidden from summaries, used by tests
                        "_call_parent": self.call_parent})
        self.ns.update(extra)
        self.baseline = set(self.ns)

    # ------------------------------------------------------------------ one cell
    def run(self, code: str, cell: int) -> dict[str, Any]:
        """Execute a cell; returns the result message fields."""
        self.images = []
        self.image_notes = []
        self.answer = None
        before = {k: id(v) for k, v in self.ns.items()}
        out, err = _Capture(), _Capture()
        old_out, old_err = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = out, err
        filename = f"<cell-{cell}>"
        linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)
        error = None
        t0 = time.perf_counter()
        try:
            tree = ast.parse(code, filename=filename, mode="exec")
            last = None
            if tree.body and isinstance(tree.body[-1], ast.Expr):
                last = ast.Expression(tree.body.pop().value)
            exec(compile(tree, filename, "exec"), self.ns)  # noqa: S102 - the kernel's purpose
            if last is not None:
                value = eval(compile(last, filename, "eval"), self.ns)  # noqa: S307
                if value is not None:
                    print(short_repr(value, 2000))
        except BaseException as exc:  # noqa: BLE001 - report everything the cell raised
            error = self._condense(exc, filename)
        finally:
            sys.stdout, sys.stderr = old_out, old_err
        duration = time.perf_counter() - t0
        for note in self.image_notes:
            err.write(note + "\n")
        variables = []
        for name, value in self.ns.items():
            if not isinstance(name, str) or name.startswith("_") or before.get(name) == id(value):
                continue
            if isinstance(value, types.ModuleType):
                continue
            if name in self.baseline and before.get(name) == id(value):
                continue
            variables.append(summarize(name, value))
            if len(variables) >= MAX_VARIABLES:
                break
        if error is not None and len(error) > ERROR_MAX:
            error = (error[: ERROR_MAX // 2] + f"\n[... {len(error) - ERROR_MAX} characters of the "
                     "error dropped ...]\n" + error[-ERROR_MAX // 2:])
        return {"ok": error is None, "stdout": out.getvalue(), "stderr": err.getvalue(),
                "error": error, "variables": variables, "images": self.images,
                "answer": self.answer, "duration_s": duration}

    def _condense(self, exc: BaseException, filename: str) -> str:
        if isinstance(exc, SyntaxError):
            return "".join(traceback.format_exception_only(type(exc), exc)).rstrip()
        lines = []
        for fs in traceback.extract_tb(exc.__traceback__):
            if fs.filename.startswith("<cell-"):
                src = (fs.line or "").strip()
                lines.append(f"  {fs.filename[1:-1].replace('-', ' ')}, line {fs.lineno}: {src}")
        head = "Traceback (cell lines only):\n" if lines else ""
        msg = "".join(traceback.format_exception_only(type(exc), exc)).rstrip()
        if isinstance(exc, MemoryError):
            msg += f"\n(the kernel may use at most {self.memory_mb} MB; work on smaller arrays)"
        elif isinstance(exc, SystemExit):
            msg = "SystemExit: exiting the kernel is not allowed; call ReturnAnswer(...) to finish"
        elif isinstance(exc, KeyboardInterrupt):
            msg = "KeyboardInterrupt: the cell was interrupted"
        elif isinstance(exc, PermissionError):
            msg += "\n(the sandbox allows no network, no files outside the scratch dir, no processes)"
        return head + "\n".join(lines) + ("\n" if lines else "") + msg
