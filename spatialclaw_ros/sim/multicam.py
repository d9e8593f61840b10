"""A scene seen by three cameras: a head RGB-D camera, a wrist RGB-D camera on a moving arm, and a
colour-only side camera; questions that need two cameras (objects each seen by only one), with exact answers.

Frames (REP-103/105): ``odom -> base_link`` (the path, /tf); head: ``base_link -> camera_link ->
camera_color_optical_frame`` (static, as in single-camera scenes); wrist: ``base_link -> wrist_link``
(/tf: the arm sweeps) ``-> wrist_camera_link -> wrist_camera_optical_frame`` (static); side:
``base_link -> side_camera_link -> side_camera_optical_frame`` (static, looking right).

Topics use driver naming so ``spatialclaw info``/``query`` find every camera without flags:
``/head/color/image_raw`` + ``/head/aligned_depth_to_color/image_raw`` + ``/head/color/camera_info``
(RealSense), the same under ``/wrist``, and ``/side/image_rect_color`` + ``/side/camera_info``
(image_pipeline, no depth); label images ``/<camera>/instance_labels``, one legend on
``/head/instance_labels/legend``.
"""
from __future__ import annotations

import itertools
import json
import math
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from transforms3d.euler import euler2mat

from spatialclaw_ros.sim.bag import TOPIC_TF, TOPIC_TF_STATIC, BagTransform, _qos, legend_json
from spatialclaw_ros.sim.generate import (
    SIDECAR_VERSION, START_STAMP_NS, SimOptions, _T_list, build_world, clear_output, labels_by_geom,
    sidecar_path)
from spatialclaw_ros.sim.questions import MIN_VISIBLE_FRACTION, REL_TOL, _r
from spatialclaw_ros.sim.scene import closest_distance
from spatialclaw_ros.sim.trajectory import (
    BASE_FRAME, CAMERA_LINK, FIXED_FRAME, OPTICAL_FRAME, R_LINK_OPTICAL, CameraMount, intrinsics,
    make_T)

WRIST_LINK = "wrist_link"


@dataclass(frozen=True)
class SimCamera:
    """One simulated camera: name, topics, frames and whether it has depth."""

    name: str
    color: str
    info: str
    depth: str
    labels: str
    link: str
    optical: str


CAMERAS = (
    SimCamera("head", "/head/color/image_raw", "/head/color/camera_info",
              "/head/aligned_depth_to_color/image_raw", "/head/instance_labels", CAMERA_LINK,
              OPTICAL_FRAME),
    SimCamera("wrist", "/wrist/color/image_raw", "/wrist/color/camera_info",
              "/wrist/aligned_depth_to_color/image_raw", "/wrist/instance_labels",
              "wrist_camera_link", "wrist_camera_optical_frame"),
    SimCamera("side", "/side/image_rect_color", "/side/camera_info", "", "/side/instance_labels",
              "side_camera_link", "side_camera_optical_frame"),
)
LEGEND_TOPIC = "/head/instance_labels/legend"


HEAD_YAW_DEG = 30.0       # the head camera looks left of the robot's heading...


def T_base_head_link() -> np.ndarray:
    """base_link -> camera_link of the head camera (static): left-forward, 20 degrees down."""
    return make_T(euler2mat(0.0, math.radians(20.0), math.radians(HEAD_YAW_DEG), "sxyz"),
                  (0.10, 0.0, 1.10))


def T_base_wrist(t: float, duration_s: float) -> np.ndarray:
    """base_link -> wrist_link at time t: the arm swings from -45 to -75 degrees (right-forward)."""
    s = min(max(t / duration_s, 0.0), 1.0) if duration_s > 0 else 0.0
    yaw = math.radians(-45.0 - 30.0 * s)
    shoulder = np.array([0.05, 0.0, 0.9])
    reach = 0.35
    pos = shoulder + reach * np.array([math.cos(yaw), math.sin(yaw), 0.0])
    return make_T(euler2mat(0.0, 0.0, yaw, "sxyz"), pos)


def T_wrist_link() -> np.ndarray:
    """wrist_link -> wrist_camera_link (static): pitched 35 degrees down."""
    return make_T(euler2mat(0.0, math.radians(35.0), 0.0, "sxyz"), (0.05, 0.0, 0.0))


