"""One running query: its VLM conversation, kernel, budgets, progress and transcript.

The executors (executors.py) drive a :class:`QueryRun`; everything they share lives here: calling the
VLM with cancellation and the query deadline, running a cell with the static check first, checking
ReturnAnswer against the expected type, the ``vlm`` side-query handler and the stage timings.
"""
from __future__ import annotations

import dataclasses
import logging
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from spatialclaw_ros.agent.answers import AnswerMismatch, AnswerValidator, CannotAnswer
from spatialclaw_ros.agent.feedback import ImageBudget, field_of
from spatialclaw_ros.agent.types import Answer, Phase, QueryRequest, StepProgress
from spatialclaw_ros.agent.transcript import Transcript
from spatialclaw_ros.config import Config
from spatialclaw_ros.errors import (KernelDiedError, KernelProtocolError, QueryCanceledError,
                                    QueryTimeoutError, SpatialClawError, VlmError)
from spatialclaw_ros.frames.types import Frame
from spatialclaw_ros.secrecy import Redactor
from spatialclaw_ros.vlm.client import ChatReply, VlmClient, VlmUsage
from spatialclaw_ros.vlm.conversation import Conversation, jpeg_data_url

log = logging.getLogger(__name__)

VLM_IMAGE_MAX_PIXELS = 4096 * 4096     # one image the kernel hands to vlm(): checked before encoding
VLM_PROMPT_MAX = 32 * 1024
_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[ \t]*\n(.*?)```", re.DOTALL)


def extract_code(text: str) -> tuple[str, str]:
    """(purpose, code of the last ```python block); code is "" when the reply has none."""
    text = text or ""
    blocks = [m for m in _FENCE.finditer(text) if m.group(1).lower() in ("python", "py", "python3", "")]
    if not blocks:
        return text.strip()[:300], ""
    purpose = text[:blocks[0].start()].strip() or text[blocks[-1].end():].strip()
    return purpose[:300], blocks[-1].group(2).strip("\n")


@dataclass
class Outcome:
    """What an executor produced: an answer, or an error; steps used and notes either way."""

    answer: Answer | None = None
    error: SpatialClawError | None = None
    steps_used: int = 0
    notes: list[str] = field(default_factory=list)


@dataclass
class CellOutcome:
    """A cell's result plus the validated answer or why it was rejected."""

    result: Any                      # kernel CellResult, or None when the static check refused the code
    problems: list[str] = field(default_factory=list)
    answer: Answer | None = None
    answer_error: str = ""
    cannot_answer: str | None = None     # ReturnAnswer(None, reason=...): the model's reason


