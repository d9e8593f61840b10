"""`spatialclaw bench kernel`: our kernel against a Jupyter kernel (the seed's mechanism), same work.

Measures cold start (process to first cell result), warm acquire (a pre-warmed kernel handed out
with no frames), per-cell round trip p50/p90 of a trivial cell (= the per-cell overhead), and the
injection of 32 RGB-D 640x480 frames (ours: copied into a sealed memfd when the frames are plain
numpy arrays, zero-copy when they were allocated with ``shared_empty``, and frames made by the real
producers' conversions, ``frames/images.py`` from bgr8 + 16UC1 messages, which are zero-copy too;
Jupyter: pickled to a file and unpickled in the kernel).
Not a test: it prints a table and writes JSON.
"""
from __future__ import annotations

import argparse
import json
import os
import pickle
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from spatialclaw_ros.config import Config, SandboxConfig
from spatialclaw_ros.frames.types import CameraModel, Frame
from spatialclaw_ros.kernel import KernelPool, protocol, shared_empty

TARGETS_MS = {"warm_acquire_ms": 5.0, "cell_overhead_p50_ms": 2.0, "inject_32_frames_ms": 5.0}


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Flags of `spatialclaw bench kernel`."""
    p.add_argument("--out", default="out/bench_kernel.json", help="JSON output path")
    p.add_argument("--cells", type=int, default=300, help="cells timed for the round trip")
    p.add_argument("--repeats", type=int, default=5, help="repeats of start/acquire/injection")
    p.add_argument("--frames", type=int, default=32, help="RGB-D frames injected")
    p.add_argument("--no-jupyter", action="store_true", help="skip the Jupyter comparison")
    p.add_argument("--mode", choices=("auto", "strict", "off"), default=None,
                   help="sandbox mode (default: sandbox.mode from the config)")


def _ms(xs: list[float]) -> dict[str, float]:
    a = np.asarray(xs) * 1e3
    return {"p50": float(np.percentile(a, 50)), "p90": float(np.percentile(a, 90)),
            "min": float(a.min()), "n": int(a.size)}


def _frames(n: int, *, zero_copy: bool, h: int = 480, w: int = 640) -> list[Frame]:
    K = np.array([[525.0, 0, w / 2], [0, 525.0, h / 2], [0, 0, 1]])
    cam = CameraModel(width=w, height=h, K=K, frame_id="camera_color_optical_frame")
    out = []
    for i in range(n):
        if zero_copy:
            rgb, depth = shared_empty((h, w, 3), np.uint8), shared_empty((h, w), np.float32)
        else:
            rgb, depth = np.empty((h, w, 3), np.uint8), np.empty((h, w), np.float32)
        rgb[...] = i % 251
        depth[...] = 1.0 + i
        out.append(Frame(stamp_ns=i, rgb=rgb, camera=cam, depth=depth, fixed_frame="odom",
                         T_fixed_camera=np.eye(4)))
    return out


def _converted_frames(n: int, h: int = 480, w: int = 640) -> list[Frame]:
    """Frames as bags and the live node make them: sensor_msgs-like bgr8 + 16UC1 through images.py."""
    from types import SimpleNamespace as NS

    from spatialclaw_ros.frames.assemble import frame_from_messages

    info = NS(k=[525.0, 0, w / 2, 0, 525.0, h / 2, 0, 0, 1], d=[0.0] * 5, width=w, height=h,
              distortion_model="plumb_bob", header=NS(frame_id="camera_color_optical_frame"))
    out = []
    for i in range(n):
        hdr = NS(stamp=NS(sec=i, nanosec=0), frame_id="camera_color_optical_frame")
        color = NS(encoding="bgr8", height=h, width=w, step=w * 3, is_bigendian=0, header=hdr,
                   data=np.full((h, w, 3), i % 251, np.uint8).tobytes())
        depth = NS(encoding="16UC1", height=h, width=w, step=w * 2, is_bigendian=0, header=hdr,
                   data=np.full((h, w), 1000 + i, np.uint16).tobytes())
        out.append(frame_from_messages(color, info, depth=depth, pose=np.eye(4), fixed_frame="odom"))
    return out


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def bench_ours(sb: SandboxConfig, *, cells: int, repeats: int, n_frames: int) -> dict[str, Any]:
    """Our kernel: cold start, warm acquire, cell round trip, frame injection."""
    res: dict[str, Any] = {}
    cold = []
    pool0 = KernelPool(sb, size=0)
    try:
        def first() -> None:
            with pool0.acquire([], {}) as k:
                k.run_cell("x = 1", timeout_s=30)
        # first: the fork server starts (interpreter + numpy/scipy/cv2/tools imports) = a restart
        # of the node; then fresh kernels forked from it with nothing pre-warmed.
        res["first_start_with_server_ms"] = _timed(first)[0] * 1e3
        res["fork_server_start_ms"] = pool0._zygote.start_s * 1e3 if pool0._zygote else None
        for _ in range(repeats):
            cold.append(_timed(first)[0])
    finally:
        pool0.close()
    res["cold_start_ms"] = _ms(cold)
    plain = _frames(n_frames, zero_copy=False)
    shared = _frames(n_frames, zero_copy=True)
    t0 = time.perf_counter()
    converted = _converted_frames(n_frames)
    res["convert_frames_ms"] = (time.perf_counter() - t0) * 1e3
    pool = KernelPool(sb, size=1)
    try:
        def acquire(frames: list[Frame]) -> tuple[float, float]:
            pool.wait_warm(timeout_s=120)
            time.sleep(0.2)                       # let the refill settle: time the hand-out only
            t, s = _timed(lambda: pool.acquire(frames, {"question": "bench"}))
            with s:
                init = float(s.init_timings.get("init_s", float("nan")))
                if frames:
                    r = s.run_cell("v = int(InputImages[-1][0, 0, 0])", timeout_s=30)
                    assert r.ok, r.error
            return t, init

        warm = [acquire([]) for _ in range(repeats)]
        res["warm_acquire_ms"] = _ms([w[0] for w in warm])
        res["warm_acquire_child_init_ms"] = _ms([w[1] for w in warm])
        copy = [acquire(plain) for _ in range(repeats)]
        zero = [acquire(shared) for _ in range(repeats)]
        stats0 = protocol.copy_stats()
        conv = [acquire(converted) for _ in range(repeats)]
        stats1 = protocol.copy_stats()
        res["converted_frames_bytes_copied"] = stats1["bytes_copied"] - stats0["bytes_copied"]
        res["converted_frames_arrays_shared"] = stats1["arrays_shared"] - stats0["arrays_shared"]
        base = statistics.median(w[0] for w in warm)
        res["inject_copy_ms"] = _ms([max(0.0, c[0] - base) for c in copy])
        res["inject_zero_copy_ms"] = _ms([max(0.0, z[0] - base) for z in zero])
        res["inject_converted_ms"] = _ms([max(0.0, c[0] - base) for c in conv])
        res["acquire_with_frames_copy_ms"] = _ms([c[0] for c in copy])
        res["acquire_with_frames_zero_copy_ms"] = _ms([z[0] for z in zero])
        pool.wait_warm(timeout_s=120)
        time.sleep(0.2)
        with pool.acquire([], {}) as s:
            for _ in range(20):
                s.run_cell("x = 1", timeout_s=30)
            rt, inner = [], []
            for i in range(cells):
                t, r = _timed(lambda: s.run_cell(f"x = {i}", timeout_s=30))
                rt.append(t)
                inner.append(r.duration_s)
            res["cell_round_trip_ms"] = _ms(rt)
            res["layers"] = list(s.sandbox_layers)
    finally:
        pool.close()
    res["frames_mb"] = sum(f.nbytes for f in plain) / 1e6
    return res


def bench_jupyter(*, cells: int, repeats: int, n_frames: int) -> dict[str, Any]:
    """A jupyter_client + ipykernel kernel doing the same work."""
    try:
        from jupyter_client.manager import start_new_kernel
    except ImportError as exc:
        return {"skipped": f"jupyter_client not installed: {exc}"}
    res: dict[str, Any] = {}

    def run(kc: Any, code: str) -> None:
        reply = kc.execute_interactive(code, timeout=120, output_hook=lambda m: None)
        if reply["content"]["status"] != "ok":
            raise RuntimeError(f"jupyter cell failed: {reply['content']}")

    cold = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        km, kc = start_new_kernel(kernel_name="python3", startup_timeout=120)
        run(kc, "x = 1")
        cold.append(time.perf_counter() - t0)
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    res["cold_start_ms"] = _ms(cold)
    res["warm_acquire_ms"] = "n/a: the seed starts a kernel per query (no pool)"
    km, kc = start_new_kernel(kernel_name="python3", startup_timeout=120)
    try:
        for _ in range(20):
            run(kc, "x = 1")
        rt = [_timed(lambda i=i: run(kc, f"x = {i}"))[0] for i in range(cells)]
        res["cell_round_trip_ms"] = _ms(rt)
        frames = _frames(n_frames, zero_copy=False)
        inj = []
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "frames.pkl")
            for _ in range(repeats):
                def inject() -> None:
                    with open(path, "wb") as f:
                        pickle.dump([(fr.rgb, fr.depth) for fr in frames], f, protocol=5)
                    run(kc, f"import pickle\nwith open({path!r}, 'rb') as f:\n    frames = pickle.load(f)")
                inj.append(_timed(inject)[0])
        res["inject_pickle_ms"] = _ms(inj)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    return res


def _fmt(d: Any, key: str = "p50") -> str:
    if isinstance(d, dict) and key in d:
        return f"{d[key]:.2f}"
    return "n/a"


def main(args: argparse.Namespace, cfg: Config) -> int:
    """Run the kernel benchmark, print a table, write JSON; 0 on success."""
    sb = SandboxConfig(**{**cfg.sandbox.__dict__})
    if getattr(args, "mode", None):
        sb.mode = args.mode
    reps = max(1, int(args.repeats))
    load_before = os.getloadavg()
    ours = bench_ours(sb, cells=int(args.cells), repeats=reps, n_frames=int(args.frames))
    jup = {"skipped": "--no-jupyter"} if args.no_jupyter else bench_jupyter(
        cells=int(args.cells), repeats=max(1, min(reps, 3)), n_frames=int(args.frames))
    doc = {"bench": "kernel", "host": platform.node(), "machine": platform.machine(),
           "cpus": os.cpu_count(), "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
           "frames": int(args.frames), "frame_size": "640x480 RGB + float32 depth",
           "load_avg_1_5_15": {"before": list(load_before), "after": list(os.getloadavg())},
           "targets_ms": TARGETS_MS, "ours": ours, "jupyter": jup}
    rows = [
        ("start incl. fork server (once)", f"{ours['first_start_with_server_ms']:.2f}", ""),
        ("cold start (to first cell)", _fmt(ours["cold_start_ms"]), _fmt(jup.get("cold_start_ms"))),
        ("warm acquire (no frames)", _fmt(ours["warm_acquire_ms"]), "n/a (no pool)"),
        ("cell round trip p50", _fmt(ours["cell_round_trip_ms"]), _fmt(jup.get("cell_round_trip_ms"))),
        ("cell round trip p90", _fmt(ours["cell_round_trip_ms"], "p90"),
         _fmt(jup.get("cell_round_trip_ms"), "p90")),
        (f"inject {args.frames} RGB-D, zero-copy", _fmt(ours["inject_zero_copy_ms"]), ""),
        (f"inject {args.frames} RGB-D, from images.py", _fmt(ours["inject_converted_ms"]), ""),
        (f"inject {args.frames} RGB-D, copied", _fmt(ours["inject_copy_ms"]),
         _fmt(jup.get("inject_pickle_ms")) + " (pickle)"),
    ]
    print(f"kernel benchmark, {os.cpu_count()} CPUs, load average {load_before[0]:.2f} (1 min), "
          f"sandbox layers: {', '.join(ours.get('layers', []))}")
    print(f"{'ms (p50 unless noted)':<36}{'ours':>12}{'jupyter':>22}")
    for name, a, b in rows:
        print(f"{name:<36}{a:>12}{b:>22}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, indent=2))
    print(f"frames from images.py: {ours['converted_frames_bytes_copied']} bytes copied, "
          f"{ours['converted_frames_arrays_shared']} arrays sent by descriptor "
          f"(conversion of {args.frames} frames: {ours['convert_frames_ms']:.1f} ms)")
    print(f"wrote {out}")
    return 0
