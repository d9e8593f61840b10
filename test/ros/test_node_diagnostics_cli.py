"""Diagnostics on /diagnostics, and the `spatialclaw ask` CLI client against a live node."""
from __future__ import annotations

import subprocess
import sys
import time

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from ros_graph import NS, fast_config, wait_for
from support.scripted_vlm import ScriptedVlmServer


def _status(arr: DiagnosticArray) -> dict[str, tuple[int, str, dict[str, str]]]:
    return {s.name.split(": ", 1)[1]: (s.level, s.message, {kv.key: kv.value for kv in s.values})
            for s in arr.status}


def test_diagnostics_report_buffer_tf_vlm_sandbox_and_queries(make_graph) -> None:
    with ScriptedVlmServer([]) as vlm:
        g = make_graph(fast_config(**{"vlm.base_url": vlm.base_url,
                                      "diagnostics.frame_warn_age_s": 60.0,
                                      "diagnostics.frame_error_age_s": 120.0}))
        diags: list[DiagnosticArray] = []
        g.helper.create_subscription(DiagnosticArray, "/diagnostics", diags.append, 10)
        wait_for(lambda: bool(diags), what="diagnostics")
        first = _status(diags[-1])
        assert first["frames"][0] == DiagnosticStatus.WARN
        assert "no camera frames yet" in first["frames"][1]
        assert first["tf"][2]["tf_lag_s"] == "n/a"
        g.camera.stream(4, t0_ns=time.time_ns() - NS // 2)
        wait_for(lambda: len(g.agent.ingest.buffer) >= 3, what="frames buffered")
        n = len(diags)
        wait_for(lambda: len(diags) > n + 1, what="fresh diagnostics")
        st = _status(diags[-1])
        frames = st["frames"][2]
        assert st["frames"][0] == DiagnosticStatus.OK
        assert int(frames["frames_buffered"]) >= 3 and int(frames["images_received"]) == 4
        assert 0.0 < float(frames["buffer_fill"]) <= 1.0 and frames["frames_dropped"] == "0"
        assert float(frames["newest_frame_age_s"]) >= 0.0
        lag = float(st["tf"][2]["tf_lag_s"])   # the stream stopped: TF ages with the node clock
        assert lag >= 0.0
        assert st["tf"][0] == (DiagnosticStatus.OK if lag <= 1.0 else DiagnosticStatus.WARN)
        assert "camera_color_optical_frame -> odom available" == st["tf"][2]["detail"]
        assert st["vlm"][0] == DiagnosticStatus.OK and st["vlm"][2]["reachable"] == "True"
        agent = st["agent"][2]
        assert agent["queries_running"] == "0" and agent["max_concurrent_queries"] == "1"
        assert agent["depth_backend"] == "sensor" and agent["segment_backend"] == "sam3"
        assert agent["sandbox_mode"] == "off" and agent["sandbox_layers"] == "off"


def test_diagnostics_flag_an_unreachable_vlm(make_graph) -> None:
    g = make_graph(fast_config(**{"vlm.base_url": "http://127.0.0.1:9/v1"}))
    diags: list[DiagnosticArray] = []
    g.helper.create_subscription(DiagnosticArray, "/diagnostics", diags.append, 10)
    wait_for(lambda: bool(diags) and _status(diags[-1])["vlm"][2]["reachable"] == "False",
             what="vlm probe")
    level, message, _ = _status(diags[-1])["vlm"]
    assert level == DiagnosticStatus.ERROR and "unreachable" in message


def test_ask_cli_prints_progress_and_the_answer(make_graph, shared_pool, repo_root) -> None:
    g = make_graph(fast_config(), pool=shared_pool)
    g.agent.program_hook = lambda req: "ReturnAnswer(0.42, unit='m')"
    g.camera.stream(3, t0_ns=time.time_ns() - NS)
    wait_for(lambda: len(g.agent.ingest.buffer) >= 2, what="frames buffered")
    out = subprocess.run(
        [sys.executable, "-m", "spatialclaw_ros.cli", "ask", "how far is the mug?",
         "--answer-type", "number", "--timeout", "120"],
        cwd=repo_root, capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[0] == "0.42 m"
    assert "value: 0.42 m" in out.stdout
    progress = [ln for ln in out.stderr.splitlines() if ln.startswith("[step ")]
    assert progress and progress[0].startswith("[step 0/30 queued")
    assert any(" executing " in ln for ln in progress)
    bad = subprocess.run(
        [sys.executable, "-m", "spatialclaw_ros.cli", "ask", "where?", "--answer-type", "choice",
         "--choices", "left"], cwd=repo_root, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 1 and "INVALID_REQUEST: answer_type 'choice' needs" in bad.stderr
