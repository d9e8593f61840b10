"""docs/kernel-api.md is generated from the tools' docstrings, and what it says works."""
from __future__ import annotations

import ast
import inspect
import re
import subprocess
import sys
from typing import Any

import numpy as np
from tools_scene import Box, Floor, look_at, make_context

from spatialclaw_ros.tools import TOOL_NAMES, docs, make_toolbox
from spatialclaw_ros.tools.docs import BUILTINS, DOC_PATH, EXAMPLE, render_kernel_api_markdown
from spatialclaw_ros.tools.registry import tool_classes


def test_kernel_api_md_is_up_to_date(repo_root):
    text = render_kernel_api_markdown()
    assert DOC_PATH == repo_root / "docs" / "kernel-api.md"
    assert DOC_PATH.read_text(encoding="utf-8") == text, \
        "docs/kernel-api.md drifted from the code: run `python -m spatialclaw_ros.tools.docs --write`"


def test_docs_cli_check_and_output(tmp_path, repo_root, monkeypatch, capsys):
    r = subprocess.run([sys.executable, "-m", "spatialclaw_ros.tools.docs", "--check"],
                       cwd=repo_root, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    out = tmp_path / "api.md"
    assert docs.main(["--output", str(out)]) == 0
    assert out.read_text(encoding="utf-8") == render_kernel_api_markdown()
    stale = tmp_path / "stale.md"
    stale.write_text("# old\n", encoding="utf-8")
    monkeypatch.setattr(docs, "DOC_PATH", stale)
    assert docs.main(["--check"]) == 1
    assert "--write" in capsys.readouterr().err
    assert docs.main(["--write"]) == 0 and docs.main(["--check"]) == 0


def test_every_tool_method_is_documented_with_an_example():
    text = render_kernel_api_markdown()
    assert tuple(tool_classes()) == TOOL_NAMES
    for name, cls in tool_classes().items():
        assert f"## tools.{name}" in text
        for k, fn in cls.__dict__.items():
            if k.startswith("_") or not inspect.isfunction(fn):
                continue
            doc = inspect.getdoc(fn) or ""
            assert "Example:" in doc, f"tools.{name}.{k} has no example"
            assert f"`tools.{name}.{k}(" in text
            example = doc.split("Example:", 1)[1].strip()
            code = re.match(r"`(.+)`", example).group(1)
            ast.parse(code)                                    # examples are valid Python
            assert f"tools.{name}.{k}(" in code, f"the example of tools.{name}.{k} does not call it"


def test_builtins_are_on_the_page():
    text = render_kernel_api_markdown()
    for sig, _ in BUILTINS:
        assert f"`{sig}`" in text
    for name in ("InputImages", "Metadata", "show(", "vlm(", "ReturnAnswer("):
        assert name in text


def test_documented_example_program_runs():
    """The example on the page runs against a scene with a mug and a laptop, with stand-in built-ins."""
    mug = Box(2, np.array([1.5, 0.2, 0.05]), np.array([0.04, 0.04, 0.05]))
    laptop = Box(3, np.array([1.5, -0.1, 0.01]), np.array([0.15, 0.2, 0.01]))
    objects = [{"id": 2, "name": "mug", "class": "mug", "color": "white"},
               {"id": 3, "name": "laptop", "class": "laptop", "color": "grey"}]
    ctx, _ = make_context([Floor(1), mug, laptop], [look_at([0.8, 0.0, 0.6], [1.5, 0.05, 0.0])],
                          objects=objects)
    answers: list[dict[str, Any]] = []
    shown: list[Any] = []
    ns = {"tools": make_toolbox(ctx), "np": np, "InputImages": ctx.images, "Metadata": ctx.metadata,
          "show": lambda img, title=None: shown.append(img),
          "ReturnAnswer": lambda value, **kw: answers.append({"value": value, **kw})}
    code = re.search(r"```python\n(.*?)```", EXAMPLE, re.S).group(1)
    exec(compile(code, "<kernel-api example>", "exec"), ns)   # noqa: S102 - our own documented example
    assert len(shown) == 1 and shown[0].shape == ctx.images[0].shape
    assert answers and answers[0]["unit"] == "m"
    # the boxes' facing sides are 0.3 - 0.04 - 0.2 = 0.06 m apart in y (the laptop is lower)
    assert abs(answers[0]["value"] - 0.06) < 0.01


def test_every_method_example_runs(tb, scene):
    """Each `Example:` line runs against the two-balls scene, given the variables it names."""
    ctx, _ = scene
    seg = tb.SAM3.segment(0, text="ball")
    red = tb.Geometry.mask_points(0, seg.mask(0))
    blue = tb.Geometry.mask_points(0, seg.mask(1))
    base = {"tools": tb, "np": np, "InputImages": ctx.images, "Metadata": ctx.metadata,
            "show": lambda img, title=None: None, "vlm": lambda prompt, images=None: "text",
            "ReturnAnswer": lambda value, **kw: None,
            "seg": seg, "seg0": seg, "seg1": tb.SAM3.segment(1, text="ball"), "m": seg.mask(0),
            "a": seg.mask(0), "b": seg.mask(1), "table": seg.mask(0), "mug": seg.mask(1),
            "cloud": red, "mug_cloud": red, "laptop_cloud": blue, "p": tb.Geometry.centroid(red),
            "c": tb.Geometry.centroid(blue)}
    failures = []
    for name, cls in tool_classes().items():
        if name == "Memory":
            continue            # needs a recorded memory: test/memory/test_memory_kernel.py runs its examples
        for k, fn in cls.__dict__.items():
            if k.startswith("_") or not inspect.isfunction(fn):
                continue
            code = re.search(r"Example: `(.+)`", inspect.getdoc(fn) or "").group(1)
            ns = dict(base)
            if k in ("closest_points", "direction", "distance_m"):
                ns.update(mug=red, laptop=blue)
            try:
                exec(compile(code, f"<example tools.{name}.{k}>", "exec"), ns)   # noqa: S102
            except Exception as exc:  # noqa: BLE001 - collect them all
                failures.append(f"tools.{name}.{k}: {code!r} -> {type(exc).__name__}: {exc}")
    assert not failures, "\n".join(failures)
