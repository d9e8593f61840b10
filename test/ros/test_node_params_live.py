"""Parameters that mean what they say (issue 13, defects 2-4): `spatialclaw agent --ros-args` with a
namespace keeps the `/**` params file, `ros2 param set` changes the next query or is refused with a
reason, an int where a double is expected is accepted, explicit values beat environment variables."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import rclpy
from rcl_interfaces.msg import Parameter as ParameterMsg
from rcl_interfaces.msg import ParameterType, ParameterValue
from rcl_interfaces.srv import DescribeParameters, GetParameters, SetParameters
from rclpy.executors import SingleThreadedExecutor
from ros_graph import NS, wait_for

from spatialclaw_ros.errors import ErrorCode
from spatialclaw_ros.ros.client import SpatialQueryClient
from spatialclaw_ros.ros.node import SpatialClawNode
from spatialclaw_ros.srv import SpatialQuery


def _call(node, executor, client, req, timeout=20.0):  # noqa: ANN001, ANN202 - test helper
    assert client.wait_for_service(timeout_sec=20.0), f"{client.srv_name} not found"
    fut = client.call_async(req)
    executor.spin_until_future_complete(fut, timeout_sec=timeout)
    assert fut.done(), f"{client.srv_name} did not answer"
    return fut.result()


def _int(name: str, v: int) -> ParameterMsg:
    return ParameterMsg(name=name, value=ParameterValue(type=ParameterType.PARAMETER_INTEGER,
                                                        integer_value=v))


def test_cli_ros_args_namespace_params_file_and_param_set(repo_root: Path, tmp_path: Path) -> None:
    params = tmp_path / "robot1.yaml"
    params.write_text("/**:\n  ros__parameters:\n    fixed_frame: map\n    agent:\n"
                      "      max_steps: 7\n      query_timeout_s: 600\n")
    env = dict(os.environ, SPATIALCLAW_VLM_URL="http://127.0.0.1:9/v1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "spatialclaw_ros.cli", "agent", "--set", "sandbox.pool_size=0",
         "--set", 'sandbox.mode="off"', "--ros-args", "-r", "__ns:=/robot1",
         "-p", "vlm.model:=explicit-model", "--params-file", str(params)],
        cwd=repo_root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out: list[str] = []
    reader = threading.Thread(target=lambda: out.extend(proc.stdout), daemon=True)
    reader.start()
    context = rclpy.Context()
    rclpy.init(context=context)
    try:
        node = rclpy.create_node("params_probe", context=context)
        ex = SingleThreadedExecutor(context=context)
        ex.add_node(node)
        base = "/robot1/spatialclaw_agent"
        get = node.create_client(GetParameters, f"{base}/get_parameters")
        assert get.wait_for_service(timeout_sec=40.0), f"no node: {''.join(out)}"
        names = ["fixed_frame", "agent.max_steps", "agent.query_timeout_s", "vlm.model",
                 "vlm.base_url"]
        vals = _call(node, ex, get, GetParameters.Request(names=names)).values
        assert vals[0].string_value == "map"                  # the /** file under a namespace
        assert vals[1].integer_value == 7
        assert vals[2].integer_value == 600                    # an int where a double is expected
        assert vals[3].string_value == "explicit-model"        # -p
        assert vals[4].string_value == "http://127.0.0.1:9/v1"  # env beats the built-in default
        # the namespace applies to the relative camera topics (CLI remaps: RealSense layout)
        wait_for(lambda: "/robot1/camera/color/image_raw" in {
            t for t, _ in node.get_subscriber_names_and_types_by_node(
                "spatialclaw_agent_ingest", "/robot1")}, timeout_s=20.0, what="ingest subs")
        # descriptors: description, range, read-only
        desc = node.create_client(DescribeParameters, f"{base}/describe_parameters")
        d = _call(node, ex, desc, DescribeParameters.Request(
            names=["agent.max_steps", "topics.color", "sandbox.mode"])).descriptors
        assert d[0].description and d[0].integer_range[0].from_value == 1
        assert d[1].read_only and "one of auto, strict, off" in d[2].additional_constraints
        # ros2 param set: a valid value is taken, a bad one refused with the reason
        setp = node.create_client(SetParameters, f"{base}/set_parameters")
        res = _call(node, ex, setp, SetParameters.Request(parameters=[
            _int("agent.max_steps", 2)])).results[0]
        assert res.successful, res.reason
        res = _call(node, ex, setp, SetParameters.Request(parameters=[
            _int("agent.max_steps", -5)])).results[0]
        assert not res.successful and "agent.max_steps" in res.reason
        bad = ParameterMsg(name="agent.executor", value=ParameterValue(
            type=ParameterType.PARAMETER_STRING, string_value="magic"))
        res = _call(node, ex, setp, SetParameters.Request(parameters=[bad])).results[0]
        assert not res.successful and "code, tool_call" in res.reason
        res = _call(node, ex, setp, SetParameters.Request(parameters=[
            _int("keyframes.max_frames", 3)])).results[0]
        assert not res.successful and "read-only" in res.reason
        # the service is namespaced too and still serves
        srv = node.create_client(SpatialQuery, "/robot1/spatial_query")
        r = _call(node, ex, srv, SpatialQuery.Request(question="how far?"))
        assert r.error.code == ErrorCode.NO_FRAMES
        assert "/robot1/camera/color/image_raw" in r.error.message
        node.destroy_node()
    finally:
        rclpy.shutdown(context=context)
        proc.send_signal(signal.SIGINT)
        try:
            rc = proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            rc = proc.wait()
        reader.join(2)
    assert rc == 0, "".join(out)


def test_bad_ros_parameter_is_a_configuration_error_not_a_traceback(repo_root: Path) -> None:
    for arg, words in (("keyframes.max_query_frames:=0", ["keyframes.max_query_frames"]),
                       ("sandbox.mode:=bogus", ["sandbox.mode", "auto, strict, off"])):
        proc = subprocess.run(
            [sys.executable, "-m", "spatialclaw_ros.cli", "agent", "--set", "sandbox.pool_size=0",
             "--ros-args", "-p", arg], cwd=repo_root, capture_output=True, text=True, timeout=60)
        text = proc.stdout + proc.stderr
        assert proc.returncode == 2, text
        assert "configuration error" in text and "Traceback" not in text, text
        for w in words:
            assert w in text, text


def test_set_max_steps_applies_at_the_next_query(make_graph) -> None:
    g = make_graph()
    g.camera.stream(3, t0_ns=__import__("time").time_ns() - 5 * NS)
    wait_for(lambda: len(g.agent.ingest.buffer) >= 2, what="frames buffered")
    from rclpy.parameter import Parameter

    assert g.agent.set_parameters([Parameter("agent.max_steps", value=2)])[0].successful
    refused = g.agent.set_parameters([Parameter("agent.max_steps", value=-5)])[0]
    assert not refused.successful and "agent.max_steps" in refused.reason and "1000" in refused.reason
    seen: list[int] = []
    SpatialQueryClient(g.helper).ask("how far?", timeout_s=30,
                                     on_feedback=lambda p: seen.append(p.max_steps))
    assert seen and seen[0] == 2 and g.agent.cfg.agent.max_steps == 2


def test_explicit_parameter_beats_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("SPATIALCLAW_VLM_URL", "http://from-env:1/v1")
    context = rclpy.Context()
    rclpy.init(context=context)
    try:
        quiet = ["-p", "sandbox.pool_size:=0", "-p", "sandbox.mode:='off'"]
        for args, want in ((["-p", "vlm.base_url:=http://explicit:2/v1"], "http://explicit:2/v1"),
                           ([], "http://from-env:1/v1")):
            node = SpatialClawNode(context=context, cli_args=["--ros-args", *quiet, *args])
            try:
                assert node.cfg.vlm.base_url == want
            finally:
                node.destroy_node()
    finally:
        rclpy.shutdown(context=context)


def test_int_where_a_double_is_expected_in_a_params_file(tmp_path: Path) -> None:
    p = tmp_path / "p.yaml"
    p.write_text("/**:\n  ros__parameters:\n    agent:\n      query_timeout_s: 600\n"
                 "    sandbox:\n      pool_size: 0\n      mode: \"off\"\n")
    context = rclpy.Context()
    rclpy.init(context=context)
    try:
        node = SpatialClawNode(context=context, cli_args=["--ros-args", "--params-file", str(p)])
        try:
            assert node.cfg.agent.query_timeout_s == 600.0
        finally:
            node.destroy_node()
    finally:
        rclpy.shutdown(context=context)



def test_two_namespaced_nodes_side_by_side_keep_the_yaml(tmp_path: Path) -> None:
    p = tmp_path / "fleet.yaml"
    p.write_text("/**:\n  ros__parameters:\n    fixed_frame: map\n"
                 "    sandbox:\n      pool_size: 0\n      mode: \"off\"\n")
    context = rclpy.Context()
    rclpy.init(context=context)
    nodes = []
    try:
        for ns in ("/robot1", "/robot2"):
            nodes.append(SpatialClawNode(context=context, cli_args=[
                "--ros-args", "-r", f"__ns:={ns}", "--params-file", str(p),
                "-r", "color:=camera/color/image_raw"]))
        for ns, node in zip(("/robot1", "/robot2"), nodes):
            assert node.get_fully_qualified_name() == f"{ns}/spatialclaw_agent"
            assert node.cfg.fixed_frame == "map"                   # the /** file under each ns
            subs = {s.topic_name for s in node._ingest_node.subscriptions}  # noqa: SLF001
            assert {f"{ns}/camera/color/image_raw", f"{ns}/depth", f"{ns}/camera_info"} <= subs
        wait_for(lambda: {("spatialclaw_agent", "/robot1"), ("spatialclaw_agent", "/robot2")}
                 <= set(nodes[0].get_node_names_and_namespaces()), what="both nodes in the graph")
    finally:
        for n in nodes:
            n.destroy_node()
        rclpy.shutdown(context=context)
