"""`spatialclaw sim`: generate synthetic MuJoCo scenes as rosbag2 MCAP bags with exact ground truth."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from spatialclaw_ros.config import Config

# Named sets that the repository commits (regenerate them with `spatialclaw sim --preset NAME`).
PRESETS: dict[str, list[dict]] = {
    # test/data: two noiseless scenes (32FC1 and 16UC1 depth) and a noisy copy of the first.
    "fixtures": [
        {"name": "sim_a", "seed": 11, "frames": 8, "max_questions": 12},
        {"name": "sim_b", "seed": 12, "frames": 8, "max_questions": 12, "depth_encoding": "16UC1"},
        {"name": "sim_a_noisy", "seed": 11, "frames": 8, "max_questions": 12,
         "depth_encoding": "16UC1", "noise": {"sigma_per_m2": 0.003, "edge_dropout": 0.5, "edge_width_px": 2}},
    ],
    # spatialclaw_ros/data: the demo scene.
    "demo": [{"name": "demo_scene", "seed": 7, "frames": 6, "max_questions": 12}],
    # test/data/styles: recordings as real robots make them (issue 14). Ground truth goes to
    # truth/<name>.scene.json, never beside the bag: queries see only what the bag holds.
    "styles": [
        # RealSense driver topic names, sqlite3, 16UC1 mm depth with depth-dependent noise and
        # dropouts at edges, raw colour
        {"name": "rs_sqlite_mm", "max_questions": 12, "seed": 31, "frames": 4, "fps": 1.5,
         "topic_style": "realsense", "storage": "sqlite3", "depth_encoding": "16UC1",
         "noise": {"sigma_per_m2": 0.001, "edge_dropout": 0.5, "edge_width_px": 2}},
        # JPEG CompressedImage colour, 32FC1 depth, MCAP
        {"name": "jpeg_mcap", "max_questions": 12, "seed": 32, "frames": 8, "fps": 2.0, "color_format": "jpeg"},
        # no depth topic at all
        {"name": "no_depth", "max_questions": 12, "seed": 33, "frames": 6, "fps": 2.0, "width": 160, "height": 120,
         "depth_encoding": "none"},
        # 12 s at 4 Hz, the camera walks slowly: early objects leave the view
        {"name": "long_slow", "max_questions": 12, "seed": 34, "frames": 49, "fps": 4.0, "width": 160, "height": 120,
         "color_format": "jpeg", "depth_encoding": "16UC1",
         "noise": {"sigma_per_m2": 0.001, "edge_dropout": 0.3, "edge_width_px": 1}},
    ],
}
TRUTH_DIR = {"styles": "truth"}      # presets whose sidecars live apart from the bags


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Register `spatialclaw sim` flags."""
    p.add_argument("--out", metavar="DIR", default=".", help="output directory (default: .)")
    p.add_argument("--name", default="sim_scene",
                   help="bag name; with --count N, names get _000, _001... (default: sim_scene)")
    p.add_argument("--count", type=int, default=1, help="scenes to generate, seeds seed..seed+N-1")
    p.add_argument("--seed", type=int, default=0, help="random seed (the same seed gives the same scene)")
    p.add_argument("--width", type=int, default=320, help="image width, pixels")
    p.add_argument("--height", type=int, default=240, help="image height, pixels")
    p.add_argument("--fovy", type=float, default=55.0, help="vertical field of view, degrees")
    p.add_argument("--frames", type=int, default=10, help="camera frames")
    p.add_argument("--fps", type=float, default=2.0, help="camera frame rate, Hz")
    p.add_argument("--depth-encoding", choices=["32FC1", "16UC1", "none"], default="32FC1",
                   help="depth image encoding: float metres, uint16 millimetres, or none (no depth "
                        "topic)")
    p.add_argument("--topic-style", choices=["default", "realsense"], default="default",
                   help="topic names: ours (/camera/color/...) or the RealSense driver's "
                        "(/camera/camera/color/...)")
    p.add_argument("--storage", choices=["mcap", "sqlite3"], default="mcap", help="rosbag2 storage")
    p.add_argument("--color-format", choices=["rgb8", "jpeg"], default="rgb8",
                   help="colour as raw rgb8 Image or JPEG CompressedImage (<topic>/compressed)")
    p.add_argument("--no-legend", action="store_true",
                   help="do not publish the instance-label legend topic")
    p.add_argument("--depth-noise", type=float, default=0.0, metavar="K",
                   help="Gaussian depth noise sigma = K * z^2 metres (e.g. 0.003); 0 = none")
    p.add_argument("--edge-dropout", type=float, default=0.0, metavar="P",
                   help="probability that a pixel at a depth/object edge has no depth (0..1)")
    p.add_argument("--renderer", choices=["auto", "gl", "raycast"], default="auto",
                   help="gl: MuJoCo's offscreen OpenGL (EGL/OSMesa); raycast: no GL needed (exact "
                        "depth/labels, flat shading); auto: gl, else raycast (default)")
    p.add_argument("--light", type=float, default=1.0,
                   help="brightness of the lights, 0..3 (default 1; 0.2 is a dim room)")
    p.add_argument("--max-questions", type=int, default=0, help="keep the first N questions (0 = all)")
    p.add_argument("--preset", choices=sorted([*PRESETS, "multicam"]),
                   help="generate a committed set (fixtures -> test/data, demo -> spatialclaw_ros/data)")
    p.add_argument("--force", action="store_true", help="overwrite existing bags")


