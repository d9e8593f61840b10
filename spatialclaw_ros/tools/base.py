"""What every tool family shares: a short repr that lists its calls (what the model sees when printing it)."""
from __future__ import annotations

import inspect


class Tool:
    """Base of the tool families; `print(tools.Geometry)` lists the calls."""

    doc_name = ""

    def __repr__(self) -> str:
        calls = [k for k, v in type(self).__dict__.items() if inspect.isfunction(v) and not k.startswith("_")]
        return f"<tools.{self.doc_name}: {', '.join(calls)}; see the kernel API for signatures>"
