"""Robot-base frame (T_fixed_base per keyframe -> frame="base") and run_query's extra_metadata, end to end.

Fixture: the committed MuJoCo bag test/data/sim_a (odom -> base_link on /tf, base_link ->
camera_link -> camera_color_optical_frame on /tf_static) and its truth, sim_a.scene.json.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from spatialclaw_ros.agent.metadata import build_metadata, metadata_summary
from spatialclaw_ros.agent.runner import run_query
from spatialclaw_ros.agent.types import AnswerType, QueryRequest
from spatialclaw_ros.bags.reader import load_bag
from spatialclaw_ros.cli import main
from spatialclaw_ros.config import Config
from spatialclaw_ros.errors import ErrorCode
from spatialclaw_ros.eval.scenes import objects_metadata
from spatialclaw_ros.frames.assemble import lookup_base_pose, lookup_camera_pose
from spatialclaw_ros.kernel.session import frame_message
from spatialclaw_ros.ros.ingest import Ingest

TARGET, REFERENCE = "green book", "yellow ball"   # both visible in frame 0, > 0.6 m apart on every base axis

# Segments both objects in keyframe 0 (labels backend: names from Metadata['objects']) and answers
# with the robot-frame relation in words plus the signed components in metres.
BASE_PROGRAM = f"""
def cloud(name, i):
    seg = tools.SAM3.segment(i, text=name)
    k = seg.labels.index(name) if name in seg.labels else 0
    return tools.Geometry.mask_points(i, seg.mask(k))


d = tools.Geometry.direction(cloud({TARGET!r}, 0), cloud({REFERENCE!r}, 0), frame="base", frame_index=0)
print(d)
c = d.components_m
ReturnAnswer(f"{{d.front_behind}} {{d.left_right}} {{d.above_below}} | {{c['front']:.4f}} {{c['left']:.4f}} "
             f"{{c['up']:.4f}} | {{d.frame_id}} | {{Metadata['base_frame']}}")
