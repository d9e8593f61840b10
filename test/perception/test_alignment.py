"""DA3 -> fixed-frame alignment on synthetic scenes where the truth is known."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from spatialclaw_ros.perception.alignment import align_da3, extrinsics_to_c2w, metric_depth, rotation_average, umeyama


def _pose(rng: np.random.Generator, centre: np.ndarray) -> np.ndarray:
    T = np.eye(4)
    T[:3, :3] = Rotation.from_rotvec(rng.normal(size=3) * 0.6).as_matrix()
    T[:3, 3] = centre
    return T


def _scene(rng: np.random.Generator, n: int, da3_scale: float, collinear: bool = False):
    """True c2w poses in the fixed frame, and what DA3 would say: w2c in its own world, depth / scale."""
    if collinear:
        centres = np.array([[0.2 * i, 1.0, 0.5] for i in range(n)])
    else:
        centres = rng.uniform(-1.5, 1.5, size=(n, 3))
    truth = [_pose(rng, c) for c in centres]
    # DA3 world: the first camera, scaled by 1/da3_scale.
    inv0 = np.linalg.inv(truth[0])
    extr = []
    for T in truth:
        rel = inv0 @ T                        # camera -> first camera, metres
        rel[:3, 3] /= da3_scale               # DA3 units
        extr.append(np.linalg.inv(rel)[:3, :4])
    true_depth = [rng.uniform(0.5, 4.0, size=(24, 32)).astype(np.float32) for _ in range(n)]
    da3_depth = [d / np.float32(da3_scale) for d in true_depth]
    return truth, np.array(extr), true_depth, da3_depth


def test_umeyama_recovers_a_known_similarity() -> None:
    rng = np.random.default_rng(0)
    src = rng.normal(size=(10, 3))
    R = Rotation.from_rotvec([0.3, -1.0, 0.5]).as_matrix()
    dst = 2.5 * src @ R.T + np.array([1.0, -2.0, 0.3])
    sim = umeyama(src, dst)
    assert sim.scale == pytest.approx(2.5, rel=1e-9)
    np.testing.assert_allclose(sim.R, R, atol=1e-9)
    np.testing.assert_allclose(sim.apply(src), dst, atol=1e-9)


def test_umeyama_rejects_degenerate_input() -> None:
    with pytest.raises(ValueError, match="N>=3"):
        umeyama(np.zeros((2, 3)), np.zeros((2, 3)))
    with pytest.raises(ValueError, match="coincide"):
        umeyama(np.ones((4, 3)), np.zeros((4, 3)))


def test_extrinsics_round_trip_and_rotation_average() -> None:
    rng = np.random.default_rng(1)
    T = _pose(rng, np.array([1.0, 2.0, 3.0]))
    c2w = extrinsics_to_c2w(np.linalg.inv(T)[None, :3, :4])[0]
    np.testing.assert_allclose(c2w, T, atol=1e-12)
    R = Rotation.from_rotvec([0.1, 0.2, 0.3]).as_matrix()
    np.testing.assert_allclose(rotation_average([R, R, R]), R, atol=1e-12)


@pytest.mark.parametrize("collinear", [False, True])
def test_tf_similarity_fit_recovers_scale_and_poses(collinear: bool) -> None:
    rng = np.random.default_rng(2)
    truth, extr, true_depth, da3_depth = _scene(rng, 5, da3_scale=0.37, collinear=collinear)
    tf = [T if i != 2 else None for i, T in enumerate(truth)]          # one frame lacks TF
    al = align_da3(extr, da3_depth, tf_poses=tf, sensor_depth=[None] * 5, fixed_frame="odom")
    assert al.mode == "tf" and al.frame == "odom"
    assert al.scale == pytest.approx(0.37, rel=1e-6)
    assert al.residual_m < 1e-6
    for got, want in zip(al.T_fixed_camera, truth):                    # frame 2 comes from DA3 + the fit
        np.testing.assert_allclose(got, want, atol=1e-6)
    np.testing.assert_allclose(da3_depth[3] * al.scale, true_depth[3], rtol=1e-5)


def test_tf_fit_residual_reports_pose_noise() -> None:
    rng = np.random.default_rng(3)
    truth, extr, _, da3_depth = _scene(rng, 8, da3_scale=2.0)
    noisy = [T.copy() for T in truth]
    for T in noisy:
        T[:3, 3] += rng.normal(scale=0.02, size=3)
    al = align_da3(extr, da3_depth, tf_poses=noisy, sensor_depth=[None] * 8, fixed_frame="odom")
    assert al.scale == pytest.approx(2.0, rel=0.05)
    assert 0.005 < al.residual_m < 0.06                              # ~ sqrt(3) * 0.02 shrunk by the fit


def test_sensor_depth_scale_when_tf_has_no_baseline() -> None:
    rng = np.random.default_rng(4)
    truth, extr, true_depth, da3_depth = _scene(rng, 3, da3_scale=5.0)
    sensor = [d + rng.normal(scale=0.01, size=d.shape).astype(np.float32) for d in true_depth]
    sensor[0][:4] = np.nan                                             # invalid pixels are ignored
    sensor[1][:, :3] = 0.0
    al = align_da3(extr, da3_depth, tf_poses=[truth[0], None, None], sensor_depth=[sensor[0], sensor[1], None],
                   fixed_frame="odom")
    assert al.mode == "sensor_depth" and al.frame == "odom"
    assert al.scale == pytest.approx(5.0, rel=0.01)
    assert 0.002 < al.residual_m < 0.02
    for got, want in zip(al.T_fixed_camera, truth):                    # anchored by frame 0's TF pose
        np.testing.assert_allclose(got, want, atol=0.02)


def test_without_tf_poses_are_relative_to_the_first_camera() -> None:
    rng = np.random.default_rng(5)
    truth, extr, true_depth, da3_depth = _scene(rng, 2, da3_scale=1.5)
    al = align_da3(extr, da3_depth, tf_poses=[None, None], sensor_depth=true_depth, fixed_frame="odom",
                   camera_frame="camera_color_optical_frame")
    assert al.frame == "camera_color_optical_frame"
    np.testing.assert_allclose(al.T_fixed_camera[0], np.eye(4), atol=1e-9)
    want = np.linalg.inv(truth[0]) @ truth[1]
    np.testing.assert_allclose(al.T_fixed_camera[1], want, atol=1e-6)
    assert any("relative to the first camera" in n for n in al.notes)


def test_metric_fallback_says_scale_estimated() -> None:
    rng = np.random.default_rng(6)
    _, extr, _, da3_depth = _scene(rng, 2, da3_scale=1.0)
    al = align_da3(extr, da3_depth, tf_poses=[None, None], sensor_depth=[None, None], fixed_frame="odom",
                   metric_scale=[600.0 / 300.0, 600.0 / 300.0])
    assert al.mode == "metric" and al.scale == pytest.approx(2.0)
    assert math.isnan(al.residual_m)
    assert any("scale estimated" in n for n in al.notes)
    np.testing.assert_allclose(metric_depth(np.full((2, 2), 3.0), 600.0), 6.0)


def test_nothing_to_fix_the_scale_is_a_clear_error() -> None:
    rng = np.random.default_rng(7)
    truth, extr, _, da3_depth = _scene(rng, 2, da3_scale=1.0)
    with pytest.raises(ValueError, match="no metric model exported.*--model da3metric-large"):
        align_da3(extr, da3_depth, tf_poses=[truth[0], truth[0]], sensor_depth=[None, None], fixed_frame="odom")
    with pytest.raises(ValueError, match="one per frame"):
        align_da3(extr, da3_depth[:1], tf_poses=[None], sensor_depth=[None], fixed_frame="odom")
