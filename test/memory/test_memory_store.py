"""The memory store: keyframes by novelty into MCAP segments + SQLite, restarts, crashes, the disk budget, search."""
from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from spatialclaw_ros.config import Config, MemoryConfig
from spatialclaw_ros.memory.retrieve import MemoryReader
from spatialclaw_ros.memory.segments import mcap_file
from spatialclaw_ros.memory.store import MemoryStore
from spatialclaw_ros.memory.synth import NS, T0_NS, SynthWorld, record

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def world() -> SynthWorld:
    """The default synthetic room."""
    return SynthWorld()


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory, world: SynthWorld) -> Path:
    """Two minutes recorded in two sessions (close and reopen in between)."""
    d = tmp_path_factory.mktemp("mem") / "memory"
    cfg = MemoryConfig(segment_max_s=40.0)
    for a, b in ((0.0, 70.0), (70.0, 130.0)):
        with MemoryStore(d, cfg, objects=world.objects_metadata()) as st:
            record(st, world, a, b)
    return d


def test_keyframes_are_novel_frames_and_the_index_matches_the_segments(recorded: Path, world: SynthWorld) -> None:
    r = MemoryReader(recorded)
    try:
        info = r.info()
        # 130 frames offered at 1 Hz; the gate keeps a fraction, never two within min_interval_s
        assert 20 <= info["keyframes"] < 130
        stamps = [x["stamp_ns"] for x in r.search(limit=1000)]
        assert stamps == sorted(stamps) and min(np.diff(stamps)) >= 2 * NS
        assert stamps[0] == T0_NS                                  # the first frame is always kept
        assert info["frame"] == "odom" and info["correction"] is None
        # loaded keyframes equal what was rendered (lossless depth at mm, labels exact, pose exact)
        ref = r.search(tags=["red mug"], limit=1)[0]
        f = r.load([ref["id"]])[0]
        t = (f.stamp_ns - T0_NS) / NS
        truth = world.render(t)
        assert np.array_equal(f.labels, truth.labels)
        ok = np.isfinite(truth.depth)
        assert np.array_equal(np.isfinite(f.depth), ok)
        assert np.abs(f.depth[ok] - truth.depth[ok]).max() <= 0.0005 + 1e-6
        assert np.abs(f.rgb.astype(int) - truth.rgb.astype(int)).mean() < 6      # JPEG
        np.testing.assert_allclose(f.T_fixed_camera, truth.T_fixed_camera, atol=1e-9)
        np.testing.assert_allclose(f.T_fixed_base, truth.T_fixed_base, atol=1e-9)
        assert f.camera.frame_id == "camera_color_optical_frame"
        np.testing.assert_allclose(f.camera.K, truth.camera.K)
    finally:
        r.close()


def test_a_segment_is_a_bag_our_reader_reads(recorded: Path) -> None:
    from spatialclaw_ros.bags.reader import load_bag

    segs = sorted((recorded / "segments").iterdir())
    assert len(segs) >= 3 and all((s / "metadata.yaml").is_file() for s in segs)
    data = load_bag(segs[0], Config())
    r = MemoryReader(recorded)
    try:
        rows = r.db.execute("SELECT stamp_ns, T_camera FROM keyframes WHERE segment=? ORDER BY stamp_ns",
                            (segs[0].name,)).fetchall()
    finally:
        r.close()
    assert [f.stamp_ns for f in data.frames] == [int(x[0]) for x in rows]
    f = data.frames[0]
    assert f.depth is not None and f.T_fixed_camera is not None and data.fixed_frame == "odom"
    np.testing.assert_allclose(f.T_fixed_camera, np.frombuffer(rows[0][1], "<f8").reshape(4, 4), atol=1e-6)


def test_search_by_time_place_and_content(recorded: Path, world: SynthWorld) -> None:
    r = MemoryReader(recorded)
    try:
        t0, t1 = T0_NS + 30 * NS, T0_NS + 60 * NS
        refs = r.search(start_ns=t0, end_ns=t1, limit=1000)
        assert refs and all(t0 <= x["stamp_ns"] <= t1 for x in refs)
        here = r.robot_position()
        np.testing.assert_allclose(here, world.base_pose((r.latest_ns() - T0_NS) / NS)[:3, 3], atol=1e-9)
        near = r.search(near=here[:2], radius_m=1.0, order="distance", limit=1000)
        assert near and all(x["distance_m"] <= 1.0 for x in near)
        assert [x["distance_m"] for x in near] == sorted(x["distance_m"] for x in near)
        allrefs = r.search(limit=1000)
        inside = [x for x in allrefs if math.hypot(x["position"][0] - here[0], x["position"][1] - here[1]) <= 1.0]
        assert len(inside) == len(near)
        keys = r.search(tags=["keys"], limit=1000)
        assert keys and all("keys" in x["tags"] for x in keys)
        assert len(keys) < len(allrefs)
        assert r.search(text="green", limit=1000) == r.search(tags=["green book"], limit=1000)
        assert r.search(tags=["no such thing"], limit=10) == []
        with pytest.raises(ValueError):
            r.search(near=[1.0], limit=5)
    finally:
        r.close()


