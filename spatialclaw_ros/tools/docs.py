"""The kernel API page (docs/kernel-api.md and the model's system prompt), made from the docstrings.

`python -m spatialclaw_ros.tools.docs` prints it; `--write` regenerates docs/kernel-api.md; `--check`
exits 1 when the file differs from the code.
"""
from __future__ import annotations

import argparse
import dataclasses
import functools
import inspect
import re
import sys
from pathlib import Path
from typing import Any

from spatialclaw_ros.tools.registry import tool_classes

DOC_PATH = Path(__file__).resolve().parents[2] / "docs" / "kernel-api.md"

INTRO = """# Kernel API

Python code you write runs in a stateful kernel: variables persist between steps. `np` (numpy),
`scipy` and `cv2` are imported; `tools` holds the tools below.

Conventions (everywhere):
- Keyframe index `i` (0 = earliest) selects `InputImages[i]` and the same frame in every tool.
- Pixels are `(u, v)` = (column, row); arrays are indexed `[v, u]`; boxes are `[u0, v0, u1, v1]`.
- Lengths in metres, angles in degrees, times in seconds (stamps in integer nanoseconds).
- Frames (REP-103): the fixed frame `Metadata["fixed_frame"]` (world, z up); the camera optical frame
  (x right, y down, z forward); the robot base (x forward, y left, z up). Results say their `frame`.
- Plain arrays passed to tools.Geometry are taken to be in the fixed frame.
- Cameras: keyframe i comes from camera `Metadata['camera_names'][i]` (`frames_by_camera`; same `moments[i]` =
  same time); tools use each frame's own intrinsics and pose, so results of all cameras meet in the fixed frame.
"""

# The kernel built-ins (the kernel provides them; tools/ does not): documented here, in one place.
BUILTINS: list[tuple[str, str]] = [
    ("InputImages",
     "list of the keyframes as (H, W, 3) uint8 RGB arrays (read-only; copy before editing)."),
    ("Metadata",
     "dict with the query's facts: `question`, `answer_type`, `choices`, `expected_unit`, "
     "`fixed_frame`, `num_frames`, `stamps_ns`, `times_s` (from frame 0), `camera_frame_ids`, "
     "`cameras` (per frame: width, height, fx, fy, cx, cy, K), `has_depth`, `has_pose`, "
     "`has_labels`, `camera_names` (per frame), `frames_by_camera`, `moments`, `camera_mounts` "
     "({camera: the frame it is mounted on, e.g. a wrist link}), and in simulation `objects` (id, name, class, color). "
     "`recording_index` (per keyframe: its index among the recording's colour frames, 0 = first; "
     "'the last image' is the recording frame `Metadata['recording_count'] - 1`), "
     "`recording_stamps_ns`, `recording_count`, `perception` (which models are set up: da3, sam3, "
     "and what is missing), and `objects` from the bag's instance-label legend when it has one."),
    ("show(img, title=None)",
     "look at an image: (H, W, 3) uint8 RGB (e.g. from tools.Draw), gray, a bool mask or a float map; "
     "you see it in the next feedback (at most 8 per step; titles help). "
     "Example: `show(tools.Draw.masks(0, seg), title='mugs')`"),
    ("vlm(prompt, images=None) -> str",
     "ask the vision-language model a side question about a few images (uint8 arrays); returns its "
     "text. Use it for recognition, not for measuring. Example: `vlm('What is on the table?', [InputImages[0]])`"),
    ("ReturnAnswer(value, unit=None, frame=None, stamp_ns=None, uncertainty=None, geometry=None, reason=None)",
     "give the final answer once. value: a number (with `unit`, e.g. 'm', 'deg'), a point or vector "
     "[x, y, z] (with `frame`, normally `Metadata['fixed_frame']`), one of `Metadata['choices']`, "
     "True/False, a count, or short text. A value that does not fit the question is rejected with a "
     "reason. Give plain numbers, strings, lists, numpy arrays or a Point (its frame and stamp are kept). "
     "Optional `geometry`: what to draw for the robot's operator, a dict in metres with any of "
     "`closest_points` [[x,y,z],[x,y,z]], `centroids` {name: [x,y,z]}, `segments` [[p0,p1]], "
     "`boxes` [{center, size, name}], `labels` [{text, xyz}], and `frame`. "
     "Example: `p = tools.Geometry.centroid(cloud); ReturnAnswer(p.tolist(), unit='m', "
     "frame=p.frame, stamp_ns=p.stamp_ns)`. "
     "When the frames cannot answer the question (no depth and no depth model for a measurement, "
     "the object is never seen), say so instead of guessing: `ReturnAnswer(None, reason='needs a "
     "depth model')` ends the query with the result CANNOT_ANSWER and your reason."),
]

EXAMPLE = """## Example

```python
seg = tools.SAM3.segment(0, text="mug")                    # masks on keyframe 0
print(seg)                                                  # n, labels, scores (n may be 0)
mug = tools.Geometry.mask_points(0, seg.mask(0))            # PointCloud in the fixed frame, metres
lap = tools.Geometry.mask_points(0, tools.SAM3.segment(0, text="laptop").mask(0))
c = tools.Geometry.closest_points(mug, lap)                 # Closest(distance_m, point_a, point_b)
show(tools.Draw.points3d(tools.Draw.masks(0, seg), 0, [c.point_a, c.point_b]))
ReturnAnswer(c.distance_m, unit="m",
             geometry={"closest_points": [c.point_a.tolist(), c.point_b.tolist()], "frame": c.point_a.frame})
```
"""