class QueryRun:
    """State of one query shared by the executors."""

    def __init__(self, request: QueryRequest, frames: list[Frame], cfg: Config, *,
                 metadata: dict[str, Any], validator: AnswerValidator, max_steps: int,
                 deadline: float, cancel: threading.Event, transcript: Transcript,
                 vlm: VlmClient | None, on_progress: Callable[[StepProgress], None] | None) -> None:
        self.request = request
        self.frames = frames
        self.cfg = cfg
        self.metadata = metadata
        self.validator = validator
        self.max_steps = max_steps
        self.deadline = deadline
        self.cancel = cancel
        self.transcript = transcript
        self.session: Any = None
        self._vlm = vlm
        self._owns_vlm = vlm is None
        self._usage0 = dataclasses.replace(vlm.usage) if vlm is not None else None
        self.on_progress = on_progress
        self.t0 = time.monotonic()
        self.budget = ImageBudget(cfg.vlm.max_images_per_step, cfg.vlm.max_images_per_query,
                                  cfg.vlm.image_max_side)
        self.kernel_s = 0.0
        self.parent_s = 0.0          # time spent in parent handlers during cells
        self.perception_s = 0.0
        self.side_queries = 0
        self.steps_reached = 0       # highest step reported (steps_used when the loop is cut off)
        self.notes: list[str] = []
        self.handler_errors: list[SpatialClawError] = []   # typed errors of parent handlers
        self._vlm_lock = threading.Lock()
        # what reaches the kernel (handler errors) never carries the VLM's credentials
        self.redact = Redactor.for_vlm(cfg.vlm.base_url, cfg.vlm.api_key_env)

    # -- basics --------------------------------------------------------------------------------
    @property
    def vlm(self) -> VlmClient:
        """The query's VLM client (made on first use, so a given program needs no server)."""
        with self._vlm_lock:
            if self._vlm is None:
                self._vlm = VlmClient(self.cfg.vlm)
            return self._vlm

    @property
    def vlm_used(self) -> bool:
        """Whether the VLM client was made (or given)."""
        return self._vlm is not None

    def vlm_usage(self) -> VlmUsage:
        """VLM calls, tokens and seconds of this query (a shared client's earlier use excluded)."""
        if self._vlm is None:
            return VlmUsage()
        u, u0 = self._vlm.usage, self._usage0 or VlmUsage()
        return VlmUsage(calls=u.calls - u0.calls, prompt_tokens=u.prompt_tokens - u0.prompt_tokens,
                        completion_tokens=u.completion_tokens - u0.completion_tokens,
                        seconds=u.seconds - u0.seconds)

    def close(self) -> None:
        """Close what the run made itself."""
        if self._owns_vlm and self._vlm is not None:
            self._vlm.close()

    def elapsed(self) -> float:
        """Seconds since the query started."""
        return time.monotonic() - self.t0

    def check_stop(self) -> None:
        """Raise when the query was canceled or ran past its deadline."""
        if self.cancel.is_set():
            raise QueryCanceledError("the query was canceled")
        if time.monotonic() > self.deadline:
            raise QueryTimeoutError(self.timeout_message())

    def timeout_message(self) -> str:
        """What a timeout result says."""
        limit = self.request.timeout_s or self.cfg.agent.query_timeout_s
        return (f"the query ran past its {limit:.0f} s limit (raise timeout_s in the request or "
                "agent.query_timeout_s)")

    def progress(self, step: int, phase: Phase, *, purpose: str = "", code: str = "",
                 output: str = "") -> None:
        """Report progress to the caller (errors in the callback are logged, not raised)."""
        self.steps_reached = max(self.steps_reached, int(step))
        if self.on_progress is None:
            return
        try:
            self.on_progress(StepProgress(step=step, max_steps=self.max_steps, phase=phase,
                                          purpose=purpose[:200], code_excerpt=code[:400],
                                          output_excerpt=output[:400], elapsed_s=self.elapsed()))
        except Exception:  # noqa: BLE001 - a progress sink must not break the query
            log.exception("progress callback failed")

    # -- conversation --------------------------------------------------------------------------
    def say(self, conv: Conversation, role: str, text: str, image_urls: list[str] | None = None,
            titles: list[str] | None = None, **meta: Any) -> None:
        """Append a message to the conversation and the transcript."""
        if role == "system":
            conv.add_system(text)
        elif role == "user":
            conv.add_user(text, image_urls)
        else:
            raise ValueError(role)
        self.transcript.message(role, text, image_urls, titles, **meta)

    def input_images(self, count: int) -> tuple[list[str], list[str]]:
        """Data URLs and titles of the first ``count`` keyframes."""
        urls, titles = [], []
        t0 = self.frames[0].stamp_ns if self.frames else 0
        several = len({getattr(f, "camera_name", "camera") for f in self.frames}) > 1
        for i, f in enumerate(self.frames[:count]):
            urls.append(jpeg_data_url(f.rgb, self.cfg.vlm.image_max_side))
            titles.append(f"InputImages[{i}] t={(f.stamp_ns - t0) * 1e-9:.2f}s"
                          + (f" camera {f.camera_name}" if several else ""))
        self.budget.sent += len(urls)
        return urls, titles

    def initial_image_count(self) -> int:
        """Keyframes attached to the first step: room in the query budget minus one step's worth."""
        per_q, per_s = self.cfg.vlm.max_images_per_query, self.cfg.vlm.max_images_per_step
        if per_q <= 0:
            return 0
        return min(len(self.frames), max(1, per_q - per_s))

    def chat(self, conv: Conversation, *, step: int, phase: Phase,
             tools: list[dict[str, Any]] | None = None, tool_choice: Any = None,
             stream_progress: bool = False) -> ChatReply:
        """One VLM call under the query's cancel event and deadline; the reply is transcribed."""
        self.check_stop()
        self.progress(step, phase)
        on_delta = None
        if stream_progress and self.on_progress is not None:
            buf: list[str] = []
            last = [0.0]

            def on_delta(piece: str) -> None:
                buf.append(piece)
                now = time.monotonic()
                if now - last[0] > 0.25:
                    last[0] = now
                    self.progress(step, Phase.GENERATING, code="".join(buf)[-400:])
        reply = self.vlm.chat(conv, tools=tools, tool_choice=tool_choice, cancel=self.cancel,
                              deadline=self.deadline, stream=on_delta is not None, on_delta=on_delta)
        conv.add_assistant(reply.text, reply.tool_calls or None)
        self.transcript.message("assistant", reply.text, step=step, phase=phase.value,
                                duration_s=reply.duration_s, prompt_tokens=reply.prompt_tokens,
                                completion_tokens=reply.completion_tokens,
                                finish_reason=reply.finish_reason, tool_calls=reply.tool_calls,
                                images_in_request=conv.image_count())
        if reply.trimmed:
            self.notes.append(f"conversation trimmed {reply.trimmed}x to fit the model's context")
        return reply

    # -- kernel --------------------------------------------------------------------------------
    def run_cell(self, code: str, step: int) -> CellOutcome:
        """Static check, then run the code in the kernel; validate ReturnAnswer if it was called."""
        from spatialclaw_ros.kernel import check_code

        self.check_stop()
        self.progress(step, Phase.CHECKING, code=code)
        problems = list(check_code(code))
        if problems:
            self.transcript.add("cell", step=step, code=code, problems=problems, duration_s=0.0)
            return CellOutcome(result=None, problems=problems)
        self.progress(step, Phase.EXECUTING, code=code)
        # the code goes to the transcript (flushed) before it runs: whatever ends the query (an
        # error, a cancel, a killed process), the audit trail has the cell
        self.transcript.add("cell_start", step=step, code=code)
        remaining = self.deadline - time.monotonic()
        timeout = max(0.5, min(self.cfg.agent.cell_timeout_s, remaining))
        stop_watch = threading.Event()

        def watch() -> None:
            while not stop_watch.wait(0.05):
                if self.cancel.is_set() or time.monotonic() > self.deadline:
                    try:
                        self.session.cancel()
                    except Exception:  # noqa: BLE001 - best effort
                        log.debug("session.cancel failed", exc_info=True)
                    return

        watcher = threading.Thread(target=watch, name="cell-watch", daemon=True)
        watcher.start()
        parent_before = self.parent_s
        try:
            res = self.session.run_cell(code, timeout)
        except SpatialClawError as exc:
            self.transcript.add("cell", step=step, code=code, error=exc.message,
                                ended_by=exc.code.name)
            raise
        except Exception as exc:  # noqa: BLE001 - the kernel layer failed: the query cannot go on
            self.transcript.add("cell", step=step, code=code, error=f"{type(exc).__name__}: {exc}",
                                ended_by="INTERNAL")
            raise KernelDiedError(f"the kernel failed and could not be restored: {exc}") from exc
        finally:
            stop_watch.set()
            watcher.join()
        duration = float(field_of(res, "duration_s", 0.0) or 0.0)
        self.kernel_s += max(0.0, duration - (self.parent_s - parent_before))
        out = CellOutcome(result=res)
        raw = field_of(res, "answer")
        if raw:
            try:
                out.answer = self.validator.validate(dict(raw))
            except CannotAnswer as exc:
                out.cannot_answer = exc.reason
            except AnswerMismatch as exc:
                out.answer_error = (f"ReturnAnswer({_short_kwargs(raw)}) was rejected: {exc}. The query "
                                    "is not finished; call ReturnAnswer again with a valid value.")
        self._transcribe_cell(step, code, res, out)     # before anything may end the query
        if field_of(res, "protocol_violation"):
            raise KernelProtocolError(field_of(res, "error", "") or "protocol violation by the kernel")
        self.check_stop()
        if field_of(res, "crashed") and not field_of(res, "restored") and _dead(self.session):
            raise KernelDiedError("the kernel died and could not be restored: "
                                  + (field_of(res, "error", "") or "no details")[:500])
        return out

    def _transcribe_cell(self, step: int, code: str, res: Any, out: CellOutcome) -> None:
        from spatialclaw_ros.agent.feedback import describe_variables

        ids = []
        for img in field_of(res, "images", None) or []:
            data = field_of(img, "jpeg", None) or field_of(img, "data", None)
            if data:
                try:    # the kernel's images were checked by header (JPEG, <= 1024 px): kept as sent
                    url = jpeg_data_url(data, 100000)
                except (ValueError, OSError) as exc:
                    self.transcript.add("note", text=f"step {step}: a shown image was not stored: {exc}")
                    continue
                ids.append(self.transcript.image(url, field_of(img, "title", "") or ""))
        self.transcript.add("cell", step=step, code=code, stdout=field_of(res, "stdout", ""),
                            stderr=field_of(res, "stderr", ""), error=field_of(res, "error", ""),
                            variables=describe_variables(field_of(res, "variables", None)),
                            images=ids, duration_s=field_of(res, "duration_s", 0.0),
                            timed_out=bool(field_of(res, "timed_out")), crashed=bool(field_of(res, "crashed")),
                            canceled=bool(field_of(res, "canceled")),
                            protocol_violation=bool(field_of(res, "protocol_violation")),
                            restored=list(field_of(res, "restored", None) or []),
                            answer=field_of(res, "answer"))
        if out.answer is not None:
            self.transcript.add("answer", step=step, text=out.answer.text, answer=out.answer.to_dict())
        elif out.cannot_answer is not None:
            self.transcript.add("answer", step=step, text=f"cannot answer: {out.cannot_answer}",
                                answer=None)
        elif out.answer_error:
            self.transcript.add("rejected", step=step, text=out.answer_error)

    # -- parent handlers -----------------------------------------------------------------------
    def wrap_handler(self, name: str, fn: Callable[[dict], Any]) -> Callable[[dict], Any]:
        """Time a parent handler (perception.* count as perception time) and stop on cancel."""
        def handler(payload: dict) -> Any:
            self.check_stop()
            t = time.monotonic()
            try:
                return fn(payload)
            except Exception as exc:
                if isinstance(exc, SpatialClawError):
                    self.handler_errors.append(exc)
                text = str(exc)
                clean = self.redact(text)
                if clean != text:        # the error goes back to the kernel: no credentials
                    raise RuntimeError(clean) from None
                raise
            finally:
                dt = time.monotonic() - t
                self.parent_s += dt
                if name.startswith("perception"):
                    self.perception_s += dt
        return handler

    def vlm_side_query(self, payload: dict) -> dict[str, Any]:
        """The ``vlm`` handler: a side question from the kernel, counted in the query's VLM usage."""
        if not isinstance(payload, dict) or not isinstance(payload.get("prompt"), str) \
                or not payload["prompt"].strip():
            raise ValueError("vlm(prompt, images=None): prompt must be a non-empty str")
        if len(payload["prompt"]) > VLM_PROMPT_MAX:
            raise ValueError(f"vlm(): the prompt is {len(payload['prompt'])} characters (at most "
                             f"{VLM_PROMPT_MAX}); ask a short question")
        max_side_queries = max(1, 2 * self.max_steps)
        if self.side_queries >= max_side_queries:
            raise RuntimeError(f"vlm() side-query budget used up ({max_side_queries} per query)")
        self.side_queries += 1
        images = payload.get("images") or []
        if not isinstance(images, list):
            raise ValueError("vlm(prompt, images=None): images must be a list of RGB arrays")
        cap = max(0, min(self.cfg.vlm.max_images_per_step, self.cfg.vlm.max_images_per_query))
        if len(images) > cap:
            raise ValueError(f"vlm() takes at most {cap} images per call (vlm.max_images_per_step)")
        for i, img in enumerate(images):     # checked before any copy or encode
            shape = getattr(img, "shape", None)
            if getattr(img, "dtype", None) != np.uint8 or shape is None or len(shape) != 3 \
                    or shape[2] != 3 or shape[0] * shape[1] > VLM_IMAGE_MAX_PIXELS or 0 in shape:
                raise ValueError(f"vlm(): images[{i}] must be an (H, W, 3) uint8 RGB array of at most "
                                 f"{VLM_IMAGE_MAX_PIXELS} pixels, got {shape} "
                                 f"{getattr(img, 'dtype', type(img).__name__)}")
        urls = [jpeg_data_url(img, self.cfg.vlm.image_max_side) for img in images]
        conv = Conversation()
        conv.add_system("Answer the question about the image(s) briefly and precisely.")
        conv.add_user(payload["prompt"], urls)
        self.transcript.message("user", payload["prompt"], urls, phase="vlm side query")
        try:
            reply = self.vlm.chat(conv, cancel=self.cancel, deadline=self.deadline)
        except VlmError as exc:
            raise RuntimeError(f"vlm() failed: {exc.message}") from None
        self.transcript.message("assistant", reply.text, phase="vlm side query",
                                duration_s=reply.duration_s, prompt_tokens=reply.prompt_tokens,
                                completion_tokens=reply.completion_tokens)
        # the size each image was sent at (grounding boxes come back in those pixels)
        return {"text": reply.text, "sent_sizes": [_sent_size(img, self.cfg.vlm.image_max_side)
                                                   for img in images]}


