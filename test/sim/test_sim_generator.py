"""The generator is deterministic from a seed, validates its options, and its fixtures are current."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from spatialclaw_ros.sim.generate import (
    SimOptions, build_world, generate_scene, load_scene, rebuild_world, sidecar_path)
from spatialclaw_ros.sim.noise import DepthNoise
from spatialclaw_ros.sim.readback import read_sim_bag

TINY = dict(width=64, height=48, frames=3, fps=2.0, renderer="raycast")   # GL-free, fast


def _strip_timing(scene: dict) -> dict:
    return json.loads(json.dumps(scene))


@pytest.mark.parametrize("renderer", ["gl", "raycast"])
def test_same_seed_same_bag_and_sidecar(tmp_path: Path, renderer: str) -> None:
    """Two runs with one seed give identical arrays, transforms and ground truth."""
    opts = dict(TINY, renderer=renderer)
    a = generate_scene(SimOptions(seed=5, **opts), tmp_path / "a", "s")
    b = generate_scene(SimOptions(seed=5, **opts), tmp_path / "b", "s")
    assert a.scene["rendered_by"] == renderer
    assert _strip_timing(a.scene) == _strip_timing(b.scene)
    ca, cb = read_sim_bag(a.bag), read_sim_bag(b.bag)
    assert sorted(ca.rgb) == sorted(cb.rgb) and len(ca.rgb) == 3
    for stamp in ca.rgb:
        np.testing.assert_array_equal(ca.rgb[stamp], cb.rgb[stamp])
        np.testing.assert_array_equal(ca.depth[stamp], cb.depth[stamp])
        np.testing.assert_array_equal(ca.labels[stamp], cb.labels[stamp])
    for key in ca.tf:
        for stamp in ca.tf[key]:
            np.testing.assert_array_equal(ca.tf[key][stamp], cb.tf[key][stamp])


def test_gl_and_raycast_renderers_agree(tmp_path: Path) -> None:
    """MuJoCo's OpenGL render and per-pixel ray casting through K give the same labels and depth.

    Two independent projections (GL frustum from fovy; rays through camera_info K and the optical
    pose) agreeing pixel for pixel is the camera-convention proof without any tolerance games.
    Needs offscreen GL: apt-get install -y libegl1 libegl-mesa0 libgl1-mesa-dri libopengl0.
    """
    opts = dict(TINY, width=96, height=72)
    g = generate_scene(SimOptions(seed=8, **dict(opts, renderer="gl")), tmp_path / "g", "s")
    r = generate_scene(SimOptions(seed=8, **dict(opts, renderer="raycast")), tmp_path / "r", "s")
    assert (g.scene["rendered_by"], r.scene["rendered_by"]) == ("gl", "raycast")
    cg, cr = read_sim_bag(g.bag), read_sim_bag(r.bag)
    for stamp in cg.depth:
        same = cg.labels[stamp] == cr.labels[stamp]
        assert same.mean() > 0.99
        ok = same & np.isfinite(cg.depth[stamp]) & np.isfinite(cr.depth[stamp])
        err_mm = np.abs(cg.depth[stamp] - cr.depth[stamp])[ok] * 1000
        assert np.median(err_mm) < 0.5 and np.mean(err_mm < 2.0) > 0.99
        assert np.abs(cg.rgb[stamp].astype(int) - cr.rgb[stamp].astype(int)).mean() < 60


def test_other_seed_other_scene() -> None:
    """A different seed moves the objects."""
    la = build_world(SimOptions(seed=1, **TINY))[3]
    lb = build_world(SimOptions(seed=2, **TINY))[3]
    assert [t.centroid.tolist() for t in la] != [t.centroid.tolist() for t in lb]


def test_noise_is_seeded_and_bounded(tmp_path: Path) -> None:
    """Noise repeats for a seed, grows with distance and leaves holes only where asked."""
    noise = DepthNoise(sigma_per_m2=0.01, edge_dropout=1.0, edge_width_px=1)
    clean = generate_scene(SimOptions(seed=3, **TINY), tmp_path / "c", "s")
    n1 = generate_scene(SimOptions(seed=3, noise=noise, **TINY), tmp_path / "n1", "s")
    n2 = generate_scene(SimOptions(seed=3, noise=noise, **TINY), tmp_path / "n2", "s")
    c, a, b = (read_sim_bag(g.bag) for g in (clean, n1, n2))
    for stamp in c.depth:
        np.testing.assert_array_equal(a.depth[stamp], b.depth[stamp])
        valid = np.isfinite(a.depth[stamp]) & np.isfinite(c.depth[stamp])
        err = a.depth[stamp][valid] - c.depth[stamp][valid]
        z = c.depth[stamp][valid]
        assert np.std(err / (0.01 * z * z)) == pytest.approx(1.0, abs=0.15)
        holes = ~np.isfinite(a.depth[stamp]) & np.isfinite(c.depth[stamp])
        assert 0 < holes.mean() < 0.5
    assert n1.scene["depth"]["noiseless"] is False and clean.scene["depth"]["noiseless"] is True


def test_sixteen_bit_depth_is_millimetres(tmp_path: Path) -> None:
    """16UC1 depth equals the float depth rounded to millimetres, 0 where invalid."""
    f = generate_scene(SimOptions(seed=4, depth_quantum_m=0, **TINY), tmp_path / "f", "s")
    m = generate_scene(SimOptions(seed=4, depth_encoding="16UC1", **TINY), tmp_path / "m", "s")
    cf, cm = read_sim_bag(f.bag), read_sim_bag(m.bag)
    for stamp in cf.depth:
        ok = np.isfinite(cf.depth[stamp])
        np.testing.assert_allclose(cm.depth[stamp][ok], cf.depth[stamp][ok], atol=0.0005 + 1e-6)


@pytest.mark.parametrize("bad,match", [
    (dict(frames=1), "frames"), (dict(width=4), "image size"), (dict(fps=0), "fps"),
    (dict(depth_encoding="mono8"), "depth encoding"), (dict(fovy_deg=170), "fovy"),
    (dict(renderer="vulkan"), "renderer")])
def test_bad_options_say_what_to_change(tmp_path: Path, bad: dict, match: str) -> None:
    """Out-of-range options raise ValueError naming the option."""
    opts = dict(TINY)
    opts.update(bad)
    with pytest.raises(ValueError, match=match):
        generate_scene(SimOptions(seed=0, **opts), tmp_path, "x")


def test_refuses_to_overwrite(tmp_path: Path) -> None:
    """An existing bag is not overwritten unless asked."""
    generate_scene(SimOptions(seed=0, **TINY), tmp_path, "x")
    with pytest.raises(FileExistsError, match="--force"):
        generate_scene(SimOptions(seed=0, **TINY), tmp_path, "x")
    generate_scene(SimOptions(seed=0, **TINY), tmp_path, "x", overwrite=True)
    assert sidecar_path(tmp_path / "x").exists()


@pytest.mark.parametrize("name", ["sim_a", "sim_b", "sim_a_noisy"])
def test_committed_fixtures_match_the_generator(data_dir: Path, name: str) -> None:
    """The committed sidecars' objects are what the generator builds today from their seeds."""
    scene = load_scene(data_dir / name)
    truths = rebuild_world(scene)[3]
    assert [t.to_dict() for t in truths] == scene["objects"], \
        "generator changed: run `spatialclaw sim --preset fixtures --out test/data --force`"


def test_demo_scene_matches_the_generator(repo_root: Path) -> None:
    """The bundled demo scene is current too."""
    scene = load_scene(repo_root / "spatialclaw_ros" / "data" / "demo_scene")
    assert [t.to_dict() for t in rebuild_world(scene)[3]] == scene["objects"]


def test_cli_sim_writes_a_scene(tmp_path: Path) -> None:
    """`spatialclaw sim` generates a bag and its sidecar and reports them."""
    from spatialclaw_ros.cli import main

    rc = main(["sim", "--out", str(tmp_path), "--name", "cli", "--seed", "9", "--width", "64",
               "--height", "48", "--frames", "2", "--depth-noise", "0.002", "--renderer", "raycast"])
    assert rc == 0
    scene = load_scene(tmp_path / "cli")
    assert scene["options"]["seed"] == 9 and scene["depth"]["noise"]["sigma_per_m2"] == 0.002
    assert (tmp_path / "cli" / "metadata.yaml").exists()
    assert main(["sim", "--out", str(tmp_path), "--name", "cli", "--frames", "2",
                 "--renderer", "raycast"]) == 2
    assert main(["sim", "--out", str(tmp_path), "--name", "bad", "--frames", "1"]) == 2
