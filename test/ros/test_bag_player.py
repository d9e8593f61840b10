"""`spatialclaw play` drives the live node: a MuJoCo fixture bag, /clock, latched /tf_static, an answer."""
from __future__ import annotations

import json
import subprocess
import sys
import threading

import numpy as np
import pytest
from rosgraph_msgs.msg import Clock
from ros_graph import BAG_REMAPS, fast_config, wait_for

from spatialclaw_ros.errors import InvalidRequestError
from spatialclaw_ros.ros.client import SpatialQueryClient
from spatialclaw_ros.ros.player import BagPlayer

CAMERA_TRAVEL = ("m = tools.Geometry.camera_travel(0, len(InputImages) - 1)\n"
                 "ReturnAnswer(m.travel_m, unit='m')\n")


def test_bag_replay_feeds_the_node_on_sim_time_and_answers(make_graph, shared_pool, data_dir) -> None:
    scene = json.loads((data_dir / "sim_a.scene.json").read_text())
    poses = {p["stamp_ns"]: np.array(p["T_odom_optical"]) for p in scene["camera_poses"]}
    cfg = fast_config(**{"topics.labels": "/camera/instance_labels"})
    g = make_graph(cfg, pool=shared_pool,
                   cli_args=["--ros-args", "-p", "use_sim_time:=true", *BAG_REMAPS])
    clocks: list[Clock] = []
    g.helper.create_subscription(Clock, "/clock", clocks.append, 10)
    player = BagPlayer(g.helper, data_dir / "sim_a", rate=4.0)
    assert set(player.published_topics) >= {"/tf", "/tf_static", "/camera/color/image_raw"}
    wait_for(lambda: g.agent.count_subscribers("/clock") > 0 and
             player._pubs and all(p.get_subscription_count() > 0  # noqa: SLF001
                                  for p in player._pubs.values()), what="discovery")  # noqa: SLF001
    done = threading.Event()
    threading.Thread(target=lambda: (player.play(), done.set()), daemon=True).start()
    assert done.wait(60)
    stats = player.stats
    assert stats.messages == 108 and stats.per_topic["/camera/color/image_raw"] == 8
    ing = g.agent.ingest
    wait_for(lambda: len(ing.buffer) == 8,
             what=lambda: f"8 frames buffered: {len(ing.buffer)} {ing.sync.stats()} {ing._counts}")  # noqa: SLF001
    frames = g.agent.ingest.buffer.frames()
    assert [f.stamp_ns for f in frames] == sorted(poses)
    for f in frames:
        assert f.T_fixed_camera is not None and f.labels is not None and f.depth is not None
        np.testing.assert_allclose(f.T_fixed_camera, poses[f.stamp_ns], atol=1e-6)
    # use_sim_time: the node's clock is the bag's (its last /clock may be handled after the frames)
    wait_for(lambda: g.agent.get_clock().now().nanoseconds >= max(poses),
             what=lambda: f"node clock {g.agent.get_clock().now().nanoseconds} to reach {max(poses)}")
    now = g.agent.get_clock().now().nanoseconds
    assert min(poses) <= now <= max(poses) + 200_000_000
    assert clocks and clocks[-1].clock.sec == now // 10**9
    health = g.agent.health()
    assert health.newest_frame_age_s is not None and 0 <= health.newest_frame_age_s < 1.0
    assert health.depth_backend == "sensor" and health.segment_backend == "labels"
    # a query on the replayed frames (camera travel, exact ground truth)
    g.agent.program_hook = lambda req: CAMERA_TRAVEL
    res = SpatialQueryClient(g.helper).ask(scene["questions"][4]["question"], answer_type="number",
                                           timeout_s=120)
    assert res.success, (res.error_code, res.error_message)
    assert res.answer.unit == "m"
    assert abs(res.answer.number - scene["questions"][4]["answer"]) < 1e-3
    player.close()


def test_player_refuses_bad_input(tmp_path) -> None:
    import rclpy

    ctx = rclpy.Context()
    rclpy.init(context=ctx)
    try:
        node = rclpy.create_node("bad_player", context=ctx)
        with pytest.raises(InvalidRequestError, match="bag not found"):
            BagPlayer(node, tmp_path / "nope")
        (tmp_path / "junk").mkdir()
        (tmp_path / "junk" / "x.mcap").write_bytes(b"not a bag")
        with pytest.raises(InvalidRequestError, match="cannot read"):
            BagPlayer(node, tmp_path / "junk" / "x.mcap")
        node.destroy_node()
    finally:
        rclpy.shutdown(context=ctx)


def test_play_cli_plays_a_bag(repo_root, data_dir) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "spatialclaw_ros.cli", "play", str(data_dir / "sim_a"),
         "--rate", "8", "--delay", "0.2", "--topics", "/tf_static", "/camera/color/image_raw",
         "/no/such/topic"],
        cwd=repo_root, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "skipping /no/such/topic: not in the bag" in out.stderr
    assert "/camera/color/image_raw=8" in out.stdout and "/tf_static=" in out.stdout


def test_player_loops_until_stopped(data_dir) -> None:
    import rclpy

    ctx = rclpy.Context()
    rclpy.init(context=ctx)
    try:
        node = rclpy.create_node("loop_player", context=ctx)
        player = BagPlayer(node, data_dir / "sim_a", rate=20.0, loop=True,
                           topics=["/tf_static", "/camera/color/image_raw"])
        stop = threading.Event()
        seen: list[int] = []

        def on_message(topic: str, stamp: int) -> None:
            if topic == "/camera/color/image_raw":
                seen.append(stamp)
                if len(seen) == 20:
                    stop.set()

        stats = player.play(stop, on_message=on_message)
        assert stats.loops >= 2 and stats.per_topic["/tf_static"] >= 3
        assert seen[:8] == seen[8:16] and seen[:8] == sorted(seen[:8])   # same stamps each loop
        assert stats.clock_msgs > 0
        player.close()
        node.destroy_node()
    finally:
        rclpy.shutdown(context=ctx)
