"""`spatialclaw bench memory`: ingest + encoding cost, RSS and disk over a long 30 Hz RGB-D stream;
retrieval on a 100,000-keyframe index; loading 32 keyframes into a kernel; restart time; and the
naive alternative (every frame into a rosbag2, scanned). Prints figures and writes them as JSON."""
from __future__ import annotations

import argparse
import json
import math
import os
import random
import resource
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from spatialclaw_ros.config import Config, MemoryConfig

NS = 1_000_000_000


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Flags of the memory bench."""
    p.add_argument("--minutes", type=float, default=20.0, help="simulated minutes of 30 Hz 640x480 RGB-D")
    p.add_argument("--budget-mb", type=int, default=48, help="memory.max_disk_mb for the ingest run")
    p.add_argument("--index-rows", type=int, default=100_000, help="keyframes in the retrieval index")
    p.add_argument("--naive-seconds", type=float, default=5.0, help="seconds of every-frame rosbag2 recording")
    p.add_argument("--out", default="memory-bench.json", help="where to write the figures (JSON)")
    p.add_argument("--dir", default="", help="work directory (default: a temporary one, removed after)")


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _pct(xs: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(xs), q)) if xs else float("nan")


def _views(n: int = 24) -> tuple[Any, list[Any]]:
    """Rendered 640x480 views around the synthetic room's loop (frames reuse them: rendering is not measured)."""
    from spatialclaw_ros.memory.synth import SynthWorld

    w = SynthWorld(width=640, height=480, focal=460.0)
    return w, [w.render(k * w.loop_s / n) for k in range(n)]


def bench_ingest(work: Path, minutes: float, budget_mb: int) -> dict[str, Any]:
    """Offer a 30 Hz stream to a MemoryStore; CPU per stream second, RSS per minute, disk."""
    from spatialclaw_ros.frames.types import Frame
    from spatialclaw_ros.memory.store import MemoryStore
    from spatialclaw_ros.memory.synth import T0_NS

    world, views = _views()
    cfg = MemoryConfig(max_disk_mb=budget_mb, keep_recent_s=120.0, segment_max_s=60.0)
    d = work / "ingest"
    st = MemoryStore(d, cfg)
    n = int(minutes * 60 * 30)
    rss, disk = [], []
    cpu0, wall0 = _cpu_s(), time.perf_counter()
    kf = 0
    for k in range(n):
        t = k / 30.0
        v = views[int(t / world.loop_s * len(views)) % len(views)]
        f = Frame(stamp_ns=T0_NS + int(t * NS), rgb=v.rgb, camera=v.camera, depth=v.depth, labels=None,
                  fixed_frame="odom", T_fixed_camera=world.camera_pose(t), T_fixed_base=world.base_pose(t))
        if k % 6 == 0:
            st.add_pose(f.stamp_ns, f.T_fixed_base)
        if st.add_frame(f) is not None:
            kf += 1
        if k % (30 * 60) == 0:
            rss.append(round(_rss_mb(), 1))
            disk.append(round(st.disk_bytes() / 2**20, 2))
    cpu = _cpu_s() - cpu0
    wall = time.perf_counter() - wall0
    stats = st.stats()
    st.close()
    return {"stream_s": n / 30.0, "frames": n, "keyframes_added": kf, "keyframes_kept": stats.keyframes,
            "cpu_s": round(cpu, 2), "cpu_pct_of_core_at_real_time": round(100 * cpu / (n / 30.0), 2),
            "wall_s": round(wall, 2), "rss_mb_per_minute": rss, "disk_mb_per_minute": disk,
            "disk_mb_final": round(stats.disk_bytes / 2**20, 2), "budget_mb": budget_mb,
            "thinned": stats.thinned, "dropped": stats.dropped, "dir": str(d)}


