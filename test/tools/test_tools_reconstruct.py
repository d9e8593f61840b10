"""tools.Reconstruct: sensor depth to metric point maps, the da3 parent-call contract, clear errors."""
from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from tools_scene import POSES, OBJECTS, make_context, two_balls_scene

from spatialclaw_ros.errors import NoTransformError, NoValidDepthError, PerceptionError
from spatialclaw_ros.tools import make_toolbox


def test_sensor_reconstruction_is_exact(tb, scene):
    ctx, truth = scene
    for i in range(3):
        r = tb.Reconstruct.get(i)
        assert (r.backend, r.frame, r.units, r.camera_frame) == ("sensor", "odom", "m", "camera_color_optical_frame")
        assert r.stamp_ns == ctx.stamps_ns[i] and r.frame_index == i
        hit = np.isfinite(truth[i]["depth"])
        assert np.array_equal(r.valid, hit)
        assert np.allclose(r.points[hit], truth[i]["world"][hit], atol=1e-4)
        assert np.all(np.isnan(r.points[~hit]))
        assert np.allclose(r.T_fixed_camera, POSES[i])
    assert tb.Reconstruct.get(1) is tb.Reconstruct.get(1, backend="sensor")   # cached
    assert [r.frame_index for r in tb.Reconstruct.run([2, 0])] == [2, 0]
    assert "Reconstruction(frame_index=0" in repr(tb.Reconstruct.get(0))


def test_available(tb):
    a = tb.Reconstruct.available()
    assert a["n_frames"] == 3 and a["depth"] == [True] * 3 and a["pose"] == [True] * 3
    assert a["perception_service"] is False


def test_no_depth_says_use_da3_only_when_da3_is_set_up():
    ctx, _ = make_context(two_balls_scene(), POSES[:1], with_depth=False)
    tb = make_toolbox(ctx)
    # No perception line at all: no circle back to da3, the honest way out instead.
    with pytest.raises(NoValidDepthError, match="no depth model is set up.*needs a depth model"):
        tb.Reconstruct.get(0, backend="sensor")
    with pytest.raises(PerceptionError, match="perception service"):
        tb.Reconstruct.get(0)                                   # auto -> da3, no parent line
    assert tb.Reconstruct.available()["da3"] is False

    def parent(name, payload):  # noqa: ANN001, ANN202 - never reached here
        raise AssertionError(name)

    ctx, _ = make_context(two_balls_scene(), POSES[:1], with_depth=False, call_parent=parent)
    ctx.metadata["perception"] = {"da3": True, "sam3": False,
                                  "missing": {"sam3": "SAM 3 is not set up: ..."}}
    tb = make_toolbox(ctx)
    with pytest.raises(NoValidDepthError, match="no depth image.*backend='da3'"):
        tb.Reconstruct.get(0, backend="sensor")
    a = tb.Reconstruct.available()
    assert a["da3"] is True and a["sam3"] is False and a["perception_service"] is True
    assert a["vlm_grounding"] is False and "sam3" in a["missing"]


def test_all_nan_depth():
    ctx, _ = make_context(two_balls_scene(), POSES[:1])
    ctx.depths[0] = np.full_like(ctx.depths[0], np.nan)
    with pytest.raises(NoValidDepthError, match="NaN or zero at every pixel"):
        make_toolbox(ctx).Reconstruct.get(0)


def test_bad_index_and_backend(tb):
    with pytest.raises(IndexError, match=r"0\.\.2"):
        tb.Reconstruct.get(3)
    with pytest.raises(TypeError, match="frame index must be an int"):
        tb.Reconstruct.get("0")
    with pytest.raises(ValueError, match="unknown backend 'lidar'"):
        tb.Reconstruct.get(0, backend="lidar")
    assert tb.Reconstruct.get(-1).frame_index == 2


