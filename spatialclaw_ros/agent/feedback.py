"""What the model is told after a cell ran: text (truncated visibly) and images within budget."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from spatialclaw_ros.vlm.conversation import jpeg_data_url


def field_of(obj: Any, name: str, default: Any = None) -> Any:
    """Field of a dataclass-like or dict-like object."""
    if isinstance(obj, dict):
        return obj.get(name, default)
    return getattr(obj, name, default)


def truncate(text: str, limit: int, what: str) -> str:
    """Keep the head and tail of text within limit chars, with a visible note of what was cut."""
    text = text or ""
    if limit <= 0 or len(text) <= limit:
        return text
    head = int(limit * 0.6)
    tail = limit - head
    cut = len(text) - head - tail
    return (f"{text[:head]}\n[... {what} truncated: {cut} of {len(text)} characters not shown "
            f"(agent.output_max_chars={limit}); print less or summarise ...]\n{text[-tail:]}")


@dataclass
class ImageBudget:
    """Images per step and per query (the whole conversation) that the model may be sent."""

    per_step: int
    per_query: int
    max_side: int = 640
    sent: int = 0                       # images sent so far in the query (never decreases)

    def take(self, images: list[Any], in_conversation: int) -> tuple[list[Any], int, int]:
        """(images to attach, dropped by the per-step cap, old ones to evict for the per-query cap)."""
        cap = max(0, min(self.per_step, self.per_query))
        chosen = list(images[:cap])
        over_step = len(images) - len(chosen)
        evict = max(0, in_conversation + len(chosen) - self.per_query)
        return chosen, over_step, evict


@dataclass
class Observation:
    """The feedback of one step: text for the model, images (data URLs) and their titles."""

    text: str
    image_urls: list[str] = field(default_factory=list)
    image_titles: list[str] = field(default_factory=list)


def describe_variables(variables: Any, limit: int = 30) -> str:
    """One line per new/changed variable: name: type shape dtype = repr."""
    rows = []
    items = list(variables or [])
    for v in items[:limit]:
        name = field_of(v, "name", "?")
        typ = field_of(v, "type", "")
        shape = field_of(v, "shape")
        dtype = field_of(v, "dtype")
        rep = str(field_of(v, "repr", "") or "")
        if len(rep) > 160:
            rep = rep[:160] + "..."
        bits = [str(typ)]
        if shape is not None:
            bits.append(f"shape={tuple(shape)}")
        if dtype:
            bits.append(f"dtype={dtype}")
        rows.append(f"  {name}: {' '.join(bits)} = {rep}")
    if len(items) > limit:
        rows.append(f"  ... and {len(items) - limit} more")
    return "\n".join(rows)


def cell_observation(res: Any, *, step: int, max_steps: int, output_max_chars: int,
                     budget: ImageBudget, in_conversation: int,
                     answer_error: str = "") -> tuple[Observation, int]:
    """Build the feedback for one CellResult; returns (observation, images to evict)."""
    parts: list[str] = [f"Step {step}/{max_steps} output:"]
    stdout = field_of(res, "stdout", "") or ""
    stderr = field_of(res, "stderr", "") or ""
    if stdout:
        parts.append("[stdout]\n" + truncate(stdout, output_max_chars, "stdout"))
    if stderr:
        parts.append("[stderr]\n" + truncate(stderr, output_max_chars // 2, "stderr"))
    error = field_of(res, "error", "") or ""
    if field_of(res, "timed_out"):
        parts.append("[timed out] the cell ran past its time limit and was stopped; make it cheaper "
                     "(fewer frames, smaller images, vectorised numpy).")
    elif field_of(res, "crashed"):
        parts.append("[kernel crashed] the interpreter died while running this cell.")
    if not error:
        for note in field_of(res, "restored", None) or []:
            parts.append(f"[kernel restarted] replayed {note}")
    if error:
        parts.append("[error]\n" + truncate(error, output_max_chars, "error"))
    vars_text = describe_variables(field_of(res, "variables", None))
    if vars_text:
        parts.append("[variables]\n" + vars_text)
    if answer_error:
        parts.append(f"[answer rejected] {answer_error}")
    images = list(field_of(res, "images", None) or [])
    chosen, over_step, evict = budget.take(images, in_conversation)
    urls: list[str] = []
    titles: list[str] = []
    broken = 0
    for img in chosen:
        data = field_of(img, "jpeg", None) or field_of(img, "data", None)
        if data is None:
            continue
        try:      # the kernel's bytes passed a header check only; a corrupt body must not end the query
            urls.append(jpeg_data_url(data, budget.max_side))
        except (OSError, ValueError, SyntaxError):
            broken += 1
            continue
        title = field_of(img, "title", "") or ""
        titles.append(f"{title} ({field_of(img, 'width', '?')}x{field_of(img, 'height', '?')})".strip())
    if urls:
        parts.append("[images] " + "; ".join(f"#{i + 1}: {t}" for i, t in enumerate(titles)))
    if broken:
        parts.append(f"[images] {broken} shown image(s) could not be decoded and were not attached.")
    if over_step:
        parts.append(f"[images] {over_step} more shown image(s) not attached: at most {budget.per_step} "
                     "per step (vlm.max_images_per_step); show fewer, or combine them.")
    if evict:
        parts.append(f"[images] {evict} older image(s) removed from the conversation to stay within "
                     f"{budget.per_query} per query (vlm.max_images_per_query).")
    if not (stdout or stderr or error or vars_text or urls or answer_error):
        parts.append("(no output: print() what you want to see)")
    left = max_steps - step
    parts.append(f"{left} step(s) left." + (" Call ReturnAnswer(...) soon." if left <= 2 else ""))
    budget.sent += len(urls)
    return Observation("\n".join(parts), urls, titles), evict
