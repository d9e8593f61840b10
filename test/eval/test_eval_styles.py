"""Recording styles real robots produce (issue 14), through the real pipeline with reference programs.

test/data/styles holds four bags made by `spatialclaw sim --preset styles`: RealSense driver topic
names in sqlite3 with noisy 16UC1 mm depth and dropouts; JPEG CompressedImage colour; no depth at
all; a 12 s slow walk at 4 Hz where objects leave the view. No sidecar lies beside any bag (the
ground truth is in styles/truth/): object names come from the bag's label legend topic.
Asserted: MRA >= 0.99 on metric questions and exact choices/counts wherever depth exists; on the
no-depth bag every question that needs depth ends with CANNOT_ANSWER ("needs a depth model"),
never a number. Figures go to build/eval-styles.json.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from spatialclaw_ros.bags.reader import load_bag
from spatialclaw_ros.config import Config, load_config
from spatialclaw_ros.eval.runner import EvalReport, ItemResult, run_eval
from spatialclaw_ros.eval.scenes import load_items
from spatialclaw_ros.sim.generate import sidecar_path

WITH_DEPTH = ("rs_sqlite_mm", "jpeg_mcap", "long_slow")
NO_DEPTH_OK = {"camera_travel", "camera_turn", "count_colour", "count_class"}   # no depth needed


@pytest.fixture(scope="module")
def styles(data_dir: Path) -> Path:
    return data_dir / "styles"


@pytest.fixture(scope="module")
def report(styles: Path, tmp_path_factory: pytest.TempPathFactory) -> EvalReport:
    cfg = load_config()
    cfg.agent.transcript_dir = str(tmp_path_factory.mktemp("transcripts"))
    cfg.perception.engine_dir = str(tmp_path_factory.mktemp("no-engines"))   # no DA3 set up
    return run_eval(load_items([styles / "truth"]), cfg, programs_dir=styles / "programs",
                    parallel=2, progress=False)


def _of(report: EvalReport, scene: str) -> list[ItemResult]:
    return [i for i in report.items if i.scene == scene]


def test_bags_hold_their_own_legend_and_no_sidecar(styles: Path) -> None:
    for name in (*WITH_DEPTH, "no_depth"):
        bag = styles / name
        assert not sidecar_path(bag).exists()
        r = load_bag(bag, Config(), load_frames=False).report
        assert r.objects and r.legend_topic.endswith("/legend"), name
    r = load_bag(styles / "rs_sqlite_mm", Config(), load_frames=False).report
    assert r.storage == "sqlite3" and r.formats["depth"].startswith("16UC1")
    assert r.roles["color"] == "/camera/camera/color/image_raw"
    assert load_bag(styles / "jpeg_mcap", Config(), load_frames=False).report.formats[
        "color"].startswith("jpeg")
    assert load_bag(styles / "no_depth", Config(), load_frames=False).report.roles["depth"] == ""


@pytest.mark.parametrize("scene", WITH_DEPTH)
def test_styles_with_depth_score_like_our_own_bags(report: EvalReport, scene: str) -> None:
    items = _of(report, scene)
    assert len(items) >= 10
    failed = [(i.qid, i.error[:300]) for i in items if not i.success]
    assert not failed
    metric = [i for i in items if i.metric in ("mra", "point_mra")]
    exact = [i for i in items if i.metric == "exact"]
    mra = sum(i.score for i in metric) / len(metric)
    assert mra >= 0.99, [(i.qid, i.predicted, i.ground_truth) for i in metric if i.score < 1]
    assert all(i.score == 1.0 for i in exact), [(i.qid, i.predicted, i.ground_truth) for i in exact]


def test_no_depth_says_cannot_answer_never_a_number(report: EvalReport) -> None:
    items = _of(report, "no_depth")
    need_depth = [i for i in items if i.kind not in NO_DEPTH_OK]
    assert len(need_depth) >= 5
    for i in need_depth:
        assert not i.success and i.cannot_answer and i.predicted is None, (i.qid, i.answer_text)
        assert i.error.startswith("CANNOT_ANSWER: cannot answer: needs a depth model"), i.error
    rest = [i for i in items if i.kind in NO_DEPTH_OK]
    assert rest and all(i.success and i.score >= 0.99 for i in rest), \
        [(i.qid, i.score, i.error[:200]) for i in rest]
    assert report.overall.cannot_answer == len(need_depth)
    assert report.overall.wrong == 0                     # cannot-answer is not counted as wrong


def test_write_figures(report: EvalReport, repo_root: Path) -> None:
    """Per style: metric MRA, exact share, answered, cannot-answer (printed and written)."""
    figs = {}
    for scene in (*WITH_DEPTH, "no_depth"):
        items = _of(report, scene)
        metric = [i for i in items if i.metric in ("mra", "point_mra") and i.success]
        exact = [i for i in items if i.metric == "exact" and i.success]
        figs[scene] = {
            "n": len(items), "answered": sum(i.success for i in items),
            "cannot_answer": sum(i.cannot_answer for i in items),
            "metric_mra_of_answered": round(sum(i.score for i in metric) / len(metric), 4)
            if metric else None,
            "exact_share_of_answered": round(sum(i.score for i in exact) / len(exact), 4)
            if exact else None}
    print(json.dumps(figs, indent=1))
    out = repo_root / "build" / "eval-styles.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(figs, indent=1) + "\n")
    assert set(figs) == {*WITH_DEPTH, "no_depth"}
