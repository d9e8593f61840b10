"""The DA3METRIC fallback: focal scaling to the processed size, and the service path with a tiny metric graph."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from perception_fixtures import DA3_SCALE, NH, NW, VIEWS, H, W, da3_scene, install_contract_model, install_metric_model

from spatialclaw_ros.config import Config, SandboxConfig
from spatialclaw_ros.errors import PerceptionError
from spatialclaw_ros.frames.types import CameraModel
from spatialclaw_ros.kernel import KernelPool
from spatialclaw_ros.perception import da3 as da3c
from spatialclaw_ros.perception.alignment import (
    METRIC_NOTE,
    has_scale_source,
    metric_alignment,
    metric_depth,
    metric_focal_px,
)
from spatialclaw_ros.perception.handlers import perception_handlers
from spatialclaw_ros.perception.service import PerceptionService

RAW = 6.0                                           # the metric graph's raw output everywhere (non-sky)
SKY_ROWS = 7                                        # top rows of the processed map that are sky


def test_focal_is_scaled_per_axis_to_the_processed_size() -> None:
    K = np.array([[500.0, 0, 320], [0, 480.0, 240], [0, 0, 1]])
    assert da3c.processed_size(480, 640, 504) == (378, 504)
    # fx 500 * 504/640 = 393.75; fy 480 * 378/480 = 378; mean 385.875
    assert metric_focal_px(K, (480, 640), (378, 504)) == pytest.approx(385.875, rel=1e-12)
    assert metric_focal_px(K, (480, 640), (480, 640)) == pytest.approx(490.0)
    # non-uniform resize (e.g. 48x64 -> 42x56): 60*56/64 = 52.5, 40*42/48 = 35 -> 43.75
    K2 = np.array([[60.0, 0, 32], [0, 40.0, 24], [0, 0, 1]])
    assert metric_focal_px(K2, (48, 64), (42, 56)) == pytest.approx(43.75)
    np.testing.assert_allclose(metric_depth(np.full((2, 2), 6.0), 385.875), 385.875 * 6.0 / 300, rtol=1e-6)
    with pytest.raises(ValueError, match="positive fx"):
        metric_focal_px(np.eye(3) * 0, (48, 64), (42, 56))
    with pytest.raises(ValueError, match="sizes must be positive"):
        metric_focal_px(K, (0, 64), (42, 56))


def test_scale_source_detection() -> None:
    T0, T1 = np.eye(4), np.eye(4)
    T1[:3, 3] = [0.2, 0, 0]
    assert has_scale_source([T0, T1], [None, None])
    assert not has_scale_source([T0, T0.copy()], [None, None])            # coincident centres: no baseline
    assert not has_scale_source([T0], [None])
    assert not has_scale_source([None, None], [None, np.full((5, 5), np.nan)])
    assert has_scale_source([None], [np.ones((20, 20))])
    assert not has_scale_source([None], [np.zeros((20, 20))])


def test_metric_alignment_poses_and_notes() -> None:
    T = np.eye(4)
    T[:3, 3] = [1, 2, 3]
    a = metric_alignment([300.0], [T], "odom", "cam")
    assert a.mode == "metric" and a.frame == "odom" and math.isnan(a.residual_m) and a.scale == pytest.approx(1.0)
    np.testing.assert_array_equal(a.T_fixed_camera[0], T)
    assert a.notes[0] == METRIC_NOTE
    b = metric_alignment([150.0, 300.0], [T, None], "odom", "cam")
    assert b.frame == "cam" and all(np.array_equal(P, np.eye(4)) for P in b.T_fixed_camera)
    assert any("identity" in n and "NOT registered" in n for n in b.notes)


def _frames(n: int, tf: bool):
    frames = da3_scene(n)[0]
    K = np.array([[60.0, 0, 32], [0, 40.0, 24], [0, 0, 1]])
    for f in frames:
        f.camera = CameraModel(W, H, K, frame_id="camera_color_optical_frame")
        f.depth = None
        if not tf:
            f.T_fixed_camera = None
    return frames


@pytest.fixture
def metric_engines(engine_dir: Path) -> Path:
    sky = np.zeros((NH, NW), np.float32)
    sky[:SKY_ROWS] = 0.9
    install_metric_model(engine_dir, NH, NW, np.full((NH, NW), RAW, np.float32), sky)
    return engine_dir


def test_service_metric_fallback_without_tf(metric_engines: Path) -> None:
    frames = _frames(2, tf=False)
    svc = PerceptionService(Config(), runtime="onnxruntime", engine_dir=str(metric_engines), threads=1, timeout_s=60)
    try:
        r = perception_handlers(frames, Config(), svc)["perception.reconstruct"]({"frame_indices": [0, 1]})
    finally:
        svc.close()
    want = 43.75 * RAW / 300.0                      # focal (60*56/64 + 40*42/48)/2 = 43.75 px at 42x56
    assert r["mode"] == "metric" and r["units"] == "m" and math.isnan(r["residual_m"])
    assert r["backend"] == "da3:da3metric-large:onnxruntime"
    assert METRIC_NOTE in r["notes"] and any("RANDOM WEIGHTS" in n for n in r["notes"])
    assert r["frame"] == "camera_color_optical_frame" and any("identity" in n for n in r["notes"])
    for i in range(2):
        d = r["depth"][i]
        assert d.shape == (H, W) and d.dtype == np.float32
        np.testing.assert_allclose(d[H // 2:], want, rtol=1e-5)
        assert np.isnan(d[0]).all()                 # sky rows are invalid
        assert np.isnan(d).sum() < H * W / 2
        np.testing.assert_allclose(r["conf"][i][H // 2:], 1.0)
        np.testing.assert_array_equal(r["T_fixed_camera"][i], np.eye(4))
    assert r["scale"] == pytest.approx(43.75 / 300.0)
    assert any("sky pixel" in n for n in r["notes"])


def test_single_tf_frame_keeps_its_pose_and_multiview_still_wins_with_a_baseline(metric_engines: Path) -> None:
    frames, truth, extr, true_depth = da3_scene()
    install_contract_model(metric_engines, "da3-small", VIEWS, NH, NW, true_depth / DA3_SCALE, extr)
    svc = PerceptionService(Config(), runtime="onnxruntime", engine_dir=str(metric_engines), threads=1, timeout_s=60)
    try:
        one = svc.reconstruct(frames[:1], fixed_frame="odom")          # one TF pose: no baseline
        assert one.mode == "metric" and one.frame == "odom"
        np.testing.assert_array_equal(one.T_fixed_camera[0], truth[0])
        focal = 0.5 * (50.0 * NW / W + 50.0 * NH / H)
        np.testing.assert_allclose(one.depth[0][-1], focal * RAW / 300.0, rtol=1e-5)
        three = svc.reconstruct(frames)                                # TF baseline: multi-view DA3 + fit
        assert three.mode == "tf" and three.scale == pytest.approx(DA3_SCALE, rel=1e-5)
    finally:
        svc.close()


def test_without_a_metric_export_the_error_names_the_build_command(engine_dir: Path) -> None:
    frames, _, extr, true_depth = da3_scene()
    install_contract_model(engine_dir, "da3-small", VIEWS, NH, NW, true_depth / DA3_SCALE, extr)
    for f in frames:
        f.T_fixed_camera = None
    svc = PerceptionService(Config(), runtime="onnxruntime", engine_dir=str(engine_dir), threads=1, timeout_s=60)
    try:
        with pytest.raises(PerceptionError, match="build-engines --model da3metric-large"):
            svc.reconstruct(frames)
    finally:
        svc.close()


CELL = """
recs = tools.Reconstruct.run([0], backend="da3")
r = recs[0]
print("mid", round(float(r.depth[40, 30]), 4), "frame", r.frame, "backend", r.backend)
print("scale-note", any("scale estimated" in n for n in r.notes))
"""


def test_reconstruct_tool_in_the_kernel_uses_the_metric_fallback(metric_engines: Path) -> None:
    frames = _frames(1, tf=False)
    cfg = Config()
    svc = PerceptionService(cfg, runtime="onnxruntime", engine_dir=str(metric_engines), threads=1, timeout_s=60)
    pool = KernelPool(SandboxConfig(mode="auto", memory_mb=2048, cpu_s=120), size=1)
    try:
        with pool.acquire(frames, {"fixed_frame": "odom"}, handlers=perception_handlers(frames, cfg, svc)) as k:
            res = k.run_cell(CELL, timeout_s=120)
        assert res.ok, res.error
        assert f"mid {round(43.75 * RAW / 300.0, 4)} frame camera_color_optical_frame backend da3" in res.stdout
        assert "scale-note True" in res.stdout
    finally:
        pool.close()
        svc.close()
