"""Bad input and faults: each gives a result with a specific error code, and the node keeps serving."""
from __future__ import annotations

import time

from ros_graph import NS, call_service, fast_config, wait_for

from spatialclaw_ros.errors import ErrorCode


def _t0() -> int:
    return time.time_ns() - 5 * NS


def test_no_frames_yet(make_graph) -> None:
    g = make_graph()
    res = call_service(g, "how far is the mug?")
    assert not res.success
    assert res.error.code == ErrorCode.NO_FRAMES and res.error.name == "NO_FRAMES"
    assert "no camera frames received yet" in res.error.message
    assert g.cfg.topics.color in res.error.message


def test_empty_question_and_bad_answer_type_are_invalid_requests(make_graph) -> None:
    g = make_graph()
    res = call_service(g, "   ")
    assert res.error.code == ErrorCode.INVALID_REQUEST and "question is empty" in res.error.message
    res = call_service(g, "how far?", answer_type="distance")
    assert res.error.code == ErrorCode.INVALID_REQUEST and "unknown answer_type" in res.error.message


def test_camera_info_missing(make_graph) -> None:
    g = make_graph()
    g.camera.stream(4, t0_ns=_t0(), info=False)
    wait_for(lambda: g.agent.health().images_received >= 4, what="images at the node")
    res = call_service(g, "how far is the mug?")
    assert res.error.code == ErrorCode.NO_CAMERA_INFO, res.error.message
    assert g.cfg.topics.camera_info in res.error.message


def test_frames_without_tf_to_fixed_frame(make_graph) -> None:
    g = make_graph()
    g.camera.stream(4, t0_ns=_t0(), tf=False)
    wait_for(lambda: g.agent.health().images_received >= 4, what="images at the node")
    res = call_service(g, "how far is the mug?")
    assert res.error.code == ErrorCode.NO_TRANSFORM, res.error.message
    assert "'odom'" in res.error.message and "camera_color_optical_frame" in res.error.message


def test_question_outside_buffered_window(make_graph) -> None:
    g = make_graph()
    t0 = _t0()
    g.camera.stream(4, t0_ns=t0)
    wait_for(lambda: len(g.agent.ingest.buffer) >= 3, what="frames buffered")
    later = t0 + 3600 * NS
    res = call_service(g, "how far is the mug?",
                       start=_time(later), end=_time(later + NS))
    assert res.error.code == ErrorCode.NO_FRAMES, res.error.message
    assert "no buffered frame between" in res.error.message


def test_reversed_window_is_invalid(make_graph) -> None:
    g = make_graph()
    t0 = _t0()
    res = call_service(g, "how far?", start=_time(t0 + NS), end=_time(t0))
    assert res.error.code == ErrorCode.INVALID_REQUEST and "ends before it starts" in res.error.message


def test_depth_nan_or_zero_everywhere(make_graph) -> None:
    g = make_graph()
    g.camera.stream(3, t0_ns=_t0(), depth_m=float("nan"))
    wait_for(lambda: len(g.agent.ingest.buffer) >= 2, what="frames buffered")
    res = call_service(g, "how far is the mug?")
    assert res.error.code == ErrorCode.NO_VALID_DEPTH, res.error.message
    # zero depth (16UC1-style invalid) is refused the same way, and the node keeps serving
    g2 = make_graph(fast_config(**{"keyframes.max_frames": 4}))
    g2.camera.stream(3, t0_ns=_t0(), depth_m=0.0)
    wait_for(lambda: len(g2.agent.ingest.buffer) >= 2, what="frames buffered")
    assert call_service(g2, "how far?").error.code == ErrorCode.NO_VALID_DEPTH


def _time(ns: int):
    from spatialclaw_ros.ros.conversions import ns_to_time

    return ns_to_time(ns)