def T_base_side_link() -> np.ndarray:
    """base_link -> side_camera_link (static): looking right (-y), 15 degrees down."""
    return make_T(euler2mat(0.0, math.radians(15.0), math.radians(-90.0), "sxyz"), (0.0, -0.15, 1.0))


def T_link_optical() -> np.ndarray:
    """camera link -> optical frame (REP-103)."""
    return make_T(R_LINK_OPTICAL, (0.0, 0.0, 0.0))


def multicam_options(seed: int = 21, width: int = 160, height: int = 120,
                     frames: int = 6) -> SimOptions:
    """Options of a multi-camera scene (16UC1 depth keeps the bag small)."""
    return SimOptions(seed=seed, width=width, height=height, frames=frames, fps=2.0,
                      depth_encoding="16UC1", renderer="raycast", n_on_table=3, n_on_floor=4)


def generate_multicam_scene(opts: SimOptions, out_dir: Path | str, name: str, *,
                            overwrite: bool = False, min_questions: int = 0) -> dict[str, Any]:
    """Render the three cameras along the path, write ``out_dir/name`` (MCAP) and its sidecar dict."""
    from spatialclaw_ros.sim.render import make_renderer

    opts.validate()
    bag_path, side = clear_output(out_dir, name, overwrite)
    layout, model, data, truths, path, mount, _xml = build_world(opts)
    label_of_geom = labels_by_geom(model.ngeom, truths)
    K = intrinsics(opts.width, opts.height, opts.fovy_deg)
    duration = (opts.frames - 1) / opts.fps
    renderer, rendered_by = make_renderer(opts.renderer, model, data, opts.width, opts.height, K,
                                          label_of_geom, light=opts.light)
    views: dict[str, list[tuple[int, Any, np.ndarray]]] = {c.name: [] for c in CAMERAS}
    poses: dict[str, list[dict[str, Any]]] = {c.name: [] for c in CAMERAS}
    try:
        for i in range(opts.frames):
            t = i / opts.fps
            stamp = START_STAMP_NS + int(round(t * 1e9))
            T_ob = path.T_odom_base(t)
            for cam in CAMERAS:
                T = T_ob @ _T_base_optical(cam.name, mount, t, duration)
                v = renderer.render(T)
                depth = v.depth
                views[cam.name].append((stamp, v, depth))
                vis = {int(k): int(n) for k, n in zip(*np.unique(v.labels, return_counts=True))
                       if k != 0}
                poses[cam.name].append({"index": i, "stamp_ns": stamp, "T_odom_optical": _T_list(T),
                                        "visible_pixels": vis})
    finally:
        renderer.close()
    t_end = duration
    tf_times = sorted({round(-0.1 + k / opts.tf_rate_hz, 9)
                       for k in range(int(math.ceil((t_end + 0.2) * opts.tf_rate_hz)) + 1)}
                      | {round(i / opts.fps, 9) for i in range(opts.frames)})
    tf: list[BagTransform] = []
    for t in tf_times:
        s = START_STAMP_NS + int(round(t * 1e9))
        tf.append(BagTransform(s, FIXED_FRAME, BASE_FRAME, path.T_odom_base(t)))
        tf.append(BagTransform(s, BASE_FRAME, WRIST_LINK, T_base_wrist(t, duration)))
    tf_static = [
        BagTransform(START_STAMP_NS, BASE_FRAME, CAMERA_LINK, T_base_head_link()),
        BagTransform(START_STAMP_NS, CAMERA_LINK, OPTICAL_FRAME, T_link_optical()),
        BagTransform(START_STAMP_NS, WRIST_LINK, "wrist_camera_link", T_wrist_link()),
        BagTransform(START_STAMP_NS, "wrist_camera_link", "wrist_camera_optical_frame",
                     T_link_optical()),
        BagTransform(START_STAMP_NS, BASE_FRAME, "side_camera_link", T_base_side_link()),
        BagTransform(START_STAMP_NS, "side_camera_link", "side_camera_optical_frame",
                     T_link_optical()),
    ]
    _write(bag_path, views, K, tf, tf_static, [t.to_dict() for t in truths], opts.distro)
    questions = multicam_questions(name, model, data, truths, poses, opts)
    if len(questions) < min_questions:
        shutil.rmtree(bag_path, ignore_errors=True)
        raise ValueError(f"seed {opts.seed}: only {len(questions)} cross-camera questions "
                         f"(< {min_questions}); try another seed")
    scene = {
        "version": SIDECAR_VERSION, "name": name, "bag": name,
        "generator": "spatialclaw_ros.sim.multicam", "options": asdict(opts),
        "rendered_by": rendered_by, "fixed_frame": FIXED_FRAME,
        "frames": {"base": BASE_FRAME, "camera_link": CAMERA_LINK, "optical": OPTICAL_FRAME},
        "camera": {"width": opts.width, "height": opts.height, "fovy_deg": opts.fovy_deg,
                   "K": _T_list(K)},
        "cameras": [{**asdict(c), "has_depth": bool(c.depth),
                     "mount_frame": WRIST_LINK if c.name == "wrist" else BASE_FRAME}
                    for c in CAMERAS],
        "path": asdict(path),
        "objects": [t.to_dict() for t in truths],
        "camera_poses": poses["head"],
        "camera_poses_by_camera": poses,
        "questions": questions,
    }
    side.write_text(json.dumps(scene, indent=1) + "\n")
    return scene


