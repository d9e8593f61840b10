"""The committed MuJoCo fixture bags (test/data, from spatialclaw_ros/sim) read back with exact truth."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from spatialclaw_ros.bags.reader import load_bag
from spatialclaw_ros.config import Config

DATA = Path(__file__).resolve().parent.parent / "data"
BAGS = sorted(p.name[: -len(".scene.json")] for p in DATA.glob("*.scene.json"))


def test_fixtures_exist() -> None:
    assert "sim_a" in BAGS, ("fixture bags missing from test/data: regenerate with "
                             "`spatialclaw sim --preset fixtures --out test/data --force`")


@pytest.mark.parametrize("name", BAGS)
def test_fixture_poses_intrinsics_and_labels(name: str, data_dir: Path) -> None:
    bag = data_dir / name
    assert bag.exists(), f"{name}.scene.json has no bag next to it"
    scene = json.loads((data_dir / f"{name}.scene.json").read_text())
    data = load_bag(bag, Config(), select_keyframes=False)
    assert data.report.missing == []
    poses = {p["stamp_ns"]: p for p in scene["camera_poses"]}
    assert [f.stamp_ns for f in data.frames] == sorted(poses)
    K = np.array(scene["camera"]["K"])
    for f in data.frames:
        truth = poses[f.stamp_ns]
        # the sidecar rounds to 1e-9; the bag's TF holds the exact values
        np.testing.assert_allclose(f.T_fixed_camera, truth["T_odom_optical"], atol=2e-9)
        np.testing.assert_allclose(f.camera.K, K, atol=1e-9)
        assert f.rgb.shape == (scene["camera"]["height"], scene["camera"]["width"], 3)
        assert f.depth is not None and np.isfinite(f.depth).mean() > 0.5
        ids, counts = np.unique(f.labels[f.labels > 0], return_counts=True)
        assert dict(zip(map(str, ids.tolist()), counts.tolist())) == truth["visible_pixels"]
