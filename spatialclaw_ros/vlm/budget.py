"""Context and image budgets for one served model, and trimming a conversation to fit them.

The budget is sized from what the server reports (``max_model_len`` in ``GET /v1/models``), never
from a guess about the model. Token counts are estimated locally (no tokenizer is loaded) and the
estimate is corrected with the ``prompt_tokens`` the server reports in each reply, and with the
``value=`` a context-overflow error gives.

Messages are OpenAI chat messages (dicts): ``content`` is a string or a list of parts
(``{"type": "text", "text": ...}`` / ``{"type": "image_url", "image_url": {"url": ...}}``).
Trimming never edits the caller's list: it returns a new list.
"""
from __future__ import annotations

import copy
import math
import re
from dataclasses import dataclass, field
from typing import Any, Iterable

Message = dict[str, Any]

# Replacements shown to the model where something was removed to fit the context.
IMAGE_DROPPED = "[image removed to fit the model's context; show it again if you need it]"
OUTPUT_DROPPED = "[output of an earlier step removed to fit the model's context]"
CODE_DROPPED = "[an earlier reply removed to fit the model's context]"

# Without a tokenizer: about 3.5 characters per token for English and Python (BPE vocabularies of
# 32k-150k entries), corrected at run time from the server's usage figures.
DEFAULT_CHARS_PER_TOKEN = 3.5
# Chat-template framing per message (role tokens, separators).
MESSAGE_OVERHEAD_TOKENS = 6
# First guess for one image until the server's usage tells better: 640x480 in Qwen2/2.5-VL costs
# (640/28)*(480/28) ~ 392 tokens; smaller processors cost less, so this errs on the safe side.
DEFAULT_IMAGE_TOKENS = 400


@dataclass
class ServedModel:
    """One entry of ``GET /v1/models``."""

    id: str
    max_model_len: int | None = None   # vLLM's extension; None when the server does not say
    root: str = ""                     # the weights it was loaded from (vLLM), "" if unknown


def parse_models_list(payload: Any) -> list[ServedModel]:
    """Read a ``/v1/models`` reply (a dict with ``data``, or the openai client's page) into models."""
    data = payload.get("data") if isinstance(payload, dict) else getattr(payload, "data", None)
    if not isinstance(data, list):
        raise ValueError(f"/v1/models reply has no 'data' list: {str(payload)[:200]}")
    models: list[ServedModel] = []
    for item in data:
        d = item if isinstance(item, dict) else (
            item.model_dump() if hasattr(item, "model_dump") else vars(item))
        mid = d.get("id")
        if not isinstance(mid, str) or not mid:
            continue
        mml = d.get("max_model_len")
        models.append(ServedModel(
            id=mid,
            max_model_len=int(mml) if isinstance(mml, (int, float)) and mml > 0 else None,
            root=str(d.get("root") or "")))
    return models