def _T_base_optical(name: str, mount: CameraMount, t: float, duration: float) -> np.ndarray:
    if name == "head":
        return T_base_head_link() @ T_link_optical()
    if name == "wrist":
        return T_base_wrist(t, duration) @ T_wrist_link() @ T_link_optical()
    return T_base_side_link() @ T_link_optical()


def multicam_questions(scene_name: str, model: Any, data: Any, truths: list, poses: dict,
                       opts: SimOptions) -> list[dict[str, Any]]:
    """Cross-camera questions: pairs of objects where one is seen only by the head camera and the
    other only by the wrist camera (closest and centroid distances, which is closer, counts)."""
    min_px = max(12, int(MIN_VISIBLE_FRACTION * opts.width * opts.height))
    # An object "seen" needs enough pixels to measure; "unseen" means not a single pixel.
    seen = {c: {k for p in ps for k, n in p["visible_pixels"].items() if n >= 4 * min_px}
            for c, ps in poses.items()}
    touched = {c: {k for p in ps for k, n in p["visible_pixels"].items() if n >= min_px}
               for c, ps in poses.items()}
    small = [t for t in truths if t.cls not in ("table", "shelf")]
    head_only = [t for t in small if t.id in seen["head"] and t.id not in touched["wrist"]]
    wrist_only = [t for t in small if t.id in seen["wrist"] and t.id not in touched["head"]]
    out: list[dict[str, Any]] = []

    def add(kind: str, q: dict[str, Any]) -> None:
        out.append({"kind": kind, "unit": "", "tolerance": None, "choices": [], "objects": [],
                    "frame_index": None, "stamp_ns": None, "scale_m": None, "evidence": {},
                    "cameras": {}, **q})

    def the(t: Any) -> str:
        return f"the {t.name}"

    for a, b in itertools.product(head_only, wrist_only):
        who = {"head": [a.id], "wrist": [b.id]}
        d, pa, pb = closest_distance(model, data, a, b)
        if d >= 0.35:
            add("cross_closest", {
                "question": f"What is the closest distance between the surfaces of {the(a)} and "
                            f"{the(b)}, in metres?", "answer_type": "number", "answer": _r(d),
                "unit": "m", "tolerance": REL_TOL, "objects": [a.id, b.id], "cameras": who,
                "evidence": {"point_a": [_r(v) for v in pa], "point_b": [_r(v) for v in pb]}})
        dc = float(np.linalg.norm(a.centroid - b.centroid))
        if dc >= 0.8:
            add("cross_centroid", {
                "question": f"How far apart are the centres of {the(a)} and {the(b)}, in metres?",
                "answer_type": "number", "answer": _r(dc), "unit": "m", "tolerance": REL_TOL,
                "objects": [a.id, b.id], "cameras": who})
    for x, a, b in itertools.product(head_only, wrist_only, head_only):
        if b.id == x.id:
            continue
        da, db = (float(np.linalg.norm(t.centroid - x.centroid)) for t in (a, b))
        if abs(da - db) >= 0.3 * min(da, db):
            add("cross_closer", {
                "question": f"Which is closer to {the(x)}: {the(a)} or {the(b)}?",
                "answer_type": "choice", "choices": [a.name, b.name],
                "answer": a.name if da < db else b.name, "objects": [x.id, a.id, b.id],
                "cameras": {"head": [x.id, b.id], "wrist": [a.id]},
                "evidence": {"distance_a": _r(da), "distance_b": _r(db)}})
    for cls in sorted({t.cls for t in small}):
        match = [t for t in small if t.cls == cls]
        in_head = [t for t in match if t.id in seen["head"]]
        in_wrist = [t for t in match if t.id in seen["wrist"]]
        if (all(t.id in seen["head"] | seen["wrist"] for t in match)
                and len(in_head) < len(match) and len(in_wrist) < len(match)):
            plural = cls + ("es" if cls.endswith(("x", "sh")) else "s")
            add("cross_count", {
                "question": f"How many {plural} are there?", "answer_type": "count",
                "answer": len(match), "objects": [t.id for t in match],
                "cameras": {"head": [t.id for t in in_head], "wrist": [t.id for t in in_wrist]}})
    rng = np.random.default_rng([int(opts.seed), 4])
    by_kind: dict[str, list] = {}
    for q in out:
        by_kind.setdefault(q["kind"], []).append(q)
    for qs in by_kind.values():
        qs[:] = [qs[i] for i in rng.permutation(len(qs))][:4]
    ordered = [q for k in ("cross_closest", "cross_centroid", "cross_closer", "cross_count")
               for q in by_kind.get(k, [])]
    return [{"id": f"{scene_name}/q{i:02d}", **q} for i, q in enumerate(ordered)]


