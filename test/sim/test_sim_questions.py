"""Ground truth of the committed questions agrees with the scene and the bag."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from spatialclaw_ros.agent.types import AnswerType
from spatialclaw_ros.sim.generate import load_scene, rebuild_world
from spatialclaw_ros.sim.readback import read_sim_bag
from spatialclaw_ros.sim.scene import closest_distance

SCENES = ["sim_a", "sim_b", "sim_a_noisy"]


@pytest.fixture(scope="module", params=SCENES)
def scene(request, data_dir: Path) -> dict:  # noqa: ANN001
    """A committed sidecar."""
    return load_scene(data_dir / request.param)


def test_questions_are_well_formed(scene: dict) -> None:
    """Unique ids, answer types the agent knows, answers of that type, choices containing them."""
    qs = scene["questions"]
    assert len(qs) >= 10
    assert len({q["id"] for q in qs}) == len(qs)
    kinds = {q["kind"] for q in qs}
    assert {"distance_closest", "camera_travel", "closer_to_camera", "count_colour"} <= kinds
    for q in qs:
        at = AnswerType(q["answer_type"])
        assert q["question"].endswith("?")
        if at is AnswerType.NUMBER:
            assert isinstance(q["answer"], float) and q["answer"] > 0 and q["unit"] in ("m", "deg")
        elif at is AnswerType.CHOICE:
            assert q["answer"] in q["choices"] and len(q["choices"]) >= 2
        elif at is AnswerType.COUNT:
            assert isinstance(q["answer"], int) and q["answer"] == len(q["objects"])
        elif at is AnswerType.BOOLEAN:
            assert isinstance(q["answer"], bool)
        elif at is AnswerType.POINT:
            assert len(q["answer"]) == 3 and q["scale_m"] > 0.5
        else:
            pytest.fail(f"unexpected answer type {at}")


def test_object_answers_follow_from_the_objects(scene: dict) -> None:
    """Heights, tops, centroid distances, positions and counts recomputed from `objects`."""
    objs = {o["id"]: o for o in scene["objects"]}
    for q in scene["questions"]:
        o = [objs[i] for i in q["objects"]]
        if q["kind"] == "object_height":
            assert q["answer"] == pytest.approx(o[0]["size"][2], abs=1e-4)
        elif q["kind"] == "top_height":
            assert q["answer"] == pytest.approx(o[0]["aabb_max"][2], abs=1e-4)
        elif q["kind"] == "distance_centroid":
            d = np.linalg.norm(np.subtract(o[0]["centroid"], o[1]["centroid"]))
            assert q["answer"] == pytest.approx(d, abs=1e-4)
        elif q["kind"] == "position":
            np.testing.assert_allclose(q["answer"], o[0]["centroid"], atol=1e-4)
        elif q["kind"] == "count_colour":
            colour = q["question"].split()[2]
            assert q["answer"] == sum(x["colour"] == colour for x in scene["objects"])
    for o in scene["objects"]:
        np.testing.assert_allclose(o["centroid"], np.add(o["aabb_min"], o["aabb_max"]) / 2, atol=1e-5)
        if o["support"] == "floor":
            assert o["aabb_min"][2] == pytest.approx(0.0, abs=1e-6)   # resting on the floor


def test_closest_distance_is_mj_geom_distance_and_below_centroid_distance(scene: dict) -> None:
    """Closest surface distance is recomputed by mj_geomDistance, never above the centroid distance."""
    _layout, model, data, truths, *_ = rebuild_world(scene)
    by_id = {t.id: t for t in truths}
    n = 0
    for q in scene["questions"]:
        if q["kind"] != "distance_closest":
            continue
        a, b = (by_id[i] for i in q["objects"])
        d, pa, pb = closest_distance(model, data, a, b)
        assert q["answer"] == pytest.approx(d, abs=1e-4)
        assert np.linalg.norm(pb - pa) == pytest.approx(d, abs=1e-4)
        assert d <= np.linalg.norm(a.centroid - b.centroid)
        n += 1
    assert n >= 1


def test_box_geom_distance_matches_hand_computed_gap() -> None:
    """mj_geomDistance between two axis-aligned boxes equals the gap along x."""
    import mujoco

    xml = """<mujoco><worldbody>
      <geom name="a" type="box" size="0.1 0.1 0.1" pos="0 0 0.1"/>
      <geom name="b" type="box" size="0.2 0.1 0.1" pos="0.8 0.05 0.1"/>
    </worldbody></mujoco>"""
    m = mujoco.MjModel.from_xml_string(xml)
    d = mujoco.MjData(m)
    mujoco.mj_forward(m, d)
    assert mujoco.mj_geomDistance(m, d, 0, 1, 10.0, None) == pytest.approx(0.8 - 0.1 - 0.2, abs=1e-6)


def test_camera_answers_match_the_bag_tf(scene: dict, data_dir: Path) -> None:
    """Camera travel and turn recomputed from the bag's /tf and /tf_static."""
    contents = read_sim_bag(data_dir / scene["name"])
    Ts = contents.tf_static
    T_bo = Ts[("base_link", "camera_link")] @ Ts[("camera_link", "camera_color_optical_frame")]
    stamps = sorted(contents.depth)
    T0 = contents.tf[("odom", "base_link")][stamps[0]] @ T_bo
    T1 = contents.tf[("odom", "base_link")][stamps[-1]] @ T_bo
    for q in scene["questions"]:
        if q["kind"] == "camera_travel":
            assert q["answer"] == pytest.approx(np.linalg.norm(T1[:3, 3] - T0[:3, 3]), abs=1e-4)
        if q["kind"] == "camera_turn":
            R = T0[:3, :3].T @ T1[:3, :3]
            ang = math.degrees(math.acos(np.clip((np.trace(R) - 1) / 2, -1, 1)))
            assert q["answer"] == pytest.approx(ang, abs=1e-3)
    # The sidecar's camera poses are the bag's.
    for cam, stamp in zip(scene["camera_poses"], stamps):
        assert cam["stamp_ns"] == stamp
        T = contents.tf[("odom", "base_link")][stamp] @ T_bo
        np.testing.assert_allclose(cam["T_odom_optical"], T, atol=1e-6)


def test_relation_answers_follow_from_the_first_camera_pose(scene: dict) -> None:
    """Closer-to-camera and left/right answers recomputed from the first optical pose."""
    objs = {o["name"]: o for o in scene["objects"]}
    T0 = np.array(scene["camera_poses"][0]["T_odom_optical"])
    inv = np.linalg.inv(T0)
    for q in scene["questions"]:
        if q["kind"] == "closer_to_camera":
            d = {c: np.linalg.norm(np.subtract(objs[c]["centroid"], T0[:3, 3])) for c in q["choices"]}
            assert q["answer"] == min(d, key=d.get)
        if q["kind"] == "left_right":
            a = next(o for o in scene["objects"] if o["id"] == q["objects"][0])
            b = next(o for o in scene["objects"] if o["id"] == q["objects"][1])
            xa = (inv @ np.append(a["centroid"], 1))[0]
            xb = (inv @ np.append(b["centroid"], 1))[0]
            assert q["answer"] == ("left" if xa < xb else "right")