def build_index(work: Path, rows: int, seg_src: Path) -> Path:
    """A memory whose index holds `rows` keyframes (index-only rows, all pointing at one real segment)."""
    from spatialclaw_ros.memory.index import MemoryIndex
    from spatialclaw_ros.memory.keyframes import place_key
    from spatialclaw_ros.memory.synth import T0_NS, SynthWorld

    d = work / "index100k"
    (d / "segments").mkdir(parents=True)
    seg = sorted(p for p in (seg_src / "segments").iterdir() if p.is_dir())[0]
    shutil.copytree(seg, d / "segments" / seg.name)
    idx = MemoryIndex(d / "index.sqlite")
    idx.set_meta("fixed_frame", "odom")
    idx.set_meta("objects", SynthWorld().objects_metadata())
    idx.db.execute("INSERT INTO segments(name, status, start_ns, end_ns) VALUES (?, 'closed', ?, ?)",
                   (seg.name, T0_NS, T0_NS + rows * 2 * NS))
    rng = random.Random(0)
    names = [o["name"] for o in SynthWorld().objects_metadata()]
    batch = []
    T = np.eye(4)
    for i in range(rows):
        x, y, yaw = rng.uniform(-50, 50), rng.uniform(-50, 50), rng.uniform(-math.pi, math.pi)
        T[:2, 3] = x, y
        T[:3, :3] = [[0, math.sin(yaw), math.cos(yaw)], [0, -math.cos(yaw), math.sin(yaw)], [-1, 0, 0]]
        tags = rng.sample(names, 2)
        batch.append(({"id": i + 1, "stamp_ns": T0_NS + i * 2 * NS, "segment": seg.name, "x": x, "y": y, "z": 1.0,
                       "yaw": yaw, "frame": "odom", "camera": "cam", "place": place_key(T, 1.0),
                       "tags": "; ".join(tags), "caption": "", "T_camera": T.astype("<f8").tobytes(),
                       "T_base": None, "base_frame": "", "bytes": 150_000, "has_depth": 1, "has_labels": 0},
                      {names.index(t) + 1: 500 for t in tags}))
        if len(batch) == 5000:
            for row, labels in batch:
                idx.add_keyframe(row, labels)
            idx.commit()
            batch = []
    for row, labels in batch:
        idx.add_keyframe(row, labels)
    idx.commit()
    idx.close()
    return d


def bench_retrieval(d: Path, rows: int) -> dict[str, Any]:
    """p50/p95 of search by time window, by place, by tag, on the big index (reader side)."""
    from spatialclaw_ros.memory.retrieve import MemoryReader
    from spatialclaw_ros.memory.synth import T0_NS

    r = MemoryReader(d)
    rng = random.Random(1)
    out: dict[str, Any] = {"rows": rows}
    cases = {
        "time_60s": lambda: r.search(start_ns=(s := T0_NS + rng.randrange(rows) * 2 * NS), end_ns=s + 60 * NS,
                                     limit=32),
        "ago_10min": lambda: r.search(start_ns=r.latest_ns() - 11 * 60 * NS, end_ns=r.latest_ns() - 9 * 60 * NS,
                                      limit=32),
        "place_2m": lambda: r.search(near=[rng.uniform(-50, 50), rng.uniform(-50, 50)], radius_m=2.0,
                                     order="distance", limit=32),
        "tag_newest": lambda: r.search(tags=[rng.choice(["red mug", "keys", "blue ball"])], order="newest", limit=8),
        "text_fts": lambda: r.search(text=rng.choice(["green", "yellow box"]), order="newest", limit=8),
    }
    for name, fn in cases.items():
        fn()
        ts = []
        for _ in range(60):
            t = time.perf_counter()
            fn()
            ts.append((time.perf_counter() - t) * 1000)
        out[name] = {"p50_ms": round(_pct(ts, 50), 3), "p95_ms": round(_pct(ts, 95), 3)}
    r.close()
    return out


