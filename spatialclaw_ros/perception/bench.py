"""`spatialclaw bench perception`: p50/p95 latency per model and backend, warm-up excluded.

Times one multi-view DA3 Reconstruct call through the service (preprocess, shared memory, worker
inference, alignment) and the worker's inference alone, for each runtime whose files exist. Prints a
table and writes JSON. Figures are only meaningful for real weights on the target hardware; a
random-weight export has the same cost as the real model of that size.
"""
from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np

from spatialclaw_ros.config import Config
from spatialclaw_ros.errors import PerceptionError
from spatialclaw_ros.frames.types import CameraModel, Frame
from spatialclaw_ros.perception import engines
from spatialclaw_ros.perception.service import PerceptionService


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Flags for `spatialclaw bench perception` (the bench command may add these)."""
    p.add_argument("--runtimes", default="onnxruntime,tensorrt,torch",
                   help="comma-separated runtimes to time; missing ones are reported, not timed")
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--threads", type=int, default=0, help="CPU threads for onnxruntime/torch (0: all)")
    p.add_argument("--engine-dir", default=None)
    p.add_argument("--precision", choices=("fp16", "fp32"), default="fp16")
    p.add_argument("--json", default="", help="write the figures here (default: print only)")


def _percentile(xs: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(xs), q)) if xs else float("nan")


def _frames(n: int, h: int, w: int, seed: int) -> list[Frame]:
    """Synthetic frames with TF poses along a line and sensor depth (alignment runs as in a query)."""
    rng = np.random.default_rng(seed)
    K = np.array([[0.8 * w, 0, w / 2], [0, 0.8 * w, h / 2], [0, 0, 1]])
    out = []
    for i in range(n):
        T = np.eye(4)
        T[:3, 3] = [0.1 * i, 0.0, 0.0]
        out.append(Frame(stamp_ns=seed * 1000 + i, rgb=rng.integers(0, 255, (h, w, 3), dtype=np.uint8),
                         camera=CameraModel(w, h, K, frame_id="camera"), fixed_frame="odom", T_fixed_camera=T,
                         depth=np.full((h, w), 2.0, np.float32)))
    return out


def bench_runtime(cfg: Config, runtime: str, *, engine_dir: str, repeats: int, warmup: int, threads: int,
                  precision: str) -> dict[str, Any]:
    """Time one runtime; returns its figures (or the reason it was not timed)."""
    model = cfg.perception.da3_model
    svc = PerceptionService(cfg, runtime=runtime, engine_dir=engine_dir, threads=threads, precision=precision)
    try:
        info = svc.da3_worker().ensure_started()
        shape = info["manifest"]["input_shapes"]["image"]
        views = int(shape[1])
        h, w = int(shape[3]), int(shape[4])
        total, infer = [], []
        for i in range(warmup + repeats):
            r = svc.reconstruct(_frames(views, h, w, seed=i + 1))
            if i >= warmup:
                total.append(r.timings_ms["total_ms"])
                infer.append(r.timings_ms["infer_ms"])
        return {"model": model, "runtime": runtime, "backend": info.get("backend"),
                "providers": info.get("providers", []), "input_shape": shape, "views": views,
                "random_weights": bool(info["manifest"].get("random_weights")),
                "repeats": repeats, "warmup": warmup,
                "reconstruct_p50_ms": _percentile(total, 50), "reconstruct_p95_ms": _percentile(total, 95),
                "infer_p50_ms": _percentile(infer, 50), "infer_p95_ms": _percentile(infer, 95),
                "load_ms": float(info.get("load_ms", 0.0))}
    except PerceptionError as exc:
        return {"model": model, "runtime": runtime, "skipped": str(exc)}
    finally:
        svc.close()


def main(args: argparse.Namespace, cfg: Config) -> int:
    """Run the perception benchmark; 0 when at least one runtime was timed."""
    engine_dir = getattr(args, "engine_dir", None) or cfg.perception.engine_dir
    runtimes = [r.strip() for r in str(getattr(args, "runtimes", "onnxruntime,tensorrt,torch")).split(",") if r.strip()]
    results = [bench_runtime(cfg, rt, engine_dir=engine_dir, repeats=int(getattr(args, "repeats", 20)),
                             warmup=int(getattr(args, "warmup", 3)), threads=int(getattr(args, "threads", 0)),
                             precision=str(getattr(args, "precision", "fp16"))) for rt in runtimes]
    try:
        gpu = " / ".join(engines.gpu_identity())
    except PerceptionError:
        gpu = "none"
    doc = {"bench": "perception", "host": platform.node(), "cpu": platform.processor() or platform.machine(),
           "gpu": gpu, "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "results": results}
    print(f"perception benchmark (GPU: {gpu}); warm-up excluded")
    print(f"{'model':<16}{'runtime':<13}{'views x HxW':<16}{'reconstruct p50/p95 ms':<26}{'infer p50/p95 ms'}")
    for r in results:
        if "skipped" in r:
            print(f"{r['model']:<16}{r['runtime']:<13}skipped: {r['skipped']}")
            continue
        s = r["input_shape"]
        tag = "  [RANDOM WEIGHTS - tests only]" if r["random_weights"] else ""
        print(f"{r['model']:<16}{r['runtime']:<13}{f'{s[1]} x {s[3]}x{s[4]}':<16}"
              f"{r['reconstruct_p50_ms']:>9.1f} / {r['reconstruct_p95_ms']:<14.1f}"
              f"{r['infer_p50_ms']:>8.1f} / {r['infer_p95_ms']:.1f}{tag}")
    out = getattr(args, "json", "")
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(json.dumps(doc, indent=2) + "\n")
        print(f"wrote {out}")
    return 0 if any("skipped" not in r for r in results) else 1
