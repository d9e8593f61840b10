"""A camera without depth (the side camera) gets metric DA3 output aligned to the fixed frame through
the other cameras: the TF baseline between the cameras' mounts at one moment, or the head and wrist
cameras' sensor depth. DA3-like output is fabricated from the bag's truth at an unknown scale (the real
model needs weights this machine cannot download); the alignment code is the service's."""
from __future__ import annotations

import numpy as np
import pytest

from spatialclaw_ros.bags.multicam import load_bag_cameras
from spatialclaw_ros.config import Config
from spatialclaw_ros.perception.alignment import align_da3

S = 0.37   # metres per DA3 unit


@pytest.fixture(scope="module")
def moment(data_dir):
    """side, head and wrist frames of one moment (same stamp) of mc_a."""
    frames = load_bag_cameras(data_dir / "multicam" / "mc_a", Config()).frames
    t = frames[len(frames) // 2].stamp_ns
    by = {f.camera_name: f for f in frames if f.stamp_ns == t}
    return [by["side"], by["head"], by["wrist"]]


def _da3_like(frames):
    inv0 = np.linalg.inv(frames[0].T_fixed_camera)
    extr = []
    for f in frames:
        rel = inv0 @ f.T_fixed_camera
        rel[:3, 3] /= S
        extr.append(np.linalg.inv(rel)[:3, :4])
    depth = [np.full(f.rgb.shape[:2], 3.0 / S, np.float32) if f.depth is None
             else np.nan_to_num(f.depth, nan=5.0) / np.float32(S) for f in frames]
    return np.array(extr), depth


def test_tf_baseline_between_camera_mounts_fixes_the_scale(moment) -> None:
    side = moment[0]
    assert side.depth is None and moment[1].depth is not None
    extr, depth = _da3_like(moment)
    al = align_da3(extr, depth, tf_poses=[f.T_fixed_camera for f in moment],
                   sensor_depth=[None] * 3, fixed_frame="odom")
    assert al.mode == "tf" and al.scale == pytest.approx(S, rel=1e-3)
    np.testing.assert_allclose(al.T_fixed_camera[0], side.T_fixed_camera, atol=1e-3)


def test_other_cameras_depth_fixes_the_scale_when_only_the_side_camera_has_tf(moment) -> None:
    side = moment[0]
    extr, depth = _da3_like(moment)
    al = align_da3(extr, depth, tf_poses=[side.T_fixed_camera, None, None],
                   sensor_depth=[f.depth for f in moment], fixed_frame="odom")
    assert al.mode == "sensor_depth" and al.scale == pytest.approx(S, rel=0.01)
    for got, f in zip(al.T_fixed_camera, moment):
        np.testing.assert_allclose(got[:3, 3], f.T_fixed_camera[:3, 3], atol=0.02)
