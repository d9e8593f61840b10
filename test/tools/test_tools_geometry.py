"""tools.Geometry against exact analytic truth: distances, centroids, boxes, directions, motion."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.spatial.distance import cdist
from tools_scene import POSES, OBJECTS, Box, Floor, Sphere, look_at, make_context

from spatialclaw_ros.errors import NoTransformError, NoValidDepthError
from spatialclaw_ros.tools import make_toolbox
from spatialclaw_ros.tools.results import Point, PointCloud

RED, BLUE = np.array([2.0, 0.3, 0.2]), np.array([2.0, -0.3, 0.2])
R_BALL = 0.2


def _cloud(tb, i, text, **kw):
    seg = tb.SAM3.segment(i, text=text)
    assert len(seg) == 1, seg
    return tb.Geometry.mask_points(i, seg.mask(0), **kw)


def test_closest_surface_distance_within_1cm(tb):
    red, blue = _cloud(tb, 0, "red ball"), _cloud(tb, 0, "blue ball")
    c = tb.Geometry.closest_points(red, blue)
    truth = np.linalg.norm(RED - BLUE) - 2 * R_BALL            # 0.2 m between the surfaces
    assert abs(c.distance_m - truth) < 0.01
    # the two points lie on the spheres, facing each other
    assert abs(np.linalg.norm(c.point_a.xyz - RED) - R_BALL) < 1e-3
    assert abs(np.linalg.norm(c.point_b.xyz - BLUE) - R_BALL) < 1e-3
    assert c.point_a.xyz[1] > c.point_b.xyz[1]
    assert c.point_a.frame == "odom" and c.point_a.stamp_ns == red.stamp_ns


@pytest.mark.parametrize("n_a, n_b, shift", [(300, 200, 3.0), (3000, 2000, 2.0), (2000, 1500, 0.5),
                                              (1, 5000, 1.0), (5000, 1, 0.0)])
def test_closest_points_matches_brute_force(tb, n_a, n_b, shift):
    rng = np.random.default_rng(n_a + n_b)
    a, b = rng.normal(size=(n_a, 3)), rng.normal(size=(n_b, 3)) * [1, 0.2, 2] + [shift, 0, 0]
    c = tb.Geometry.closest_points(a, b)
    d = cdist(a, b)                                                   # brute force
    assert c.distance_m == pytest.approx(d.min(), abs=1e-12)
    ia, ib = np.unravel_index(np.argmin(d), d.shape)
    assert np.allclose(c.point_a.xyz, a[ia]) and np.allclose(c.point_b.xyz, b[ib])
    assert np.linalg.norm(c.point_a.xyz - c.point_b.xyz) == pytest.approx(c.distance_m, abs=1e-12)


def test_visible_surface_centroid_matches_ray_cast_truth(scene, tb):
    ctx, truth = scene
    for i in range(3):
        cloud = _cloud(tb, i, "red_ball")
        assert cloud.frame == "odom" and cloud.frame_index == i
        t = truth[i]
        exact = t["world"][t["labels"] == 2].mean(axis=0)         # ray-cast hits, not back-projection
        c = tb.Geometry.centroid(cloud)
        assert np.linalg.norm(c.xyz - exact) < 1e-3, (i, c.xyz, exact)
        assert cloud.n_removed == 0                                # nothing of the surface dropped


def test_front_face_centroid_within_1cm():
    # A box seen square-on: its visible surface is the front face, whose centroid is known.
    box = Box(5, np.array([2.0, 0.1, 0.4]), np.array([0.1, 0.25, 0.2]))
    ctx, _ = make_context([Floor(1), box], [look_at([0.0, 0.1, 0.4], [2.0, 0.1, 0.4])],
                          objects=[{"id": 5, "name": "crate", "class": "box", "color": "brown"}])
    tb = make_toolbox(ctx)
    cloud = tb.Geometry.mask_points(0, tb.SAM3.segment(0, text="crate").mask(0))
    c = tb.Geometry.centroid(cloud)
    assert np.linalg.norm(c.xyz - [1.9, 0.1, 0.4]) < 0.01
    px = 1.9 / 300.0                           # one pixel at the face: sampled extents lose up to 2 px
    b = tb.Geometry.aabb(cloud)
    assert np.allclose(b.size, [0.0, 0.5, 0.4], atol=2 * px)
    o = tb.Geometry.obb(cloud, upright=True)
    assert o.size[0] == pytest.approx(0.5, abs=2 * px) and o.size[2] == pytest.approx(0.4, abs=2 * px)


def test_obb_recovers_rotated_box_dimensions():
    rng = np.random.default_rng(1)
    yaw = math.radians(30)
    R = np.array([[math.cos(yaw), -math.sin(yaw), 0], [math.sin(yaw), math.cos(yaw), 0], [0, 0, 1]])
    local = rng.uniform(-1, 1, size=(4000, 3)) * [0.4, 0.15, 0.1]
    pts = local @ R.T + [1.0, 2.0, 0.5]
    tb = make_toolbox(make_context([Floor(1)], [look_at([0, 0, 1], [1, 0, 0])])[0])
    for upright in (False, True):
        b = tb.Geometry.obb(pts, upright=upright)
        assert np.allclose(b.size, [0.8, 0.3, 0.2], atol=0.01), b
        assert np.allclose(b.center, [1.0, 2.0, 0.5], atol=0.01)
        assert abs(abs(b.R[:, 0] @ R[:, 0]) - 1) < 1e-3
    corners = tb.Geometry.obb(pts).corners
    assert corners.shape == (8, 3)


def test_gap_outlier_removal_drops_background_bleed(tb, scene):
    ctx, truth = scene
    seg = tb.SAM3.segment(0, text="red ball")
    bled = tb.Mask.dilate(seg.mask(0), 3)                          # edge pixels now on the floor/box
    raw = tb.Geometry.mask_points(0, bled, outliers="none")
    clean = tb.Geometry.mask_points(0, bled)
    exact = truth[0]["world"][truth[0]["labels"] == 2].mean(axis=0)
    assert clean.n_removed > 0
    assert np.linalg.norm(tb.Geometry.centroid(clean).xyz - exact) < \
        np.linalg.norm(tb.Geometry.centroid(raw).xyz - exact)
    for method in ("mad", "statistical"):
        pc = tb.Geometry.mask_points(0, bled, outliers=method)
        assert 0 < len(pc) <= len(raw)


def test_gap_outlier_removal_is_exact_on_a_far_background():
    # A ball floating in front of a wall: a sloppy mask's edge pixels land on the wall, 1 m behind.
    ctx, truth = make_context([Box(1, np.array([4.0, 0, 0.5]), np.array([0.05, 3, 3])),
                               Sphere(2, np.array([2.0, 0.1, 0.5]), 0.2)],
                              [look_at([0.5, 0.0, 0.6], [2.0, 0.1, 0.5])], objects=OBJECTS)
    tb = make_toolbox(ctx)
    bled = tb.Mask.dilate(tb.SAM3.segment(0, text="red ball").mask(0), 3)
    exact = truth[0]["world"][truth[0]["labels"] == 2].mean(axis=0)
    clean = tb.Geometry.mask_points(0, bled)
    assert clean.n_removed == int(np.sum(bled & (truth[0]["labels"] == 1)))
    assert np.linalg.norm(tb.Geometry.centroid(clean).xyz - exact) < 1e-3
    raw = tb.Geometry.mask_points(0, bled, outliers="none")
    assert np.linalg.norm(tb.Geometry.centroid(raw).xyz - exact) > 0.05


def test_camera_travel_and_rotation_exact(tb):
    m = tb.Geometry.camera_travel(0, 2)
    assert m.travel_m == pytest.approx(np.linalg.norm(POSES[2][:3, 3] - POSES[0][:3, 3]), abs=1e-3)
    path = sum(np.linalg.norm(POSES[k + 1][:3, 3] - POSES[k][:3, 3]) for k in range(2))
    assert m.path_m == pytest.approx(path, abs=1e-3)
    Rrel = POSES[0][:3, :3].T @ POSES[2][:3, :3]
    ang = math.degrees(math.acos((np.trace(Rrel) - 1) / 2))
    assert m.rotation_deg == pytest.approx(ang, abs=1e-6)
    assert m.duration_s == pytest.approx(1.0)
    back = tb.Geometry.camera_travel(2, 0)
    assert back.travel_m == pytest.approx(m.travel_m) and back.path_m == pytest.approx(m.path_m)
    assert tb.Geometry.camera_travel(1, 1).travel_m == 0.0


def test_small_rotation_angle_is_accurate():
    T0 = look_at([0, 0, 1], [1, 0, 1])
    T1 = look_at([0, 0, 1], [1, math.tan(math.radians(0.01)), 1])
    ctx, _ = make_context([Floor(1)], [T0, T1], width=32, height=24, f=30.0)
    m = make_toolbox(ctx).Geometry.camera_travel(0, 1)
    assert m.rotation_deg == pytest.approx(0.01, abs=1e-7)


def test_directions_in_camera_base_and_fixed_frames(tb):
    red, blue = _cloud(tb, 0, "red ball"), _cloud(tb, 0, "blue ball")
    d = tb.Geometry.direction(red, blue, "camera")
    assert (d.left_right, d.front_behind, d.above_below, d.dominant) == ("left", "same_distance", "level", "left")
    assert d.components_m["right"] < -0.5
    d = tb.Geometry.direction(blue, red, "base", frame_index=0)
    assert (d.left_right, d.front_behind, d.dominant) == ("right", "same_distance", "right")
    # the ball in front of the box: closer to the camera, and behind it along the robot's x axis? no:
    box = _cloud(tb, 0, "green box")
    d = tb.Geometry.direction(red, box, "base", frame_index=0)
    assert d.front_behind == "behind"            # the box is further ahead (+x) than the ball
    d = tb.Geometry.direction(red, box, "camera")
    assert d.front_behind == "closer"
    d = tb.Geometry.direction(box, red, "fixed", frame_index=0)
    assert d.front_behind == "farther" and d.above_below == "above"   # box centroid is higher
    # seen from keyframe 1 (camera on the red side, looking across) the red ball is closer
    red1, blue1 = _cloud(tb, 1, "red ball"), _cloud(tb, 1, "blue ball")
    assert tb.Geometry.direction(red1, blue1, "camera").front_behind == "closer"


def test_direction_of_known_points_in_each_frame(tb):
    # Frame 0 camera at (1, 0, 0.5): a point 1 m to the robot's left (+y) is to the image's left.
    p = Point([2.0, 1.0, 0.5], "odom")
    q = Point([2.0, 0.0, 0.5], "odom")
    assert tb.Geometry.direction(p, q, "camera", frame_index=0).left_right == "left"
    assert tb.Geometry.direction(p, q, "base", frame_index=0).components_m["left"] == pytest.approx(1.0)
    up = Point([2.0, 0.0, 1.5], "odom")
    assert tb.Geometry.direction(up, q, "base", frame_index=0).dominant == "above"
    assert tb.Geometry.direction(up, q, "fixed", frame_index=0).components_m["up"] == pytest.approx(1.0)


def test_transform_round_trip_and_projection(tb, scene):
    ctx, truth = scene
    rng = np.random.default_rng(2)
    pts = rng.uniform(-1, 1, size=(50, 3)) + [2, 0, 0.3]
    cam = tb.Geometry.transform(pts, "camera", frame_index=1)
    assert np.allclose(cam, (pts - POSES[1][:3, 3]) @ POSES[1][:3, :3], atol=1e-12)
    back = tb.Geometry.transform(cam, "fixed", frame_index=1, from_frame="camera")
    assert np.allclose(back, pts, atol=1e-12)
    base = tb.Geometry.transform(Point(pts[0], "odom"), "base", frame_index=1)
    assert base.frame == "base_link"
    assert np.allclose(tb.Geometry.transform(base, "odom", frame_index=1).xyz, pts[0])
    # pixel -> 3-D -> pixel
    uv = np.array([[100.0, 150.0], [200.0, 120.0]])
    xyz = tb.Geometry.backproject(2, uv)
    assert np.allclose(xyz, truth[2]["world"][[150, 120], [100, 200]], atol=1e-4)
    uv2, z = tb.Geometry.project(2, xyz)
    assert np.allclose(uv2, uv, atol=1e-3) and np.all(z > 0)
    p = tb.Geometry.pixel_to_point(2, 100, 150)
    assert p.frame == "odom" and np.allclose(p.xyz, xyz[0], atol=1e-4)
    assert p.stamp_ns == ctx.stamps_ns[2]


def test_distance_and_angle(tb):
    assert tb.Geometry.distance_m([0, 0, 0], [3, 4, 0]) == pytest.approx(5.0)
    assert tb.Geometry.angle_deg([1, 0, 0], [0, 2, 0]) == pytest.approx(90.0)
    assert tb.Geometry.angle_deg([1, 0, 0], [1, 1e-9, 0]) == pytest.approx(0.0, abs=1e-6)
    assert tb.Geometry.angle_deg([2, 0, 0], [1, 1, 0], vertex=[1, 0, 0]) == pytest.approx(90.0)
    with pytest.raises(ValueError, match="closest_points"):
        tb.Geometry.distance_m(np.zeros((5, 3)), [0, 0, 0])
    with pytest.raises(ValueError, match="zero-length"):
        tb.Geometry.angle_deg([0, 0, 0], [1, 0, 0])


def test_camera_position_is_a_fixed_frame_point(tb, scene):
    p = tb.Geometry.camera_position(1)
    assert p.frame == "odom" and np.allclose(p.xyz, POSES[1][:3, 3])
    assert p.tolist() == list(p) and len(p) == 3 and np.asarray(p).shape == (3,)


def test_frame_mismatch_and_bad_input_errors(tb):
    red = _cloud(tb, 0, "red ball")
    cam = tb.Geometry.transform(red, "camera", frame_index=0)
    assert isinstance(cam, PointCloud) and cam.frame == "camera_color_optical_frame"
    with pytest.raises(ValueError, match="different frames"):
        tb.Geometry.closest_points(red, cam)
    with pytest.raises(ValueError, match="unknown frame 'map'"):
        tb.Geometry.transform(red, "map", frame_index=0)
    with pytest.raises(TypeError, match="mask_points"):
        tb.Geometry.centroid(tb.SAM3.segment(0, text="red ball"))
    with pytest.raises(ValueError, match="empty"):
        tb.Geometry.mask_points(0, np.zeros((240, 320), bool))
    with pytest.raises(ValueError, match=r"mask is \(10, 10\)"):
        tb.Geometry.mask_points(0, np.ones((10, 10), bool))
    with pytest.raises(IndexError, match="3 keyframes"):
        tb.Geometry.mask_points(7, np.ones((240, 320), bool))
    with pytest.raises(ValueError, match="pass frame_index"):
        tb.Geometry.direction([1, 0, 0], [0, 0, 0], "camera")


def test_without_pose_points_stay_in_camera_frame():
    ctx, truth = make_context([Floor(1), Sphere(2, np.array([2.0, 0, 0.3]), 0.2)],
                              [look_at([0, 0, 0.5], [2, 0, 0.3])], objects=OBJECTS, with_pose=False)
    tb = make_toolbox(ctx)
    cloud = tb.Geometry.mask_points(0, tb.SAM3.segment(0, text="red ball").mask(0))
    assert cloud.frame == "camera_color_optical_frame"
    T = look_at([0, 0, 0.5], [2, 0, 0.3])
    exact = truth[0]["world"][truth[0]["labels"] == 2].mean(axis=0)
    assert np.allclose(T[:3, :3] @ tb.Geometry.centroid(cloud).xyz + T[:3, 3], exact, atol=1e-3)
    r = tb.Reconstruct.get(0)
    assert r.frame == "camera_color_optical_frame" and "no camera pose" in r.notes[0]
    with pytest.raises(NoTransformError, match="no camera pose in 'odom'"):
        tb.Geometry.mask_points(0, tb.SAM3.segment(0, text="red ball").mask(0), frame="fixed")
    with pytest.raises(NoTransformError, match="frame='camera'"):
        tb.Geometry.camera_travel(0, 0)


def test_no_base_pose_error():
    ctx, _ = make_context([Floor(1)], [look_at([0, 0, 0.5], [2, 0, 0.3])], with_base=False)
    tb = make_toolbox(ctx)
    with pytest.raises(NoTransformError, match="no robot base pose"):
        tb.Geometry.direction([1, 0, 0], [0, 0, 0], "base", frame_index=0)


def test_mask_without_valid_depth_error():
    ctx, _ = make_context([Sphere(2, np.array([2.0, 0, 0.3]), 0.2)], [look_at([0, 0, 0.5], [2, 0, 0.3])])
    tb = make_toolbox(ctx)
    sky = ~np.isfinite(ctx.depths[0])
    with pytest.raises(NoValidDepthError, match="none has valid depth"):
        tb.Geometry.mask_points(0, sky)
    with pytest.raises(NoValidDepthError, match="no valid depth within 2 px"):
        tb.Geometry.pixel_to_point(0, 0, 0)


def test_camera_frame_points_keep_their_own_keyframe(tb):
    red1 = _cloud(tb, 1, "red ball", frame="camera")
    blue2 = _cloud(tb, 2, "blue ball", frame="camera")
    assert red1.frame == blue2.frame == "camera_color_optical_frame"
    with pytest.raises(ValueError, match="of keyframes 1 and 2"):
        tb.Geometry.closest_points(red1, blue2)
    fixed_red = tb.Geometry.transform(red1, "fixed", frame_index=0)       # converted with keyframe 1's pose
    assert np.allclose(fixed_red.points, _cloud(tb, 1, "red ball").points, atol=1e-9)
    d_cam = tb.Geometry.direction(red1, blue2, "camera", frame_index=0)
    d_fix = tb.Geometry.direction(_cloud(tb, 1, "red ball"), _cloud(tb, 2, "blue ball"), "camera", frame_index=0)
    assert np.allclose(d_cam.vector, d_fix.vector, atol=1e-9)
    uv, _ = tb.Geometry.project(1, tb.Geometry.centroid(red1))
    assert np.allclose(uv, tb.Geometry.project(1, tb.Geometry.centroid(_cloud(tb, 1, "red ball")))[0])
