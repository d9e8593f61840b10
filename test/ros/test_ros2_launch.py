"""The node started the way a robot team starts it: `ros2 launch spatialclaw_ros agent.launch.py` with
arguments, driven with the ros2 command-line verbs (launch, launch_ros and ros2cli from third_party/,
installed into the venv by `make setup`).

Two nodes run side by side in one graph, in namespaces robot1 and robot2, each with its own
`/**`-keyed params file; robot1's camera topics are remapped by launch arguments, robot2 keeps the
RealSense defaults and uses sim time. Each test has its own ROS_DOMAIN_ID and the shared-memory
Fast DDS profile; every launched process group is killed at the end.
"""
from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Iterator

import pytest
import rclpy
from ros_graph import NS, SyntheticCamera, descendants, fast_config, wait_for
from support.scripted_vlm import Reply, ScriptedVlmServer

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
ROS2 = BIN / "ros2"
POINT_CELL = ("I return the mug's position.\n```python\n"
              "ReturnAnswer([1.0, 2.0, 0.5], unit='m', frame='odom')\n```")
R1_TOPICS = {"color": "/r1/rs/color/image_raw", "depth": "/r1/rs/depth/image_raw",
             "camera_info": "/r1/rs/color/camera_info"}

pytestmark = pytest.mark.skipif(not ROS2.exists(), reason="ros2 CLI not in this venv (make setup)")


def _domain(k: int) -> str:
    """A ROS_DOMAIN_ID for this test (200..229; the suite's session domain is 100..199)."""
    return str(200 + (os.getpid() + k) % 30)


def _env(domain: str) -> dict[str, str]:
    env = dict(os.environ)
    for var in ("SPATIALCLAW_VLM_URL", "SPATIALCLAW_VLM_MODEL", "PYTHONPATH"):
        env.pop(var, None)
    env.update(ROS_DOMAIN_ID=domain, RMW_IMPLEMENTATION="rmw_fastrtps_cpp",
               FASTDDS_DEFAULT_PROFILES_FILE=str(HERE.parent / "fastdds-shm-only.xml"),
               PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}", PYTHONUNBUFFERED="1")
    return env


def _params_file(path: Path, *, fixed_frame: str, max_steps: int, transcripts: Path) -> Path:
    """A params file keyed `/**` (applies in any namespace) with relative camera topic names."""
    path.write_text(f"""/**:
  ros__parameters:
    fixed_frame: {fixed_frame}
    topics:
      color: color
      depth: depth
      camera_info: camera_info
    agent:
      max_steps: {max_steps}
      transcript_dir: {transcripts}
    sandbox:
      mode: "off"
      pool_size: 0
    keyframes:
      min_interval_s: 0.0
    vlm:
      retries: 0
      timeout_s: 20.0
""")
    return path


