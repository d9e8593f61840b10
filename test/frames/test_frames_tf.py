"""TfBuffer: interpolation, static transforms, chains, errors, pruning, message ingestion."""
from __future__ import annotations

import math
from types import SimpleNamespace as NS

import numpy as np
import pytest
from transforms3d.euler import euler2mat, euler2quat

from spatialclaw_ros.errors import ErrorCode, NoTransformError
from spatialclaw_ros.frames.tf import (
    DisconnectedTreeError,
    ExtrapolationError,
    TfBuffer,
    UnknownFrameError,
    invert_transform,
    transform_matrix,
)

S = 1_000_000_000


def q_yaw(yaw: float) -> tuple[float, float, float, float]:
    w, x, y, z = euler2quat(0, 0, yaw)
    return (x, y, z, w)


def make() -> TfBuffer:
    tf = TfBuffer(cache_duration_s=100.0)
    tf.add_transform("odom", "base_link", 0, (0, 0, 0), q_yaw(0.0))
    tf.add_transform("odom", "base_link", 2 * S, (2.0, -1.0, 0.5), q_yaw(1.0))
    tf.add_transform("base_link", "camera_link", 0, (0.1, 0.0, 0.3), (0, 0, 0, 1), static=True)
    tf.add_transform("camera_link", "optical", 0, (0, 0, 0), (-0.5, 0.5, -0.5, 0.5), static=True)
    return tf


def test_interpolation_is_exact_lerp_and_slerp() -> None:
    tf = make()
    for a in (0.0, 0.25, 0.5, 0.9, 1.0):
        T = tf.lookup_transform("odom", "base_link", int(a * 2 * S))
        np.testing.assert_allclose(T[:3, 3], [2.0 * a, -1.0 * a, 0.5 * a], atol=1e-12)
        np.testing.assert_allclose(T[:3, :3], euler2mat(0, 0, 1.0 * a), atol=1e-12)


def test_chain_through_static_links_and_inverse() -> None:
    tf = make()
    t = 1 * S
    T = tf.lookup_transform("odom", "optical", t)
    expect = (transform_matrix((1.0, -0.5, 0.25), q_yaw(0.5))
              @ transform_matrix((0.1, 0, 0.3), (0, 0, 0, 1))
              @ transform_matrix((0, 0, 0), (-0.5, 0.5, -0.5, 0.5)))
    np.testing.assert_allclose(T, expect, atol=1e-12)
    np.testing.assert_allclose(tf.lookup_transform("optical", "odom", t), invert_transform(expect),
                               atol=1e-12)
    # optical z (forward) is base_link x (REP-103)
    R = tf.lookup_transform("base_link", "optical", t)[:3, :3]
    np.testing.assert_allclose(R @ [0, 0, 1], [1, 0, 0], atol=1e-12)


def test_sibling_frames_use_common_ancestor_only() -> None:
    tf = make()
    tf.add_transform("base_link", "lidar", 0, (0.0, 0.2, 0.0), (0, 0, 0, 1), static=True)
    # No dynamic link between camera_link and lidar: any stamp works, even outside odom's range.
    T = tf.lookup_transform("lidar", "camera_link", 50 * S)
    np.testing.assert_allclose(T[:3, 3], [0.1, -0.2, 0.3], atol=1e-12)


def test_static_transforms_hold_forever() -> None:
    tf = make()
    for stamp in (-10 * S, 0, 10**6 * S):
        T = tf.lookup_transform("base_link", "camera_link", stamp)
        np.testing.assert_allclose(T[:3, 3], [0.1, 0.0, 0.3])
    tf.add_transform("base_link", "camera_link", 5 * S, (0.2, 0, 0), (0, 0, 0, 1), static=True)
    np.testing.assert_allclose(tf.lookup_transform("base_link", "camera_link", 0)[:3, 3],
                               [0.2, 0, 0])


@pytest.mark.parametrize("stamp, word", [(3 * S, "future"), (-1, "past")])
def test_extrapolation_errors_name_the_range(stamp: int, word: str) -> None:
    tf = make()
    with pytest.raises(ExtrapolationError, match=word) as ei:
        tf.lookup_transform("odom", "optical", stamp)
    msg = ei.value.message
    assert "odom -> base_link" in msg and "0.000000000 s to 2.000000000 s" in msg
    assert ei.value.code == ErrorCode.NO_TRANSFORM
    assert not tf.can_transform("odom", "optical", stamp)
    assert tf.can_transform("odom", "optical", S)


