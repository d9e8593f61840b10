"""The perception service over a real worker process, shared memory and onnxruntime (tiny contract graph)."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from perception_fixtures import DA3_SCALE, NH, NW, VIEWS, H, W, install_contract_model
from perception_fixtures import da3_scene as _scene

from spatialclaw_ros.config import Config
from spatialclaw_ros.errors import PerceptionError
from spatialclaw_ros.perception import engines
from spatialclaw_ros.perception.handlers import perception_handlers
from spatialclaw_ros.perception.service import PerceptionService


@pytest.fixture
def setup(engine_dir: Path):
    frames, truth, extr, true_depth = _scene()
    install_contract_model(engine_dir, "da3-small", VIEWS, NH, NW, true_depth / DA3_SCALE, extr)
    cfg = Config()
    svc = PerceptionService(cfg, runtime="onnxruntime", engine_dir=str(engine_dir), threads=1, timeout_s=60)
    yield cfg, svc, frames, truth, true_depth
    svc.close()


def test_reconstruct_handler_aligns_to_tf_with_known_truth(setup) -> None:
    cfg, svc, frames, truth, true_depth = setup
    handlers = perception_handlers(frames, cfg, svc)
    assert set(handlers) == {"perception.reconstruct", "perception.segment"}
    r = handlers["perception.reconstruct"]({"frame_indices": [0, 1, 2], "backend": "da3"})
    assert r["units"] == "m" and r["frame"] == "odom" and r["mode"] == "tf"
    assert r["backend"].startswith("da3:da3-small:onnxruntime")
    assert len(r["depth"]) == 3 and r["depth"][0].shape == (H, W) and r["depth"][0].dtype == np.float32
    for i in range(3):
        np.testing.assert_allclose(r["depth"][i], true_depth[i], rtol=1e-5)
        np.testing.assert_allclose(r["T_fixed_camera"][i], truth[i], atol=1e-5)
        np.testing.assert_allclose(r["K"][i], frames[i].camera.K)
    assert r["scale"] == pytest.approx(DA3_SCALE, rel=1e-5)
    assert r["residual_m"] < 1e-4
    assert any(engines.RANDOM_WEIGHTS_LABEL in n for n in r["notes"])
    assert any("padding view" in n for n in r["notes"])
    assert r["timings_ms"]["infer_ms"] > 0 and r["timings_ms"]["total_ms"] >= r["timings_ms"]["infer_ms"]
    again = handlers["perception.reconstruct"]({"frame_indices": [0, 1, 2]})
    assert again["timings_ms"].get("cached") == 1.0
    np.testing.assert_array_equal(again["depth"][1], r["depth"][1])


def test_sensor_depth_scale_without_tf(setup) -> None:
    cfg, svc, frames, _, true_depth = setup
    for i, f in enumerate(frames):
        f.T_fixed_camera = None
        f.depth = np.full((H, W), true_depth[i], np.float32)
        f.depth[:5] = np.nan
    r = svc.reconstruct(frames[:2])
    assert r.mode == "sensor_depth" and r.frame == "camera_color_optical_frame"
    assert r.scale == pytest.approx(DA3_SCALE, rel=1e-5)
    np.testing.assert_allclose(r.depth[1], true_depth[1], rtol=1e-5)
    np.testing.assert_allclose(r.T_fixed_camera[0], np.eye(4), atol=1e-6)


def test_no_scale_source_is_a_clear_error(setup) -> None:
    cfg, svc, frames, _, _ = setup
    for f in frames:
        f.T_fixed_camera = None
    with pytest.raises(PerceptionError, match="scale is undetermined"):
        svc.reconstruct(frames)


def test_bad_payloads_get_clear_errors(setup) -> None:
    cfg, svc, frames, _, _ = setup
    rec = perception_handlers(frames, cfg, svc)["perception.reconstruct"]
    with pytest.raises(PerceptionError, match="out of range"):
        rec({"frame_indices": [0, 7]})
    with pytest.raises(PerceptionError, match="repeat"):
        rec({"frame_indices": [1, 1]})
    with pytest.raises(PerceptionError, match="must be an int"):
        rec({"frame_indices": ["0"]})
    with pytest.raises(PerceptionError, match="only 'da3'"):
        rec({"frame_indices": [0], "backend": "sensor"})
    with pytest.raises(PerceptionError, match="payload must be a dict"):
        rec([0])
    frames5 = frames + _scene(2, seed=3)[0]
    with pytest.raises(PerceptionError, match="--views 5"):
        svc.reconstruct(frames5)


def test_segment_payload_validation_and_unavailable_sam3(setup, monkeypatch) -> None:
    cfg, svc, frames, _, _ = setup
    seg = perception_handlers(frames, cfg, svc)["perception.segment"]
    with pytest.raises(PerceptionError, match="text, points or a box"):
        seg({"frame_index": 0})
    with pytest.raises(PerceptionError, match="u1>u0"):
        seg({"frame_index": 0, "box": [10, 10, 5, 20]})
    with pytest.raises(PerceptionError, match="one 0/1 per point"):
        seg({"frame_index": 0, "points": [[1, 2]], "point_labels": [3]})
    with pytest.raises(PerceptionError, match="out of range"):
        seg({"frame_index": 9, "text": "mug"})
    monkeypatch.setenv("SPATIALCLAW_SAM3_PYTHON", "/nonexistent/python")
    with pytest.raises(PerceptionError, match="SAM 3 is not available.*setup_models.sh sam3"):
        seg({"frame_index": 0, "text": "mug"})


def test_worker_death_is_a_clear_error_and_it_restarts(setup) -> None:
    cfg, svc, frames, _, _ = setup
    w = svc.da3_worker()
    w.ensure_started()
    pid = w.pid
    assert pid is not None
    # Die while the request is in flight (a worker found dead between requests is restarted
    # silently): stop it, send the request, and kill it once the request is on its way.
    os.kill(pid, signal.SIGSTOP)
    seq = w._seq  # noqa: SLF001
    outcome: list[BaseException | None] = []

    def ask() -> None:
        try:
            w.request("da3", arrays={"image": np.zeros((1, VIEWS, 3, NH, NW), np.float32)})
            outcome.append(None)
        except BaseException as exc:  # noqa: BLE001 - checked below
            outcome.append(exc)

    t = threading.Thread(target=ask, daemon=True)
    t.start()
    deadline = time.monotonic() + 30
    while w._seq == seq and time.monotonic() < deadline:  # noqa: SLF001
        time.sleep(0.005)
    os.kill(pid, signal.SIGKILL)
    t.join(60)
    assert outcome and isinstance(outcome[0], PerceptionError), outcome
    assert re.search("killed .*out of memory", str(outcome[0])), outcome[0]
    r = svc.reconstruct(frames[:2])                    # a fresh worker answers the next request
    assert r.mode == "tf" and w.restarts == 1 and w.pid not in (None, pid)


def test_wrong_input_shape_is_refused_by_the_worker(setup) -> None:
    cfg, svc, frames, _, _ = setup
    with pytest.raises(PerceptionError, match="re-export"):
        svc.da3_worker().request("da3", arrays={"image": np.zeros((1, VIEWS, 3, 14, 14), np.float32)})
    assert svc.reconstruct(frames[:1] + frames[1:2]).mode == "tf"   # the worker survived


def test_missing_or_changed_model_is_refused_with_the_build_command(engine_dir: Path) -> None:
    frames, _, extr, true_depth = _scene()
    svc = PerceptionService(Config(), runtime="onnxruntime", engine_dir=str(engine_dir), timeout_s=60)
    try:
        with pytest.raises(PerceptionError, match="spatialclaw build-engines --model da3-small"):
            svc.reconstruct(frames)
    finally:
        svc.close()
    install_contract_model(engine_dir, "da3-small", VIEWS, NH, NW, true_depth, extr)
    with open(engines.model_dir(engine_dir, "da3-small") / engines.ONNX_FILE, "ab") as f:
        f.write(b"\0")
    svc = PerceptionService(Config(), runtime="onnxruntime", engine_dir=str(engine_dir), timeout_s=60)
    try:
        with pytest.raises(PerceptionError, match="changed since export"):
            svc.reconstruct(frames)
    finally:
        svc.close()


def test_bad_runtime_name() -> None:
    with pytest.raises(PerceptionError, match="tensorrt, onnxruntime or torch"):
        PerceptionService(Config(), runtime="cuda")


def test_runtime_path_does_not_import_torch() -> None:
    code = ("import sys; import spatialclaw_ros.perception.service, spatialclaw_ros.perception.handlers, "
            "spatialclaw_ros.perception.worker, spatialclaw_ros.perception.backends; "
            "bad = [m for m in ('torch', 'tensorrt', 'depth_anything_3') if m in sys.modules]; "
            "sys.exit(1 if bad else 0)")
    assert subprocess.run([sys.executable, "-c", code], timeout=60).returncode == 0