def _ann(a: Any) -> str:
    if a is inspect.Parameter.empty:
        return ""
    s = a if isinstance(a, str) else getattr(a, "__name__", repr(a))
    return s.replace("'", "")


def format_signature(fn: Any) -> str:
    """`name(a: int, b: str = 'x') -> Ret` without `self` and without quoted annotations."""
    sig = inspect.signature(fn)
    parts = []
    for p in sig.parameters.values():
        if p.name == "self":
            continue
        s = p.name if p.kind is not inspect.Parameter.VAR_POSITIONAL else "*" + p.name
        if p.annotation is not inspect.Parameter.empty:
            s += f": {_ann(p.annotation)}"
        if p.default is not inspect.Parameter.empty:
            s += f" = {p.default!r}"
        parts.append(s)
    ret = _ann(sig.return_annotation)
    return f"{fn.__name__}({', '.join(parts)})" + (f" -> {ret}" if ret else "")


def _public_methods(cls: type) -> list[Any]:
    """Public functions of a class in source order."""
    return [v for k, v in cls.__dict__.items() if inspect.isfunction(v) and not k.startswith("_")]


def _field_comments(cls: type) -> dict[str, str]:
    """`name: type  # comment` lines of a dataclass body -> {name: comment}."""
    try:
        src = inspect.getsource(cls)
    except (OSError, TypeError):
        return {}
    out = {}
    for m in re.finditer(r"^\s{4}(\w+): [^#\n]+#\s*(.+)$", src, flags=re.MULTILINE):
        out[m.group(1)] = m.group(2).strip()
    return out


def _render_tool(name: str, cls: type) -> list[str]:
    parts = [f"## tools.{name}", "", inspect.getdoc(cls) or "", ""]
    # one item per method, no blank lines inside it (the page is also the model's prompt: keep it short)
    for fn in _public_methods(cls):
        parts.append(f"- `tools.{name}.{format_signature(fn)}`")
        doc = inspect.getdoc(fn) or ""
        parts.extend(f"  {line}" for line in doc.splitlines() if line.strip())
    parts.append("")
    return parts


def result_classes() -> list[type]:
    """The result types the tools return, in documentation order."""
    from spatialclaw_ros.tools.graph import Edge, Node, SceneGraph
    from spatialclaw_ros.tools.results import (Amodal, Box3D, CameraMotion, Closest, Direction, Point, PointCloud,
                                               Reconstruction, Segmentation)
    return [Reconstruction, Segmentation, Point, PointCloud, Closest, Box3D, Amodal, Direction, CameraMotion,
            SceneGraph, Node, Edge]


def _first_line(obj: Any) -> str:
    doc = inspect.getdoc(obj) or ""
    return doc.splitlines()[0].rstrip(".") if doc else ""


def _render_result(cls: type) -> list[str]:
    comments = _field_comments(cls)
    fields = []
    for f in dataclasses.fields(cls):
        s = f"`{f.name}: {_ann(f.type)}`"
        if comments.get(f.name):
            s += f" ({comments[f.name]})"
        fields.append(s)
    extras = []
    for k, v in cls.__dict__.items():
        if k.startswith("_"):
            continue
        if isinstance(v, (property, functools.cached_property)):
            extras.append(f"`.{k}`: {_first_line(v)}")
        elif inspect.isfunction(v):
            extras.append(f"`.{format_signature(v)}`: {_first_line(v)}")
    parts = [f"- **{cls.__name__}**: {_first_line(cls)}.",
             "  Fields: " + "; ".join(fields) + "."]
    if extras:
        parts.append("  Also: " + "; ".join(extras) + ".")
    return parts


def render_kernel_api_markdown() -> str:
    """Render the whole kernel API page as Markdown (the model's tool documentation)."""
    parts = [INTRO, "## Built-ins", ""]
    parts += [f"- `{sig}`: {doc}" for sig, doc in BUILTINS]
    parts.append("")
    for name, cls in tool_classes().items():
        parts.extend(_render_tool(name, cls))
    parts += ["## Result types", ""]
    for cls in result_classes():
        parts.extend(_render_result(cls))
    parts += ["", EXAMPLE]
    text = "\n".join(parts)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    """Print the page, write it to docs/kernel-api.md (--write) or check that file (--check)."""
    p = argparse.ArgumentParser(prog="python -m spatialclaw_ros.tools.docs",
                                description="Render the kernel API page from the tools' docstrings.")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--write", action="store_true", help=f"write {DOC_PATH}")
    g.add_argument("--check", action="store_true", help=f"exit 1 if {DOC_PATH} is out of date")
    g.add_argument("--output", metavar="FILE", help="write the page to FILE")
    args = p.parse_args(argv)
    text = render_kernel_api_markdown()
    if args.write or args.output:
        path = Path(args.output) if args.output else DOC_PATH
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path} ({len(text)} characters)")
    elif args.check:
        current = DOC_PATH.read_text(encoding="utf-8") if DOC_PATH.exists() else ""
        if current != text:
            print(f"{DOC_PATH} is out of date: run `python -m spatialclaw_ros.tools.docs --write`",
                  file=sys.stderr)
            return 1
        print(f"{DOC_PATH} is up to date")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
