"""tools.SAM3: the labels backend against exact label images, and the sam3 parent-call contract."""
from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from tools_scene import POSES, OBJECTS, make_context, two_balls_scene

from spatialclaw_ros.errors import PerceptionError
from spatialclaw_ros.tools import make_toolbox


@pytest.mark.parametrize("text, names", [
    ("red ball", ["red_ball"]),
    ("red_ball", ["red_ball"]),
    ("the blue ball", ["blue_ball"]),
    ("balls", ["red_ball", "blue_ball"]),
    ("ball", ["red_ball", "blue_ball"]),
    ("Green Box", ["green_box"]),
    ("box", ["green_box"]),
    ("green", ["green_box"]),
    ("white objects", []),
    ("red objects", ["red_ball"]),
])
def test_text_prompts_match_names_classes_colours(tb, scene, text, names):
    ctx, truth = scene
    seg = tb.SAM3.segment(0, text=text)
    assert sorted(seg.labels) == sorted(names)
    ids = {o["name"]: o["id"] for o in OBJECTS}
    for k, name in enumerate(seg.labels):
        assert np.array_equal(seg.masks[k], truth[0]["labels"] == ids[name])
        assert seg.ids[k] == ids[name]
        u0, v0, u1, v1 = seg.boxes[k]
        vs, us = np.nonzero(seg.masks[k])
        assert (u0, v0, u1, v1) == (us.min(), vs.min(), us.max(), vs.max())
    assert seg.backend == "labels" and seg.frame_index == 0
    areas = [int(m.sum()) for m in seg.masks]
    assert areas == sorted(areas, reverse=True)


def test_all_objects_and_no_match(tb):
    assert sorted(tb.SAM3.segment(0, text="all objects").labels) == ["blue_ball", "floor", "green_box", "red_ball"]
    seg = tb.SAM3.segment(0, text="giraffe")
    assert len(seg) == 0 and seg.masks.shape == (0, 240, 320)
    assert "no known object matches 'giraffe'" in seg.notes[0] and "red_ball" in seg.notes[0]
    with pytest.raises(IndexError, match="has 0 masks"):
        seg.mask(0)
    with pytest.raises(ValueError, match="empty"):
        seg.union()


def test_partial_match_says_so(tb):
    seg = tb.SAM3.segment(0, text="the big ball on the left")
    assert sorted(seg.labels) == ["blue_ball", "red_ball"]
    assert "no object matches all of" in seg.notes[0]
    assert len(tb.SAM3.segment(0, text="big red thing")) == 0      # a colour alone is not a partial match


def test_matching_object_not_visible_is_said():
    ctx, _ = make_context(two_balls_scene()[:2], [POSES[0]], objects=OBJECTS)   # no blue ball rendered
    seg = make_toolbox(ctx).SAM3.segment(0, text="blue ball")
    assert len(seg) == 0 and "none is visible in frame 0" in seg.notes[0]


def test_points_and_box_prompts(tb, scene):
    ctx, truth = scene
    lab = truth[0]["labels"]
    vs, us = np.nonzero(lab == 3)
    seg = tb.SAM3.segment(0, points=[[us[0], vs[0]]])
    assert seg.labels == ["blue_ball"]
    seg = tb.SAM3.segment(0, points=[[us[0], vs[0]]], point_labels=[0])
    assert len(seg) == 0
    box = [us.min(), vs.min(), us.max(), vs.max()]
    seg = tb.SAM3.segment(0, box=box)
    assert seg.labels == ["blue_ball"] and np.array_equal(seg.mask(0), lab == 3)
    vr, ur = np.nonzero(lab == 2)
    seg = tb.SAM3.segment(0, points=[[ur[0], vr[0]], [us[0], vs[0]]])
    assert seg.labels == ["red_ball"] and "different objects" in seg.notes[0]


def test_track_keeps_instance_ids(tb, scene):
    segs = tb.SAM3.track("ball")
    assert [s.frame_index for s in segs] == [0, 1, 2]
    for s in segs:
        assert sorted(s.ids) == [2, 3]
        assert {lab: i for lab, i in zip(s.labels, s.ids)} == {"red_ball": 2, "blue_ball": 3}
    assert [s.frame_index for s in tb.SAM3.track("ball", [2, 0])] == [2, 0]


def test_objects_listing(tb):
    assert [o["name"] for o in tb.SAM3.objects()] == [o["name"] for o in OBJECTS]


