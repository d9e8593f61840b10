"""Generate one synthetic scene: sample, render along the path, write the MCAP bag and the sidecar JSON."""
from __future__ import annotations

import json
import math
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from spatialclaw_ros.sim.bag import BagFrame, BagTransform, write_bag
from spatialclaw_ros.sim.noise import DepthNoise, apply_depth_noise
from spatialclaw_ros.sim.trajectory import (
    BASE_FRAME, CAMERA_LINK, FIXED_FRAME, OPTICAL_FRAME, CameraMount, intrinsics, sample_path)

SIDECAR_SUFFIX = ".scene.json"
SIDECAR_VERSION = 1
START_STAMP_NS = 1_700_000_000_000_000_000


@dataclass
class SimOptions:
    """Options of one generated scene."""

    seed: int = 0
    width: int = 320
    height: int = 240
    fovy_deg: float = 55.0
    frames: int = 10
    fps: float = 2.0
    tf_rate_hz: float = 20.0
    depth_encoding: str = "32FC1"          # or 16UC1 (millimetres, 0 = invalid)
    depth_quantum_m: float = 1.0 / 4096    # 32FC1 depth rounded to this step (compresses 3x); 0 = off
    noise: DepthNoise = field(default_factory=DepthNoise)
    n_on_table: int = 3
    n_on_floor: int = 3
    n_on_shelf: int = 1
    max_questions: int = 0                 # 0: every question generated
    distro: str = "humble"                 # typestore of the written messages
    renderer: str = "auto"                 # gl (EGL/OSMesa) | raycast (no GL) | auto (gl, else raycast)
    light: float = 1.0                     # brightness of the sun and the ceiling lamp (0.2 = dim room)
    topic_style: str = "default"           # default (/camera/...) | realsense (/camera/camera/...)
    storage: str = "mcap"                  # mcap | sqlite3
    color_format: str = "rgb8"             # rgb8 (Image) | jpeg (CompressedImage)
    legend: bool = True                    # publish the instance-label legend topic

    def validate(self) -> None:
        """ValueError with what to change when an option is out of range."""
        if not (16 <= self.width <= 4096 and 16 <= self.height <= 4096):
            raise ValueError(f"image size {self.width}x{self.height} out of range (16..4096)")
        if self.frames < 2:
            raise ValueError("frames must be at least 2 (the camera moves between frames)")
        if self.fps <= 0 or self.tf_rate_hz <= 0:
            raise ValueError("fps and tf_rate_hz must be positive")
        if not 10.0 <= self.fovy_deg <= 120.0:
            raise ValueError(f"fovy_deg {self.fovy_deg} out of range (10..120)")
        if not 0.0 <= self.light <= 3.0:
            raise ValueError(f"light {self.light} out of range (0..3)")
        if self.renderer not in ("auto", "gl", "raycast"):
            raise ValueError(f"renderer must be auto, gl or raycast, got {self.renderer!r}")
        if self.depth_encoding not in ("32FC1", "16UC1", "none"):
            raise ValueError(f"depth encoding must be 32FC1, 16UC1 or none, got "
                             f"{self.depth_encoding!r}")
        if self.topic_style not in ("default", "realsense"):
            raise ValueError(f"topic_style must be default or realsense, got {self.topic_style!r}")
        if self.storage not in ("mcap", "sqlite3"):
            raise ValueError(f"storage must be mcap or sqlite3, got {self.storage!r}")
        if self.color_format not in ("rgb8", "jpeg"):
            raise ValueError(f"color_format must be rgb8 or jpeg, got {self.color_format!r}")


@dataclass
class GeneratedScene:
    """Paths of what was written, and the sidecar as a dict."""

    bag: Path
    sidecar: Path
    scene: dict[str, Any]


def sidecar_path(bag: Path | str) -> Path:
    """``<bag>.scene.json`` next to the bag directory."""
    bag = Path(bag)
    return bag.parent / (bag.name + SIDECAR_SUFFIX)


