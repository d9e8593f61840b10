"""tools.Mask, tools.Time, tools.Draw and tools.Graph on small exact inputs."""
from __future__ import annotations

import numpy as np
import pytest

from spatialclaw_ros.tools.results import Point


def _rect(u0, v0, u1, v1, shape=(20, 30)):
    m = np.zeros(shape, bool)
    m[v0:v1 + 1, u0:u1 + 1] = True
    return m


def test_mask_area_bbox_center(tb):
    m = _rect(2, 3, 6, 4)
    assert tb.Mask.area(m) == 10
    assert tb.Mask.bbox(m) == [2, 3, 6, 4]
    assert tb.Mask.center(m) == (4.0, 3.5)
    assert tb.Mask.bbox(np.zeros((5, 5), bool)) is None
    with pytest.raises(ValueError, match="empty"):
        tb.Mask.center(np.zeros((5, 5), bool))


def test_mask_set_operations_and_iou(tb):
    a, b = _rect(0, 0, 9, 9), _rect(5, 0, 14, 9)
    assert tb.Mask.area(tb.Mask.union(a, b)) == 150
    assert tb.Mask.area(tb.Mask.intersection(a, b)) == 50
    assert tb.Mask.area(tb.Mask.subtract(a, b)) == 50
    assert tb.Mask.iou(a, b) == pytest.approx(50 / 150)
    assert tb.Mask.iou(a, a) == 1.0
    assert tb.Mask.iou(np.zeros_like(a), np.zeros_like(a)) == 0.0
    assert tb.Mask.area(tb.Mask.union([a, b, _rect(20, 0, 20, 0)])) == 151
    assert tb.Mask.area(tb.Mask.union(np.stack([a, b]))) == 150
    with pytest.raises(ValueError, match="different shapes"):
        tb.Mask.union(a, np.zeros((3, 3), bool))
    with pytest.raises(ValueError, match="2-D"):
        tb.Mask.area(np.zeros(5, bool))
    assert tb.Mask.area(np.where(a, 0.9, 0.1)) == 100 and tb.Mask.area(a.astype(np.uint8) * 255) == 100


def test_mask_morphology_and_components(tb):
    m = _rect(5, 5, 9, 9)
    assert tb.Mask.area(tb.Mask.erode(m, 1)) == 9
    assert tb.Mask.area(tb.Mask.erode(m, 3)) == 0
    assert tb.Mask.area(tb.Mask.dilate(m, 1)) == 49
    assert tb.Mask.area(tb.Mask.dilate(m, 0)) == 25
    with pytest.raises(ValueError, match="px must be >= 0"):
        tb.Mask.erode(m, -1)
    two = m | _rect(20, 0, 21, 1)
    comps = tb.Mask.components(two)
    assert [tb.Mask.area(c) for c in comps] == [25, 4]
    assert tb.Mask.components(two, min_area=5)[0].sum() == 25
    assert np.array_equal(tb.Mask.largest_component(two), m)
    assert not tb.Mask.largest_component(np.zeros((4, 4), bool)).any()
    assert np.array_equal(tb.Mask.from_box([5, 5, 9, 9], (20, 30)), m)


def test_time(tb, scene):
    ctx, _ = scene
    t0 = ctx.stamps_ns[0]
    assert tb.Time.stamps_ns() == [t0, t0 + 500_000_000, t0 + 1_000_000_000]
    assert tb.Time.relative_s(2) == pytest.approx(1.0)
    assert tb.Time.duration_s(2, 1) == pytest.approx(-0.5)
    assert tb.Time.stamp_s(0) == pytest.approx(t0 * 1e-9)
    assert tb.Time.nearest_frame(0.7) == 1 and tb.Time.nearest_frame(0.8) == 2
    assert tb.Time.nearest_frame(-5) == 0
    assert tb.Time.nearest_frame(t0 * 1e-9 + 0.45, relative=False) == 1
    assert tb.Time.frames_between(0.25, 1.0) == [1, 2]
    with pytest.raises(ValueError, match="before"):
        tb.Time.frames_between(1.0, 0.0)
    assert "index" in tb.Time.table() and tb.Time.table().count("\n") == 3


def test_draw_returns_new_uint8_images(tb, scene):
    ctx, _ = scene
    seg = tb.SAM3.segment(0, text="ball")
    before = ctx.images[0].copy()
    outs = [
        tb.Draw.masks(0, seg), tb.Draw.masks(ctx.images[0], seg.mask(0)), tb.Draw.boxes(0, seg),
        tb.Draw.boxes(0, [[10, 10, 50, 40]], labels=["x"]), tb.Draw.points(0, [[160, 120]], labels=["c"]),
        tb.Draw.points3d(0, 0, tb.Geometry.mask_points(0, seg.mask(0))), tb.Draw.axes(0, 0, origin=[2, 0, 0.2]),
        tb.Draw.text(0, "hello"), tb.Draw.masks(np.zeros((240, 320), np.float32), seg),
        tb.Draw.points3d(0, 0, [Point([2, 0.3, 0.2], "odom"), Point([2, -0.3, 0.2], "odom")]),
    ]
    for out in outs:
        assert out.shape == (240, 320, 3) and out.dtype == np.uint8
        assert out.flags.writeable
    assert np.array_equal(ctx.images[0], before)                  # the input never changes
    assert not np.array_equal(outs[0], before)
    # the tint lands on the mask and nowhere else
    changed = np.any(outs[1] != before, axis=-1)
    assert changed[seg.mask(0)].mean() > 0.99 and (changed & ~tb.Mask.dilate(seg.mask(0), 1)).sum() == 0
    # projected 3-D points land on the object
    drawn = np.any(outs[5] != before, axis=-1)
    assert (drawn & ~tb.Mask.dilate(seg.mask(0), 3)).sum() == 0 and drawn.sum() > 100
    with pytest.raises(ValueError, match="image must be"):
        tb.Draw.text(np.zeros((4, 4, 7)), "x")
    with pytest.raises(ValueError, match="mask 0 is"):
        tb.Draw.masks(0, np.zeros((5, 5), bool))


def test_graph_from_segmentation(tb):
    g = tb.Graph.from_segmentation(tb.SAM3.segment(0, text="ball"))
    assert set(g.nodes) == {"red_ball", "blue_ball"} and len(g.edges) == 2
    e = g.edge("red_ball", "blue_ball")
    assert e.closest_m == pytest.approx(0.2, abs=0.01)
    assert e.direction.left_right == "left"
    assert g.nearest("red_ball") == "blue_ball"
    assert "red_ball" in g.describe()
    with pytest.raises(KeyError, match="nodes are"):
        g.edge("red_ball", "chair")
    g2 = tb.Graph.build({"a": Point([2, 0, 0], "odom"), "b": Point([2, 1, 0], "odom"),
                         "c": np.array([[2.0, 3.0, 0.0], [2.0, 3.1, 0.0]])}, frame="base", frame_index=0)
    assert g2.edge("b", "a").direction.left_right == "left" and g2.edge("b", "a").closest_m is None
    assert g2.nearest("a", by="centroid") == "b"
    with pytest.raises(ValueError, match="non-empty dict"):
        tb.Graph.build({})
    with pytest.raises(ValueError, match="empty"):
        tb.Graph.from_segmentation(tb.SAM3.segment(0, text="giraffe"))