def unanswered_error(run: "QueryRun", default: SpatialClawError) -> SpatialClawError:
    """The error of a query that ended without an answer: a missing model wins over ``default``.

    A tool that failed because a perception model is not set up (ModelUnavailableError) is the
    real reason, with what to install; a program's or the step budget's failure only follows it.
    """
    from spatialclaw_ros.errors import ErrorCode

    for exc in run.handler_errors:
        if exc.code == ErrorCode.MODEL_UNAVAILABLE:
            return type(exc)(f"{exc.message} ({default.message[:300]})")
    return default


def _sent_size(img: Any, max_side: int) -> list[int]:
    """(width, height) of an image after jpeg_data_url's downscaling to ``max_side``."""
    import numpy as np

    h, w = np.asarray(img).shape[:2]
    if max(w, h) > max_side > 0:
        s = max_side / max(w, h)
        return [max(1, round(w * s)), max(1, round(h * s))]
    return [int(w), int(h)]


def _dead(session: Any) -> bool:
    alive = getattr(session, "alive", None)
    if alive is None:
        return False
    return not (alive() if callable(alive) else alive)


def _short_kwargs(raw: Any) -> str:
    try:
        items = dict(raw)
    except (TypeError, ValueError):
        return repr(raw)[:120]
    parts = []
    for k, v in items.items():
        if v is None:
            continue
        r = repr(v.tolist() if hasattr(v, "tolist") else v)
        parts.append(r[:60] if k == "value" else f"{k}={r[:60]}")
    return ", ".join(parts)