def test_single_sample_only_at_its_stamp() -> None:
    tf = TfBuffer()
    tf.add_transform("map", "odom", 5 * S, (1, 0, 0), (0, 0, 0, 1))
    assert tf.can_transform("map", "odom", 5 * S)
    assert not tf.can_transform("map", "odom", 5 * S + 1)


def test_unknown_frame_lists_known_ones() -> None:
    tf = make()
    with pytest.raises(UnknownFrameError, match=r"source frame 'nope' does not exist.*base_link"):
        tf.lookup_transform("odom", "nope", 0)
    with pytest.raises(UnknownFrameError, match="no /tf or /tf_static"):
        TfBuffer().lookup_transform("odom", "base_link", 0)


def test_disconnected_trees_name_both_roots() -> None:
    tf = make()
    tf.add_transform("map", "marker", 0, (0, 0, 0), (0, 0, 0, 1), static=True)
    with pytest.raises(DisconnectedTreeError, match=r"rooted at 'map'.*rooted at 'odom'"):
        tf.lookup_transform("marker", "optical", S)
    assert isinstance(DisconnectedTreeError("x"), NoTransformError)


def test_latest_common_time_when_stamp_is_none() -> None:
    tf = make()
    T = tf.lookup_transform("odom", "optical", None)
    np.testing.assert_allclose(T, tf.lookup_transform("odom", "optical", 2 * S))


def test_cache_duration_prunes_old_samples() -> None:
    tf = TfBuffer(cache_duration_s=1.0)
    for i in range(50):
        tf.add_transform("odom", "base_link", i * S // 10, (i, 0, 0), (0, 0, 0, 1))
    first, last = tf.time_range("odom", "base_link")
    assert last == 49 * S // 10 and first == 39 * S // 10
    with pytest.raises(ExtrapolationError, match="past"):
        tf.lookup_transform("odom", "base_link", 3 * S)


def test_out_of_order_and_duplicate_stamps() -> None:
    tf = TfBuffer()
    tf.add_transform("a", "b", 2 * S, (2, 0, 0), (0, 0, 0, 1))
    tf.add_transform("a", "b", 0, (0, 0, 0), (0, 0, 0, 1))
    tf.add_transform("a", "b", 2 * S, (4, 0, 0), (0, 0, 0, 1))   # replaces
    np.testing.assert_allclose(tf.lookup_transform("a", "b", S)[:3, 3], [2, 0, 0])


def test_slerp_takes_the_short_way_round() -> None:
    tf = TfBuffer()
    tf.add_transform("a", "b", 0, (0, 0, 0), q_yaw(math.radians(170)))
    q = np.array(q_yaw(math.radians(-170)))
    tf.add_transform("a", "b", 2 * S, (0, 0, 0), tuple(-q))   # same rotation, other hemisphere
    R = tf.lookup_transform("a", "b", S)[:3, :3]
    np.testing.assert_allclose(R, euler2mat(0, 0, math.pi), atol=1e-9)


@pytest.mark.parametrize("args, match", [
    (("a", "a", 0, (0, 0, 0), (0, 0, 0, 1)), "itself"),
    (("", "b", 0, (0, 0, 0), (0, 0, 0, 1)), "both frame ids"),
    (("a", "b", 0, (0, 0, 0), (0, 0, 0, 0)), "zero or non-finite norm"),
    (("a", "b", 0, (np.nan, 0, 0), (0, 0, 0, 1)), "non-finite translation"),
])
def test_bad_transforms_are_rejected(args, match) -> None:
    with pytest.raises(ValueError, match=match):
        TfBuffer().add_transform(*args)


def test_tf_message_ingestion_duck_typed_and_leading_slash() -> None:
    def ts(parent, child, sec, nsec, x):
        return NS(header=NS(stamp=NS(sec=sec, nanosec=nsec), frame_id=parent), child_frame_id=child,
                  transform=NS(translation=NS(x=x, y=0.0, z=0.0),
                               rotation=NS(x=0.0, y=0.0, z=0.0, w=1.0)))
    tf = TfBuffer()
    n = tf.add_tf_message(NS(transforms=[ts("/odom", "base_link", 1, 0, 1.0),
                                          ts("odom", "base_link", 1, 500_000_000, 2.0)]))
    assert n == 2
    np.testing.assert_allclose(tf.lookup_transform("odom", "/base_link", 1_250_000_000)[:3, 3],
                               [1.5, 0, 0])
    assert [(e.parent, e.child, e.static, e.count) for e in tf.edges()] == [
        ("odom", "base_link", False, 2)]
