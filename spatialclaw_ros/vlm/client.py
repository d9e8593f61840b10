"""OpenAI-compatible chat client (vLLM first): retries, cancellation, streaming, context trimming.

One :class:`VlmClient` per query (or per node). ``chat(conversation)`` sends the conversation and
returns a :class:`ChatReply`; every failure becomes a :mod:`spatialclaw_ros.errors` type with a
message saying what to do. The API key is read from the environment variable named by
``cfg.api_key_env`` and only ever given to the ``openai`` client (never to the kernel).
"""
from __future__ import annotations

import json
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import openai

from spatialclaw_ros.config import VlmConfig
from spatialclaw_ros.errors import (QueryCanceledError, QueryTimeoutError, SpatialClawError,
                                    VlmError, VlmUnreachableError)
from spatialclaw_ros.secrecy import Redactor, redact_url
from spatialclaw_ros.vlm.budget import (ContextBudget, budget_for_model, overflow_message,
                                         parse_limit_error, parse_models_list)
from spatialclaw_ros.vlm.conversation import Conversation

log = logging.getLogger(__name__)

MAX_LIMIT_RETRIES = 4      # re-fits after the server rejected a request for one of its limits


class VlmRequestError(VlmError):
    """The endpoint answered with an HTTP error (status, the server's message and ``param``)."""

    def __init__(self, message: str, *, status: int, param: str | None = None,
                 body: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.param = param
        self.body = body


class _BadBody(Exception):
    """HTTP 200 whose body is not an OpenAI JSON completion (a proxy's HTML page, a wrong URL)."""

    def __init__(self, body: Any) -> None:
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body)
        super().__init__(text[:200])
        self.preview = " ".join(text[:200].split())


class _StreamCut(Exception):
    """A streamed reply ended before its finish_reason (connection dropped mid-reply)."""


@dataclass
class ChatReply:
    """One completion: text and/or tool calls, why it stopped, and what it cost."""

    text: str
    finish_reason: str = "stop"
    tool_calls: list[dict[str, Any]] = field(default_factory=list)  # OpenAI form (id, function)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    duration_s: float = 0.0
    attempts: int = 1
    trimmed: int = 0          # how many notches the conversation was trimmed to fit the context

    @property
    def cut(self) -> bool:
        """The reply was cut by max_tokens (``finish_reason == "length"``): not a complete step."""
        return self.finish_reason == "length"


@dataclass
class VlmUsage:
    """Calls, tokens and seconds spent by one client (the query's VLM budget)."""

    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0


def unreachable_message(base_url: str, detail: str) -> str:
    """The message for a dead endpoint: what failed and what to start or set."""
    return (f"cannot reach the VLM endpoint {base_url} ({detail}). Start an OpenAI-compatible "
            "server there, e.g. `vllm serve <model> --host 127.0.0.1 --port 8000` (see "
            "scripts/install_vllm_cpu.sh for a CPU build), or point the agent at a running one "
            "with --vlm-url / SPATIALCLAW_VLM_URL / vlm.base_url.")