def load_scene(bag_or_sidecar: Path | str) -> dict[str, Any]:
    """Read a scene sidecar given the bag path or the sidecar path."""
    p = Path(bag_or_sidecar)
    if not p.name.endswith(SIDECAR_SUFFIX):
        p = sidecar_path(p)
    if not p.exists():
        raise FileNotFoundError(f"scene sidecar not found: {p} (generate it with `spatialclaw sim`)")
    return json.loads(p.read_text())


def _T_list(T: np.ndarray) -> list[list[float]]:
    return [[round(float(v), 9) for v in row] for row in T]


def build_world(opts: SimOptions):  # noqa: ANN201 - (layout, model, data, truths, path, mount)
    """Sample the layout and path from the seed and compile the MuJoCo model (no rendering)."""
    from spatialclaw_ros.sim.render import _import_mujoco
    from spatialclaw_ros.sim.scene import build_mjcf, object_truths, sample_layout

    mujoco = _import_mujoco()
    layout = sample_layout(opts.seed, n_on_table=opts.n_on_table, n_on_floor=opts.n_on_floor,
                           n_on_shelf=opts.n_on_shelf)
    rng = np.random.default_rng([opts.seed, 1])
    duration = (opts.frames - 1) / opts.fps
    path = sample_path(rng, duration)
    mount = CameraMount()
    xml = build_mjcf(layout, width=opts.width, height=opts.height, fovy_deg=opts.fovy_deg,
                     light=opts.light)
    model = mujoco.MjModel.from_xml_string(xml)
    data = mujoco.MjData(model)
    mujoco.mj_forward(model, data)
    truths = object_truths(model, data, layout)
    return layout, model, data, truths, path, mount, xml


def options_from_scene(scene: dict[str, Any]) -> SimOptions:
    """The SimOptions a sidecar was generated with."""
    o = dict(scene["options"])
    o["noise"] = DepthNoise(**o.get("noise", {}))
    return SimOptions(**o)


def rebuild_world(scene: dict[str, Any]):  # noqa: ANN201 - as build_world
    """Recompile the MuJoCo world of a sidecar from its options (no rendering, no GL)."""
    return build_world(options_from_scene(scene))


