"""The kernel API page (docs/kernel-api.md and the model's system prompt), made from the docstrings."""
from __future__ import annotations

import argparse
import inspect
import sys
from pathlib import Path

from spatialclaw_ros.tools.registry import tool_classes

DOC_PATH = Path(__file__).resolve().parents[2] / "docs" / "kernel-api.md"

# The kernel built-ins (provided by the kernel, not by tools/): documented here, in one place.
BUILTINS: list[tuple[str, str]] = [
    ("InputImages", "list of the query's keyframes, (H, W, 3) uint8 RGB, read-only; index i is frame i everywhere."),
    ("Metadata", "dict: question, stamps, frame ids, fixed frame, camera info, answer type and choices."),
    ("show(img, title=None)", "show an (H, W, 3) uint8 image to yourself; you see it in the next feedback."),
    ("vlm(prompt, images=None) -> str", "ask the vision-language model a side question about images."),
    ("ReturnAnswer(value, unit=None, frame=None, stamp_ns=None, uncertainty=None)", "return the final answer and end the query."),
]


def _method_docs(cls: type) -> list[str]:
    out = []
    for name, fn in inspect.getmembers(cls, predicate=inspect.isfunction):
        if name.startswith("_"):
            continue
        sig = str(inspect.signature(fn)).replace("(self, ", "(").replace("(self)", "()")
        doc = inspect.getdoc(fn) or ""
        out.append(f"#### `{name}{sig}`\n\n{doc}\n")
    return out


def render_kernel_api_markdown() -> str:
    """Render the whole kernel API page as Markdown."""
    parts = ["# Kernel API\n"]
    parts.append("## Built-ins\n")
    for sig, doc in BUILTINS:
        parts.append(f"- `{sig}`: {doc}")
    parts.append("")
    for name, cls in tool_classes().items():
        parts.append(f"## tools.{name}\n")
        parts.append((inspect.getdoc(cls) or "") + "\n")
        parts.extend(_method_docs(cls))
    return "\n".join(parts).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    """Print the page, or write it to docs/kernel-api.md with --write."""
    p = argparse.ArgumentParser(prog="python -m spatialclaw_ros.tools.docs")
    p.add_argument("--write", action="store_true", help="write docs/kernel-api.md")
    args = p.parse_args(argv)
    text = render_kernel_api_markdown()
    if args.write:
        DOC_PATH.write_text(text, encoding="utf-8")
        print(f"wrote {DOC_PATH}")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