class VlmClient:
    """Chat completions against one OpenAI-compatible endpoint, with retries and cancellation."""

    def __init__(self, cfg: VlmConfig, *, backoff_s: float = 0.5, max_backoff_s: float = 8.0) -> None:
        self.cfg = cfg
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.usage = VlmUsage()
        self._model: str | None = cfg.model or None
        self._max_model_len: int | None = None
        self.budget: ContextBudget | None = None   # sized from /v1/models by resolve_model()
        self.extra_body = _parse_extra_body(getattr(cfg, "extra_body", ""))
        self._lock = threading.Lock()
        self._client: openai.OpenAI | None = None
        # the URL as shown in messages and logs, and a filter for its credentials and the API key:
        # errors from this client reach the kernel (vlm()), transcripts and the CLI's output
        self.shown_url = redact_url(cfg.base_url)
        self.redact = Redactor.for_vlm(cfg.base_url, cfg.api_key_env)

    # -- plumbing ------------------------------------------------------------------------------
    def _openai(self) -> openai.OpenAI:
        with self._lock:
            if self._client is None:
                key = os.environ.get(self.cfg.api_key_env, "") if self.cfg.api_key_env else ""
                self._client = openai.OpenAI(base_url=self.cfg.base_url, api_key=key or "EMPTY",
                                             timeout=self.cfg.timeout_s, max_retries=0)
            return self._client

    def close(self) -> None:
        """Close the HTTP connections (an in-flight call is abandoned)."""
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            try:
                client.close()
            except Exception:  # noqa: BLE001 - closing must not raise
                log.debug("closing the openai client failed", exc_info=True)

    def __enter__(self) -> "VlmClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, fn: Callable[[], Any], cancel: threading.Event | None,
              deadline: float | None) -> Any:
        """Run fn in a worker thread; give up (closing the connection) on cancel or deadline."""
        if cancel is None and deadline is None:
            return fn()
        box: dict[str, Any] = {}

        def target() -> None:
            try:
                box["result"] = fn()
            except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
                box["error"] = exc

        worker = threading.Thread(target=target, name="vlm-call", daemon=True)
        worker.start()
        while worker.is_alive():
            worker.join(0.02)
            if cancel is not None and cancel.is_set():
                self.close()
                raise QueryCanceledError("query canceled while waiting for the VLM")
            if deadline is not None and time.monotonic() > deadline:
                self.close()
                raise QueryTimeoutError("query timed out while waiting for the VLM")
        if "error" in box:
            raise box["error"]
        return box["result"]

    # -- models --------------------------------------------------------------------------------
    def list_models(self, *, cancel: threading.Event | None = None,
                    deadline: float | None = None) -> list[dict[str, Any]]:
        """The served models as dicts (``id``, and ``max_model_len`` where vLLM reports it)."""
        def fn() -> list[dict[str, Any]]:
            page = self._openai().models.list()
            return [m.model_dump() for m in page.data]

        return self._with_retries(fn, cancel=cancel, deadline=deadline, what="list models")

    def resolve_model(self, *, cancel: threading.Event | None = None,
                      deadline: float | None = None) -> str:
        """cfg.model, or the first model the server lists when it is ""; sizes ``self.budget``."""
        if self._model and self.budget is not None:
            return self._model
        try:
            served = parse_models_list({"data": self.list_models(cancel=cancel, deadline=deadline)})
        except VlmRequestError as exc:
            if not self._model:
                raise
            log.warning("cannot list the served models (%s); assuming %s", exc.message, self._model)
            served = []
        if not served and not self._model:
            raise VlmError(f"{self.shown_url}/models lists no model: set vlm.model / --model")
        chosen = next((m for m in served if m.id == self._model), None) if self._model else served[0]
        if served and chosen is None:   # some servers accept unlisted aliases: let a 404 decide
            log.warning("%s/models does not list %r (it lists %s)", self.shown_url, self._model,
                        ", ".join(m.id for m in served))
        self._model = chosen.id if chosen else self._model
        self._max_model_len = chosen.max_model_len if chosen else None
        self.budget = budget_for_model(self._max_model_len, max_tokens=self.cfg.max_tokens,
                                       max_images_per_query=self.cfg.max_images_per_query)
        for note in self.budget.notes:
            log.warning("VLM budget: %s", note)
        return self._model

    @property
    def max_model_len(self) -> int | None:
        """The served model's context length if /v1/models reported it (after resolve_model)."""
        return self._max_model_len

    # -- retries -------------------------------------------------------------------------------
    def _with_retries(self, fn: Callable[[], Any], *, cancel: threading.Event | None,
                      deadline: float | None, what: str) -> Any:
        try:
            return self._retrying(fn, cancel=cancel, deadline=deadline, what=what)
        except SpatialClawError as exc:
            exc.args = (self.redact(exc.message),) + exc.args[1:]
            raise

    def _retrying(self, fn: Callable[[], Any], *, cancel: threading.Event | None,
                  deadline: float | None, what: str) -> Any:
        attempts = max(1, int(self.cfg.retries) + 1)
        last: Exception | None = None
        for attempt in range(attempts):
            if attempt:
                delay = min(self.max_backoff_s, self.backoff_s * (2 ** (attempt - 1)))
                if deadline is not None:
                    delay = min(delay, max(0.0, deadline - time.monotonic()))
                if cancel is not None:
                    if cancel.wait(delay):
                        raise QueryCanceledError("query canceled while retrying the VLM")
                else:
                    time.sleep(delay)
                if deadline is not None and time.monotonic() > deadline:
                    raise QueryTimeoutError("query timed out while retrying the VLM")
            try:
                return self._call(fn, cancel, deadline)
            except openai.APITimeoutError as exc:
                last = exc
                log.warning("VLM %s timed out after %.0f s (attempt %d/%d)", what,
                            self.cfg.timeout_s, attempt + 1, attempts)
            except openai.APIConnectionError as exc:
                last = exc
                log.warning("VLM %s: cannot connect to %s (attempt %d/%d)", what,
                            self.shown_url, attempt + 1, attempts)
            except _BadBody as exc:
                last = exc
                log.warning("VLM %s: HTTP 200 but not JSON: %r (attempt %d/%d)", what,
                            exc.preview[:80], attempt + 1, attempts)
            except _StreamCut as exc:
                last = exc
                log.warning("VLM %s: %s (attempt %d/%d)", what, exc, attempt + 1, attempts)
            except openai.APIStatusError as exc:
                if exc.status_code == 429 or exc.status_code >= 500:
                    last = exc
                    log.warning("VLM %s: HTTP %d (attempt %d/%d)", what, exc.status_code,
                                attempt + 1, attempts)
                    continue
                raise _request_error(exc, self.shown_url) from None
        if isinstance(last, openai.APITimeoutError):
            raise VlmError(f"the VLM at {self.shown_url} did not answer within "
                           f"{self.cfg.timeout_s:.0f} s ({attempts} attempts); raise vlm.timeout_s "
                           "or check the server's load")
        if isinstance(last, openai.APIConnectionError):
            cause = last.__cause__ or last
            raise VlmUnreachableError(unreachable_message(self.shown_url, str(cause) or
                                                          type(cause).__name__))
        if isinstance(last, _BadBody):
            raise VlmError(
                f"the VLM at {self.shown_url} answered HTTP 200 with a body that is not an "
                f"OpenAI JSON completion ({attempts} attempts); it starts: {last.preview!r}. Check "
                "vlm.base_url (an OpenAI-compatible server, usually ending in /v1) and any proxy "
                "in between")
        if isinstance(last, _StreamCut):
            raise VlmError(f"the VLM at {self.shown_url} cut its streamed reply off ({last}; "
                           f"{attempts} attempts): check the server's log and any proxy timeouts")
        if isinstance(last, openai.APIStatusError):
            err = _request_error(last, self.shown_url)
            raise VlmRequestError(f"{err.message} (after {attempts} attempts)", status=err.status,
                                  param=err.param, body=err.body)
        raise VlmError(f"VLM {what} failed")  # pragma: no cover - attempts >= 1

    # -- chat ----------------------------------------------------------------------------------
    def chat(self, conversation: Conversation, *, tools: list[dict[str, Any]] | None = None,
             tool_choice: str | dict[str, Any] | None = None, max_tokens: int | None = None,
             temperature: float | None = None, stream: bool = False,
             on_delta: Callable[[str], None] | None = None,
             cancel: threading.Event | None = None, deadline: float | None = None) -> ChatReply:
        """Send the conversation; retry 429/5xx/connection errors; trim it if the context overflows.

        The conversation itself is not modified: trimming works on a copy (``reply.trimmed`` says
        how much). ``stream=True`` calls ``on_delta(text)`` for each piece as it arrives.
        """
        model = self.resolve_model(cancel=cancel, deadline=deadline)
        budget = self.budget or budget_for_model(None, max_tokens=self.cfg.max_tokens,
                                                 max_images_per_query=self.cfg.max_images_per_query)
        fitted = budget.fit(conversation.messages)   # a trimmed copy only when it does not fit
        trimmed = int(fitted.changed)
        refits = 0
        t0 = time.monotonic()
        while True:
            kwargs: dict[str, Any] = {
                "model": model, "messages": fitted.messages,
                "temperature": self.cfg.temperature if temperature is None else temperature,
                "max_tokens": budget.reply_tokens(max_tokens or self.cfg.max_tokens)}
            if tools:
                kwargs["tools"] = tools
                if tool_choice is not None:
                    kwargs["tool_choice"] = tool_choice
            if self.extra_body:
                kwargs["extra_body"] = self.extra_body
            try:
                if stream:
                    reply = self._with_retries(
                        lambda: self._stream(kwargs, on_delta, cancel), cancel=cancel,
                        deadline=deadline, what="chat")
                else:
                    reply = self._with_retries(
                        lambda: _to_reply(_json_call(
                            lambda: self._openai().chat.completions.create(**kwargs))),
                        cancel=cancel, deadline=deadline, what="chat")
                break
            except VlmRequestError as exc:
                error = self._limit_error(exc, budget, fitted, refits)
                if error is not None:
                    raise error from None
                refits += 1
                fitted = budget.fit(conversation.messages)
                trimmed += int(fitted.changed)
                log.warning("VLM limit (%s): re-fitted the conversation, retry %d", exc.param, refits)
        if reply.prompt_tokens:
            budget.calibrate(fitted.messages, reply.prompt_tokens)
        reply.duration_s = time.monotonic() - t0
        reply.trimmed = trimmed
        self.usage.calls += 1
        self.usage.prompt_tokens += reply.prompt_tokens
        self.usage.completion_tokens += reply.completion_tokens
        self.usage.seconds += reply.duration_s
        return reply

    def _limit_error(self, exc: VlmRequestError, budget: ContextBudget, fitted: Any,
                     refits: int) -> VlmRequestError | None:
        """None when the budget learned from a limit error and a re-fit is worth a retry; else
        the error to raise (unknown models list what the server serves)."""
        if exc.status == 404:
            try:
                served = [m["id"] for m in self.list_models()]
            except VlmError:
                served = []
            if served:
                return VlmRequestError(f"{exc.message}; the server serves: {', '.join(served)} (set "
                                       "vlm.model / --model to one of them)", status=404,
                                       param=exc.param, body=exc.body)
            return exc
        if exc.status != 400:
            return exc
        inner = exc.body.get("error", exc.body) if isinstance(exc.body, dict) else {}
        limit = parse_limit_error(exc.param, str(inner.get("message") or exc.message)
                                  if isinstance(inner, dict) else exc.message)
        if not limit.param:
            return exc
        if refits < MAX_LIMIT_RETRIES and budget.absorb_limit_error(fitted.messages, limit):
            return None
        if limit.param == "input_tokens":
            return VlmRequestError(overflow_message(budget, budget.fit(fitted.messages), limit),
                                   status=400, param=limit.param, body=exc.body)
        return exc

    def _stream(self, kwargs: dict[str, Any], on_delta: Callable[[str], None] | None,
                cancel: threading.Event | None) -> ChatReply:
        stream = _json_call(lambda: self._openai().chat.completions.create(
            **kwargs, stream=True, stream_options={"include_usage": True}))
        if isinstance(stream, (str, bytes)):
            raise _BadBody(stream)
        text: list[str] = []
        calls: dict[int, dict[str, Any]] = {}
        finish: str | None = None
        prompt = completion = 0
        try:
            for chunk in _cut_on_error(stream):
                if isinstance(chunk, (str, bytes)):
                    raise _BadBody(chunk)
                if cancel is not None and cancel.is_set():
                    break
                if chunk.usage is not None:
                    prompt = chunk.usage.prompt_tokens or 0
                    completion = chunk.usage.completion_tokens or 0
                for choice in chunk.choices or []:
                    delta = choice.delta
                    if delta is not None and delta.content:
                        text.append(delta.content)
                        if on_delta is not None:
                            on_delta(delta.content)
                    for tc in (delta.tool_calls or []) if delta is not None else []:
                        slot = calls.setdefault(tc.index, {"id": "", "type": "function",
                                                           "function": {"name": "", "arguments": ""}})
                        if tc.id:
                            slot["id"] = tc.id
                        if tc.function is not None:
                            slot["function"]["name"] += tc.function.name or ""
                            slot["function"]["arguments"] += tc.function.arguments or ""
                    if choice.finish_reason:
                        finish = choice.finish_reason
        finally:
            stream.close()
        if finish is None:
            if cancel is not None and cancel.is_set():
                finish = "stop"
            else:
                raise _StreamCut(f"the stream ended without a finish_reason after "
                                 f"{len(''.join(text))} characters")
        return ChatReply(text="".join(text), finish_reason=finish,
                         tool_calls=[calls[i] for i in sorted(calls)], prompt_tokens=prompt,
                         completion_tokens=completion)