def test_motion_from_the_stored_trajectory(recorded: Path, world: SynthWorld) -> None:
    r = MemoryReader(recorded)
    try:
        m = r.motion(T0_NS + 10 * NS, T0_NS + 100 * NS)
        assert m["path_length_m"] == pytest.approx(world.path_length(10, 100), rel=1e-3)
        yaws = np.unwrap([math.atan2(world.base_pose(t)[1, 0], world.base_pose(t)[0, 0])
                          for t in np.linspace(10, 100, 2001)])
        assert m["total_turn_deg"] == pytest.approx(math.degrees(yaws[-1] - yaws[0]), rel=1e-3)
        p = r.pose_at(T0_NS + int(42.3 * NS))
        np.testing.assert_allclose(p["position"], world.base_pose(42.3)[:3, 3], atol=2e-3)
    finally:
        r.close()


def test_map_correction_re_expresses_answers_and_says_so(tmp_path: Path, world: SynthWorld) -> None:
    d = tmp_path / "m"
    with MemoryStore(d, MemoryConfig()) as st:
        record(st, world, 0, 10)
        T = np.eye(4)
        T[:3, 3] = [10.0, -2.0, 0.0]
        st.add_correction(T0_NS + 9 * NS, "map", "odom", T)
    r = MemoryReader(d)
    try:
        ref = r.search(limit=1)[0]
        assert ref["frame"] == "map" and ref["correction"]["parent"] == "map"
        np.testing.assert_allclose(ref["position"], world.camera_pose(0)[:3, 3] + [10, -2, 0], atol=1e-6)
        f = r.load([ref["id"]])[0]
        assert f.fixed_frame == "map"
        np.testing.assert_allclose(f.T_fixed_camera[:3, 3], world.camera_pose(0)[:3, 3] + [10, -2, 0])
        assert r.pose_at(T0_NS + 5 * NS)["frame"] == "map"
    finally:
        r.close()


def test_disk_budget_holds_on_a_long_stream_by_thinning_old_periods(tmp_path: Path, world: SynthWorld) -> None:
    d = tmp_path / "m"
    cfg = MemoryConfig(max_disk_mb=3, segment_max_s=60.0, keep_recent_s=120.0)
    sizes = []
    with MemoryStore(d, cfg, objects=world.objects_metadata()) as st:
        for k in range(8):                        # 8 minutes at 1 Hz (~6 MB unthinned at this size)
            record(st, world, 60.0 * k, 60.0 * (k + 1))
            sizes.append(st.disk_bytes())
        stats = st.stats()
    assert max(sizes) <= 3 * 2**20 * 1.1      # checked every 10 keyframes: at most a few over in between
    print(sizes, stats)
    assert stats.disk_bytes <= 3 * 2**20
    assert stats.thinned > 0
    r = MemoryReader(d)
    try:
        refs = r.search(limit=1000)
        # the recent period is untouched: a keyframe at least every ~min_interval in the last 2 minutes
        recent = [x for x in refs if x["stamp_ns"] >= T0_NS + 360 * NS]
        assert len(recent) >= 120 / 6
        # every place ever seen still has its last view
        places = r.db.execute("SELECT COUNT(DISTINCT place) FROM keyframes").fetchone()[0]
        assert places >= 8
        # the first minute is thinned, not gone
        assert any(x["stamp_ns"] < T0_NS + 60 * NS for x in refs)
        for seg in (d / "segments").iterdir():
            assert mcap_file(seg).is_file()
        # rewritten segments have their keyframes' new offsets (loading reads them directly)
        assert r.db.execute("SELECT COUNT(*) FROM keyframes WHERE chunk_offset IS NULL").fetchone()[0] == 0
        r.load([refs[0]["id"], refs[-1]["id"]])
    finally:
        r.close()


VICTIM = textwrap.dedent("""
    import sys
    from spatialclaw_ros.config import MemoryConfig
    from spatialclaw_ros.memory.store import MemoryStore
    from spatialclaw_ros.memory.synth import SynthWorld, record
    w = SynthWorld()
    st = MemoryStore(sys.argv[1], MemoryConfig(segment_max_s=1e9, min_interval_s=0.0, min_translation_m=0.0))
    t = 0.0
    while True:
        record(st, w, t, t + 1.0)
        if st.stats().keyframes >= 12:
            print("ready", flush=True)
        t += 1.0
""")


