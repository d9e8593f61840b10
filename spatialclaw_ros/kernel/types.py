"""What a kernel cell returns to the agent."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class VariableSummary:
    """A new or changed variable in the kernel namespace after a cell."""

    name: str
    type: str
    repr: str
    shape: list[int] | None = None
    dtype: str | None = None


@dataclass
class ShownImage:
    """An image the cell passed to show(): JPEG bytes and its size after downscaling."""

    jpeg: bytes
    title: str | None
    width: int
    height: int


@dataclass
class CellResult:
    """The outcome of one cell."""

    ok: bool
    stdout: str = ""
    stderr: str = ""
    error: str | None = None            # condensed traceback (the model's cell lines) or a kernel event
    variables: list[VariableSummary] = field(default_factory=list)
    images: list[ShownImage] = field(default_factory=list)
    answer: dict[str, Any] | None = None   # ReturnAnswer(...) kwargs, JSON-able; set even if the cell then failed
    timed_out: bool = False
    crashed: bool = False
    canceled: bool = False
    protocol_violation: bool = False    # the kernel broke the channel protocol; the parent killed it
    restored: list[str] = field(default_factory=list)   # "cell 2: a, b" for each cell replayed after a restart
    duration_s: float = 0.0
    parent_calls: list[dict[str, Any]] = field(default_factory=list)  # {"name", "seconds", "ok"}
    cell_index: int = 0

    def feedback(self) -> str:
        """A plain-text summary for logs and simple agents (the agent builds its own richer one)."""
        parts = []
        if self.stdout:
            parts.append(self.stdout)
        if self.stderr:
            parts.append("[stderr]\n" + self.stderr)
        if self.error:
            parts.append("[error]\n" + self.error)
        if self.variables:
            parts.append("[variables]\n" + "\n".join(
                f"{v.name}: {v.type}" + (f" shape={v.shape} dtype={v.dtype}" if v.shape is not None else "")
                + f" = {v.repr}" for v in self.variables))
        if self.images:
            parts.append(f"[{len(self.images)} image(s) shown]")
        if self.answer is not None:
            parts.append(f"[answer] {self.answer}")
        return "\n".join(parts)