def _options_from_args(args: argparse.Namespace, seed: int):  # noqa: ANN202 - SimOptions
    from spatialclaw_ros.sim.generate import SimOptions
    from spatialclaw_ros.sim.noise import DepthNoise

    return SimOptions(seed=seed, width=args.width, height=args.height, fovy_deg=args.fovy,
                      frames=args.frames, fps=args.fps, depth_encoding=args.depth_encoding,
                      noise=DepthNoise(sigma_per_m2=args.depth_noise, edge_dropout=args.edge_dropout,
                                       edge_width_px=2 if args.edge_dropout else 1),
                      max_questions=args.max_questions, renderer=args.renderer,
                      light=args.light, topic_style=args.topic_style, storage=args.storage,
                      color_format=args.color_format, legend=not args.no_legend)


def preset_jobs(preset: str, *, width: int = 320, height: int = 240,
                renderer: str = "gl"):  # noqa: ANN201
    """(name, SimOptions) pairs of a named preset."""
    from spatialclaw_ros.sim.generate import SimOptions
    from spatialclaw_ros.sim.noise import DepthNoise

    jobs = []
    for spec in PRESETS[preset]:
        spec = dict(spec)
        name = spec.pop("name")
        noise = DepthNoise(**spec.pop("noise", {}))
        size = {"width": spec.pop("width", width), "height": spec.pop("height", height)}
        jobs.append((name, SimOptions(noise=noise, renderer=renderer, **size, **spec)))
    return jobs


def run(args: argparse.Namespace, cfg: Config) -> int:
    """Generate the scenes and print where they went."""
    from spatialclaw_ros.sim.generate import generate_scene

    if args.count < 1:
        print("spatialclaw sim: --count must be at least 1", file=sys.stderr)
        return 2
    if args.preset == "multicam":      # three cameras, cross-camera questions (issue 16)
        from spatialclaw_ros.sim.multicam import make_multicam_set

        for side in make_multicam_set(args.out, overwrite=args.force):
            print(side)
        return 0
    if args.preset:
        jobs = preset_jobs(args.preset, width=args.width, height=args.height,
                           renderer="gl" if args.renderer == "auto" else args.renderer)
    elif args.count == 1:
        jobs = [(args.name, _options_from_args(args, args.seed))]
    else:
        jobs = [(f"{args.name}_{k:03d}", _options_from_args(args, args.seed + k))
                for k in range(args.count)]
    out = Path(args.out)
    for name, opts in jobs:
        t0 = time.monotonic()
        try:
            g = generate_scene(opts, out, name, overwrite=args.force)
        except (ValueError, FileExistsError, RuntimeError) as exc:
            print(f"spatialclaw sim: {name}: {exc}", file=sys.stderr)
            return 2
        s = g.scene
        if args.preset in TRUTH_DIR:
            g = _move_sidecar(g, out / TRUTH_DIR[args.preset])
        print(f"{g.bag}  seed={opts.seed} {opts.width}x{opts.height} frames={opts.frames} "
              f"depth={opts.depth_encoding} noise={'on' if opts.noise.enabled else 'off'} "
              f"renderer={s['rendered_by']} "
              f"objects={len(s['objects'])} questions={len(s['questions'])} "
              f"({time.monotonic() - t0:.1f} s)")
        print(f"  sidecar: {g.sidecar}")
    return 0


def _move_sidecar(g, truth_dir: Path):  # noqa: ANN001, ANN202 - GeneratedScene
    """Put the ground truth in ``truth_dir`` (bag named relative to it), none beside the bag."""
    import json
    import os

    from spatialclaw_ros.sim.generate import GeneratedScene, SIDECAR_SUFFIX

    truth_dir.mkdir(parents=True, exist_ok=True)
    scene = dict(g.scene)
    scene["bag"] = os.path.relpath(g.bag, truth_dir)
    side = truth_dir / (g.bag.name + SIDECAR_SUFFIX)
    side.write_text(json.dumps(scene, indent=1) + "\n")
    g.sidecar.unlink()
    return GeneratedScene(bag=g.bag, sidecar=side, scene=scene)
