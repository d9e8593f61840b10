"""The launch YAML, the node's parameter declarations and the launch file agree; the node starts from the YAML."""
from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import threading

import rclpy
from rclpy.executors import SingleThreadedExecutor
import yaml

from spatialclaw_ros.config import DEFAULT_CONFIG, Config, load_config
from spatialclaw_ros.errors import ErrorCode
from spatialclaw_ros.ros.node import SpatialClawNode
from spatialclaw_ros.srv import SpatialQuery

ROS_BUILTIN = {"use_sim_time", "start_type_description_service"}


def _yaml_flat() -> dict[str, object]:
    doc = yaml.safe_load(DEFAULT_CONFIG.read_text())
    flat: dict[str, object] = {}

    def walk(d: dict, prefix: str) -> None:
        for k, v in d.items():
            if isinstance(v, dict):
                walk(v, f"{prefix}{k}.")
            else:
                flat[f"{prefix}{k}"] = v

    walk(doc["/**"]["ros__parameters"], "")
    return flat


def test_yaml_is_valid_and_equals_the_config_schema() -> None:
    flat = _yaml_flat()
    assert set(flat) == set(Config().to_flat())
    cfg = load_config(DEFAULT_CONFIG)
    assert cfg.to_flat() == Config.from_flat(flat).to_flat()


def test_node_declares_exactly_the_yaml_parameters_with_its_values() -> None:
    context = rclpy.Context()
    rclpy.init(context=context)
    try:
        node = SpatialClawNode(context=context,
                               cli_args=["--ros-args", "--params-file", str(DEFAULT_CONFIG),
                                         "-p", "agent.max_steps:=7"])
        try:
            declared = set(node._parameters) - ROS_BUILTIN  # noqa: SLF001 - rclpy has no public list
            assert declared == set(_yaml_flat())
            values = {name: node.get_parameter(name).value for name in declared}
            expected = _yaml_flat()
            expected["agent.max_steps"] = 7
            assert values == expected
            assert node.cfg.agent.max_steps == 7 and node.cfg.fixed_frame == expected["fixed_frame"]
        finally:
            node.destroy_node()
    finally:
        rclpy.shutdown(context=context)


def test_launch_file_arguments_map_to_declared_parameters(repo_root) -> None:
    path = repo_root / "launch" / "agent.launch.py"
    spec = importlib.util.spec_from_file_location("agent_launch", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)          # imports launch/launch_ros only inside the function
    declared = set(Config().to_flat())
    assert set(mod.LAUNCH_PARAMETER_ARGS.values()) <= declared
    defaults = mod.yaml_defaults(str(DEFAULT_CONFIG))
    assert defaults["fixed_frame"] == _yaml_flat()["fixed_frame"]
    assert defaults["vlm_url"] == _yaml_flat()["vlm.base_url"]
    assert callable(mod.generate_launch_description)
    # only arguments that were given override the params file
    assert mod.parameter_overrides({"vlm_url": "", "fixed_frame": "map"}) == {"fixed_frame": "map"}
    # camera topics are remapped (RealSense defaults), not set as parameters
    assert dict(mod.remappings({"color": "/rs/color"}))["color"] == "/rs/color"
    assert dict(mod.remappings({}))["depth"] == "/camera/aligned_depth_to_color/image_raw"


def test_spatialclaw_agent_starts_from_the_yaml_and_serves(repo_root, tmp_path) -> None:
    env = dict(os.environ, SPATIALCLAW_VLM_URL="http://127.0.0.1:9/v1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "spatialclaw_ros.cli", "agent", "--params-file",
         str(repo_root / "config" / "agent.yaml"), "--set", "sandbox.pool_size=0"],
        cwd=repo_root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out: list[str] = []
    reader = threading.Thread(target=lambda: out.extend(proc.stdout), daemon=True)
    reader.start()
    context = rclpy.Context()
    rclpy.init(context=context)
    try:
        node = rclpy.create_node("params_probe", context=context)
        client = node.create_client(SpatialQuery, "/spatial_query")
        ready = False
        for _ in range(60):
            if client.wait_for_service(timeout_sec=0.5) or proc.poll() is not None:
                ready = client.service_is_ready()
                break
        assert ready, f"node did not come up: rc={proc.poll()} output:\n{''.join(out)}"
        fut = client.call_async(SpatialQuery.Request(question="how far?"))
        executor = SingleThreadedExecutor(context=context)
        executor.add_node(node)
        executor.spin_until_future_complete(fut, timeout_sec=20.0)
        assert fut.done()
        assert fut.result().error.code == ErrorCode.NO_FRAMES
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
    text = "".join(out)
    assert rc == 0, text
    assert "ready: color=/camera/color/image_raw" in text and "vlm=http://127.0.0.1:9/v1" in text


def test_namespace_and_topic_remaps_apply_to_the_ingest_subscriptions() -> None:
    context = rclpy.Context()
    rclpy.init(context=context)
    try:
        node = SpatialClawNode(context=context, cli_args=[
            "--ros-args", "-r", "__node:=arm_agent", "-r", "__ns:=/robot1",
            "-r", "color:=/rs/color", "-p", "topics.depth:=depth_rel"])
        try:
            assert node.get_fully_qualified_name() == "/robot1/arm_agent"
            ingest = node._ingest_node  # noqa: SLF001 - the helper node is internal
            assert ingest.get_fully_qualified_name() == "/robot1/arm_agent_ingest"
            topics = {s.topic_name for s in ingest.subscriptions}
            assert {"/rs/color", "/robot1/depth_rel", "/robot1/camera_info", "/tf",
                    "/tf_static"} == topics
        finally:
            node.destroy_node()
    finally:
        rclpy.shutdown(context=context)


def test_ros_arguments_override_the_cli_config() -> None:
    context = rclpy.Context()
    rclpy.init(context=context)
    try:
        cfg = Config.from_flat({"agent.max_steps": 12, "topics.color": "/from/yaml"})
        node = SpatialClawNode(cfg=cfg, context=context,
                               cli_args=["--ros-args", "-p", "topics.color:=/from/ros_args"])
        try:
            assert node.cfg.topics.color == "/from/ros_args"    # ROS argument wins
            assert node.cfg.agent.max_steps == 12               # the CLI config otherwise
        finally:
            node.destroy_node()
    finally:
        rclpy.shutdown(context=context)
