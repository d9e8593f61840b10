"""Small pieces of the loop: code extraction, truncation, tool schemas, transcript HTML escaping."""
from __future__ import annotations

import json
import re

import pytest

from spatialclaw_ros.agent.executors import tool_call_code, tool_schemas
from spatialclaw_ros.agent.feedback import ImageBudget, truncate
from spatialclaw_ros.agent.loop import extract_code
from spatialclaw_ros.agent.transcript import Transcript, highlight_python, render_html


def test_extract_code_takes_the_last_python_block() -> None:
    text = "Purpose: measure.\n```python\na = 1\n```\nthen\n```json\n{}\n```\n```py\nb = 2\n```\n"
    purpose, code = extract_code(text)
    assert purpose == "Purpose: measure." and code == "b = 2"
    assert extract_code("no code at all")[1] == ""
    assert extract_code("```python\nunterminated = 1\n")[1] == ""


def test_truncate_keeps_head_and_tail_with_a_note() -> None:
    out = truncate("A" * 100 + "B" * 10_000 + "Z" * 100, 1000, "stdout")
    assert out.startswith("A" * 100) and out.endswith("Z" * 100)
    assert "stdout truncated" in out and "10200" in out and len(out) < 1200
    assert truncate("short", 1000, "stdout") == "short"


def test_image_budget_caps_per_step_and_evicts_for_the_query() -> None:
    b = ImageBudget(per_step=2, per_query=3)
    chosen, over, evict = b.take([1, 2, 3], in_conversation=2)
    assert chosen == [1, 2] and over == 1 and evict == 1


def test_tool_schemas_are_valid_openai_functions() -> None:
    schemas = tool_schemas()
    json.dumps(schemas)
    names = [s["function"]["name"] for s in schemas]
    assert len(names) == len(set(names)) and len(names) > 2
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{1,64}", n) for n in names)


def test_tool_call_code_quotes_values_and_refuses_odd_names() -> None:
    methods = {"Geometry_distance": ("Geometry", "distance")}
    code = tool_call_code("Geometry_distance", {"a": "$p", "b": "it's", "assign_to": "d"}, "r", methods)
    assert code.startswith("d = tools.Geometry.distance(a=p, b=\"it's\")")
    with pytest.raises(ValueError, match="identifiers"):
        tool_call_code("Geometry_distance", {"a=1);x(": 1}, "r", methods)
    with pytest.raises(ValueError, match="unknown function"):
        tool_call_code("nope", {}, "r", methods)
    with pytest.raises(ValueError, match="assign_to"):
        tool_call_code("Geometry_distance", {"assign_to": "1x"}, "r", methods)


def test_transcript_html_escapes_model_output(tmp_path) -> None:
    t = Transcript(str(tmp_path))
    t.add("query", question="<b>q</b>", executor="code")
    t.message("assistant", "hi </pre><script>alert(1)</script>\n```python\nx = '<img src=x onerror=y>'\n```")
    t.add("cell", step=1, code="print('<script>')", stdout="<script>bad()</script>", duration_s=0.1)
    path = t.close({"success": False, "error": {"name": "X", "message": "<i>m</i>"}})
    html = open(path).read()
    assert "<script>" not in html and "<img src=x" not in html and "&lt;script&gt;" in html
    lines = open(t.jsonl_path).read().splitlines()
    assert json.loads(lines[-1])["kind"] == "result"
    assert "<span" in highlight_python("def f():\n    return 1  # c\n")


def test_transcript_in_an_unwritable_place_is_a_note_not_a_failure(tmp_path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    t = Transcript(str(blocker / "sub"))
    t.add("query", question="q")
    assert t.close({"success": True}) == "" and "transcript not written" in t.error
    assert render_html([], {}, "id").startswith("<!doctype html>")
