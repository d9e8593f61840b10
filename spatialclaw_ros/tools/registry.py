"""Which class implements which tool family (one place, used by make_toolbox and the docs)."""
from __future__ import annotations

from typing import Any

from spatialclaw_ros.tools.context import KernelContext


def tool_classes() -> dict[str, type]:
    """Tool family name -> implementing class, in documentation order."""
    from spatialclaw_ros.tools.draw import DrawTool
    from spatialclaw_ros.tools.geometry import GeometryTool
    from spatialclaw_ros.tools.graph import GraphTool
    from spatialclaw_ros.tools.mask import MaskTool
    from spatialclaw_ros.tools.memory import MemoryTool
    from spatialclaw_ros.tools.reconstruct import ReconstructTool
    from spatialclaw_ros.tools.segment import SegmentTool
    from spatialclaw_ros.tools.timeline import TimeTool

    return {
        "Reconstruct": ReconstructTool,
        "SAM3": SegmentTool,
        "Geometry": GeometryTool,
        "Mask": MaskTool,
        "Time": TimeTool,
        "Graph": GraphTool,
        "Draw": DrawTool,
        "Memory": MemoryTool,
    }


def build_tools(ctx: KernelContext) -> dict[str, Any]:
    """Instantiate every tool family over one context."""
    classes = tool_classes()
    rec = classes["Reconstruct"](ctx)
    geo = classes["Geometry"](ctx, rec)
    return {
        "Reconstruct": rec,
        "SAM3": classes["SAM3"](ctx, geo),
        "Geometry": geo,
        "Mask": classes["Mask"](ctx),
        "Time": classes["Time"](ctx),
        "Graph": classes["Graph"](ctx, geo),
        "Draw": classes["Draw"](ctx, geo),
        "Memory": classes["Memory"](ctx),
    }
