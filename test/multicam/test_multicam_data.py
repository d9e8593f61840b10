"""Several cameras (issue 16): config, discovery by driver naming, a 3-camera bag read without topic flags,
Metadata per camera, moments."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from spatialclaw_ros.agent.metadata import build_metadata, metadata_summary
from spatialclaw_ros.agent.types import QueryRequest
from spatialclaw_ros.bags.discover import discover_cameras
from spatialclaw_ros.bags.multicam import load_bag_cameras, load_query_bag, mount_frame
from spatialclaw_ros.bags.reader import load_bag
from spatialclaw_ros.cameras import camera_specs, group_moments, specs_to_json
from spatialclaw_ros.config import Config, ConfigError, load_config
from spatialclaw_ros.frames.tf import TfEdgeInfo

I, C, Z = "sensor_msgs/msg/Image", "sensor_msgs/msg/CameraInfo", "sensor_msgs/msg/CompressedImage"


@pytest.fixture(scope="module")
def mc_a(data_dir: Path) -> Path:
    return data_dir / "multicam" / "mc_a"


def test_default_cameras_are_the_one_camera_of_topics() -> None:
    cfg = Config()
    (cam,) = camera_specs(cfg)
    assert (cam.name, cam.color, cam.depth, cam.camera_info) == ("camera", "color", "depth",
                                                                 "camera_info")
    assert Config.from_flat(Config().to_flat()).cameras.spec == ""


def test_cameras_spec_is_a_json_parameter_checked_on_load(tmp_path: Path) -> None:
    cfg = Config()
    cfg.cameras.spec = json.dumps([
        {"name": "head", "color": "/head/color/image_raw", "depth": "/head/depth",
         "camera_info": "/head/color/camera_info"},
        {"name": "side", "color": "/side/image_rect_color", "camera_info": "/side/camera_info"}])
    cams = camera_specs(cfg)
    assert [c.name for c in cams] == ["head", "side"] and not cams[1].has_depth
    assert camera_specs(Config.from_flat({"cameras.spec": specs_to_json(cams)})) == cams
    for bad, words in [("[{", "not valid JSON"), ("{}", "non-empty JSON list"),
                       ('[{"name": "a"}]', "'color' topic is required"),
                       ('[{"name": "a", "color": "c"}, {"name": "a", "color": "d"}]', "unique"),
                       ('[{"name": "a", "color": "c", "fov": 1}]', "unknown keys"),
                       ('[{"name": "a b", "color": "c"}]', "identifier")]:
        with pytest.raises(ConfigError, match=words):
            Config.from_flat({"cameras.spec": bad})
    p = tmp_path / "p.yaml"
    p.write_text("/**:\n  ros__parameters:\n    cameras:\n      spec: '[{\"name\": \"h\", "
                 "\"color\": \"/h/image_raw\"}]'\n")
    assert [c.name for c in camera_specs(load_config(p))] == ["h"]


@pytest.mark.parametrize("topics,expect", [
    ([("/camera/color/image_raw", I), ("/camera/color/camera_info", C),
      ("/camera/aligned_depth_to_color/image_raw", I), ("/camera/depth/image_rect_raw", I)],
     {"camera": ("/camera/color/image_raw", "/camera/aligned_depth_to_color/image_raw")}),
    ([("/camera/camera/color/image_raw", I), ("/camera/camera/color/camera_info", C),
      ("/camera/camera/aligned_depth_to_color/image_raw", I)],
     {"camera": ("/camera/camera/color/image_raw", "/camera/camera/aligned_depth_to_color/image_raw")}),
    ([("/zed/zed_node/rgb/image_rect_color", I), ("/zed/zed_node/rgb/camera_info", C),
      ("/zed/zed_node/left/image_rect_color", I), ("/zed/zed_node/left/camera_info", C),
      ("/zed/zed_node/depth/depth_registered", I), ("/zed/zed_node/depth/camera_info", C)],
     {"zed": ("/zed/zed_node/rgb/image_rect_color", "/zed/zed_node/depth/depth_registered")}),
    ([("/oak/rgb/image_raw", I), ("/oak/rgb/camera_info", C), ("/oak/stereo/image_raw", I),
      ("/oak/stereo/camera_info", C)], {"oak": ("/oak/rgb/image_raw", "/oak/stereo/image_raw")}),
    ([("/femto/color/image_raw", I), ("/femto/color/camera_info", C), ("/femto/depth/image_raw", I),
      ("/femto/depth/camera_info", C)], {"femto": ("/femto/color/image_raw", "/femto/depth/image_raw")}),
    ([("/front/image_rect_color/compressed", Z), ("/front/camera_info", C),
      ("/front/depth_registered/image_rect/compressedDepth", Z), ("/rear/image_rect", I),
      ("/rear/camera_info", C), ("/nocal/image_raw", I)],
     {"front": ("/front/image_rect_color", "/front/depth_registered/image_rect"),
      "rear": ("/rear/image_rect", "")}),
])
def test_discovery_by_driver_naming(topics: list, expect: dict) -> None:
    found = {c.name: (c.color, c.depth) for c in discover_cameras(topics)}
    assert found == expect


def test_mount_frame_is_the_first_frame_with_a_moving_parent() -> None:
    e = [TfEdgeInfo("odom", "base_link", False, 0, 1, 5),
         TfEdgeInfo("base_link", "wrist_link", False, 0, 1, 5),
         TfEdgeInfo("wrist_link", "wcam_link", True, 0, 0, 1),
         TfEdgeInfo("wcam_link", "wcam_optical", True, 0, 0, 1),
         TfEdgeInfo("base_link", "head_link", True, 0, 0, 1),
         TfEdgeInfo("head_link", "head_optical", True, 0, 0, 1)]
    assert mount_frame(e, "wcam_optical") == "wrist_link"
    assert mount_frame(e, "head_optical") == "base_link"
    assert mount_frame(e, "unknown") == ""


def test_moments_group_different_cameras_at_nearly_the_same_time() -> None:
    ms = 1_000_000
    stamps = [0, 5 * ms, 8 * ms, 500 * ms, 520 * ms, 530 * ms]
    cams = ["head", "wrist", "head", "head", "side", "wrist"]
    assert group_moments(stamps, cams, 100 * ms) == [0, 0, 1, 2, 2, 2]


def test_three_camera_bag_is_read_without_topic_flags(mc_a: Path) -> None:
    data = load_bag_cameras(mc_a, Config())
    names = [c.name for c in data.cameras]
    assert names == ["head", "side", "wrist"]
    by = {c.name: c for c in data.cameras}
    assert by["head"].depth.startswith("/head/aligned_depth") and by["side"].depth == ""
    assert by["wrist"].mount_frame == "wrist_link" and by["head"].mount_frame == "base_link"
    assert by["side"].camera_frame == "side_camera_optical_frame"
    k = Config().keyframes.max_query_frames
    per = {n: [f for f in data.frames if f.camera_name == n] for n in names}
    assert all(1 <= len(v) <= k for v in per.values())
    assert all(f.depth is not None for f in per["head"] + per["wrist"])
    assert all(f.depth is None for f in per["side"])
    assert all(f.camera.frame_id.startswith(n if n != "head" else "camera")
               for n, v in per.items() for f in v)
    # the wrist camera moves on the arm: its pose relative to the base changes between frames
    rel = [np.linalg.inv(f.T_fixed_base) @ f.T_fixed_camera for f in per["wrist"]]
    assert np.linalg.norm(rel[0][:3, 3] - rel[-1][:3, 3]) > 0.05
    stamps = [f.stamp_ns for f in data.frames]
    assert stamps == sorted(stamps)
    # one camera only
    only = load_bag_cameras(mc_a, Config(), cameras=["wrist"], max_frames_per_camera=2)
    assert {f.camera_name for f in only.frames} == {"wrist"} and len(only.frames) == 2


def test_cameras_spec_overrides_discovery_and_single_camera_bags_are_unchanged(
        mc_a: Path, data_dir: Path) -> None:
    cfg = Config()
    cfg.cameras.spec = json.dumps([{"name": "arm", "color": "/wrist/color/image_raw",
                                    "camera_info": "/wrist/color/camera_info",
                                    "depth": "/wrist/aligned_depth_to_color/image_raw"}])
    data = load_bag_cameras(mc_a, cfg)
    assert {f.camera_name for f in data.frames} == {"arm"}
    single = load_query_bag(data_dir / "sim_a", Config())
    plain = load_bag(data_dir / "sim_a", Config())
    assert [f.stamp_ns for f in single.frames] == [f.stamp_ns for f in plain.frames]
    assert {f.camera_name for f in single.frames} == {"camera"}


def test_metadata_says_each_frames_camera_and_moment(mc_a: Path) -> None:
    data = load_bag_cameras(mc_a, Config(), max_frames_per_camera=3)
    md = build_metadata(QueryRequest(question="q"), data.frames, "odom")
    names = md["camera_names"]
    assert set(names) == {"head", "wrist", "side"} and len(names) == len(data.frames)
    assert all(md["cameras"][i]["name"] == n for i, n in enumerate(names))
    assert sorted(i for v in md["frames_by_camera"].values() for i in v) == list(range(len(names)))
    # all three cameras fire at the same stamps: each moment holds one frame of each
    by_moment: dict[int, set] = {}
    for i, m in enumerate(md["moments"]):
        by_moment.setdefault(m, set()).add(names[i])
    assert all(v == {"head", "wrist", "side"} for v in by_moment.values())
    md["camera_mounts"] = {"wrist": "wrist_link"}
    text = metadata_summary(md)
    assert "cameras (frames): " in text and "on 'wrist_link'" in text


def test_info_lists_every_camera(mc_a: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "spatialclaw_ros.cli", "info", "--bag", str(mc_a),
                          "--json"], capture_output=True, text=True, timeout=120, check=True)
    cams = {c["name"]: c for c in json.loads(out.stdout)["cameras"]}
    assert set(cams) == {"head", "wrist", "side"}
    assert cams["wrist"]["mount_frame"] == "wrist_link" and cams["side"]["depth"] == ""
    text = subprocess.run([sys.executable, "-m", "spatialclaw_ros.cli", "info", "--bag", str(mc_a)],
                          capture_output=True, text=True, timeout=120, check=True).stdout
    assert "cameras (3;" in text and "mounted on wrist_link" in text
