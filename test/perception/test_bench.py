"""`spatialclaw bench perception` over the tiny contract graph: figures printed and written as JSON."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from perception_fixtures import install_contract_model

from spatialclaw_ros.config import Config
from spatialclaw_ros.perception import bench


def test_bench_times_onnxruntime_and_reports_missing_runtimes(engine_dir: Path, tmp_path: Path, capsys) -> None:
    install_contract_model(engine_dir, "da3-small", 2, 28, 42, np.ones(2), np.tile(np.eye(4)[:3], (2, 1, 1)))
    p = argparse.ArgumentParser()
    bench.add_arguments(p)
    out = tmp_path / "bench.json"
    args = p.parse_args(["--engine-dir", str(engine_dir), "--runtimes", "onnxruntime,tensorrt", "--repeats", "4",
                         "--warmup", "1", "--threads", "1", "--json", str(out)])
    assert bench.main(args, Config()) == 0
    doc = json.loads(out.read_text())
    ort, trt = doc["results"]
    assert ort["runtime"] == "onnxruntime" and ort["repeats"] == 4 and ort["random_weights"] is True
    assert 0 < ort["infer_p50_ms"] <= ort["infer_p95_ms"]
    assert ort["reconstruct_p50_ms"] >= ort["infer_p50_ms"]
    assert "skipped" in trt
    text = capsys.readouterr().out
    assert "p50/p95" in text and "RANDOM WEIGHTS" in text and "skipped" in text
