"""da3metric-large with random weights through the real paths (marker `models`; needs .venv-models).

`spatialclaw build-engines --model da3metric-large --random-weights --onnx-only` at process-res 140
(single view, 112x140) -> onnxruntime (node venv) vs torch (.venv-models) on the same input ->
the service's metric fallback on frames with no TF and no sensor depth. Tolerance: depth and sky
within 1e-3 of the map's largest value.
"""
from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from perception_fixtures import da3_scene

from spatialclaw_ros.config import Config
from spatialclaw_ros.perception import engines
from spatialclaw_ros.perception.alignment import METRIC_NOTE
from spatialclaw_ros.perception.service import REPO_ROOT, PerceptionService, models_python

pytestmark = [pytest.mark.models, pytest.mark.slow]


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "spatialclaw_ros.cli", "build-engines", *args],
                          capture_output=True, text=True, timeout=900, cwd=str(REPO_ROOT))


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    assert os.path.exists(models_python()), "run `make setup-models` first (scripts/setup_models.sh)"
    d = tmp_path_factory.mktemp("engines")
    r = _cli("--model", "da3metric-large", "--random-weights", "--onnx-only", "--engine-dir", str(d),
             "--image-size", "240x320", "--process-res", "140")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return d


def test_metric_export_backends_agree_and_fallback_runs(exported: Path) -> None:
    d = engines.model_dir(exported, "da3metric-large")
    man = engines.ModelManifest.load(d)
    assert man.family == "da3metric" and man.metric and man.random_weights
    assert man.input_shapes == {"image": [1, 1, 3, 112, 140]}
    bad = _cli("--model", "da3metric-large", "--random-weights", "--onnx-only", "--engine-dir", str(exported),
               "--views", "4")
    assert bad.returncode == 2 and "single-view" in bad.stdout
    cfg = Config()
    ort = PerceptionService(cfg, runtime="onnxruntime", engine_dir=str(exported), threads=2)
    tor = PerceptionService(cfg, runtime="torch", engine_dir=str(exported), threads=2)
    try:
        x = np.random.default_rng(0).normal(size=(1, 1, 3, 112, 140)).astype(np.float32)
        _, a = ort.metric_worker().request("da3", arrays={"image": x})
        _, b = tor.metric_worker().request("da3", arrays={"image": x})
        for k in ("depth", "sky"):
            assert a[k].shape == b[k].shape == (1, 1, 112, 140)
            assert np.abs(a[k] - b[k]).max() <= 1e-3 * max(np.abs(b[k]).max(), 1e-6), k
        frames = da3_scene(2)[0]
        for f in frames:
            f.T_fixed_camera = None
        r = ort.reconstruct(frames)
        assert r.mode == "metric" and METRIC_NOTE in r.notes and math.isnan(r.residual_m)
        assert r.backend == "da3:da3metric-large:onnxruntime"
        assert all(dm.shape == f.rgb.shape[:2] for dm, f in zip(r.depth, frames))
    finally:
        ort.close()
        tor.close()