def bench_restart(d: Path) -> dict[str, Any]:
    """Open (recover + seed the gate) a store over the big index."""
    from spatialclaw_ros.memory.store import MemoryStore

    ts = []
    for _ in range(3):
        t = time.perf_counter()
        st = MemoryStore(d, MemoryConfig(max_disk_mb=10**6))
        ts.append(time.perf_counter() - t)
        st.close()                 # (not timed)
    return {"open_s": [round(x, 3) for x in ts], "open_s_median": round(statistics.median(ts), 3)}


def bench_load(d: Path, n: int = 32) -> dict[str, Any]:
    """Load n keyframes into a kernel (program path: the real sandboxed kernel and memory.load)."""
    from spatialclaw_ros.agent.runner import run_query
    from spatialclaw_ros.agent.types import AnswerType, QueryRequest
    from spatialclaw_ros.kernel import KernelPool
    from spatialclaw_ros.memory.query import memory_frames_and_handlers
    from spatialclaw_ros.memory.retrieve import MemoryReader

    cfg = Config()
    cfg.agent.transcript_dir = str(d.parent / "transcripts")
    pool = KernelPool(cfg.sandbox)
    r = MemoryReader(d)
    refs = r.search(limit=1000)
    ids = [x["id"] for x in refs[-n:]]
    walls, cpus = [], []
    for _ in range(4):          # the first load in a process also compiles the message (de)serialisers
        t, c = time.perf_counter(), time.process_time()
        frames = r.load(ids)
        walls.append(time.perf_counter() - t)
        cpus.append(time.process_time() - c)
        del frames
    parent_decode = walls[0]
    r.close()
    program = ("import time\nrefs = tools.Memory.search(order='newest', limit=%d)\nt = time.perf_counter()\n"
               "idx = tools.Memory.load(refs)\ndt = time.perf_counter() - t\n"
               "ReturnAnswer(dt * 1000.0 + 1e-9 * len(idx))\n" % n)
    out = []
    try:
        for _ in range(3):
            frames, handlers, extra, reader = memory_frames_and_handlers(str(d), max_frames=1)
            res = run_query(QueryRequest(question="load", answer_type=AnswerType.NUMBER), frames, cfg,
                            program=program, handlers=handlers, extra_metadata=extra, pool=pool)
            reader.close()
            if not res.success:
                raise RuntimeError(res.error_message)
            out.append(res.answer.number)
    finally:
        pool.close()
    return {"keyframes": n, "load_ms_in_kernel": [round(x, 1) for x in out],
            "load_ms_median": round(statistics.median(out), 1), "parent_decode_ms": round(parent_decode * 1000, 1),
            "parent_decode_warm_ms_median": round(statistics.median(walls[1:]) * 1000, 1),
            "parent_decode_cpu_ms_median": round(statistics.median(cpus[1:]) * 1000, 1),
            "load_avg_1min": round(os.getloadavg()[0], 2),
            "sandbox_mode": cfg.sandbox.mode}