def test_a_segment_cut_by_kill_9_is_repaired_on_reopen(tmp_path: Path) -> None:
    d = tmp_path / "m"
    env = dict(os.environ, PYTHONPATH=str(REPO))
    p = subprocess.Popen([sys.executable, "-c", VICTIM, str(d)], stdout=subprocess.PIPE, env=env, text=True)
    try:
        assert p.stdout is not None
        line = p.stdout.readline()
        assert line.strip() == "ready", line
    finally:
        p.send_signal(signal.SIGKILL)   # a process this test started
        p.wait(timeout=30)
    seg = sorted((d / "segments").iterdir())[0]
    assert not (seg / "metadata.yaml").exists()      # it never closed
    st = MemoryStore(d, MemoryConfig())
    try:
        assert st.recovered and "kept" in st.recovered[0]
        n = st.stats().keyframes
        assert n >= 12
    finally:
        st.close()
    from spatialclaw_ros.bags.reader import load_bag

    assert (seg / "metadata.yaml").exists()
    assert len(load_bag(seg, Config()).frames) == n
    r = MemoryReader(d)
    try:
        ids = [x["id"] for x in r.search(limit=1000)]
        assert len(r.load(ids[-5:])) == 5
        assert r.db.execute("SELECT COUNT(*) FROM keyframes WHERE chunk_offset IS NULL").fetchone()[0] == 0
    finally:
        r.close()


def test_a_reopened_store_continues_the_gate_and_ids(tmp_path: Path, world: SynthWorld) -> None:
    d = tmp_path / "m"
    with MemoryStore(d, MemoryConfig()) as st:
        first = st.add_frame(world.render(0.0))
        assert first == 1
        assert st.add_frame(world.render(0.5)) is None             # within min_interval_s
    with MemoryStore(d, MemoryConfig()) as st:
        assert st.add_frame(world.render(1.0)) is None             # the gate remembers the last keyframe
        kid = st.add_frame(world.render(6.0))
        assert kid == 2
        with pytest.raises(ValueError, match="odom"):
            f = world.render(10.0)
            f.fixed_frame = "map"
            st.add_frame(f)


def test_bad_settings_are_refused_with_the_key_to_fix(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="memory.max_disk_mb must be > 0"):
        MemoryStore(tmp_path / "a", MemoryConfig(max_disk_mb=0))
    with pytest.raises(ValueError, match="memory.jpeg_quality"):
        MemoryStore(tmp_path / "b", MemoryConfig(jpeg_quality=0))


def test_load_reads_a_keyframe_by_its_offset_the_same_as_through_the_bag_reader(recorded: Path) -> None:
    r = MemoryReader(recorded)
    try:
        ids = [x["id"] for x in r.search(limit=1000)][::7]
        rows = r.db.execute("SELECT chunk_offset, chunk_len FROM keyframes").fetchall()
        assert all(a is not None and b > 0 for a, b in rows)
        direct = r.load(ids)
        r.db.execute("UPDATE keyframes SET chunk_offset = NULL")          # force the bag-reader path
        via_bag = r.load(ids)
        r.db.rollback()
        # offsets that no longer fit the file (a rewrite raced the read) fall back to the bag reader
        r.db.execute("UPDATE keyframes SET chunk_offset = chunk_offset + 1")
        stale = r.load(ids)
        r.db.rollback()
        assert [f.stamp_ns for f in stale] == [f.stamp_ns for f in direct]
    finally:
        r.close()
    for a, b in zip(direct, via_bag):
        assert a.stamp_ns == b.stamp_ns
        assert np.array_equal(a.rgb, b.rgb) and np.array_equal(a.labels, b.labels)
        assert np.array_equal(np.nan_to_num(a.depth), np.nan_to_num(b.depth))


def test_one_writer_at_a_time(tmp_path: Path) -> None:
    st = MemoryStore(tmp_path / "m", MemoryConfig())
    try:
        with pytest.raises(RuntimeError, match="another MemoryStore"):
            MemoryStore(tmp_path / "m", MemoryConfig())
    finally:
        st.close()
    MemoryStore(tmp_path / "m", MemoryConfig()).close()                 # released on close


def test_thin_plan_spaces_views_of_a_place_and_keeps_protected_ones() -> None:
    from spatialclaw_ros.memory.retention import BASE_BUCKET_S, thin_plan

    rows = [{"id": i + 1, "stamp_ns": i * 10 * NS, "place": "0:0:1"} for i in range(30)]
    rows += [{"id": 100 + i, "stamp_ns": i * 10 * NS, "place": ""} for i in range(30)]    # no pose
    level = 1
    width = BASE_BUCKET_S * 2 ** level                                                      # 30 s
    drop = set(thin_plan(rows, level, protected={7}))
    for place in ("0:0:1", ""):
        kept = [r for r in rows if r["place"] == place and r["id"] not in drop]
        assert kept[0]["stamp_ns"] == 0                              # the start of the period stays
        stamps = [r["stamp_ns"] / NS for r in kept if r["id"] != 7]
        assert all(b - a >= width for a, b in zip(stamps, stamps[1:]))
        assert len(kept) < 30 / 2
    assert 7 not in drop
    # the spacing continues from the newest view kept in an older segment
    drop2 = thin_plan(rows[:3], level, protected=set(), before={"0:0:1": -15 * NS})
    assert drop2 == [1, 2]