def clear_output(out_dir: Path | str, name: str, overwrite: bool) -> tuple[Path, Path]:
    """The bag path and sidecar path for `name` in `out_dir`; refuses to replace them unless
    `overwrite`, else removes what was there."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    bag_path = out_dir / name
    side = sidecar_path(bag_path)
    if bag_path.exists() or side.exists():
        if not overwrite:
            raise FileExistsError(f"{bag_path} exists; pass overwrite=True (--force) to replace it")
        shutil.rmtree(bag_path, ignore_errors=True)
        side.unlink(missing_ok=True)
    return bag_path, side


def labels_by_geom(ngeom: int, truths: list) -> np.ndarray:
    """Instance label (object id) of every MuJoCo geom; 0 for geoms of no object."""
    label_of_geom = np.zeros(ngeom, np.uint16)
    for t in truths:
        label_of_geom[t.geom_ids] = t.id
    return label_of_geom


def generate_scene(opts: SimOptions, out_dir: Path | str, name: str, *,
                   overwrite: bool = False) -> GeneratedScene:
    """Render the scene along its path and write ``out_dir/name`` (MCAP bag) and its sidecar."""
    from spatialclaw_ros.sim.questions import make_questions
    from spatialclaw_ros.sim.render import make_renderer

    opts.validate()
    bag_path, side = clear_output(out_dir, name, overwrite)

    layout, model, data, truths, path, mount, _xml = build_world(opts)
    label_of_geom = labels_by_geom(model.ngeom, truths)
    K = intrinsics(opts.width, opts.height, opts.fovy_deg)
    T_base_optical = mount.T_base_optical()
    noise_rng = np.random.default_rng([opts.seed, 2])

    frames: list[BagFrame] = []
    cams: list[dict[str, Any]] = []
    renderer, rendered_by = make_renderer(opts.renderer, model, data, opts.width, opts.height, K,
                                          label_of_geom, light=opts.light)
    try:
        for i in range(opts.frames):
            t = i / opts.fps
            stamp = START_STAMP_NS + int(round(t * 1e9))
            T_odom_base = path.T_odom_base(t)
            T_odom_opt = T_odom_base @ T_base_optical
            view = renderer.render(T_odom_opt)
            depth = apply_depth_noise(view.depth, view.labels, opts.noise, noise_rng)
            if opts.depth_quantum_m > 0 and opts.depth_encoding == "32FC1":
                q = opts.depth_quantum_m
                depth = (np.round(depth / q) * q).astype(np.float32)
            frames.append(BagFrame(stamp, view.rgb, depth, view.labels))
            visible = {int(k): int(v) for k, v in zip(*np.unique(view.labels, return_counts=True))
                       if k != 0}
            cams.append({"index": i, "stamp_ns": stamp, "T_odom_base": _T_list(T_odom_base),
                         "T_odom_optical": _T_list(T_odom_opt), "visible_pixels": visible})
    finally:
        renderer.close()

    # /tf: odom -> base_link sampled at tf_rate_hz and at every frame stamp, a little past both ends.
    t_end = (opts.frames - 1) / opts.fps
    n_tf = int(math.ceil((t_end + 0.2) * opts.tf_rate_hz))
    tf_times = sorted({round(-0.1 + k / opts.tf_rate_hz, 9) for k in range(n_tf + 1)}
                      | {round(i / opts.fps, 9) for i in range(opts.frames)})
    tf = [BagTransform(START_STAMP_NS + int(round(t * 1e9)), FIXED_FRAME, BASE_FRAME,
                       path.T_odom_base(t)) for t in tf_times]
    tf_static = [BagTransform(START_STAMP_NS, BASE_FRAME, CAMERA_LINK, mount.T_base_link()),
                 BagTransform(START_STAMP_NS, CAMERA_LINK, OPTICAL_FRAME, mount.T_link_optical())]
    from spatialclaw_ros.sim.bag import REALSENSE_TOPICS, BagTopics

    write_bag(bag_path, frames=frames, K=K, optical_frame=OPTICAL_FRAME, tf=tf, tf_static=tf_static,
              depth_encoding=opts.depth_encoding, distro=opts.distro,
              legend=[t.to_dict() for t in truths] if opts.legend else None,
              topics=REALSENSE_TOPICS if opts.topic_style == "realsense" else BagTopics(),
              storage=opts.storage, color_format=opts.color_format)

    questions = make_questions(name, model, data, truths, cams, K, opts)
    if opts.max_questions:
        questions = questions[: opts.max_questions]
    opt_dict = asdict(opts)
    scene = {
        "version": SIDECAR_VERSION,
        "name": name,
        "bag": name,
        "generator": "spatialclaw_ros.sim",
        "options": opt_dict,
        "rendered_by": rendered_by,
        "fixed_frame": FIXED_FRAME,
        "frames": {"base": BASE_FRAME, "camera_link": CAMERA_LINK, "optical": OPTICAL_FRAME},
        "camera": {"width": opts.width, "height": opts.height, "fovy_deg": opts.fovy_deg,
                   "K": _T_list(K), "T_base_optical": _T_list(T_base_optical),
                   "mount": {"xyz": list(mount.xyz), "pitch_deg": mount.pitch_deg}},
        "depth": {"encoding": opts.depth_encoding, "noise": asdict(opts.noise),
                  "noiseless": not opts.noise.enabled},
        "path": asdict(path),
        "objects": [t.to_dict() for t in truths],
        "camera_poses": cams,
        "questions": questions,
    }
    side.write_text(json.dumps(scene, indent=1) + "\n")
    return GeneratedScene(bag=bag_path, sidecar=side, scene=scene)
