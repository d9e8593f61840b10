"""The committed question set through the real pipeline: load_bag -> run_query(program=...) -> score.

Noiseless sensor depth (sim_a 32FC1, sim_b 16UC1): metric questions reach MRA >= 0.95 and every
choice, count and yes/no is exact. With depth noise (sim_a_noisy) the figures are reported only:
printed and written to build/eval-figures.json.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from spatialclaw_ros.config import load_config
from spatialclaw_ros.eval.runner import EvalReport, format_table, run_eval
from spatialclaw_ros.eval.scenes import load_items

NOISELESS = ("sim_a", "sim_b")


@pytest.fixture(scope="module")
def report(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> EvalReport:
    """One eval run over every committed scene (two questions at a time)."""
    cfg = load_config()
    cfg.agent.transcript_dir = str(tmp_path_factory.mktemp("transcripts"))
    items = load_items([data_dir])
    return run_eval(items, cfg, programs_dir=data_dir / "programs", parallel=2, progress=False)


def _subset(report: EvalReport, scenes: tuple[str, ...]) -> list:
    return [i for i in report.items if i.scene in scenes]


def test_every_question_has_a_program_and_an_answer(report: EvalReport) -> None:
    """No program is missing and every run returned a typed answer."""
    assert len(report.items) >= 30
    failed = [(i.qid, i.error[:300]) for i in report.items if not i.success]
    assert not failed


def test_noiseless_metric_questions_reach_mra_095(report: EvalReport) -> None:
    """Numbers and points from noiseless sensor depth: mean MRA >= 0.95, none below 0.8."""
    metric = [i for i in _subset(report, NOISELESS) if i.metric in ("mra", "point_mra")]
    assert len(metric) >= 14
    mean = sum(i.score for i in metric) / len(metric)
    assert mean >= 0.95, format_table(report)
    assert min(i.score for i in metric) >= 0.8, [(i.qid, i.predicted, i.ground_truth)
                                                  for i in metric if i.score < 0.8]


def test_noiseless_choices_counts_booleans_are_exact(report: EvalReport) -> None:
    """Exact answers on every choice, count and yes/no question of the noiseless scenes."""
    exact = [i for i in _subset(report, NOISELESS) if i.metric == "exact"]
    assert len(exact) >= 8
    wrong = [(i.qid, i.predicted, i.ground_truth) for i in exact if i.score != 1.0]
    assert not wrong


def test_camera_motion_is_exact_from_tf(report: EvalReport) -> None:
    """Camera travel and turn come from TF alone: within 1 mm / 0.01 degree."""
    for i in _subset(report, NOISELESS + ("sim_a_noisy",)):
        if i.kind == "camera_travel":
            assert abs(i.predicted - i.ground_truth) < 1e-3
        if i.kind == "camera_turn":
            assert abs(i.predicted - i.ground_truth) < 1e-2


def test_report_figures_with_noise(report: EvalReport, repo_root: Path) -> None:
    """Figures per scene (noisy included) are printed and written; the report is consistent."""
    figures = {}
    for scene in sorted({i.scene for i in report.items}):
        sub = _subset(report, (scene,))
        metric = [i.score for i in sub if i.metric in ("mra", "point_mra")]
        exact = [i.score for i in sub if i.metric == "exact"]
        figures[scene] = {"n": len(sub), "metric_mra": sum(metric) / len(metric),
                          "exact": sum(exact) / len(exact), "overall": sum(i.score for i in sub) / len(sub)}
    print("\n" + format_table(report))
    print(json.dumps(figures, indent=1))
    out = repo_root / "build" / "eval-figures.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"figures": figures, "report": report.to_dict()}, indent=1,
                              default=str) + "\n")
    assert set(figures) == {"sim_a", "sim_b", "sim_a_noisy"}
    assert all(0.0 <= f["overall"] <= 1.0 for f in figures.values())
    n = sum(g.n for g in report.by_kind)
    assert n == report.overall.n == len(report.items)
    assert math.isclose(sum(g.mean_score * g.n for g in report.by_answer_type) / n,
                        report.overall.mean_score)
