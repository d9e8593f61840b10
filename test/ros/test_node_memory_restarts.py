"""Issue 15's "done when", end to end: a real `spatialclaw agent` process records a 30-minute simulated run
into its memory, is stopped twice on the way (SIGTERM once, kill -9 once) and started again on the same
memory.dir, keeps its disk budget throughout, and then answers questions about the first minutes through
its action (goals from SpatialQueryClient; the scripted VLM answers with the reference programs).

The run is the synthetic room of spatialclaw_ros.memory.synth (ray-cast RGB, metric depth, instance labels
and their legend, TF odom -> base_link -> camera) published by this test at 1 Hz of simulated time, as fast
as the node takes it (stamps are the run's, not the wall clock's). While the node is down the robot drives
on: those frames are lost, as they would be on a robot.
"""
from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.qos import qos_profile_sensor_data
from ros_graph import _image, _tf, cli_config, wait_for
from scipy.spatial.transform import Rotation
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import String
from support.scripted_vlm import RecordedRequest, Reply, ScriptedVlmServer
from tf2_msgs.msg import TFMessage

from spatialclaw_ros.eval.memory_set import MemoryQuestion, build_questions
from spatialclaw_ros.eval.scoring import score_answer
from spatialclaw_ros.memory.retrieve import MemoryReader
from spatialclaw_ros.memory.synth import NS, T0_NS, SynthWorld
from spatialclaw_ros.ros.client import SpatialQueryClient
from spatialclaw_ros.ros.node import TF_QOS, TF_STATIC_QOS
from spatialclaw_ros.sim.bag import legend_json

BUDGET_MB = 6
END_S = 1800.0                                      # 30 simulated minutes, one frame per second
STOPS = ((600.0, signal.SIGTERM), (1200.0, signal.SIGKILL))
DOWN_S = 10.0                                       # simulated seconds the robot drives on while the node is down
STALL_S = 3.0                                       # no new pose for this long: the frame was lost
MAX_STALLS = 45                                     # ...on at most a tenth of the waits
BURST = 4                                           # frames published between waits for the node
LABELS = "/camera/instance_labels"
BASE, OPTICAL = "base_link", "camera_color_optical_frame"


def _tf_of(parent: str, child: str, stamp_ns: int, T: np.ndarray):  # noqa: ANN202
    return _tf(parent, child, stamp_ns, tuple(float(v) for v in T[:3, 3]),
               tuple(float(v) for v in Rotation.from_matrix(T[:3, :3]).as_quat()))


