"""The tools the model-written code calls inside the kernel (documented in docs/kernel-api.md)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from spatialclaw_ros.tools.context import KernelContext

__all__ = ["KernelContext", "Toolbox", "make_toolbox", "TOOL_NAMES"]

# The attribute names of `tools` in the kernel namespace, in documentation order.
TOOL_NAMES = ("Reconstruct", "SAM3", "Geometry", "Mask", "Time", "Graph", "Draw", "Memory")


@dataclass
class Toolbox:
    """The `tools` object in the kernel namespace: one attribute per tool family."""

    Reconstruct: Any
    SAM3: Any
    Geometry: Any
    Mask: Any
    Time: Any
    Graph: Any
    Draw: Any
    Memory: Any = None

    def __repr__(self) -> str:
        return "tools(" + ", ".join(f"tools.{n}" for n in TOOL_NAMES) + "): see the kernel API"


def make_toolbox(ctx: KernelContext) -> Toolbox:
    """Build the `tools` object for one query from the kernel context."""
    from spatialclaw_ros.tools.registry import build_tools

    return Toolbox(**build_tools(ctx))
