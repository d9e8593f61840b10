"""ReturnAnswer validation against the expected answer type, and text-answer parsing."""
from __future__ import annotations

import math

import numpy as np
import pytest

from spatialclaw_ros.agent.answers import (AnswerMismatch, AnswerSpec, AnswerValidator,
                                           normalize_unit, parse_text_answer)
from spatialclaw_ros.agent.metadata import validate_request
from spatialclaw_ros.agent.types import AnswerType, QueryRequest


def _v(t: AnswerType, question: str = "What is it?", choices: list[str] | None = None,
       poses: list[np.ndarray | None] | None = None) -> AnswerValidator:
    return AnswerValidator(AnswerSpec(
        answer_type=t, choices=choices or [], fixed_frame="odom", question=question,
        stamps_ns=[100, 200], camera_frames=["cam", "cam"], poses=poses or [None, None]))


DIST_Q = "How far is the mug from the laptop, in metres?"


@pytest.mark.parametrize("raw,number,unit", [
    ({"value": 1.25, "unit": "m"}, 1.25, "m"),
    ({"value": 125, "unit": "cm"}, 1.25, "m"),
    ({"value": 1250.0, "unit": "millimetres"}, 1.25, "m"),
    ({"value": 2, "unit": "ft"}, 0.6096, "m"),
    ({"value": np.float32(0.5), "unit": "meters"}, 0.5, "m"),
])
def test_number_converted_to_the_unit_asked(raw: dict, number: float, unit: str) -> None:
    ans = _v(AnswerType.NUMBER, DIST_Q).validate(raw)
    assert ans.number == pytest.approx(number) and ans.unit == unit


def test_question_in_cm_gets_cm() -> None:
    ans = _v(AnswerType.NUMBER, "How wide is the table in cm?").validate({"value": 0.8, "unit": "m"})
    assert ans.number == pytest.approx(80.0) and ans.unit == "cm"


@pytest.mark.parametrize("raw,match", [
    ({"value": 1.25}, r"give the unit.*unit='m'"),
    ({"value": 1.25, "unit": "deg"}, "asks for a length"),
    ({"value": float("nan"), "unit": "m"}, "finite"),
    ({"value": "far", "unit": "m"}, "must be a number"),
    ({"value": True, "unit": "m"}, "boolean"),
    ({"value": 1.0, "unit": "parsecs"}, "unknown unit"),
    ({"value": 1.0, "unit": "m", "uncertainty": -1}, "uncertainty"),
])
def test_number_mismatches_are_rejected(raw: dict, match: str) -> None:
    with pytest.raises(AnswerMismatch, match=match):
        _v(AnswerType.NUMBER, DIST_Q).validate(raw)


def test_unitless_number_allowed_when_question_is_not_metric() -> None:
    ans = _v(AnswerType.NUMBER, "What is the ratio of red to blue pixels?").validate({"value": 0.3})
    assert ans.number == 0.3 and ans.unit == ""


def test_point_in_fixed_frame_and_converted_from_camera_frame() -> None:
    T = np.eye(4)
    T[:3, 3] = [1.0, 2.0, 3.0]
    v = _v(AnswerType.POINT, poses=[T, T])
    assert v.validate({"value": [0.1, 0.2, 0.3], "frame": "odom"}).point == (0.1, 0.2, 0.3)
    ans = v.validate({"value": np.array([0.0, 0.0, 1.0]), "frame": "cam", "unit": "m"})
    assert ans.point == pytest.approx((1.0, 2.0, 4.0)) and ans.frame_id == "odom"
    vec = _v(AnswerType.VECTOR, poses=[T, T]).validate({"value": [0, 0, 1], "frame": "cam"})
    assert vec.vector == pytest.approx((0.0, 0.0, 1.0))   # rotation only


@pytest.mark.parametrize("raw,match", [
    ({"value": [1, 2]}, "3 numbers"),
    ({"value": [1, 2, float("inf")], "frame": "odom"}, "finite"),
    ({"value": [1, 2, 3]}, "say which frame"),
    ({"value": [1, 2, 3], "frame": "map"}, "unknown"),
    ({"value": "here", "frame": "odom"}, "3 numbers"),
])
def test_point_mismatches(raw: dict, match: str) -> None:
    with pytest.raises(AnswerMismatch, match=match):
        _v(AnswerType.POINT).validate(raw)


def test_camera_frame_that_moves_needs_a_stamp() -> None:
    T0, T1 = np.eye(4), np.eye(4)
    T1[0, 3] = 1.0
    v = _v(AnswerType.POINT, poses=[T0, T1])
    with pytest.raises(AnswerMismatch, match="moves between keyframes"):
        v.validate({"value": [0, 0, 1], "frame": "cam"})
    assert v.validate({"value": [0, 0, 1], "frame": "cam", "stamp_ns": 200}).point == (1.0, 0.0, 1.0)


