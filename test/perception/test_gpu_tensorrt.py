"""On a GPU host only (marker `gpu`, never in CI): TensorRT engine from the random-weight ONNX vs onnxruntime.

Run: .venv/bin/python -m pytest -q -m gpu test/perception (needs TensorRT, cuda-python and .venv-models).
Tolerance fp32 engine vs onnxruntime: depth and confidence within 1e-2 of the map's largest value.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from spatialclaw_ros.config import Config
from spatialclaw_ros.perception import engines
from spatialclaw_ros.perception.service import REPO_ROOT, PerceptionService

pytestmark = pytest.mark.gpu


def test_tensorrt_engine_matches_onnxruntime(tmp_path: Path) -> None:
    r = subprocess.run([sys.executable, "-m", "spatialclaw_ros.cli", "build-engines", "--random-weights",
                        "--engine-dir", str(tmp_path), "--views", "2", "--image-size", "240x320",
                        "--process-res", "140", "--precision", "fp32"], capture_output=True, text=True,
                       timeout=1800, cwd=str(REPO_ROOT))
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    man = engines.ModelManifest.load(engines.model_dir(tmp_path, "da3-small"))
    assert len(man.engines) == 1 and man.engines[0].key["precision"] == "fp32"
    x = np.random.default_rng(0).normal(size=(1, 2, 3, 112, 140)).astype(np.float32)
    cfg = Config()
    trt = PerceptionService(cfg, runtime="tensorrt", engine_dir=str(tmp_path), precision="fp32")
    ort = PerceptionService(cfg, runtime="onnxruntime", engine_dir=str(tmp_path))
    try:
        _, a = trt.da3_worker().request("da3", arrays={"image": x})
        _, b = ort.da3_worker().request("da3", arrays={"image": x})
        for k in ("depth", "depth_conf"):
            assert np.abs(a[k] - b[k]).max() <= 1e-2 * np.abs(b[k]).max(), k
    finally:
        trt.close()
        ort.close()