def test_prompt_errors(tb):
    with pytest.raises(ValueError, match="give a prompt"):
        tb.SAM3.segment(0)
    with pytest.raises(TypeError, match="once per object name"):
        tb.SAM3.segment(0, text=["ball", "box"])
    with pytest.raises(ValueError, match="text prompt is empty"):
        tb.SAM3.segment(0, text="  ")
    with pytest.raises(ValueError, match=r"points must be \[\[u, v\]"):
        tb.SAM3.segment(0, points=[[1, 2, 3]])
    with pytest.raises(ValueError, match="outside the 320x240 image"):
        tb.SAM3.segment(0, points=[[400, 10]])
    with pytest.raises(ValueError, match="box must be"):
        tb.SAM3.segment(0, box=[10, 10, 5, 20])
    with pytest.raises(ValueError, match="unknown backend 'yolo'"):
        tb.SAM3.segment(0, text="ball", backend="yolo")
    with pytest.raises(ValueError, match="one 1/0 per point"):
        tb.SAM3.segment(0, points=[[1, 2]], point_labels=[1, 0])


def test_labels_backend_without_objects_or_labels():
    ctx, _ = make_context(two_balls_scene(), [POSES[0]], objects=[])
    tb = make_toolbox(ctx)
    with pytest.raises(ValueError, match="Metadata\\['objects'\\]"):
        tb.SAM3.segment(0, text="ball")
    assert tb.SAM3.segment(0, points=[[160, 120]]).ids != []
    ctx, _ = make_context(two_balls_scene(), [POSES[0]], objects=OBJECTS, with_labels=False)
    tb = make_toolbox(ctx)
    with pytest.raises(ValueError, match="use backend='vlm'.*or backend='sam3'"):
        tb.SAM3.segment(0, text="ball", backend="labels")
    with pytest.raises(PerceptionError, match="perception service"):
        tb.SAM3.segment(0, text="ball")


def test_sam3_backend_speaks_the_parent_contract(scene):
    """The kernel side of perception.segment: the payload sent and the reply turned into a Segmentation."""
    _, truth = scene
    calls: list[tuple[str, dict[str, Any]]] = []

    def parent(name: str, payload: dict[str, Any]) -> dict[str, Any]:
        calls.append((name, payload))
        m = truth[payload["frame_index"]]["labels"] == 2
        masks = np.stack([m, np.zeros_like(m)])
        return {"masks": masks, "scores": np.array([0.4, 0.9]), "boxes": np.array([[1, 2, 3, 4], [0, 0, 0, 0.]])}

    ctx, _ = make_context(two_balls_scene(), POSES, objects=OBJECTS, with_labels=False, call_parent=parent)
    seg = make_toolbox(ctx).SAM3.segment(1, text="red ball", box=[0, 0, 50, 60])
    assert calls == [("perception.segment", {"frame_index": 1, "text": "red ball", "points": None,
                                             "point_labels": None, "box": [0.0, 0.0, 50.0, 60.0],
                                             "backend": "sam3"})]
    assert seg.backend == "sam3" and seg.scores.tolist() == [0.9, 0.4]          # best first
    assert np.array_equal(seg.masks[1], truth[1]["labels"] == 2)
    assert seg.boxes[1].tolist() == [1, 2, 3, 4] and seg.labels == ["red ball"] * 2 and seg.ids == [-1, -1]


def test_sam3_track_follows_objects_in_3d(scene):
    """sam3 masks carry no ids: track() gives each object one id across frames from its 3-D centroid."""
    _, truth = scene

    def parent(name: str, payload: dict[str, Any]) -> dict[str, Any]:
        lab = truth[payload["frame_index"]]["labels"]
        order = [3, 2] if payload["frame_index"] % 2 else [2, 3]       # the model's order varies
        masks = np.stack([lab == k for k in order])
        return {"masks": masks, "scores": np.array([0.9, 0.8]), "boxes": None}

    ctx, _ = make_context(two_balls_scene(), POSES, objects=OBJECTS, with_labels=False, call_parent=parent)
    segs = make_toolbox(ctx).SAM3.track("ball")
    by_truth: dict[int, set[int]] = {2: set(), 3: set()}
    for s in segs:
        for k, tid in enumerate(s.ids):
            obj = 2 if np.array_equal(s.masks[k], truth[s.frame_index]["labels"] == 2) else 3
            by_truth[obj].add(tid)
    assert by_truth[2] and by_truth[3] and len(by_truth[2]) == 1 and len(by_truth[3]) == 1
    assert by_truth[2] != by_truth[3]
