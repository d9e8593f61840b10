"""The SpatialQuery action end to end: scripted VLM, feedback, typed result, markers, cancel, concurrency."""
from __future__ import annotations

import os
import threading
import time

from ros_graph import NS, fast_config, wait_for
from support.scripted_vlm import Reply, ScriptedVlmServer
from visualization_msgs.msg import Marker, MarkerArray

from spatialclaw_ros.agent.types import Phase
from spatialclaw_ros.errors import ErrorCode
from spatialclaw_ros.ros.client import SpatialQueryClient, TaskStatus

POINT_CELL = ("I return the mug's position.\n```python\n"
              "ReturnAnswer([1.0, 2.0, 0.5], unit='m', frame='odom')\n```")


def _slow_answer(seconds: float, value: float) -> str:
    return (f"import time\nt0 = time.time()\nwhile time.time() - t0 < {seconds}:\n    pass\n"
            f"ReturnAnswer({value}, unit='m')\n")


def _frames(g, n: int = 4) -> list[int]:
    stamps = g.camera.stream(n, t0_ns=time.time_ns() - 5 * NS)
    wait_for(lambda: len(g.agent.ingest.buffer) >= n - 1, what="frames buffered")
    return stamps


def test_goal_with_scripted_vlm_gives_feedback_typed_result_and_markers(make_graph, shared_pool, tmp_path) -> None:
    with ScriptedVlmServer([Reply("Plan: read the mug position and return it."),
                            Reply(POINT_CELL)]) as vlm:
        cfg = fast_config(**{"vlm.base_url": vlm.base_url, "agent.transcript_dir": str(tmp_path)})
        g = make_graph(cfg, pool=shared_pool)
        markers: list[MarkerArray] = []
        g.helper.create_subscription(MarkerArray, "/spatialclaw_agent/markers", markers.append, 10)
        stamps = _frames(g)
        client = SpatialQueryClient(g.helper)
        feedback = []
        result = client.ask("where is the mug?", answer_type="point", timeout_s=120.0,
                            on_feedback=feedback.append)
        assert result.success, (result.error_code, result.error_message)
        assert client.status() is TaskStatus.SUCCEEDED
        a = result.answer
        assert a.point == (1.0, 2.0, 0.5) and a.frame_id == "odom"
        assert set(result.frame_stamps_ns) <= set(stamps) and result.frame_stamps_ns
        assert result.steps_used >= 1 and result.timings.vlm_calls == len(vlm.requests) >= 2
        assert os.path.exists(result.transcript_path)
        phases = [p.phase for p in feedback]
        assert phases[0] is Phase.QUEUED and Phase.EXECUTING in phases
        assert all(p.max_steps == cfg.agent.max_steps for p in feedback)
        wait_for(lambda: bool(markers), what="markers")
        spheres = [m for m in markers[-1].markers if m.type == Marker.SPHERE]
        assert spheres and spheres[0].header.frame_id == "odom"
        assert (spheres[0].pose.position.x, spheres[0].pose.position.y) == (1.0, 2.0)
        assert "where is the mug?" in vlm.requests[0].text()


def test_two_concurrent_goals_run_at_once(make_graph, shared_pool) -> None:
    g = make_graph(fast_config(**{"agent.max_concurrent_queries": 2,
                                  "agent.max_queued_queries": 0}), pool=shared_pool)
    values = iter([1.5, 2.5])
    lock = threading.Lock()

    def hook(req):
        with lock:
            return _slow_answer(2.0, next(values))

    g.agent.program_hook = hook
    _frames(g)
    c1, c2 = SpatialQueryClient(g.helper), SpatialQueryClient(g.helper)
    assert c1.start("first?", answer_type="number"), c1.result()
    assert c2.start("second?", answer_type="number"), c2.result()
    wait_for(lambda: g.agent.gate.counts().running == 2, timeout_s=60, what="two running")
    assert c1.wait(120) and c2.wait(120)
    got = sorted(c.result().answer.number for c in (c1, c2))
    assert got == [1.5, 2.5]


def test_goal_beyond_the_limits_is_refused_busy_and_a_queued_one_waits(make_graph, shared_pool) -> None:
    g = make_graph(fast_config(**{"agent.max_concurrent_queries": 1,
                                  "agent.max_queued_queries": 1}), pool=shared_pool)
    g.agent.program_hook = lambda req: _slow_answer(1.5, 3.0)
    _frames(g)
    c1, c2, c3 = (SpatialQueryClient(g.helper) for _ in range(3))
    assert c1.start("first?", answer_type="number"), c1.result()
    wait_for(lambda: g.agent.gate.counts().running == 1, timeout_s=60, what="first running")
    queued = threading.Event()
    assert c2.start("second?", answer_type="number",
                    on_feedback=lambda p: p.phase is Phase.QUEUED and queued.set())
    wait_for(lambda: g.agent.gate.counts().queued == 1, what="second queued")
    busy = c3.ask("third?", answer_type="number", timeout_s=30)
    assert busy.error_code is ErrorCode.BUSY
    assert "max_concurrent_queries=1" in busy.error_message and "try again" in busy.error_message
    assert queued.is_set()
    assert c1.wait(120) and c2.wait(120)
    assert c1.result().success and c2.result().success


def test_unreachable_vlm_then_the_node_keeps_serving(make_graph, shared_pool) -> None:
    g = make_graph(fast_config(**{"vlm.base_url": "http://127.0.0.1:9/v1"}), pool=shared_pool)
    _frames(g)
    client = SpatialQueryClient(g.helper)
    res = client.ask("how far is the mug?", answer_type="number", timeout_s=120)
    assert res.error_code is ErrorCode.VLM_UNREACHABLE, (res.error_code, res.error_message)
    assert "127.0.0.1:9" in res.error_message
    g.agent.program_hook = lambda req: "ReturnAnswer(0.5, unit='m')"
    ok = client.ask("how far is the mug?", answer_type="number", timeout_s=120)
    assert ok.success and ok.answer.number == 0.5


def test_goal_timeout_gives_timeout_and_frees_the_slot(make_graph, shared_pool) -> None:
    g = make_graph(fast_config(**{"agent.cell_timeout_s": 60.0}), pool=shared_pool)
    g.agent.program_hook = lambda req: "x = 0\nwhile True:\n    x += 1\n"
    _frames(g)
    assert shared_pool.wait_warm(1, 120)
    client = SpatialQueryClient(g.helper)
    res = client.ask("spin", answer_type="number", timeout_s=3.0)
    assert res.error_code is ErrorCode.TIMEOUT, (res.error_code, res.error_message)
    assert "limit" in res.error_message and "timeout_s" in res.error_message
    assert g.agent.gate.counts().running == 0
