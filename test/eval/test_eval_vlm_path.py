"""The VLM path of eval and of the demo, against the project's scripted OpenAI-compatible server.

The "model" here replies with a plan and then the reference program as its code step: what is
tested is the wiring (reachability check, agent loop, kernel, Metadata['objects'], scoring), not a
model's skill.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from spatialclaw_ros.cli import main
from spatialclaw_ros.eval.programs import program_for
from spatialclaw_ros.eval.scenes import load_items
from support.scripted_vlm import Reply, ScriptedVlmServer


def _step(code: str) -> str:
    return f"Measure it with the tools.\n```python\n{code}\n```"


def test_eval_through_the_agent_loop(data_dir: Path, tmp_path: Path) -> None:
    """Two questions answered by the code executor; the object question needs Metadata['objects']."""
    items = load_items([data_dir / "sim_a"], only=["sim_a/q04", "sim_a/q09"])
    script = []
    for it in items:
        script += [Reply("1. segment\n2. measure\n3. answer"), Reply(_step(program_for(it.question,
                                                                                    it.scene)))]
    with ScriptedVlmServer(script) as srv:
        out = tmp_path / "out"
        rc = main(["eval", str(data_dir / "sim_a"), "--only", "sim_a/q04", "--only", "sim_a/q09",
                   "--vlm-url", srv.base_url, "--model", "scripted", "--executor", "code",
                   "--out", str(out), "--no-progress"])
        assert rc == 0
        assert not srv.exhausted
    res = json.loads((out / "results.json").read_text())
    assert res["mode"].startswith("vlm scripted @ http://127.0.0.1:")
    assert [i["score"] for i in res["items"]] == [1.0, 1.0]
    assert all(i["steps_used"] >= 1 for i in res["items"])


def test_demo_uses_a_reachable_vlm(data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                   capsys: pytest.CaptureFixture) -> None:
    """With VLM_URL reachable the demo asks the model, and prints its answer next to the truth."""
    from spatialclaw_ros.eval.demo import DATA_DIR

    prog = (DATA_DIR / "programs" / "demo_scene" / "q00.py").read_text()
    with ScriptedVlmServer([Reply("plan"), Reply(_step(prog))]) as srv:
        monkeypatch.setenv("VLM_URL", srv.base_url)
        rc = main(["query", "--demo", "--model", "scripted", "--set",
                   f"agent.transcript_dir={tmp_path}"])
        out = capsys.readouterr().out
    assert rc == 0, out
    assert "answering: VLM scripted at http://127.0.0.1:" in out
    assert "ground truth:" in out and "score:        1.00" in out
