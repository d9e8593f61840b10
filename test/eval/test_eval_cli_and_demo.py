"""`spatialclaw eval` outputs, its error messages, and `spatialclaw query --demo` without a VLM."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from spatialclaw_ros.cli import main

DEAD_VLM = "http://127.0.0.1:9/v1"     # discard port on loopback: connection refused at once


def test_eval_cli_writes_json_and_html_with_transcript_links(data_dir: Path, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture) -> None:
    """Two questions by program: a table on stdout, results.json, a report linking transcripts."""
    out = tmp_path / "run"
    rc = main(["eval", str(data_dir / "sim_b.scene.json"), "--programs", str(data_dir / "programs"),
               "--only", "sim_b/q04", "--only", "sim_b/q09", "--out", str(out), "-j", "2"])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    assert re.search(r"overall\s+2\s+2\s+1\.000", captured.out)
    assert "2/2" in captured.err                                   # progress bar on stderr
    res = json.loads((out / "results.json").read_text())
    assert [i["qid"] for i in res["items"]] == ["sim_b/q04", "sim_b/q09"]
    assert res["overall"]["mean_score"] == 1.0
    html = (out / "report.html").read_text()
    links = re.findall(r"href='([^']+)'", html)
    assert len(links) == 2
    for href in links:
        assert not href.startswith("/") and (out / href).exists()
    assert "data:image/png;base64," in html and "Mean Relative Accuracy" in html


def test_eval_cli_refuses_without_vlm_or_programs(data_dir: Path, capsys: pytest.CaptureFixture
                                                  ) -> None:
    """Without --programs and with no VLM reachable, eval says what to do instead of hanging."""
    rc = main(["eval", str(data_dir / "sim_a"), "--vlm-url", DEAD_VLM])
    err = capsys.readouterr().err
    assert rc == 2 and "not reachable" in err and "--programs" in err


@pytest.mark.parametrize("args,needle", [
    (["/nonexistent/set"], "cannot load"),
    (["{data}/sim_a", "--only", "nope/q99", "--programs", "{data}/programs"], "no questions match"),
    (["{data}/sim_a", "--programs", "/nonexistent"], "not a directory"),
])
def test_eval_cli_bad_input(data_dir: Path, capsys: pytest.CaptureFixture, args: list[str],
                            needle: str) -> None:
    """Bad sets, filters and program folders give exit code 2 and a message."""
    rc = main(["eval"] + [a.format(data=data_dir) for a in args])
    assert rc == 2 and needle in capsys.readouterr().err


def test_missing_program_scores_zero_not_crash(data_dir: Path, tmp_path: Path) -> None:
    """A question without a program is reported as such and scores 0."""
    from spatialclaw_ros.config import load_config
    from spatialclaw_ros.eval.runner import run_eval
    from spatialclaw_ros.eval.scenes import load_items

    (tmp_path / "sim_a").mkdir()
    items = load_items([data_dir / "sim_a"], only=["sim_a/q05"])
    rep = run_eval(items, load_config(), programs_dir=tmp_path, progress=False)
    assert rep.items[0].score == 0.0 and "no program" in rep.items[0].error


def test_write_programs_round_trip(data_dir: Path, tmp_path: Path) -> None:
    """--write-programs reproduces the committed programs (they are the reference programs)."""
    assert main(["eval", str(data_dir), "--write-programs", str(tmp_path)]) == 0
    for p in sorted((data_dir / "programs").rglob("*.py")):
        assert (tmp_path / p.relative_to(data_dir / "programs")).read_text() == p.read_text(), p
    assert main(["eval", str(data_dir), "--write-programs", str(tmp_path)]) == 2   # no overwrite


def test_demo_without_vlm_uses_the_bundled_program(monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture, tmp_path: Path
                                                   ) -> None:
    """No VLM reachable: the demo says so, answers by program and prints the ground truth."""
    monkeypatch.delenv("VLM_URL", raising=False)
    monkeypatch.delenv("SPATIALCLAW_VLM_URL", raising=False)
    rc = main(["query", "--demo", "--vlm-url", DEAD_VLM, "--set",
               f"agent.transcript_dir={tmp_path}"])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "bundled example program" in out and "no VLM reachable" in out
    answer = float(re.search(r"answer:\s+([0-9.]+)", out).group(1))
    truth = float(re.search(r"ground truth:\s+([0-9.]+)", out).group(1))
    assert abs(answer - truth) / truth < 0.05
    assert "score:        1.00" in out


def test_demo_json_and_unknown_question(monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture, tmp_path: Path) -> None:
    """--json prints one JSON document; a question the scene cannot score, without VLM, is refused."""
    monkeypatch.delenv("VLM_URL", raising=False)
    rc = main(["query", "--demo", "--json", "--vlm-url", DEAD_VLM,
               "--question", "How many tables are there?", "--set", f"agent.transcript_dir={tmp_path}"])
    out = capsys.readouterr().out
    doc = json.loads(out)
    assert rc == 0 and doc["ground_truth"] == 1 and doc["score"] == 1.0
    rc = main(["query", "--demo", "--vlm-url", DEAD_VLM, "--question", "What colour is the sky?"])
    assert rc == 2 and "How many tables are there?" in capsys.readouterr().err
