"""MRA and exact-match scoring."""
from __future__ import annotations

import math

import pytest

from spatialclaw_ros.eval.scoring import (
    THRESHOLDS, convert_unit, mra, normalise_choice, point_mra, score_answer)


def test_thresholds_are_050_to_095() -> None:
    """Ten thresholds 0.50, 0.55, ..., 0.95."""
    assert THRESHOLDS == (0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95)


@pytest.mark.parametrize("pred,gt,expected", [
    (2.0, 2.0, 1.0),          # exact
    (2.09, 2.0, 1.0),         # 4.5 % < 5 %: every threshold
    (2.14, 2.0, 0.9),         # 7 %: passes t <= 0.90 (9 of 10)
    (1.86, 2.0, 0.9),         # symmetric below
    (2.5, 2.0, 0.5),          # 25 %: passes t < 0.75 -> 0.50..0.70 (5)
    (2.98, 2.0, 0.1),         # 49 %: only t = 0.50
    (3.0, 2.0, 0.0),          # 50 %: fails 0.50 too (strict <)
    (-2.0, 2.0, 0.0),
    (-1.0, -1.0, 1.0),        # negative ground truth uses |gt|
])
def test_mra_values(pred: float, gt: float, expected: float) -> None:
    """MRA counts the thresholds t with relative error < 1 - t."""
    assert mra(pred, gt) == pytest.approx(expected)


def test_mra_rejects_zero_ground_truth_and_scores_nan_zero() -> None:
    """Zero ground truth is an error; NaN/inf predictions score 0."""
    with pytest.raises(ValueError, match="non-zero"):
        mra(1.0, 0.0)
    assert mra(math.nan, 1.0) == 0.0 and mra(math.inf, 1.0) == 0.0


def test_point_mra_is_relative_to_scale() -> None:
    """10 cm off at 2 m scores like a 5 % error: 0.9 (5 % is not < 5 %); 8 cm -> 1.0."""
    gt = [1.0, 2.0, 0.5]
    assert point_mra([1.0, 2.08, 0.5], gt, 2.0) == pytest.approx(1.0)
    assert point_mra([1.0, 2.1, 0.5], gt, 2.0) == pytest.approx(0.9)
    assert point_mra([1.0, 3.0, 0.5], gt, 2.0) == pytest.approx(0.0)   # 50 %
    assert point_mra([1.0, 2.0], gt, 2.0) == 0.0                          # malformed
    with pytest.raises(ValueError, match="scale"):
        point_mra(gt, gt, 0.0)


def test_units_and_choice_normalisation() -> None:
    """cm/mm/ft to m, rad to deg; articles and punctuation ignored in choices."""
    assert convert_unit(150.0, "cm", "m") == pytest.approx(1.5)
    assert convert_unit(1500.0, "mm", "m") == pytest.approx(1.5)
    assert convert_unit(math.pi / 2, "rad", "deg") == pytest.approx(90.0)
    assert convert_unit(2.0, "", "m") == 2.0
    assert normalise_choice("The Red mug.") == "red mug"


def _q(at: str, answer, **kw) -> dict:  # noqa: ANN001
    return {"answer_type": at, "answer": answer, "unit": kw.pop("unit", ""), **kw}


def test_score_answer_by_type() -> None:
    """Each answer type reads its field of Answer.to_dict(), with fallbacks to text."""
    assert score_answer(_q("number", 1.5, unit="m"), {"number": 150.0, "unit": "cm"}).score == 1.0
    assert score_answer(_q("number", 1.5, unit="m"), {"number": None, "text": "about 1.45 m"}
                        ).score == 1.0
    assert score_answer(_q("number", 1.5, unit="m"), {"text": "far"}).score == 0.0
    pt = _q("point", [1.0, 0.0, 0.5], unit="m", scale_m=2.0, evidence={"frame": "odom"})
    assert score_answer(pt, {"point": [1.0, 0.0, 0.52], "frame_id": "odom"}).score == 1.0
    wrong_frame = score_answer(pt, {"point": [1.0, 0.0, 0.5], "frame_id": "base_link"})
    assert wrong_frame.score == 0.0 and "base_link" in wrong_frame.notes[0]
    ch = _q("choice", "white mug", choices=["white mug", "yellow ball"])
    assert score_answer(ch, {"choice": "White mug", "text": ""}).score == 1.0
    assert score_answer(ch, {"choice": "yellow ball"}).score == 0.0
    assert score_answer(_q("count", 2), {"count": 2}).score == 1.0
    assert score_answer(_q("count", 2), {"count": 3}).score == 0.0
    assert score_answer(_q("count", 2), {"count": None, "number": 2.0}).score == 1.0
    assert score_answer(_q("boolean", True), {"boolean": True}).score == 1.0
    assert score_answer(_q("boolean", True), {"boolean": None, "text": "no"}).score == 0.0
    assert score_answer(_q("boolean", False), {"boolean": None, "text": "No."}).score == 1.0
    assert score_answer(_q("number", 1.0), None).notes == ["no answer"]
    with pytest.raises(ValueError, match="cannot score"):
        score_answer(_q("text", "x"), {"text": "x"})


def test_sidecar_objects_for_the_labels_backend(data_dir) -> None:  # noqa: ANN001
    """A sim bag's sidecar gives [{id, name, class, color}]; a bag without one gives []."""
    from spatialclaw_ros.eval.scenes import sidecar_objects

    objs = sidecar_objects(data_dir / "sim_a")
    assert objs[0] == {"id": 1, "name": "white table", "class": "table", "color": "white"}
    assert sidecar_objects(data_dir / "no_such_bag") == []