def _parse_extra_body(text: str) -> dict[str, Any]:
    """vlm.extra_body: "" or a JSON object (VlmError saying what is wrong otherwise)."""
    if not text or not text.strip():
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise VlmError(f"vlm.extra_body is not valid JSON ({exc}): {text[:200]!r}") from None
    if not isinstance(value, dict):
        raise VlmError(f"vlm.extra_body must be a JSON object, got {type(value).__name__}")
    return value


def _json_call(fn: Callable[[], Any]) -> Any:
    """fn(), with a body that is not JSON turned into _BadBody (retried like a 5xx)."""
    try:
        resp = fn()
    except json.JSONDecodeError as exc:
        raise _BadBody(exc.doc) from None
    if isinstance(resp, (str, bytes)):       # openai returns the text of a non-JSON content type
        raise _BadBody(resp)
    return resp


def _cut_on_error(stream: Any) -> Any:
    """Iterate a stream; a dropped connection or a broken event becomes _StreamCut."""
    it = iter(stream)
    while True:
        try:
            chunk = next(it)
        except StopIteration:
            return
        except json.JSONDecodeError as exc:
            raise _BadBody(exc.doc) from None
        except (openai.APIStatusError, openai.APITimeoutError):
            raise
        except Exception as exc:  # noqa: BLE001 - httpx/openai read errors mid-stream
            mod = type(exc).__module__
            if mod.startswith(("httpx", "openai", "httpcore")) or isinstance(exc, OSError):
                raise _StreamCut(f"the connection broke mid-reply ({type(exc).__name__}: "
                                 f"{exc})") from None
            raise
        yield chunk