def test_da3_backend_speaks_the_parent_contract(scene):
    """The kernel side of perception.reconstruct: one batched call, replies become Reconstructions."""
    _, truth = scene
    calls: list[tuple[str, dict[str, Any]]] = []

    def parent(name: str, payload: dict[str, Any]) -> dict[str, Any]:
        calls.append((name, payload))
        idx = payload["frame_indices"]
        return {"depth": [truth[i]["depth"] * 1.0 for i in idx], "conf": [np.ones((240, 320), np.float32)] * len(idx),
                "T_fixed_camera": [POSES[i] for i in idx], "K": [np.asarray(ctxK) for _ in idx],
                "frame": "odom", "units": "m", "backend": "da3", "notes": ["scale estimated"], "residual_m": 0.004}

    ctx, _ = make_context(two_balls_scene(), POSES, objects=OBJECTS, with_depth=False, with_pose=False,
                          call_parent=parent)
    ctxK = ctx.cameras[0].K
    tb = make_toolbox(ctx)
    recs = tb.Reconstruct.run()
    assert calls == [("perception.reconstruct", {"frame_indices": [0, 1, 2], "backend": "da3"})]
    for i, r in enumerate(recs):
        assert r.backend == "da3" and r.frame == "odom"
        assert "scale estimated" in r.notes and any("residual" in n for n in r.notes)
        hit = np.isfinite(truth[i]["depth"])
        assert np.allclose(r.points[hit], truth[i]["world"][hit], atol=1e-4)
    tb.Reconstruct.get(1)
    assert len(calls) == 1                                      # cached
    # geometry runs on da3 poses when TF has none
    m = tb.Geometry.camera_travel(0, 2)
    assert m.travel_m == pytest.approx(np.linalg.norm(POSES[2][:3, 3] - POSES[0][:3, 3]), abs=1e-3)
    cloud = tb.Geometry.mask_points(0, tb.SAM3.segment(0, text="red ball").mask(0))
    assert cloud.frame == "odom" and "scale estimated" in cloud.notes


def test_da3_bad_reply_is_a_clear_error(scene):
    ctx, _ = make_context(two_balls_scene(), POSES[:1], with_depth=False,
                          call_parent=lambda name, payload: {"error": "no engine"})
    with pytest.raises(PerceptionError, match="unexpected reply"):
        make_toolbox(ctx).Reconstruct.get(0)


def test_da3_poses_in_another_world_frame(scene):
    """Without TF, DA3 poses relative to the first camera: relative motion works, fixed-frame claims don't."""
    _, truth = scene
    T0inv = np.linalg.inv(POSES[0])

    def parent(name: str, payload: dict[str, Any]) -> dict[str, Any]:
        idx = payload["frame_indices"]
        return {"depth": [truth[i]["depth"] for i in idx], "T_fixed_camera": [T0inv @ POSES[i] for i in idx],
                "K": None, "frame": "camera_color_optical_frame", "notes": ["scale from metric depth"]}

    ctx, _ = make_context(two_balls_scene(), POSES, objects=OBJECTS, with_depth=False, with_pose=False,
                          call_parent=parent)
    tb = make_toolbox(ctx)
    with pytest.raises(NoTransformError, match=r"tools.Reconstruct.run\(backend='da3'\)"):
        tb.Geometry.camera_travel(0, 2)
    recs = tb.Reconstruct.run()
    assert recs[1].frame == "camera_color_optical_frame"
    assert any("not the fixed frame 'odom'" in n for n in recs[1].notes)
    m = tb.Geometry.camera_travel(0, 2)
    assert m.travel_m == pytest.approx(np.linalg.norm(POSES[2][:3, 3] - POSES[0][:3, 3]), abs=1e-3)
    with pytest.raises(NoTransformError, match="poses are in 'camera_color_optical_frame'"):
        tb.Geometry.camera_position(1)
    cloud = tb.Geometry.mask_points(1, tb.SAM3.segment(1, text="red ball").mask(0))
    assert cloud.frame == "camera_color_optical_frame"