class Launched:
    """One `ros2 launch` process group; its output is collected in a thread."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.proc = subprocess.Popen([str(ROS2), "launch", "spatialclaw_ros", "agent.launch.py", *args],
                                     env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, start_new_session=True)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=lambda: self.lines.extend(self.proc.stdout), daemon=True)
        self._reader.start()

    def output(self) -> str:
        return "".join(self.lines)

    def stop(self) -> None:
        """SIGINT the group (the node cancels and closes its kernels), then SIGKILL what is left."""
        pids = descendants(self.proc.pid) | {self.proc.pid}
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                pass
        for pid in list(pids):
            try:
                os.killpg(self.proc.pid, signal.SIGKILL) if pid == self.proc.pid else os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        self.proc.wait(10)
        self._reader.join(5)


def ros2(env: dict[str, str], *args: str, timeout_s: float = 60.0) -> str:
    """Run a ros2 verb; its stdout (fails the test, showing stderr too, on a non-zero exit)."""
    r = subprocess.run([str(ROS2), *args], env=env, capture_output=True, text=True, timeout=timeout_s,
                       start_new_session=True)
    assert r.returncode == 0, f"ros2 {' '.join(args)} exited {r.returncode}:\n{(r.stdout + r.stderr)[-3000:]}"
    return r.stdout


@pytest.fixture
def graph(tmp_path) -> Iterator[dict]:
    """robot1 (remapped topics, scripted VLM) and robot2 (defaults, sim time) launched side by side,
    a camera publisher for robot1 in this process."""
    domain = _domain(1)
    env = _env(domain)
    launched: list[Launched] = []
    context = rclpy.Context()
    rclpy.init(context=context, domain_id=int(domain))
    helper = rclpy.create_node("launch_test_camera", context=context)
    cam_cfg = fast_config(**{f"topics.{k}": v for k, v in R1_TOPICS.items()})
    camera = SyntheticCamera(helper, cam_cfg)
    script = [Reply("Plan: read the mug position and return it."), Reply(POINT_CELL)]
    with ScriptedVlmServer(script) as vlm:
        try:
            p1 = _params_file(tmp_path / "robot1.yaml", fixed_frame="odom", max_steps=7,
                              transcripts=tmp_path / "t1")
            p2 = _params_file(tmp_path / "robot2.yaml", fixed_frame="map_robot2", max_steps=5,
                              transcripts=tmp_path / "t2")
            launched.append(Launched(["namespace:=robot1", f"params_file:={p1}", f"vlm_url:={vlm.base_url}",
                                      *(f"{k}:={v}" for k, v in R1_TOPICS.items())], env))
            launched.append(Launched(["namespace:=robot2", f"params_file:={p2}", "use_sim_time:=true",
                                      "vlm_url:=http://127.0.0.1:9/v1"], env))

            def both_up() -> bool:
                names = helper.get_node_names_and_namespaces()
                return (("spatialclaw_agent", "/robot1") in names and ("spatialclaw_agent", "/robot2") in names)

            wait_for(both_up, 90.0, what=lambda: "both nodes in the graph; launch output:\n"
                     + "\n".join(l.output()[-2000:] for l in launched))
            yield {"env": env, "helper": helper, "camera": camera, "vlm": vlm, "launched": launched}
        finally:
            for item in launched:
                item.stop()
            helper.destroy_node()
            rclpy.shutdown(context=context)
    for item in launched:
        assert item.proc.poll() is not None
        left = [p for p in descendants(item.proc.pid)]
        assert not left, f"processes left by ros2 launch: {left}"


def test_two_namespaced_nodes_from_ros2_launch_with_remaps_goal_params_and_cli(graph) -> None:
    env, helper, camera, vlm = graph["env"], graph["helper"], graph["camera"], graph["vlm"]

    # ros2 node list sees both namespaced nodes (and their ingest helpers)
    # (each call is a fresh participant: discovery may need a second try)
    want = {"/robot1/spatialclaw_agent", "/robot2/spatialclaw_agent"}
    for _ in range(5):
        nodes = set(ros2(env, "node", "list", "--no-daemon", "--spin-time", "3").split())
        if want <= nodes:
            break
    assert want <= nodes, nodes

    # each namespaced node keeps its own /** params file
    def param(node: str, name: str) -> str:
        return ros2(env, "param", "get", "--no-daemon", "--timeout", "20", "--hide-type", node, name).strip()

    assert param("/robot1/spatialclaw_agent", "agent.max_steps") == "7"
    assert param("/robot2/spatialclaw_agent", "agent.max_steps") == "5"
    assert param("/robot2/spatialclaw_agent", "fixed_frame") == "map_robot2"
    assert param("/robot1/spatialclaw_agent", "vlm.base_url") == vlm.base_url   # launch argument
    # use_sim_time only where the argument was given
    assert param("/robot2/spatialclaw_agent", "use_sim_time") == "True"
    assert param("/robot1/spatialclaw_agent", "use_sim_time") == "False"

    # remaps: robot1 listens on the remapped topics, robot2 on the RealSense driver's defaults
    wait_for(lambda: all(helper.count_subscribers(t) >= 1 for t in R1_TOPICS.values()), 30.0,
             what="robot1 subscribed to the remapped camera topics")
    wait_for(lambda: helper.count_subscribers("/camera/color/image_raw") >= 1, 30.0,
             what="robot2 subscribed to /camera/color/image_raw")
    assert helper.count_subscribers("/robot1/color") == 0

    # ros2 param set changes a parameter; ros2 param get reads it back
    out = ros2(env, "param", "set", "--no-daemon", "--timeout", "20", "/robot1/spatialclaw_agent", "agent.max_steps", "6")
    assert "Set parameter successful" in out, out
    assert param("/robot1/spatialclaw_agent", "agent.max_steps") == "6"

    # ros2 topic echo --once: the namespaced nodes publish /diagnostics
    echo = ros2(env, "topic", "echo", "--no-daemon", "--once", "/diagnostics", "diagnostic_msgs/msg/DiagnosticArray",
                timeout_s=60.0)
    assert "status:" in echo and "spatialclaw_agent" in echo, echo[-2000:]

    # frames on robot1's remapped topics, then a goal through ros2 action send_goal
    camera.stream(4, t0_ns=time.time_ns() - 2 * NS)
    time.sleep(1.0)
    camera.stream(4, t0_ns=time.time_ns() - NS)
    out = ros2(env, "action", "send_goal", "/robot1/spatial_query", "spatialclaw_ros/action/SpatialQuery",
               "{question: 'where is the mug?', answer_type: point}", timeout_s=180.0)
    assert re.search(r"Goal finished with status: SUCCEEDED", out), out[-3000:]
    assert "success: true" in out, out[-3000:]
    assert re.search(r"x: 1\.0\s+y: 2\.0\s+z: 0\.5", out), out[-3000:]
    assert len(vlm.requests) >= 2 and "where is the mug?" in vlm.requests[0].text()