def test_choice_by_text_index_or_letter() -> None:
    v = _v(AnswerType.CHOICE, choices=["left", "right", "behind"])
    assert v.validate({"value": " Right "}).choice_index == 1
    assert v.validate({"value": 2}).choice == "behind"
    assert v.validate({"value": "(A)"}).choice == "left"
    with pytest.raises(AnswerMismatch, match="one of"):
        v.validate({"value": "above"})
    with pytest.raises(AnswerMismatch, match="out of range"):
        v.validate({"value": 3})


def test_boolean_count_text() -> None:
    assert _v(AnswerType.BOOLEAN).validate({"value": np.bool_(True)}).boolean is True
    assert _v(AnswerType.BOOLEAN).validate({"value": "no"}).boolean is False
    with pytest.raises(AnswerMismatch, match="True or False"):
        _v(AnswerType.BOOLEAN).validate({"value": 1})
    assert _v(AnswerType.COUNT).validate({"value": 3.0}).count == 3
    for bad in (-1, 2.5, True):
        with pytest.raises(AnswerMismatch, match="count"):
            _v(AnswerType.COUNT).validate({"value": bad})
    assert _v(AnswerType.TEXT).validate({"value": " red mug "}).text == "red mug"
    with pytest.raises(AnswerMismatch, match="empty"):
        _v(AnswerType.TEXT).validate({"value": "  "})


def test_auto_infers_the_type() -> None:
    v = _v(AnswerType.AUTO, DIST_Q)
    assert v.validate({"value": 1.0, "unit": "m"}).answer_type == AnswerType.NUMBER
    assert v.validate({"value": False}).answer_type == AnswerType.BOOLEAN
    assert v.validate({"value": [1, 2, 3], "frame": "odom"}).answer_type == AnswerType.POINT
    assert _v(AnswerType.AUTO, "How many mugs?").validate({"value": 2}).answer_type == AnswerType.COUNT
    with pytest.raises(AnswerMismatch, match="give the unit"):
        v.validate({"value": 2})


def test_parse_text_answer_prefers_json_then_heuristics() -> None:
    v = _v(AnswerType.NUMBER, DIST_Q)
    assert parse_text_answer('I think {"value": 150, "unit": "cm"}', v, is_fallback=True).number == 1.5
    assert parse_text_answer("so the distance is about 0.75 m", v).number == 0.75
    with pytest.raises(AnswerMismatch):
        parse_text_answer("no idea", v)
    c = _v(AnswerType.CHOICE, choices=["left", "right"])
    assert parse_text_answer("It is on the right.", c).choice == "right"
    assert parse_text_answer("Answer: yes", _v(AnswerType.BOOLEAN)).boolean is True
    assert math.isnan(parse_text_answer('{"value": 1, "unit": "m"}', v).uncertainty)


def test_units_normalise() -> None:
    assert normalize_unit("Metres") == "m" and normalize_unit("feet") == "ft"
    assert normalize_unit("degrees") == "deg" and normalize_unit(None) == ""


@pytest.mark.parametrize("req,match", [
    (QueryRequest(""), "empty"),
    (QueryRequest("   "), "empty"),
    (QueryRequest("which?", answer_type=AnswerType.CHOICE), "at least 2 choices"),
    (QueryRequest("which?", answer_type=AnswerType.CHOICE, choices=["a", "A"]), "distinct"),
    (QueryRequest("how far?", answer_type=AnswerType.NUMBER, choices=["a", "b"]), "use 'choice'"),
    (QueryRequest("q", max_steps=-1), "max_steps"),
    (QueryRequest("q", start_ns=10, end_ns=5), "end_ns"),
])
def test_invalid_requests_are_explained(req: QueryRequest, match: str) -> None:
    assert match in validate_request(req, [])


def test_geometry_reaches_the_answer_for_markers() -> None:
    geo = {"closest_points": [[0.0, 0.0, 1.0], [0.5, 0.0, 1.0]], "frame": "cam"}
    ans = _v(AnswerType.NUMBER, DIST_Q).validate({"value": 0.5, "unit": "m", "geometry": geo})
    assert ans.geometry == geo
    ans = _v(AnswerType.NUMBER, DIST_Q).validate(
        {"value": 0.5, "unit": "m", "geometry": {"centroids": {"mug": [1, 2, 3]}}})
    assert ans.geometry["frame"] == "odom"
    with pytest.raises(AnswerMismatch, match="geometry must be a dict"):
        _v(AnswerType.NUMBER, DIST_Q).validate({"value": 0.5, "unit": "m", "geometry": [1, 2]})