"""


@pytest.fixture(scope="module")
def sim_a(data_dir: Path) -> Path:
    """The committed sim bag."""
    return data_dir / "sim_a"


@pytest.fixture(scope="module")
def scene(data_dir: Path) -> dict[str, Any]:
    """Ground truth of sim_a."""
    return json.loads((data_dir / "sim_a.scene.json").read_text())


def truth_base(scene: dict[str, Any], stamp_ns: int) -> np.ndarray:
    """T_odom_base of the frame with this stamp, from the sidecar."""
    pose = next(p for p in scene["camera_poses"] if int(p["stamp_ns"]) == int(stamp_ns))
    return np.asarray(pose["T_odom_base"], dtype=np.float64)


def test_bag_frames_carry_the_true_base_pose(sim_a: Path, scene: dict[str, Any]) -> None:
    data = load_bag(sim_a, Config())
    assert len(data.frames) == len(scene["camera_poses"])
    for f in data.frames:
        assert f.T_fixed_camera is not None and f.T_fixed_base is not None
        np.testing.assert_allclose(f.T_fixed_base, truth_base(scene, f.stamp_ns), atol=1e-6)
    assert not any("base frame" in n for n in data.report.notes)


def test_missing_base_frame_is_a_note_not_an_error(sim_a: Path) -> None:
    cfg = Config()
    cfg.base_frame = "base_footprint"          # not in this bag's TF
    data = load_bag(sim_a, cfg)
    assert data.frames and all(f.T_fixed_camera is not None for f in data.frames)
    assert all(f.T_fixed_base is None for f in data.frames)
    note = next(n for n in data.report.notes if "base_footprint" in n)
    assert "frame='base' is unavailable" in note and "does not exist" in note
    cfg.base_frame = ""                        # none configured: no lookup, no note
    data = load_bag(sim_a, cfg)
    assert all(f.T_fixed_base is None for f in data.frames)
    assert not any("base frame" in n for n in data.report.notes)


def test_lookup_helpers(sim_a: Path, scene: dict[str, Any]) -> None:
    data = load_bag(sim_a, Config(), load_frames=False)
    stamp = int(scene["camera_poses"][3]["stamp_ns"])
    p = lookup_camera_pose(data.tf, "odom", "camera_color_optical_frame", stamp, base_frame="base_link")
    np.testing.assert_allclose(p.T, scene["camera_poses"][3]["T_odom_optical"], atol=1e-6)
    np.testing.assert_allclose(p.T_base, truth_base(scene, stamp), atol=1e-6)
    assert p.base_error == ""
    assert lookup_camera_pose(data.tf, "odom", "camera_color_optical_frame", stamp).T_base is None
    missing = lookup_base_pose(data.tf, "odom", "no_such_base", stamp)
    assert missing.T is None and "no_such_base" in missing.error
    # Without a camera frame the camera pose is missing, but the base pose is still reported.
    p = lookup_camera_pose(data.tf, "odom", "", stamp, base_frame="base_link")
    assert p.T is None and "frame_id" in p.error and p.T_base is not None


def test_live_ingest_attaches_the_base_pose(sim_a: Path, scene: dict[str, Any]) -> None:
    """The node's ingest (ROS-free) fed the bag's messages in log order, as a replay would."""
    from rosbags.highlevel import AnyReader
    from rosbags.typesys import Stores, get_typestore

    cfg = Config()
    cfg.topics.labels = "/camera/instance_labels"
    cfg.topics.color = "/camera/color/image_raw"            # the bag's names (the node's are
    cfg.topics.depth = "/camera/aligned_depth_to_color/image_raw"   # relative and remapped)
    cfg.topics.camera_info = "/camera/color/camera_info"
    ingest = Ingest(cfg, clock_ns=lambda: 0)
    feed = {cfg.topics.color: ingest.on_color, cfg.topics.depth: ingest.on_depth,
            cfg.topics.camera_info: ingest.on_camera_info, cfg.topics.labels: ingest.on_labels,
            "/tf": ingest.on_tf, "/tf_static": lambda m: ingest.on_tf(m, static=True)}
    with AnyReader([sim_a], default_typestore=get_typestore(Stores.ROS2_HUMBLE)) as reader:
        conns = [c for c in reader.connections if c.topic in feed]
        for conn, _, raw in reader.messages(connections=conns):
            feed[conn.topic](reader.deserialize(raw, conn.msgtype))
    frames = ingest.frames_for(QueryRequest(question="where?"), "odom")
    assert frames
    for f in frames:
        assert f.T_fixed_base is not None
        np.testing.assert_allclose(f.T_fixed_base, truth_base(scene, f.stamp_ns), atol=1e-6)


def test_kernel_message_and_metadata_carry_the_base(sim_a: Path) -> None:
    frames = load_bag(sim_a, Config()).frames[:2]
    frames[1].T_fixed_base = None
    md = build_metadata(QueryRequest(question="q"), frames, "odom", base_frame="base_link")
    assert md["base_frame"] == "base_link" and md["has_base_pose"] == [True, False]
    assert "robot base frame 'base_link'" in metadata_summary(md) and "1/2 frames" in metadata_summary(md)
    msg = frame_message(frames, md)
    assert msg["base_frame"] == "base_link"
    np.testing.assert_allclose(msg["frames"][0]["T_fixed_base"], frames[0].T_fixed_base)
    assert msg["frames"][1]["T_fixed_base"] is None


def test_query_direction_in_base_frame_matches_truth(sim_a: Path, scene: dict[str, Any], tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    prog = tmp_path / "base_direction.py"
    prog.write_text(BASE_PROGRAM)
    rc = main(["query", "--bag", str(sim_a), "--program", str(prog), "--json", "--answer-type", "text",
               "--question", f"Where is the {TARGET} relative to the {REFERENCE}, in the robot's frame?",
               "--set", f"agent.transcript_dir={tmp_path / 'transcripts'}"])
    cap = capsys.readouterr()
    doc = json.loads(cap.out)
    assert rc == 0 and doc["success"] is True, doc["error"]
    assert "object names from" in cap.err

    # Truth: object centroids (odom) -> base frame of keyframe 0 (REP-103: x forward, y left, z up).
    centroid = {o["name"]: np.asarray(o["centroid"], dtype=np.float64) for o in scene["objects"]}
    T = truth_base(scene, doc["frame_stamps_ns"][0])
    v = T[:3, :3].T @ (centroid[TARGET] - centroid[REFERENCE])
    expect = ["front" if v[0] > 0 else "behind", "left" if v[1] > 0 else "right",
              "above" if v[2] > 0 else "below"]
    assert np.abs(v).min() > 0.3              # the fixture pair is unambiguous on every axis

    words, comps, frame_id, md_base = (s.strip() for s in doc["answer"]["text"].split("|"))
    assert words.split() == expect
    # Visible-surface centroids sit within a few centimetres of the true centres.
    np.testing.assert_allclose([float(x) for x in comps.split()], v, atol=0.1)
    assert frame_id == "base_link" and md_base == "base_link"


OBJECTS_PROGRAM = """
objs = Metadata.get("objects") or []
ReturnAnswer(f"{Metadata['question']}|{Metadata.get('run_tag')}|{len(objs)}|{Metadata['num_frames']}")
"""


def test_run_query_extra_metadata_adds_but_never_overrides(sim_a: Path, scene: dict[str, Any],
                                                           tmp_path: Path) -> None:
    cfg = Config()
    cfg.agent.transcript_dir = str(tmp_path / "transcripts")
    frames = load_bag(sim_a, cfg).frames[:2]
    request = QueryRequest(question="What is in the scene?", answer_type=AnswerType.TEXT)
    extra = {"objects": objects_metadata(scene), "run_tag": "t42", "question": "hijacked",
             "num_frames": 99}
    result = run_query(request, frames, cfg, program=OBJECTS_PROGRAM, extra_metadata=extra)
    assert result.success, result.error_message
    assert result.answer.text == f"What is in the scene?|t42|{len(scene['objects'])}|2"
    transcript = Path(result.transcript_path).with_suffix(".jsonl").read_text()
    assert "cannot override core Metadata keys" in transcript and "num_frames, question" in transcript

    # Without extra_metadata the kernel has no objects; a non-dict is a clear request error.
    plain = run_query(request, frames, cfg, program=OBJECTS_PROGRAM)
    assert plain.success and plain.answer.text == "What is in the scene?|None|0|2"
    bad = run_query(request, frames, cfg, program=OBJECTS_PROGRAM, extra_metadata=["objects"])  # type: ignore[arg-type]
    assert not bad.success and bad.error_code == ErrorCode.INVALID_REQUEST
    assert "extra_metadata must be a dict" in bad.error_message
