"""DA3 alignment on the MuJoCo fixture bags: DA3-like output made from the bag's own truth."""
from __future__ import annotations

import json

import numpy as np
import pytest

from spatialclaw_ros.bags.reader import load_bag
from spatialclaw_ros.config import Config
from spatialclaw_ros.perception.alignment import align_da3

S = 0.3   # metres per DA3 unit in the fabricated DA3 output


def _da3_like(frames, scale: float):
    """World-to-camera poses in DA3's world (first camera, 1/scale units) and depth in DA3 units."""
    inv0 = np.linalg.inv(frames[0].T_fixed_camera)
    extr = []
    for f in frames:
        rel = inv0 @ f.T_fixed_camera
        rel[:3, 3] /= scale
        extr.append(np.linalg.inv(rel)[:3, :4])
    depth = [np.nan_to_num(f.depth, nan=5.0) / np.float32(scale) for f in frames]
    return np.array(extr), depth


@pytest.fixture(scope="module")
def sim_a(data_dir):
    return load_bag(data_dir / "sim_a", Config(), select_keyframes=False).frames


def test_bag_poses_match_the_scene_truth(sim_a, data_dir) -> None:
    truth = json.loads((data_dir / "sim_a.scene.json").read_text())["camera_poses"]
    by_stamp = {int(p["stamp_ns"]): np.array(p["T_odom_optical"]) for p in truth}
    matched = [f for f in sim_a if f.stamp_ns in by_stamp]
    assert len(matched) >= 4
    for f in matched:
        np.testing.assert_allclose(f.T_fixed_camera, by_stamp[f.stamp_ns], atol=1e-4)


def test_tf_alignment_on_the_fixture_bag(sim_a) -> None:
    extr, depth = _da3_like(sim_a, S)
    tf = [f.T_fixed_camera for f in sim_a]
    tf[3] = None                                         # one frame without TF gets its pose from the fit
    al = align_da3(extr, depth, tf_poses=tf, sensor_depth=[None] * len(sim_a), fixed_frame="odom")
    assert al.mode == "tf" and al.scale == pytest.approx(S, rel=1e-4) and al.residual_m < 1e-3
    np.testing.assert_allclose(al.T_fixed_camera[3], sim_a[3].T_fixed_camera, atol=1e-3)


def test_sensor_depth_alignment_on_the_noisy_bag(sim_a, data_dir) -> None:
    noisy = load_bag(data_dir / "sim_a_noisy", Config(), select_keyframes=False).frames
    assert [f.stamp_ns for f in noisy] == [f.stamp_ns for f in sim_a]
    extr, depth = _da3_like(sim_a, S)                   # DA3 "sees" the clean scene
    al = align_da3(extr, depth, tf_poses=[noisy[0].T_fixed_camera] + [None] * (len(noisy) - 1),
                   sensor_depth=[f.depth for f in noisy], fixed_frame="odom")
    assert al.mode == "sensor_depth"
    assert al.scale == pytest.approx(S, rel=0.01)
    assert 0.0005 < al.residual_m < 0.05                 # the bag's depth noise, in metres
    for got, f in zip(al.T_fixed_camera, sim_a):
        np.testing.assert_allclose(got[:3, 3], f.T_fixed_camera[:3, 3], atol=0.05)
