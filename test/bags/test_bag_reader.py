"""load_bag on MCAP and sqlite3 bags with exact truth; topics, windows, keyframes, what is missing."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from bag_synth import (
    NS,
    T0_NS,
    BagSpec,
    camera_truth,
    depth_at,
    frame_stamp,
    humbleize,
    image_msg,
    labels_at,
    rgb_at,
    write_bag,
)

from spatialclaw_ros.bags.reader import load_bag, require_poses
from spatialclaw_ros.config import Config
from spatialclaw_ros.errors import NoCameraInfoError, NoFramesError, NoTransformError
from spatialclaw_ros.frames.keyframes import relative_motion

CFG = Config()


def index_of(stamp_ns: int, spec: BagSpec = BagSpec()) -> int:
    i = round(((stamp_ns - T0_NS) / NS - 0.2537) * spec.fps)
    assert frame_stamp(i, spec) == stamp_ns
    return i


@pytest.mark.parametrize("which", ["mcap_bag", "sqlite_bag"])
def test_every_frame_matches_truth(which: str, request: pytest.FixtureRequest) -> None:
    bag = request.getfixturevalue(which)
    data = load_bag(bag, CFG, select_keyframes=False)
    assert len(data.frames) == 20
    assert data.report.storage == ("mcap" if which == "mcap_bag" else "sqlite3")
    assert data.report.missing == [] and data.fixed_frame == "odom"
    for f in data.frames:
        i = index_of(f.stamp_ns)
        t = (f.stamp_ns - T0_NS) / NS
        np.testing.assert_allclose(f.T_fixed_camera, camera_truth(t), atol=1e-9)
        np.testing.assert_array_equal(f.rgb, rgb_at(i))
        truth = depth_at(i)
        if which == "sqlite_bag":
            truth = np.where(np.isnan(truth), np.nan, np.round(truth * 1000) / 1000)
        np.testing.assert_allclose(f.depth, truth, atol=1e-6)
        assert np.isnan(f.depth[0, 0]) and f.depth.dtype == np.float32
        np.testing.assert_array_equal(f.labels, labels_at(i).astype(np.int32))
        assert f.labels.dtype == np.int32
        assert f.camera.frame_id == "camera_color_optical_frame" and f.camera.fx == 40.0
        assert f.fixed_frame == "odom"


def test_report_lists_topics_roles_and_tf_tree(mcap_bag: Path) -> None:
    r = load_bag(mcap_bag, CFG, load_frames=False).report
    names = {t.name: t for t in r.topics}
    assert names["/camera/color/image_raw"].count == 20
    assert names["/camera/color/image_raw"].rate_hz == pytest.approx(10.0, rel=1e-3)
    assert r.roles == {"color": "/camera/color/image_raw",
                       "depth": "/camera/aligned_depth_to_color/image_raw",
                       "camera_info": "/camera/color/camera_info",
                       "labels": "/camera/instance_labels"}
    edges = {(e.parent, e.child): e.static for e in r.tf_edges}
    assert edges == {("odom", "base_link"): False, ("base_link", "camera_link"): True,
                     ("camera_link", "camera_color_optical_frame"): True}
    assert r.camera_frame == "camera_color_optical_frame"
    assert r.color_stamps_range_ns == (frame_stamp(0, BagSpec()), frame_stamp(19, BagSpec()))
    assert r.sync.matched == 20 and r.sync.dropped == {}


def test_keyframes_follow_the_thresholds(mcap_bag: Path) -> None:
    data = load_bag(mcap_bag, CFG)
    kf = CFG.keyframes
    assert 2 <= len(data.frames) < 20
    # The first and last frame of the window are always keyframes (issue 14); between them the
    # thresholds decide.
    assert data.frames[0].stamp_ns == frame_stamp(0, BagSpec())
    assert data.frames[-1].stamp_ns == frame_stamp(19, BagSpec())
    assert [f.recording_index for f in (data.frames[0], data.frames[-1])] == [0, 19]
    for a, b in zip(data.frames, data.frames[1:-1]):
        dt = (b.stamp_ns - a.stamp_ns) / NS
        tr, rot = relative_motion(a.T_fixed_camera, b.T_fixed_camera)
        assert dt >= kf.min_interval_s - 1e-9 or tr >= kf.min_translation_m or \
            rot >= kf.min_rotation_deg


def test_window_and_max_frames(mcap_bag: Path) -> None:
    lo, hi = frame_stamp(5, BagSpec()), frame_stamp(12, BagSpec())
    data = load_bag(mcap_bag, CFG, start_ns=lo, end_ns=hi, select_keyframes=False)
    assert [index_of(f.stamp_ns) for f in data.frames] == list(range(5, 13))
    data = load_bag(mcap_bag, CFG, select_keyframes=False, max_frames=4)
    assert [index_of(f.stamp_ns) for f in data.frames] == [0, 6, 13, 19]
    with pytest.raises(NoFramesError, match="no frames in the window"):
        load_bag(mcap_bag, CFG, start_ns=T0_NS + 100 * NS)


def test_no_depth_says_da3_only(bag_dir: Path) -> None:
    bag = write_bag(bag_dir / "nodepth", BagSpec(depth=None, n_frames=4))
    data = load_bag(bag, CFG)
    assert all(f.depth is None for f in data.frames)
    assert any("Depth Anything 3 only" in m and "/camera/aligned_depth_to_color/image_raw" in m
               for m in data.report.missing)


def test_no_camera_info_raises_with_the_topic(bag_dir: Path) -> None:
    bag = write_bag(bag_dir / "noinfo", BagSpec(camera_info=False, n_frames=4))
    r = load_bag(bag, CFG, load_frames=False).report
    assert any("no camera_info topic" in m and "/camera/color/camera_info" in m for m in r.missing)
    with pytest.raises(NoCameraInfoError, match="/camera/color/camera_info"):
        load_bag(bag, CFG)


def test_no_tf_positions_only_in_camera_frame(bag_dir: Path) -> None:
    bag = write_bag(bag_dir / "notf", BagSpec(tf=False, n_frames=4))
    data = load_bag(bag, CFG)
    assert data.frames and all(f.T_fixed_camera is None for f in data.frames)
    assert data.fixed_frame == ""
    msg = [m for m in data.report.missing if "no transform" in m][0]
    assert "positions only in the camera frame 'camera_color_optical_frame'" in msg
    assert "the bag has no /tf" in msg
    with pytest.raises(NoTransformError, match="fixed frame 'odom'"):
        require_poses(data)


def test_other_fixed_frame_and_unknown_one(mcap_bag: Path) -> None:
    data = load_bag(mcap_bag, CFG, fixed_frame="base_link", select_keyframes=False, max_frames=3)
    f = data.frames[0]
    np.testing.assert_allclose(f.T_fixed_camera[:3, 3], [0.2, 0.0, 0.5], atol=1e-12)
    data = load_bag(mcap_bag, CFG, fixed_frame="map")
    assert any("TF roots in the bag: odom" in m for m in data.report.missing)


def test_auto_detects_usual_camera_names(bag_dir: Path) -> None:
    spec = BagSpec(n_frames=4, color_topic="/camera/rgb/image_raw",
                   info_topic="/camera/rgb/camera_info", depth_topic="/camera/depth/image_raw",
                   color_encoding="bgr8", labels=False)
    bag = write_bag(bag_dir / "rgbnames", spec, "sqlite3")
    data = load_bag(bag, CFG, select_keyframes=False)
    assert data.report.roles["color"] == "/camera/rgb/image_raw"
    assert data.report.roles["camera_info"] == "/camera/rgb/camera_info"
    assert data.report.roles["depth"] == "/camera/depth/image_raw"
    assert data.report.roles["labels"] == ""
    np.testing.assert_array_equal(data.frames[1].rgb, rgb_at(1))
    # explicit overrides win
    data = load_bag(bag, CFG, depth_topic="", select_keyframes=False)
    assert data.report.roles["depth"] == "" and data.frames[0].depth is None


def test_compressed_colour_and_compressed_depth_topics(bag_dir: Path) -> None:
    import struct

    import cv2
    from bag_synth import TS

    def header(st: int):
        return TS.types["std_msgs/msg/Header"](
            stamp=TS.types["builtin_interfaces/msg/Time"](sec=st // NS, nanosec=st % NS),
            frame_id="camera_color_optical_frame")

    extra = []
    for i in range(3):
        st = frame_stamp(i, BagSpec())
        ok, png = cv2.imencode(".png", rgb_at(i)[..., ::-1])
        extra.append(("/camera/color/image_raw/compressed", "sensor_msgs/msg/CompressedImage",
                      st + 1000, TS.types["sensor_msgs/msg/CompressedImage"](
                          header=header(st), format="rgb8; png compressed bgr8",
                          data=png.reshape(-1))))
        mm = np.nan_to_num(np.round(depth_at(i) * 1000), nan=0).astype(np.uint16)
        ok, dpng = cv2.imencode(".png", mm)
        data = np.frombuffer(struct.pack("<iff", 0, 0, 0) + dpng.tobytes(), np.uint8)
        extra.append(("/camera/aligned_depth_to_color/image_raw/compressedDepth",
                      "sensor_msgs/msg/CompressedImage", st + 2000,
                      TS.types["sensor_msgs/msg/CompressedImage"](
                          header=header(st), format="16UC1; compressedDepth png", data=data)))
    spec = BagSpec(n_frames=3, color_topic="/unused/color", depth=None, extra=extra)
    bag = write_bag(bag_dir / "compressed", spec)
    data = load_bag(bag, CFG, select_keyframes=False)
    assert data.report.roles["color"] == "/camera/color/image_raw/compressed"
    assert data.report.roles["depth"] == "/camera/aligned_depth_to_color/image_raw/compressedDepth"
    assert len(data.frames) == 3
    for i, f in enumerate(data.frames):
        np.testing.assert_array_equal(f.rgb, rgb_at(i))
        np.testing.assert_allclose(f.depth, np.round(depth_at(i) * 1000) / 1000, atol=1e-6)


def test_wrong_encodings(bag_dir: Path) -> None:
    bad = BagSpec(n_frames=2, depth="32FC1", labels=False)
    bag = write_bag(bag_dir / "nv21color", BagSpec(n_frames=2, color_encoding="nv21"))
    with pytest.raises(NoFramesError, match=r"/camera/color/image_raw: unsupported image "
                                            r"encoding 'nv21'.*rgb8"):
        load_bag(bag, CFG)
    # depth published as rgb8: frames load without depth, the report says why
    extra = [("/camera/depth_registered/image_raw", "sensor_msgs/msg/Image",
              frame_stamp(i, bad) + 5000,
              image_msg(frame_stamp(i, bad), "camera_color_optical_frame", rgb_at(i), "rgb8"))
             for i in range(2)]
    bag = write_bag(bag_dir / "rgbdepth", BagSpec(n_frames=2, depth=None, labels=False,
                                                  extra=extra))
    data = load_bag(bag, CFG, select_keyframes=False)
    assert data.report.roles["depth"] == "/camera/depth_registered/image_raw"
    assert all(f.depth is None for f in data.frames)
    assert any("not a depth image" in m and "Depth Anything 3 only" in m
               for m in data.report.missing)


def test_no_colour_topic(bag_dir: Path) -> None:
    bag = write_bag(bag_dir / "onlytf", BagSpec(n_frames=0))
    r = load_bag(bag, CFG, load_frames=False).report
    assert r.missing and "no colour image topic" in r.missing[0]
    with pytest.raises(NoFramesError, match="no colour image topic found.*set --color-topic"):
        load_bag(bag, CFG)


@pytest.mark.parametrize("flavour", ["humble_sqlite3_v5", "jazzy_mcap_v8", "kilted_sqlite3_v9"])
def test_rosbag2_versions(flavour: str, bag_dir: Path) -> None:
    spec = BagSpec(n_frames=4)
    storage = "mcap" if "mcap" in flavour else "sqlite3"
    bag = write_bag(bag_dir / flavour, spec, storage, version=8 if "v8" in flavour else 9)
    if flavour.startswith("humble"):
        humbleize(bag)
    data = load_bag(bag, CFG, select_keyframes=False)
    assert len(data.frames) == 4 and data.report.missing == []
    for f in data.frames:
        np.testing.assert_allclose(f.T_fixed_camera, camera_truth((f.stamp_ns - T0_NS) / NS),
                                   atol=1e-9)


def test_memory_cap_limits_frames_loaded_from_a_bag(bag_dir: Path) -> None:
    spec = BagSpec(n_frames=8, width=640, height=480)
    bag = write_bag(bag_dir / "big", spec)
    cfg = Config()
    cfg.keyframes.memory_cap_mb = 8
    data = load_bag(bag, cfg, select_keyframes=False)
    per = data.frames[0].nbytes                       # 640*480*(3 + 4 + 4) bytes
    assert per == 640 * 480 * 11
    assert len(data.frames) == (8 * 1024 * 1024) // per == 2
    assert sum(f.nbytes for f in data.frames) <= 8 * 1024 * 1024
    assert [index_of(f.stamp_ns) for f in data.frames] == [0, 7]
    assert any("memory_cap_mb=8" in n for n in data.report.notes)
    np.testing.assert_array_equal(data.frames[1].rgb, rgb_at(7, 640, 480))


def test_zero_header_stamps_fall_back_to_receive_time(bag_dir: Path) -> None:
    spec = BagSpec(n_frames=3, depth=None, labels=False, tf=False)
    extra = [("/camera/color/image_raw", "sensor_msgs/msg/Image", frame_stamp(i, spec),
              image_msg(0, "camera_color_optical_frame", rgb_at(i), "rgb8")) for i in range(3)]
    bag = write_bag(bag_dir / "zerostamps", BagSpec(n_frames=3, depth=None, labels=False,
                                                    tf=False, color_topic="/x", extra=extra))
    data = load_bag(bag, CFG, select_keyframes=False, color_topic="/camera/color/image_raw")
    assert [f.stamp_ns for f in data.frames] == [frame_stamp(i, spec) for i in range(3)]
    assert any("zero header stamp" in n for n in data.report.notes)
