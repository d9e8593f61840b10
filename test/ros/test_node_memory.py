"""The node records into memory while it runs (memory.enabled), reports it in /diagnostics, serves tools.Memory."""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray
from ros_graph import NS, _tf, call_service, fast_config, wait_for
from tf2_msgs.msg import TFMessage

from spatialclaw_ros.memory.retrieve import MemoryReader


def _memory_status(arr: DiagnosticArray) -> dict[str, str] | None:
    for s in arr.status:
        if s.name.endswith(": memory"):
            return {kv.key: kv.value for kv in s.values} | {"_message": s.message}
    return None


def test_node_records_reports_and_answers_from_memory(make_graph, shared_pool, tmp_path: Path) -> None:
    d = tmp_path / "memory"
    cfg = fast_config(**{"memory.enabled": True, "memory.dir": str(d), "memory.min_interval_s": 0.0,
                         "memory.min_translation_m": 0.015})
    g = make_graph(cfg, pool=shared_pool)
    diags: list[DiagnosticArray] = []
    g.helper.create_subscription(DiagnosticArray, "/diagnostics", diags.append, 10)
    t0 = time.time_ns() - NS
    g.camera.stream(8, t0_ns=t0)
    wait_for(lambda: g.agent.memory.recorded >= 3, what=lambda: f"memory keyframes ({g.agent.memory.status()})")
    # a map -> odom correction appears (as after a loop closure)
    tfpub = g.camera.tf
    tfpub.publish(TFMessage(transforms=[_tf("map", "odom", t0 + 8 * NS // 10, (2.0, 0.0, 0.0), (0.0, 0.0, 0.0, 1.0))]))
    wait_for(lambda: (s := _memory_status(diags[-1]) if diags else None) is not None
             and int(s["keyframes"]) >= 3, what="memory in /diagnostics")
    st = _memory_status(diags[-1])
    assert float(st["disk_mb"]) > 0 and st["dir"] == str(d) and st["errors"] == "0"
    assert "keyframes over" in st["_message"]
    g.agent.program_hook = lambda req: (
        "m = tools.Memory.info()\n"
        "refs = tools.Memory.search(limit=100)\n"
        "i = tools.Memory.load(refs[:1])[0]\n"
        "ReturnAnswer(f\"{m['keyframes']} {m['frame']} {len(InputImages)} {i}\")\n")
    wait_for(lambda: g.agent.memory.store.index.db.execute(
        "SELECT COUNT(*) FROM corrections").fetchone()[0] >= 1,
             what=lambda: f"correction stored ({g.agent.memory.correction_detail})")
    resp = call_service(g, "how many keyframes do you remember?", timeout_s=60.0)
    assert resp.success, resp.error.message
    n, frame, n_images, idx = resp.answer.text.split()
    assert int(n) >= 3 and frame == "map" and int(idx) == int(n_images) - 1
    g.agent.shutdown()                          # closes the recorder: the open segment becomes a bag
    r = MemoryReader(d)
    try:
        refs = r.search(limit=100)
        assert len(refs) >= 3 and refs[0]["frame"] == "map"
        # odom x = 0.01 * i on the synthetic camera + the 2 m correction
        f = r.load([refs[0]["id"]])[0]
        assert np.isclose(f.T_fixed_base[0, 3] - 2.0, 0.01 * round((f.stamp_ns - t0) / (NS / 10)), atol=1e-3)
    finally:
        r.close()
    assert all((s / "metadata.yaml").exists() for s in (d / "segments").iterdir())


def test_node_takes_the_label_legend_and_keeps_running_after_a_bad_one(make_graph, shared_pool,
                                                                       tmp_path: Path) -> None:
    from std_msgs.msg import String

    from spatialclaw_ros.ros.node import TF_STATIC_QOS
    from spatialclaw_ros.sim.bag import legend_json

    d = tmp_path / "memory"
    g = make_graph(fast_config(**{"memory.enabled": True, "memory.dir": str(d), "topics.labels": "/sim/labels"}),
                   pool=shared_pool)
    pub = g.helper.create_publisher(String, "/sim/labels/legend", TF_STATIC_QOS)   # latched, as simulators do
    pub.publish(String(data="not json"))
    wait_for(lambda: pub.get_subscription_count() > 0, what="the node subscribed to the legend")
    assert g.agent.memory.n_objects == 0
    pub.publish(String(data=legend_json([{"id": 3, "name": "red mug", "class": "mug", "color": "red"},
                                         {"id": 7, "name": "keys", "class": "keys", "color": ""}])))
    wait_for(lambda: g.agent.memory.n_objects == 2, what=lambda: f"legend stored ({g.agent.memory.status()})")
    g.agent.program_hook = lambda req: "ReturnAnswer(str(sorted(o['name'] for o in Metadata['objects'])))\n"
    g.camera.stream(15, t0_ns=time.time_ns() - 2 * NS)   # no label images: frames wait 1 s of stream for them
    wait_for(lambda: g.agent.memory.recorded >= 1, what="a keyframe recorded")
    resp = call_service(g, "which objects do you know?", timeout_s=60.0)
    assert resp.success and resp.answer.text == "['keys', 'red mug']", resp
    g.agent.shutdown()
    r = MemoryReader(d)
    try:
        assert [o["name"] for o in r.objects()] == ["red mug", "keys"]
    finally:
        r.close()