class SimRobot:
    """Publishes the synthetic run as a robot would: colour, depth, labels (+ legend), camera_info, TF."""

    def __init__(self, node: rclpy.node.Node, world: SynthWorld) -> None:
        t = cli_config().topics
        self.world = world
        self.color = node.create_publisher(Image, t.color, qos_profile_sensor_data)
        self.depth = node.create_publisher(Image, t.depth, qos_profile_sensor_data)
        self.labels = node.create_publisher(Image, LABELS, qos_profile_sensor_data)
        self.info = node.create_publisher(CameraInfo, t.camera_info, 10)
        self.tf = node.create_publisher(TFMessage, "/tf", TF_QOS)
        self.tf_static = node.create_publisher(TFMessage, "/tf_static", TF_STATIC_QOS)
        self.legend = node.create_publisher(String, LABELS + "/legend", TF_STATIC_QOS)
        self.tf_static.publish(TFMessage(transforms=[_tf_of(BASE, OPTICAL, 0, world.base_T_camera())]))
        self.legend.publish(String(data=legend_json(world.objects_metadata())))
        self.published = 0

    def subscribed(self) -> bool:
        """The node listens on every topic."""
        return all(p.get_subscription_count() > 0 for p in (self.color, self.depth, self.labels, self.info,
                                                             self.tf, self.tf_static, self.legend))

    def step(self, t_s: float) -> None:
        """The frame at t_s, with TF at its stamp and half a second after (TF leads the images)."""
        w = self.world
        s = T0_NS + int(round(t_s * NS))
        self.tf.publish(TFMessage(transforms=[_tf_of("odom", BASE, s, w.base_pose(t_s))]))
        self.tf.publish(TFMessage(transforms=[_tf_of("odom", BASE, s + NS // 2, w.base_pose(t_s + 0.5))]))
        f = w.render(t_s)
        self.color.publish(_image(f.rgb, "rgb8", s))
        self.depth.publish(_image(np.ascontiguousarray(f.depth, np.float32), "32FC1", s))
        self.labels.publish(_image(f.labels.astype(np.uint16), "16UC1", s))
        ci = CameraInfo(width=w.width, height=w.height, distortion_model="plumb_bob")
        ci.header.frame_id = OPTICAL
        ci.header.stamp.sec, ci.header.stamp.nanosec = divmod(s, NS)
        K = f.camera.K
        ci.k = [float(v) for v in K.ravel()]
        ci.p = [K[0, 0], 0.0, K[0, 2], 0.0, 0.0, K[1, 1], K[1, 2], 0.0, 0.0, 0.0, 1.0, 0.0]
        ci.d = [0.0] * 5
        self.info.publish(ci)
        self.published += 1


class Agent:
    """One `spatialclaw agent` process on the memory directory."""

    def __init__(self, repo_root: Path, vlm_url: str, memory_dir: Path, tmp_path: Path) -> None:
        sets = {"sandbox.mode": '"off"', "sandbox.pool_size": "0", "agent.transcript_dir": str(tmp_path / "tr"),
                "topics.labels": LABELS, "memory.enabled": "true", "memory.dir": str(memory_dir),
                "memory.max_disk_mb": str(BUDGET_MB), "memory.segment_max_s": "60.0",
                "memory.keep_recent_s": "120.0"}
        argv = [sys.executable, "-m", "spatialclaw_ros.cli", "agent", "--vlm-url", vlm_url]
        for k, v in sets.items():
            argv += ["--set", f"{k}={v}"]
        self.proc = subprocess.Popen(argv, cwd=repo_root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True)
        self.out: list[str] = []
        threading.Thread(target=lambda: self.out.extend(self.proc.stdout), daemon=True).start()

    def log(self) -> str:
        """What the process printed (for failure messages)."""
        return "".join(self.out)[-4000:]

    def stop(self, sig: int) -> int:
        """Send sig and wait for the exit code."""
        self.proc.send_signal(sig)
        return self.proc.wait(60)


class Diagnostics:
    """The node's memory status from /diagnostics, the newest one and the largest disk use seen."""

    def __init__(self, node: rclpy.node.Node) -> None:
        self.last: dict[str, str] = {}
        self.max_disk_mb = 0.0
        self.seen = 0
        node.create_subscription(DiagnosticArray, "/diagnostics", self._on, 10)

    def _on(self, arr: DiagnosticArray) -> None:
        for s in arr.status:
            if s.name.endswith(": memory"):
                st = {kv.key: kv.value for kv in s.values}
                self.max_disk_mb = max(self.max_disk_mb, float(st["disk_mb"]))
                self.last = st
                self.seen += 1

    def fresh(self) -> None:
        """Forget the status of a previous process."""
        self.last = {}


def _newest_pose_ns(d: Path) -> int:
    """The newest robot pose the node committed to its memory index (0 before any)."""
    db = d / "index.sqlite"
    if not db.exists():
        return 0
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1.0)
        try:
            return int(con.execute("SELECT MAX(stamp_ns) FROM trajectory").fetchone()[0] or 0)
        finally:
            con.close()
    except sqlite3.Error:
        return 0


def _dir_mb(d: Path) -> float:
    return sum(p.stat().st_size for p in d.rglob("*") if p.is_file()) / 2**20


def _vlm_script(questions: list[MemoryQuestion]):  # noqa: ANN202
    """Answer a question's planner call with a plan and its coding call with the reference program."""
    def reply(req: RecordedRequest) -> Reply:
        text = req.text()
        q = next((q for q in questions if q.question["question"] in text), None)
        if q is None:
            return Reply("I cannot answer that.")
        plan = f"Plan: answer '{q.qid}' from tools.Memory."
        if plan not in text:                    # the planner call; the coding conversation quotes the plan
            return Reply(plan)
        return Reply("Running the reference program.\n```python\n" + q.program.strip() + "\n```")
    return reply


def _spin(ex: SingleThreadedExecutor) -> None:
    try:
        ex.spin()
    except ExternalShutdownException:
        pass


@pytest.mark.slow
@pytest.mark.timeout(1500)
def test_node_restarted_twice_in_a_30_minute_run_answers_about_the_first_minutes(repo_root, tmp_path) -> None:
    world = SynthWorld()
    d = tmp_path / "memory"
    questions = build_questions(world, END_S, rate_hz=1.0, pose_hz=1.0)
    vlm = ScriptedVlmServer([], default=_vlm_script(questions))
    context = rclpy.Context()
    rclpy.init(context=context)
    node = rclpy.create_node("memory_run_probe", context=context)
    ex = SingleThreadedExecutor(context=context)
    ex.add_node(node)
    threading.Thread(target=_spin, args=(ex,), daemon=True).start()
    robot = SimRobot(node, world)
    diag = Diagnostics(node)
    agent: Agent | None = None
    stops = list(STOPS)
    exit_codes = []
    stalls: list[float] = []
    dir_mb_max = 0.0
    try:
        vlm.__enter__()

        def start() -> Agent:
            diag.fresh()
            a = Agent(repo_root, vlm.base_url, d, tmp_path)
            wait_for(lambda: robot.subscribed() and diag.last.get("objects", "0") != "0", timeout_s=120,
                     what=lambda: f"agent up with the legend: {diag.last} {a.log()}")
            return a

        def caught_up(a: Agent, t_s: float) -> None:
            """Wait until the node recorded the robot's pose at t_s, or stopped making progress: no new pose
            for STALL_S and two /diagnostics since then with the recorder's queue empty (best-effort camera
            topics: a frame the node's executor did not take in time is lost, as on a robot)."""
            want = T0_NS + int(round(t_s * NS))
            last, since, seen = -1, time.monotonic(), diag.seen
            while (now := _newest_pose_ns(d)) < want:
                assert a.proc.poll() is None, a.log()
                if now != last:
                    last, since, seen = now, time.monotonic(), diag.seen
                elif (time.monotonic() - since > STALL_S and diag.seen >= seen + 2
                      and diag.last.get("queue") == "0"):
                    stalls.append(t_s)
                    assert len(stalls) <= MAX_STALLS, f"the node stopped recording at {t_s} s: {diag.last} {a.log()}"
                    return
                time.sleep(0.02)

        agent = start()
        k, sent = 0, []
        while k < END_S:
            if stops and k >= stops[0][0]:
                _, sig = stops.pop(0)
                caught_up(agent, sent[-2])      # the newest frame waits in the node's sync for a successor
                exit_codes.append(agent.stop(sig))
                dir_mb_max = max(dir_mb_max, _dir_mb(d))
                k += int(DOWN_S)                # the robot drives on while the node is down
                agent, sent = start(), []
                continue
            robot.step(float(k))
            sent.append(float(k))
            k += 1
            if len(sent) % BURST == 0:          # the node's recorder queue holds 8: never more in flight
                caught_up(agent, sent[-2])
            if k % 100 == 0:
                dir_mb_max = max(dir_mb_max, _dir_mb(d))
        caught_up(agent, sent[-2])
        wait_for(lambda: diag.last.get("queue") == "0" and int(diag.last.get("last_ns", 0)) > T0_NS + (END_S - 30) * NS,
                 timeout_s=30, what=lambda: f"recorder idle: {diag.last}")
        print(f"frames lost in transport (waits that timed out): {len(stalls)}; node status: {diag.last}")
        st = diag.last
        assert st["errors"] == "0", st
        assert int(st["thinned"]) > 0, st            # the budget made retention thin old periods
        assert exit_codes == [0, -signal.SIGKILL], (exit_codes, agent.log())
        # the segment kill -9 cut was repaired when the node came back
        assert "recovered after a crash" in "".join(agent.out), agent.log()

        # questions about the first minutes (and the run's end), through the node's action
        client = SpatialQueryClient(node)
        metric, exact = [], []
        for q in questions:
            res = client.ask(q.question["question"], answer_type=q.question["answer_type"], timeout_s=240)
            assert res.success, (q.qid, res.error_code, res.error_message, agent.log())
            score = score_answer(q.question, res.answer.to_dict())
            (metric if score.metric in ("mra", "point_mra") else exact).append((q.qid, score.score))
            print(f"{q.qid:22s} {score.metric:9s} {score.score:.3f} pred={score.predicted} truth={score.ground_truth}")
        assert {q for q, _ in metric} >= {"where_mug_t60", "travel_30_90", "book_last_seen_ago", "dist_mug_ball_last"}
        assert {q for q, _ in exact} >= {"on_table_t60"}
        assert sum(s for _, s in metric) / len(metric) >= 0.97, metric
        assert all(s == 1.0 for _, s in exact), exact
        # every answer came through the model loop: a plan, then the reference program as the model's cell
        chats = [r for r in vlm.requests if r.method == "POST" and r.path.endswith("/chat/completions")]
        assert len(chats) == 2 * len(questions), [r.text()[-200:] for r in chats]
        assert exit_codes + [agent.stop(signal.SIGTERM)] == [0, -signal.SIGKILL, 0], agent.log()
    finally:
        if agent is not None and agent.proc.poll() is None:
            agent.proc.kill()
            agent.proc.wait()
        vlm.__exit__(None, None, None)
        ex.shutdown(timeout_sec=2)
        node.destroy_node()
        rclpy.shutdown(context=context)

    # the disk budget held while the run continued, and holds at the end
    budget = BUDGET_MB * 2**20
    print(f"memory: peak {diag.max_disk_mb:.2f} MB (diagnostics), {dir_mb_max:.2f} MB (directory), "
          f"final {_dir_mb(d):.2f} MB, budget {BUDGET_MB} MB")
    assert diag.max_disk_mb <= BUDGET_MB * 1.05            # within a keyframe of the budget while recording
    assert dir_mb_max * 2**20 <= budget * 1.05
    r = MemoryReader(d)
    try:
        info = r.info()
        stamps = [x["stamp_ns"] for x in r.search(limit=1000)]
    finally:
        r.close()
    assert _dir_mb(d) * 2**20 <= budget, info
    t_s = (np.array(stamps) - T0_NS) / NS
    # the first minute is still there (thinned, not dropped), from the first frame on
    assert t_s[0] == 0.0 and (t_s < 60).sum() >= 3, t_s[:20]
    # keyframes are frames the node saw: none from while it was down, the last one near the end
    for cut, _ in STOPS:
        assert not ((t_s >= cut) & (t_s < cut + DOWN_S)).any(), (cut, t_s)
    assert t_s[-1] > END_S - 10 and info["keyframes"] == len(stamps) < 1000