def _write(path: Path, views: dict, K: np.ndarray, tf: list, tf_static: list, legend: list,
           distro: str) -> None:
    """rosbag2 MCAP with every camera's colour, depth (16UC1 mm), CameraInfo, labels, /tf, legend."""
    from rosbags.rosbag2 import CompressionFormat, CompressionMode, StoragePlugin, Writer
    from rosbags.typesys import Stores, get_typestore
    from transforms3d.quaternions import mat2quat

    ts = get_typestore({"humble": Stores.ROS2_HUMBLE, "jazzy": Stores.ROS2_JAZZY}.get(
        distro, Stores.ROS2_HUMBLE))
    T_ = ts.types
    Header, Time = T_["std_msgs/msg/Header"], T_["builtin_interfaces/msg/Time"]
    Image, CameraInfo, String = (T_["sensor_msgs/msg/Image"], T_["sensor_msgs/msg/CameraInfo"],
                                 T_["std_msgs/msg/String"])
    ROI = T_["sensor_msgs/msg/RegionOfInterest"]
    TFMessage, TS = T_["tf2_msgs/msg/TFMessage"], T_["geometry_msgs/msg/TransformStamped"]
    Tr, V3, Q = (T_["geometry_msgs/msg/Transform"], T_["geometry_msgs/msg/Vector3"],
                 T_["geometry_msgs/msg/Quaternion"])

    def header(stamp: int, fid: str):  # noqa: ANN202
        return Header(stamp=Time(sec=stamp // 1_000_000_000, nanosec=stamp % 1_000_000_000),
                      frame_id=fid)

    def image(stamp: int, fid: str, arr: np.ndarray, enc: str):  # noqa: ANN202
        arr = np.ascontiguousarray(arr)
        return Image(header=header(stamp, fid), height=arr.shape[0], width=arr.shape[1],
                     encoding=enc, is_bigendian=0, step=arr.strides[0],
                     data=arr.reshape(-1).view(np.uint8))

    def tf_msg(items: list):  # noqa: ANN202
        out = []
        for it in items:
            q = mat2quat(it.T[:3, :3])
            t = it.T[:3, 3]
            out.append(TS(header=header(it.stamp_ns, it.parent), child_frame_id=it.child,
                          transform=Tr(translation=V3(x=float(t[0]), y=float(t[1]), z=float(t[2])),
                                       rotation=Q(x=float(q[1]), y=float(q[2]), z=float(q[3]),
                                                  w=float(q[0])))))
        return TFMessage(transforms=out)

    P = np.zeros((3, 4))
    P[:3, :3] = K
    writer = Writer(path, version=8, storage_plugin=StoragePlugin.MCAP)
    writer.set_compression(CompressionMode.STORAGE, CompressionFormat.ZSTD)
    events: list[tuple[int, int, Any, Any]] = []
    with writer:
        qos = [_qos(transient_local=False, depth=10)]
        add = lambda topic, t, q=qos: writer.add_connection(  # noqa: E731
            topic, t.__msgtype__, typestore=ts, offered_qos_profiles=q)
        c_tf = add(TOPIC_TF, TFMessage, [_qos(transient_local=False, depth=100)])
        c_static = add(TOPIC_TF_STATIC, TFMessage, [_qos(transient_local=True, depth=1)])
        c_legend = add(LEGEND_TOPIC, String, [_qos(transient_local=True, depth=1)])
        t0 = min(x.stamp_ns for x in tf)
        events.append((t0, 0, c_static, tf_msg([BagTransform(t0, s.parent, s.child, s.T)
                                                for s in tf_static])))
        events.append((t0, 0, c_legend, String(data=legend_json(legend))))
        for x in tf:
            events.append((x.stamp_ns, 1, c_tf, tf_msg([x])))
        for order, cam in enumerate(CAMERAS):
            c_color, c_info, c_labels = add(cam.color, Image), add(cam.info, CameraInfo), \
                add(cam.labels, Image)
            c_depth = add(cam.depth, Image) if cam.depth else None
            for stamp, v, depth in views[cam.name]:
                h, w = v.rgb.shape[:2]
                info = CameraInfo(header=header(stamp, cam.optical), height=h, width=w,
                                  distortion_model="plumb_bob", d=np.zeros(5),
                                  k=K.reshape(-1).astype(float), r=np.eye(3).reshape(-1),
                                  p=P.reshape(-1), binning_x=0, binning_y=0,
                                  roi=ROI(x_offset=0, y_offset=0, height=0, width=0,
                                          do_rectify=False))
                base = 2 + 4 * order
                events.append((stamp, base, c_info, info))
                events.append((stamp, base + 1, c_color, image(stamp, cam.optical, v.rgb, "rgb8")))
                if c_depth is not None:
                    mm = np.where(np.isfinite(depth), np.round(depth * 1000.0), 0.0)
                    events.append((stamp, base + 2, c_depth, image(
                        stamp, cam.optical, np.clip(mm, 0, 65535).astype(np.uint16), "16UC1")))
                events.append((stamp, base + 3, c_labels, image(
                    stamp, cam.optical, v.labels.astype(np.uint16), "16UC1")))
        events.sort(key=lambda e: (e[0], e[1]))
        for stamp, _o, conn, msg in events:
            writer.write(conn, stamp, ts.serialize_cdr(msg, msg.__msgtype__))


MULTICAM_SET = (("mc_a", 25), ("mc_b", 23))   # the committed test/data/multicam scenes (name, seed)


def make_multicam_set(out_dir: Path | str, *, overwrite: bool = False) -> list[Path]:
    """Write the multi-camera eval style: bags in ``out_dir``, ground truth in ``out_dir/truth``."""
    import os

    out = Path(out_dir)
    truth = out / "truth"
    truth.mkdir(parents=True, exist_ok=True)
    written = []
    for name, seed in MULTICAM_SET:
        scene = generate_multicam_scene(multicam_options(seed=seed), out, name, overwrite=overwrite,
                                        min_questions=4)
        sidecar_path(out / name).unlink()
        scene["bag"] = os.path.relpath(out / name, truth)
        side = truth / (name + ".scene.json")
        side.write_text(json.dumps(scene, indent=1) + "\n")
        written.append(side)
    return written


if __name__ == "__main__":        # python -m spatialclaw_ros.sim.multicam test/data/multicam
    import sys

    for p in make_multicam_set(sys.argv[1] if len(sys.argv) > 1 else "test/data/multicam",
                               overwrite="--force" in sys.argv):
        print(p)