def bench_naive(work: Path, seconds: float) -> dict[str, Any]:
    """Every frame as raw Image messages into a rosbag2 (MCAP, as `ros2 bag record`), then scan it."""
    from rosbags.highlevel import AnyReader

    from spatialclaw_ros.memory import codec
    from spatialclaw_ros.memory.segments import SegmentWriter
    from spatialclaw_ros.memory.synth import T0_NS

    world, views = _views(8)
    ts = codec.typestore()
    t_ = ts.types
    d = work / "naive"
    w = SegmentWriter(d)
    n = int(seconds * 30)
    cpu0 = _cpu_s()
    for k in range(n):
        t = k / 30.0
        v = views[k % len(views)]
        stamp = T0_NS + int(t * NS)
        hdr = t_["std_msgs/msg/Header"](stamp=t_["builtin_interfaces/msg/Time"](sec=stamp // NS, nanosec=stamp % NS),
                                        frame_id="cam")
        mm = np.where(np.isfinite(v.depth), v.depth * 1000, 0).astype(np.uint16)
        Image = t_["sensor_msgs/msg/Image"]
        w.write("/camera/color/image_raw", Image.__msgtype__, stamp, Image(
            header=hdr, height=480, width=640, encoding="rgb8", is_bigendian=0, step=1920, data=v.rgb.reshape(-1)))
        w.write("/camera/depth", Image.__msgtype__, stamp, Image(
            header=hdr, height=480, width=640, encoding="16UC1", is_bigendian=0, step=1280,
            data=mm.reshape(-1).view(np.uint8)))
        w.write("/tf", "tf2_msgs/msg/TFMessage", stamp,
                codec.tf_message(ts, [codec.transform_msg(ts, stamp, "odom", "base_link", world.base_pose(t))]))
    w.close()
    cpu_write = _cpu_s() - cpu0
    size = sum(p.stat().st_size for p in d.iterdir())
    # "where was I near (x, y)?": scan TF for the stamps, then read the frames at those stamps
    target = world.base_pose(seconds / 2)[:2, 3]
    t0 = time.perf_counter()
    hits = []
    with AnyReader([d], default_typestore=ts) as reader:
        conns = [c for c in reader.connections if c.topic == "/tf"]
        for c, stamp, raw in reader.messages(connections=conns):
            m = reader.deserialize(raw, c.msgtype)
            tr = m.transforms[0].transform.translation
            if math.hypot(tr.x - target[0], tr.y - target[1]) < 0.2:
                hits.append(stamp)
        want = set(hits)
        got = 0
        img = [c for c in reader.connections if c.topic == "/camera/color/image_raw"]
        for c, stamp, raw in reader.messages(connections=img):
            if stamp in want:
                reader.deserialize(raw, c.msgtype)
                got += 1
    scan_s = time.perf_counter() - t0
    gb_per_hour = size / seconds * 3600 / 1e9
    return {"seconds": seconds, "frames": n, "bytes": size, "gb_per_hour": round(gb_per_hour, 1),
            "cpu_pct_of_core_at_real_time_write": round(100 * cpu_write / seconds, 1),
            "place_query_scan_s": round(scan_s, 3),
            "place_query_scan_s_per_hour_extrapolated": round(scan_s / seconds * 3600, 1), "frames_matched": got}


def main(args: argparse.Namespace, cfg: Config) -> int:
    """Run every part, print the figures, write them to --out."""
    work = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="spatialclaw-membench-"))
    work.mkdir(parents=True, exist_ok=True)
    figures: dict[str, Any] = {"machine": {"cpus": os.cpu_count()}}
    try:
        print(f"ingest: {args.minutes:g} simulated minutes of 30 Hz 640x480 RGB-D ...", flush=True)
        figures["ingest"] = ing = bench_ingest(work, args.minutes, args.budget_mb)
        print(json.dumps(ing), flush=True)
        print("load 32 keyframes into a kernel ...", flush=True)
        figures["load"] = bench_load(Path(ing["dir"]))
        print(json.dumps(figures["load"]), flush=True)
        print(f"index of {args.index_rows} keyframes ...", flush=True)
        t = time.perf_counter()
        big = build_index(work, args.index_rows, Path(ing["dir"]))
        figures["index_build_s"] = round(time.perf_counter() - t, 1)
        figures["retrieval"] = bench_retrieval(big, args.index_rows)
        print(json.dumps(figures["retrieval"]), flush=True)
        figures["restart"] = bench_restart(big)
        print(json.dumps(figures["restart"]), flush=True)
        print(f"naive: every frame into a rosbag2 for {args.naive_seconds:g} s ...", flush=True)
        figures["naive"] = bench_naive(work, args.naive_seconds)
        print(json.dumps(figures["naive"]), flush=True)
    finally:
        if not args.dir:
            shutil.rmtree(work, ignore_errors=True)
    Path(args.out).write_text(json.dumps(figures, indent=2))
    print(f"figures written to {args.out}")
    return 0
