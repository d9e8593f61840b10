"""A goal names frames by index (goal.frames, as `spatialclaw query --frames`) through the real action/service."""
from __future__ import annotations

import json
import subprocess
import sys
import time

from ros_graph import NS, call_service, fast_config, wait_for

from spatialclaw_ros.errors import ErrorCode
from spatialclaw_ros.ros.client import SpatialQueryClient

# The kernel reports what it was given: stamps, recording indices, the window size and where
# tools.Time.recording_frame puts "last".
REPORT = ("import json\n"
          "try:\n"
          "    last = tools.Time.recording_frame('last')\n"
          "except LookupError:\n"
          "    last = None\n"
          "ReturnAnswer(json.dumps({'stamps': Metadata['stamps_ns'], "
          "'rec': Metadata['recording_index'], 'count': Metadata.get('recording_count'), "
          "'window': Metadata.get('recording_stamps_ns'), 'last': last}))\n")


def _buffered(g, n: int) -> list[int]:
    """Stream n frames and return the stamps the node buffered (oldest first), once they settle."""
    g.camera.stream(n, t0_ns=time.time_ns() - 5 * NS)
    wait_for(lambda: len(g.agent.ingest.buffer) >= n - 1, what="frames buffered")
    time.sleep(0.3)                    # a late last frame lands before we look
    return [f.stamp_ns for f in g.agent.ingest.buffer.frames()]


def _graph(make_graph, shared_pool, seen: list):
    g = make_graph(fast_config(), pool=shared_pool)

    def hook(req):
        seen.append(req)
        return REPORT

    g.agent.program_hook = hook
    return g


def test_goal_frames_last_gives_the_kernel_exactly_the_newest_frame(make_graph, shared_pool) -> None:
    seen: list = []
    g = _graph(make_graph, shared_pool, seen)
    held = _buffered(g, 6)
    assert len(held) >= 5
    client = SpatialQueryClient(g.helper)
    result = client.ask("what is in the last image?", answer_type="text", frames="last",
                        timeout_s=120.0)
    assert result.success, (result.error_code, result.error_message)
    assert seen[-1].frames == "last"
    got = json.loads(result.answer.text)
    assert result.frame_stamps_ns == [held[-1]]
    assert got["stamps"] == [held[-1]]
    assert got["rec"] == [len(held) - 1] and got["count"] == len(held)
    assert got["window"] == held and got["last"] == 0

    # Several frames, out of order and repeated: sorted, unique, indices into the buffered window.
    result = client.ask("compare the first and third images", answer_type="text",
                        frames="2, first, -1, 0", timeout_s=120.0)
    assert result.success, (result.error_code, result.error_message)
    got = json.loads(result.answer.text)
    assert got["stamps"] == [held[0], held[2], held[-1]]
    assert got["rec"] == [0, 2, len(held) - 1] and got["last"] == 2

    # Without frames: the default spread, no window numbering in Metadata.
    result = client.ask("anything?", answer_type="text", timeout_s=120.0)
    assert result.success, (result.error_code, result.error_message)
    got = json.loads(result.answer.text)
    assert got["stamps"] == held and got["count"] is None and set(got["rec"]) == {-1}


def test_goal_frames_index_the_window_between_start_and_end(make_graph, shared_pool) -> None:
    seen: list = []
    g = _graph(make_graph, shared_pool, seen)
    held = _buffered(g, 6)
    window = held[1:4]
    result = call_service(g, "in image 1 of the window?", timeout_s=120.0, answer_type="text",
                          frames="1,last", start=_time(window[0]), end=_time(window[-1]))
    assert result.success, (result.error.name, result.error.message)
    got = json.loads(result.answer.text)
    assert got["stamps"] == [window[1], window[-1]] and got["rec"] == [1, 2]
    assert got["count"] == 3 and got["window"] == window


def test_bad_frames_spec_is_invalid_request_and_out_of_range_is_no_frames(make_graph,
                                                                          shared_pool) -> None:
    seen: list = []
    g = _graph(make_graph, shared_pool, seen)
    held = _buffered(g, 4)
    client = SpatialQueryClient(g.helper)
    bad = client.ask("q?", answer_type="text", frames="newest", timeout_s=60.0)
    assert not bad.success and bad.error_code is ErrorCode.INVALID_REQUEST
    assert "goal.frames" in bad.error_message and "'newest' is not a frame" in bad.error_message
    assert "'last'" in bad.error_message

    resp = call_service(g, "q?", answer_type="text", frames="1,,x")
    assert not resp.success and resp.error.code == int(ErrorCode.INVALID_REQUEST)
    assert "'x' is not a frame" in resp.error.message

    far = client.ask("q?", answer_type="text", frames=f"0,{len(held) + 10}", timeout_s=60.0)
    assert not far.success and far.error_code is ErrorCode.NO_FRAMES
    assert f"frame {len(held) + 10} does not exist" in far.error_message
    assert f"has {len(held)} buffered frames" in far.error_message
    assert seen == []                  # no query reached the kernel

    ok = client.ask("q?", answer_type="text", frames="-1", timeout_s=120.0)  # the node kept serving
    assert ok.success and json.loads(ok.answer.text)["stamps"] == [held[-1]]


def test_ask_cli_frames(make_graph, shared_pool, repo_root) -> None:
    seen: list = []
    g = _graph(make_graph, shared_pool, seen)
    held = _buffered(g, 4)
    out = subprocess.run(
        [sys.executable, "-m", "spatialclaw_ros.cli", "ask", "what is in the first image?",
         "--answer-type", "text", "--frames", "first", "--timeout", "120", "--json"],
        cwd=repo_root, capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr
    got = json.loads(json.loads(out.stdout)["answer"]["text"])
    assert got["stamps"] == [held[0]] and got["rec"] == [0] and got["count"] == len(held)
    assert got["last"] is None          # the newest frame was not asked for: not among the keyframes
    bad = subprocess.run(
        [sys.executable, "-m", "spatialclaw_ros.cli", "ask", "q?", "--frames", "1-2"],
        cwd=repo_root, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 1 and "INVALID_REQUEST: goal.frames: '1-2' is not a frame" in bad.stderr


def _time(ns: int):
    from spatialclaw_ros.ros.conversions import ns_to_time

    return ns_to_time(ns)
