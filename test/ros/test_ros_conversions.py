"""Messages <-> core dataclasses, and markers built from an answer's geometry."""
from __future__ import annotations

import math

import pytest
from visualization_msgs.msg import Marker

from spatialclaw_ros.action import SpatialQuery
from spatialclaw_ros.agent.types import (Answer, AnswerType, Executor, Phase, QueryResult,
                                         StageTimings, StepProgress)
from spatialclaw_ros.errors import ErrorCode, InvalidRequestError
from spatialclaw_ros.ros import conversions as conv
from spatialclaw_ros.ros.markers import answer_markers


def test_goal_to_request_and_back() -> None:
    goal = SpatialQuery.Goal(question="  how far?  ", answer_type="number", max_steps=5,
                             executor="single_pass", timeout_s=12.5, fixed_frame="map",
                             start=conv.ns_to_time(1_700_000_000_123_456_789),
                             end=conv.ns_to_time(1_700_000_010_000_000_000),
                             frames=" last,12,-2 ")
    req = conv.request_from_goal(goal)
    assert req.frames == "last,12,-2"
    assert req.question == "how far?" and req.answer_type is AnswerType.NUMBER
    assert req.executor is Executor.SINGLE_PASS and req.max_steps == 5 and req.timeout_s == 12.5
    assert req.start_ns == 1_700_000_000_123_456_789 and req.fixed_frame == "map"
    again = conv.request_from_goal(SpatialQuery.Goal(**conv.goal_fields(req)))
    assert again == req


@pytest.mark.parametrize("fields, match", [
    ({"question": ""}, "question is empty"),
    ({"question": "q", "answer_type": "meters"}, "unknown answer_type 'meters'"),
    ({"question": "q", "executor": "magic"}, "unknown executor 'magic'"),
    ({"question": "q", "answer_type": "choice", "choices": ["a"]}, "at least two"),
    ({"question": "q", "timeout_s": -1.0}, "timeout_s must be >= 0"),
    ({"question": "q", "frames": "newest"}, "goal.frames: 'newest' is not a frame"),
    ({"question": "q", "frames": " , "}, "goal.frames is empty"),
])
def test_malformed_goals_raise_invalid_request(fields: dict, match: str) -> None:
    with pytest.raises(InvalidRequestError, match=match):
        conv.request_from_goal(SpatialQuery.Goal(**fields))


def test_result_round_trip_keeps_typed_values() -> None:
    ans = Answer(AnswerType.POINT, "[1.000, 2.000, 0.500] m in odom", point=(1.0, 2.0, 0.5),
                 frame_id="odom", stamp_ns=1_700_000_001_000_000_000, unit="m")
    res = QueryResult(success=True, answer=ans, steps_used=3,
                      frame_stamps_ns=[1_700_000_000_000_000_000, 1_700_000_000_500_000_000],
                      transcript_path="/tmp/t.jsonl",
                      timings=StageTimings(vlm_s=1.5, kernel_s=0.25, total_s=2.0, vlm_calls=3),
                      sandbox_layers=["rlimits", "netns"])
    msg = conv.fill_result(SpatialQuery.Result(), res, "odom")
    assert msg.answer.point.header.frame_id == "odom"
    assert (msg.answer.point.point.x, msg.answer.point.point.z) == (1.0, 0.5)
    assert conv.time_to_ns(msg.answer.point.header.stamp) == ans.stamp_ns
    assert msg.error.code == 0 and msg.error.name == "NONE"
    back = conv.result_from_msg(msg)
    assert back.answer.point == (1.0, 2.0, 0.5) and back.answer.answer_type is AnswerType.POINT
    assert back.frame_stamps_ns == res.frame_stamps_ns and back.timings.vlm_calls == 3
    assert back.sandbox_layers == ["rlimits", "netns"] and back.steps_used == 3


def test_error_result_fills_code_name_and_nan_number() -> None:
    msg = conv.fill_result(SpatialQuery.Result(),
                           conv.error_result(ErrorCode.NO_TRANSFORM, "publish TF"), "odom")
    assert not msg.success and msg.error.code == 3 and msg.error.name == "NO_TRANSFORM"
    assert math.isnan(msg.answer.number)
    back = conv.result_from_msg(msg)
    assert back.answer is None and back.error_code is ErrorCode.NO_TRANSFORM


def test_progress_round_trip() -> None:
    p = StepProgress(step=2, max_steps=30, phase=Phase.EXECUTING, purpose="segment the mug",
                     code_excerpt="m = tools.SAM3(...)", elapsed_s=3.5)
    assert conv.progress_from_msg(conv.progress_to_msg(p)) == p


def test_markers_from_geometry() -> None:
    ans = Answer(AnswerType.NUMBER, "0.42 m", number=0.42, unit="m", geometry={
        "closest_points": [[0.0, 0.0, 0.5], [0.42, 0.0, 0.5]],
        "centroids": {"mug": [0.0, 0.1, 0.55], "laptop": [0.6, 0.0, 0.52]},
        "boxes": [{"center": [0.6, 0, 0.5], "size": [0.3, 0.2, 0.02], "name": "laptop"}],
        "segments": [[[0, 0, 0], "not a point"]],
    })
    build = answer_markers(ans, "odom")
    ms = build.markers.markers
    assert ms[0].action == Marker.DELETEALL
    spheres = [m for m in ms if m.type == Marker.SPHERE]
    assert len(spheres) == 4                       # two closest points + two centroids
    line = next(m for m in ms if m.type == Marker.LINE_STRIP)
    assert [(p.x, p.z) for p in line.points] == [(0.0, 0.5), (0.42, 0.5)]
    texts = {m.text for m in ms if m.type == Marker.TEXT_VIEW_FACING}
    assert {"0.420 m", "mug", "laptop"} <= texts
    assert any(m.type == Marker.CUBE for m in ms)
    assert all(m.header.frame_id == "odom" for m in ms)
    assert len({m.id for m in ms[1:]}) == len(ms) - 1
    assert build.skipped == ["segments[0]: expected [p0, p1] or {start, end}"]


def test_point_and_vector_answers_become_markers() -> None:
    pt = answer_markers(Answer(AnswerType.POINT, "p", point=(1.0, 2.0, 3.0), frame_id="map"), "odom")
    sphere = next(m for m in pt.markers.markers if m.type == Marker.SPHERE)
    assert sphere.header.frame_id == "map" and sphere.pose.position.y == 2.0
    vec = answer_markers(Answer(AnswerType.VECTOR, "v", vector=(0.0, 1.0, 0.0),
                                geometry={"vector_origin": [1.0, 0.0, 0.0]}), "odom")
    arrow = next(m for m in vec.markers.markers if m.type == Marker.ARROW and m.action == Marker.ADD)
    assert [(p.x, p.y) for p in arrow.points] == [(1.0, 0.0), (1.0, 1.0)]