@dataclass
class ContextBudget:
    """How many tokens and images one request to this model may carry."""

    max_model_len: int              # the server's context length (prompt + reply)
    max_tokens: int                 # tokens asked for each reply
    image_tokens: int = DEFAULT_IMAGE_TOKENS
    max_images_per_request: int = 16  # lowered when the server says fewer (its --limit-mm-per-prompt)
    chars_per_token: float = DEFAULT_CHARS_PER_TOKEN
    margin: float = 0.0             # share of the prompt budget held back after an overflow
    prompt_cap: int | None = None   # below what the server last refused as too long
    notes: list[str] = field(default_factory=list)

    @property
    def prompt_tokens(self) -> int:
        """Tokens the prompt may use so that a full-length reply still fits."""
        return max(self.max_model_len - self.max_tokens, 0)

    @property
    def max_images_in_context(self) -> int:
        """Images that fit in at most half of the prompt budget (the rest is text)."""
        by_tokens = (self.prompt_tokens // 2) // max(self.image_tokens, 1)
        return max(0, min(self.max_images_per_request, by_tokens))

    def estimate(self, messages: Iterable[Message]) -> int:
        """Estimated prompt tokens of ``messages`` (text by characters, images at image_tokens)."""
        chars = 0
        images = 0
        n = 0
        for msg in messages:
            n += 1
            c, i = _content_size(msg)
            chars += c
            images += i
        return (math.ceil(chars / self.chars_per_token) + images * self.image_tokens
                + n * MESSAGE_OVERHEAD_TOKENS)

    def calibrate(self, messages: list[Message], prompt_tokens: int) -> None:
        """Correct the text estimate from the server's real ``prompt_tokens`` for ``messages``."""
        chars = sum(_content_size(m)[0] for m in messages)
        images = sum(_content_size(m)[1] for m in messages)
        text_tokens = prompt_tokens - images * self.image_tokens - len(messages) * MESSAGE_OVERHEAD_TOKENS
        self.margin *= 0.5   # a request went through: relax the safety margin again
        if chars < 200 or text_tokens <= 0:
            return  # too little text to learn from (or images dominate): keep the estimate
        measured = chars / text_tokens
        # Move half-way and stay within sane bounds; undershooting is safer than overshooting.
        self.chars_per_token = min(max((self.chars_per_token + measured) / 2, 1.0), 8.0)

    def fit(self, messages: list[Message]) -> TrimResult:
        """The conversation to send: ``messages`` itself when it fits, else a trimmed copy."""
        target = int(self.prompt_tokens * (1.0 - self.margin))
        if self.prompt_cap is not None:
            target = min(target, self.prompt_cap)
        est = self.estimate(messages)
        if est <= target and count_images(messages) <= self.max_images_in_context:
            return TrimResult(messages=messages, estimated_tokens=est)
        return trim_to_budget(messages, self, target_tokens=target)

    def absorb_limit_error(self, sent: list[Message], err: "LimitError") -> bool:
        """Learn from a limit error the server gave for ``sent``; True if a re-fit may succeed."""
        if err.param == "input_tokens":
            if err.limit:
                self.max_model_len = err.limit
                self.max_tokens = min(self.max_tokens, max(16, err.limit // 4))
            elif err.value and err.value <= self.max_model_len:
                self.max_model_len = max(err.value - 1, 1)  # the limit is below what was refused
            if err.value:
                chars = sum(_content_size(m)[0] for m in sent)
                images = count_images(sent)
                text_tokens = err.value - images * self.image_tokens - len(sent) * MESSAGE_OVERHEAD_TOKENS
                if chars and text_tokens > 0:
                    # vLLM reports "at least N": the prompt had N or more, so only ever lower it.
                    self.chars_per_token = max(1.0, min(self.chars_per_token, chars / text_tokens))
            self.margin = min(0.6, self.margin + 0.15)
            # What was sent did not fit: the next attempt must be clearly smaller, whatever the
            # estimate says.
            sent_est = self.estimate(sent)
            self.prompt_cap = int(min(self.prompt_cap or sent_est, sent_est) * 0.85)
            return True
        if err.param == "image":
            if err.limit is not None and err.limit < self.max_images_per_request:
                self.max_images_per_request = err.limit
                self.notes.append(f"the server takes at most {err.limit} image(s) per request "
                                  "(--limit-mm-per-prompt); older images are left out")
                return True
            return False
        if err.param == "max_tokens":
            limit = err.limit or self.max_model_len
            new = max(16, min(self.max_tokens, limit // 4))
            if new < self.max_tokens or (err.value and err.value > new):
                self.max_model_len = limit
                self.max_tokens = new
                return True
        return False

    def reply_tokens(self, requested: int | None) -> int:
        """``max_tokens`` to ask for: the request's, capped by the budget's reply share."""
        return max(1, min(int(requested or self.max_tokens), self.max_tokens))

    def calibrate_image(self, tokens_without: int, tokens_with: int, n_images: int) -> None:
        """Set image_tokens from two measured prompts that differ only by ``n_images`` images."""
        if n_images > 0 and tokens_with > tokens_without:
            self.image_tokens = max(1, math.ceil((tokens_with - tokens_without) / n_images))


def budget_for_model(max_model_len: int | None, *, max_tokens: int, max_images_per_query: int,
                     fallback_len: int = 8192) -> ContextBudget:
    """Size the budget from the served context length; cap the reply at a quarter of it."""
    notes: list[str] = []
    if not max_model_len:
        max_model_len = fallback_len
        notes.append(f"the server did not report max_model_len; assuming {fallback_len} tokens")
    reply_cap = max(16, max_model_len // 4)
    if max_tokens > reply_cap:
        notes.append(f"vlm.max_tokens={max_tokens} lowered to {reply_cap} "
                     f"(a quarter of the model's {max_model_len}-token context)")
        max_tokens = reply_cap
    return ContextBudget(max_model_len=max_model_len, max_tokens=max_tokens,
                         max_images_per_request=max(0, max_images_per_query), notes=notes)


# --- the server's limit errors -------------------------------------------------------------------

_PARAM_VALUE = re.compile(r"\(parameter=(\w+), value=(\d+)\)")
_CONTEXT_LEN = re.compile(r"maximum context length is (\d+) tokens")
_AT_MOST_IMAGES = re.compile(r"At most (\d+) image\(s\)")
_MAX_TOKENS_LIMIT = re.compile(r"cannot be greater than max_model_len=(\d+)")


@dataclass
class LimitError:
    """A 400 from the server that says a request exceeded one of its limits."""

    param: str                      # input_tokens | max_tokens | image | ""
    message: str
    value: int | None = None        # what the request had (tokens, max_tokens)
    limit: int | None = None        # what the server allows (context length, images per prompt)


def parse_limit_error(param: str | None, message: str) -> LimitError:
    """Read vLLM's error ``param`` and message (``... (parameter=input_tokens, value=2049)``)."""
    m = _PARAM_VALUE.search(message or "")
    p = param or (m.group(1) if m else "")
    value = int(m.group(2)) if m else None
    limit: int | None = None
    for rx in (_CONTEXT_LEN, _AT_MOST_IMAGES, _MAX_TOKENS_LIMIT):
        mm = rx.search(message or "")
        if mm:
            limit = int(mm.group(1))
            break
    if not p and _AT_MOST_IMAGES.search(message or ""):
        p = "image"
    return LimitError(param=p, message=message or "", value=value, limit=limit)


# --- trimming ------------------------------------------------------------------------------------

@dataclass
class TrimResult:
    """A conversation cut down to fit the budget, and what was removed."""

    messages: list[Message]
    images_dropped: int = 0
    outputs_dropped: int = 0
    replies_dropped: int = 0
    estimated_tokens: int = 0
    fits: bool = True

    @property
    def changed(self) -> bool:
        """Whether anything was removed."""
        return bool(self.images_dropped or self.outputs_dropped or self.replies_dropped)

    def note_for_model(self) -> str:
        """One sentence telling the model what was removed (appended to the latest message)."""
        parts = []
        if self.images_dropped:
            parts.append(f"{self.images_dropped} older image(s)")
        if self.outputs_dropped:
            parts.append(f"the output of {self.outputs_dropped} earlier step(s)")
        if self.replies_dropped:
            parts.append(f"{self.replies_dropped} earlier repl(ies) of yours")
        if not parts:
            return ""
        return ("[Note: to fit the model's context, " + ", ".join(parts) + " were removed from "
                "this conversation. Kernel variables are unchanged: print or show again what you "
                "still need.]")


def count_images(messages: Iterable[Message]) -> int:
    """Number of image parts in ``messages``."""
    return sum(_content_size(m)[1] for m in messages)


def trim_to_budget(messages: list[Message], budget: ContextBudget, *,
                   target_tokens: int | None = None, max_images: int | None = None,
                   keep_last: int = 1) -> TrimResult:
    """Drop the oldest images, then old outputs, then old replies until the estimate fits.

    The system message and the first user message's text (the question) are never removed; the
    last ``keep_last`` messages keep their text. ``max_images`` caps the images kept (newest kept).
    When something was removed, a note saying so is appended to the last user message.
    """
    target = budget.prompt_tokens if target_tokens is None else target_tokens
    img_cap = budget.max_images_in_context if max_images is None else max_images
    msgs = copy.deepcopy(messages)
    res = TrimResult(messages=msgs)
    protected_tail = set(range(max(len(msgs) - keep_last, 0), len(msgs)))
    first_user = next((i for i, m in enumerate(msgs) if m.get("role") == "user"), None)

    # 1. images, oldest first, down to the cap; then further while over the token target.
    positions = [(i, j) for i, m in enumerate(msgs) for j in _image_part_indices(m)]
    n_images = len(positions)
    for i, j in positions:
        if n_images <= img_cap and budget.estimate(msgs) <= target:
            break
        msgs[i]["content"][j] = {"type": "text", "text": IMAGE_DROPPED}
        n_images -= 1
        res.images_dropped += 1

    # 2. outputs (user/tool messages after the question), oldest first.
    for i, m in enumerate(msgs):
        if budget.estimate(msgs) <= target:
            break
        if i in protected_tail or i == first_user or m.get("role") not in ("user", "tool"):
            continue
        if _replace_text(m, OUTPUT_DROPPED):
            res.outputs_dropped += 1

    # 3. the model's own earlier replies, oldest first (tool_calls stay so the pairing is valid).
    for i, m in enumerate(msgs):
        if budget.estimate(msgs) <= target:
            break
        if i in protected_tail or m.get("role") != "assistant":
            continue
        if _replace_text(m, CODE_DROPPED):
            res.replies_dropped += 1

    note = res.note_for_model()
    if note:
        _append_note(msgs, note)
    res.estimated_tokens = budget.estimate(msgs)
    res.fits = res.estimated_tokens <= target and n_images <= img_cap
    return res


def _content_size(msg: Message) -> tuple[int, int]:
    """(text characters, images) of one message, tool calls included."""
    content = msg.get("content")
    chars = 0
    images = 0
    if isinstance(content, str):
        chars += len(content)
    elif isinstance(content, list):
        for part in content:
            kind = part.get("type") if isinstance(part, dict) else None
            if kind == "text":
                chars += len(str(part.get("text", "")))
            elif kind in ("image_url", "image", "input_image"):
                images += 1
    for call in msg.get("tool_calls") or []:
        fn = call.get("function", {}) if isinstance(call, dict) else {}
        chars += len(str(fn.get("name", ""))) + len(str(fn.get("arguments", "")))
    return chars, images


def _image_part_indices(msg: Message) -> list[int]:
    content = msg.get("content")
    if not isinstance(content, list):
        return []
    return [j for j, p in enumerate(content)
            if isinstance(p, dict) and p.get("type") in ("image_url", "image", "input_image")]


def _replace_text(msg: Message, stub: str) -> bool:
    """Replace a message's text with ``stub`` (images already gone stay as stubs); True if shorter."""
    before = _content_size(msg)[0]
    if before <= len(stub):
        return False
    content = msg.get("content")
    if isinstance(content, list):
        kept = [p for p in content if isinstance(p, dict) and p.get("type") != "text"]
        msg["content"] = [{"type": "text", "text": stub}] + kept
    else:
        msg["content"] = stub
    return True


def _append_note(msgs: list[Message], note: str) -> None:
    """Append ``note`` to the last user/tool message, or add a user message when there is none."""
    for m in reversed(msgs):
        if m.get("role") in ("user", "tool"):
            content = m.get("content")
            if isinstance(content, list):
                content.append({"type": "text", "text": note})
            else:
                m["content"] = f"{content or ''}\n\n{note}"
            return
        if m.get("role") == "assistant":
            break
    msgs.append({"role": "user", "content": note})


def overflow_message(budget: ContextBudget, trim: TrimResult, err: LimitError) -> str:
    """What to tell the user when the conversation cannot be made to fit the model's context."""
    removed = []
    if trim.images_dropped:
        removed.append(f"{trim.images_dropped} image(s)")
    if trim.outputs_dropped:
        removed.append(f"{trim.outputs_dropped} step output(s)")
    if trim.replies_dropped:
        removed.append(f"{trim.replies_dropped} earlier repl(ies)")
    what = ("even after removing " + ", ".join(removed)) if removed else "and nothing is left to remove"
    return (f"the conversation does not fit the model's {budget.max_model_len}-token context {what} "
            f"(the server said: {err.message.strip()[:300]}). What is left (system prompt, question, "
            f"latest step) needs about {trim.estimated_tokens} tokens plus {budget.max_tokens} for the "
            "reply: "
            "serve the model with a larger --max-model-len, or lower vlm.max_tokens.")