def _to_reply(resp: Any) -> ChatReply:
    if isinstance(resp, (str, bytes)) or not hasattr(resp, "choices"):
        raise _BadBody(resp)
    if not resp.choices:
        raise VlmError("the VLM returned no choices")
    choice = resp.choices[0]
    msg = choice.message
    calls = []
    for tc in msg.tool_calls or []:
        fn = getattr(tc, "function", None)
        if fn is None:
            continue
        calls.append({"id": tc.id, "type": "function",
                      "function": {"name": fn.name, "arguments": fn.arguments or "{}"}})
    usage = resp.usage
    return ChatReply(text=msg.content or "", finish_reason=choice.finish_reason or "stop",
                     tool_calls=calls, prompt_tokens=(usage.prompt_tokens or 0) if usage else 0,
                     completion_tokens=(usage.completion_tokens or 0) if usage else 0)


def _request_error(exc: openai.APIStatusError, base_url: str) -> VlmRequestError:
    body = exc.body
    message = ""
    param = None
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict):
            message = str(inner.get("message") or "")
            param = inner.get("param")
    if not message:
        message = exc.message or json.dumps(body)[:500]
    hint = ""
    if exc.status_code == 404:
        hint = " (check vlm.model / --model against the server's /v1/models)"
    elif exc.status_code in (401, 403):
        hint = " (set the API key in the environment variable named by vlm.api_key_env)"
    return VlmRequestError(f"VLM at {base_url} answered HTTP {exc.status_code}: {message}{hint}",
                           status=exc.status_code, param=param, body=body)
