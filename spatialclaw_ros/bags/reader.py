"""Read rosbag2 recordings (sqlite3 and MCAP; Humble, Jazzy, Kilted) into Frames with `rosbags`.

``load_bag(path, cfg)`` reads in three passes so that memory stays bounded on long bags:

1. /tf and /tf_static into a ``TfBuffer`` (no cache expiry: the whole bag);
2. header stamps of colour, depth, camera_info and label messages (parsed from the CDR bytes,
   no image decoding), matched by stamp (``StampSynchronizer``), the camera pose looked up in TF
   at each stamp, keyframes chosen as for live data (``KeyframeSelector``) inside the window,
   then spread over it up to ``keyframes.max_frames`` and the memory cap;
3. only the chosen messages are deserialised and converted (``frame_from_messages``).

The ``BagReport`` says which topics were used, what is missing and what the tools can still do.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from spatialclaw_ros.config import Config
from spatialclaw_ros.errors import (
    NoCameraInfoError,
    NoFramesError,
    NoTransformError,
    SpatialClawError,
)
from spatialclaw_ros.frames.assemble import (
    PoseLookup,
    camera_frame_of,
    frame_from_arrays,
    lookup_camera_pose,
)
from spatialclaw_ros.frames.buffer import spread_indices
from spatialclaw_ros.frames.images import (
    ImageConversionError,
    camera_model_from_info,
    image_to_depth_m,
    image_to_labels,
    image_to_rgb,
)
from spatialclaw_ros.frames.keyframes import KeyframeSelector
from spatialclaw_ros.frames.rectify import (ModelChoice, Undistorter, camera_for, choose_model,
                                            describe)
from spatialclaw_ros.frames.spec import resolve_frame_spec
from spatialclaw_ros.frames.sync import StampSynchronizer, SyncStats
from spatialclaw_ros.frames.tf import TfBuffer, TfEdgeInfo
from spatialclaw_ros.frames.types import CameraModel, Frame

NS_PER_S = 1_000_000_000
IMAGE = "sensor_msgs/msg/Image"
COMPRESSED = "sensor_msgs/msg/CompressedImage"
CAMERA_INFO = "sensor_msgs/msg/CameraInfo"
TF_MSG = "tf2_msgs/msg/TFMessage"

COLOR_CANDIDATES = (
    "/camera/color/image_raw", "/camera/camera/color/image_raw", "/camera/rgb/image_raw",
    "/camera/image_raw", "/camera/color/image_rect_color", "/camera/rgb/image_rect_color",
    "/camera/image_rect_color", "/image_raw", "/image",
)
DEPTH_CANDIDATES = (
    "/camera/aligned_depth_to_color/image_raw", "/camera/camera/aligned_depth_to_color/image_raw",
    "/camera/camera/depth/image_rect_raw", "/camera/camera/depth/image_raw",
    "/camera/depth_registered/image_raw", "/camera/depth_registered/image_rect",
    "/camera/depth/image_raw", "/camera/depth/image_rect_raw", "/camera/depth/image",
)
LABEL_CANDIDATES = ("/camera/instance_labels", "/camera/camera/instance_labels")
STRING = "std_msgs/msg/String"


class BagReadError(NoFramesError):
    """The bag cannot be opened or read (missing, truncated, corrupt, unknown storage)."""


@dataclass
class TopicSummary:
    """One topic in the bag."""

    name: str
    msgtype: str
    count: int
    rate_hz: float


@dataclass
class BagReport:
    """What the bag holds, which topics were used, what is missing and what still works."""

    path: str
    storage: str
    duration_s: float
    start_ns: int
    end_ns: int
    topics: list[TopicSummary] = field(default_factory=list)
    roles: dict[str, str] = field(default_factory=dict)        # color/depth/camera_info/labels
    fixed_frame: str = ""
    camera_frame: str = ""
    tf_edges: list[TfEdgeInfo] = field(default_factory=list)
    tf_frames: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)           # what a query lacks, one line each
    notes: list[str] = field(default_factory=list)             # what the tools can still do
    matched_frames: int = 0
    keyframes_in_window: int = 0
    frames_loaded: int = 0
    frames_without_pose: int = 0
    frames_without_depth: int = 0
    frame_stamps_range_ns: tuple[int, int] | None = None     # frames loaded
    color_stamps_range_ns: tuple[int, int] | None = None     # every matched colour frame
    sync: SyncStats | None = None
    formats: dict[str, str] = field(default_factory=dict)    # role -> "16UC1 (mm)", "jpeg"...
    objects: list[dict[str, Any]] = field(default_factory=list)  # the label legend (id, name...)
    legend_topic: str = ""
    capabilities: dict[str, str] = field(default_factory=dict)  # objects/depth/pose -> how
    recording_stamps_ns: list[int] = field(default_factory=list)  # every matched colour frame
    camera_track: dict[str, Any] | None = None     # full-rate TF camera path over the frames

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly dict (`spatialclaw info --json`)."""
        return {
            "path": self.path, "storage": self.storage, "duration_s": self.duration_s,
            "start_ns": self.start_ns, "end_ns": self.end_ns,
            "topics": [vars(t) for t in self.topics], "roles": dict(self.roles),
            "fixed_frame": self.fixed_frame, "camera_frame": self.camera_frame,
            "tf_frames": list(self.tf_frames),
            "tf_tree": [{"parent": e.parent, "child": e.child, "static": e.static,
                         "first_ns": e.first_ns, "last_ns": e.last_ns, "count": e.count}
                        for e in self.tf_edges],
            "missing": list(self.missing), "notes": list(self.notes),
            "matched_frames": self.matched_frames,
            "keyframes_in_window": self.keyframes_in_window,
            "frames_loaded": self.frames_loaded,
            "frames_without_pose": self.frames_without_pose,
            "frames_without_depth": self.frames_without_depth,
            "frame_stamps_range_ns": (list(self.frame_stamps_range_ns)
                                      if self.frame_stamps_range_ns else None),
            "color_stamps_range_ns": (list(self.color_stamps_range_ns)
                                      if self.color_stamps_range_ns else None),
            "sync": vars(self.sync) if self.sync else None,
            "formats": dict(self.formats), "legend_topic": self.legend_topic,
            "objects": [dict(o) for o in self.objects],
            "capabilities": dict(self.capabilities),
        }


@dataclass
class BagData:
    """Frames chosen from a bag, the TF buffer and the report."""

    frames: list[Frame]
    tf: TfBuffer
    report: BagReport
    camera: CameraModel | None = None

    @property
    def fixed_frame(self) -> str:
        """The frame poses are expressed in ("" when no frame has a pose)."""
        return self.report.fixed_frame if any(
            f.T_fixed_camera is not None for f in self.frames) else ""


@dataclass
class _Ref:
    """Where one message sits in the bag, and its header."""

    conn_id: int
    logtime: int
    stamp_ns: int
    frame_id: str


def load_bag(path: str | Path, cfg: Config, *, start_ns: int | None = None,
             end_ns: int | None = None, color_topic: str | None = None,
             depth_topic: str | None = None, camera_info_topic: str | None = None,
             labels_topic: str | None = None, fixed_frame: str | None = None,
             max_frames: int | None = None, select_keyframes: bool = True,
             load_frames: bool = True,
             recording_frames: list[int | str] | None = None) -> BagData:
    """Read a rosbag2 bag into keyframes with poses in the fixed frame, plus a report.

    The first and last frame of the window are always keyframes. ``recording_frames`` picks
    frames by their index in the recording's colour stream instead ('first', 'last', k, -k);
    every Frame's ``recording_index`` says which recording frame it is.

    Raises BagReadError (unreadable bag), NoFramesError (no colour topic or no frame in the
    window), NoCameraInfoError (no usable CameraInfo) when ``load_frames`` is true.
    ``select_keyframes=False`` keeps every matched frame (still capped by ``max_frames``).
    """
    from rosbags.highlevel import AnyReader
    from rosbags.typesys import Stores, get_typestore

    bag = Path(path).expanduser()
    if not bag.exists():
        raise BagReadError(f"bag '{bag}' does not exist")
    fixed = (fixed_frame or cfg.fixed_frame).lstrip("/")
    try:
        reader = AnyReader([bag], default_typestore=get_typestore(Stores.ROS2_HUMBLE))
        reader.open()
    except SpatialClawError:
        raise
    except Exception as exc:  # rosbags, sqlite3 and mcap raise many types for a broken file
        raise BagReadError(_open_error(bag, exc)) from None
    try:
        return _load(reader, bag, cfg, fixed, start_ns, end_ns, color_topic, depth_topic,
                     camera_info_topic, labels_topic, max_frames, select_keyframes, load_frames,
                     recording_frames)
    finally:
        try:
            reader.close()
        except Exception:  # noqa: BLE001 - closing a broken bag must not hide the real error
            pass


def _open_error(bag: Path, exc: Exception) -> str:
    kind = "directory" if bag.is_dir() else f"file ({bag.suffix or 'no suffix'})"
    detail = str(exc).rstrip(". ")
    return (f"cannot read bag '{bag}' ({kind}): {type(exc).__name__}: {detail}. Expected a "
            "rosbag2 directory with metadata.yaml, or a .mcap / .db3 file; if it is one, the file "
            "is truncated or corrupt (recording cut short?): try `ros2 bag reindex` (sqlite3) or "
            "`mcap recover` (MCAP)")


def _load(reader: Any, bag: Path, cfg: Config, fixed: str, start_ns: int | None,
          end_ns: int | None, color_t: str | None, depth_t: str | None, info_t: str | None,
          labels_t: str | None, max_frames: int | None, select_keyframes: bool,
          load_frames: bool, recording_frames: list[int | str] | None = None) -> BagData:
    conns = list(reader.connections)
    by_topic: dict[str, Any] = {}
    for c in conns:
        by_topic.setdefault(c.topic, c)
    duration = max(0, int(reader.duration))
    storage = _storage_name(bag)
    report = BagReport(path=str(bag), storage=storage, duration_s=duration / NS_PER_S,
                       start_ns=int(reader.start_time) if conns else 0,
                       end_ns=int(reader.end_time) if conns else 0, fixed_frame=fixed)
    for topic, c in sorted(by_topic.items()):
        count = sum(x.msgcount for x in conns if x.topic == topic)
        rate = (count - 1) / (duration / NS_PER_S) if duration > 0 and count > 1 else 0.0
        report.topics.append(TopicSummary(topic, c.msgtype, count, round(rate, 3)))

    roles = _resolve_roles(by_topic, cfg, color_t, depth_t, info_t, labels_t, report)
    report.roles = {k: (v.topic if v is not None else "") for k, v in roles.items()}

    # Pass 1: TF.
    tf = TfBuffer(cache_duration_s=float("inf"))
    # /tf and /tf_static, also namespaced (/robot1/tf, /robot1/tf_static).
    tf_conns = [c for c in conns if c.msgtype == TF_MSG
                and c.topic.rsplit("/", 1)[-1] in ("tf", "tf_static")]
    spans: dict[str, list[int]] = {}
    tf_stamps: set[int] = set()          # stamps of dynamic transforms: the full-rate camera path
    for c, _, raw in _iterate(reader, tf_conns, bag, spans):
        msg = _deserialize(reader, raw, c, bag)
        try:
            tf.add_tf_message(msg, static=c.topic.endswith("tf_static"))
        except ValueError as exc:
            report.notes.append(f"skipped a bad transform on {c.topic}: {exc}")
            continue
        if not c.topic.endswith("tf_static"):
            tf_stamps.update(int(t.header.stamp.sec) * NS_PER_S + int(t.header.stamp.nanosec)
                             for t in msg.transforms)
    report.tf_edges = tf.edges()
    report.tf_frames = sorted(tf.frames())
    _read_legend(reader, conns, bag, roles, report)

    color = roles["color"]
    if color is None:
        images = [t.name for t in report.topics if t.msgtype in (IMAGE, COMPRESSED)]
        msg = ("no colour image topic found (looked for "
               f"{', '.join([cfg.topics.color, *COLOR_CANDIDATES][:5])}, ...); image topics in "
               f"the bag: {', '.join(images) or 'none'}; set --color-topic or topics.color")
        report.missing.insert(0, msg)
        if load_frames:
            raise NoFramesError(msg)
        return BagData([], tf, report)

    # Pass 2: headers only -> sync -> pose -> keyframes.
    streams = {name: c for name, c in roles.items() if c is not None}
    sync = StampSynchronizer(
        "color", required=[], optional=[s for s in ("depth", "camera_info", "labels")
                                        if s in streams],
        tolerance_ns=int(cfg.keyframes.sync_tolerance_s * NS_PER_S), queue_size=100_000,
        latest_fallback=["camera_info"])
    # A topic may have several connections (split or merged recordings): read them all.
    role_conns = [x for x in conns for s, c in streams.items()
                  if x.topic == c.topic and x.msgtype == c.msgtype]
    id_to_stream = {x.id: s for x in role_conns for s, c in streams.items()
                    if x.topic == c.topic}
    matches = []
    zero_stamps: dict[str, int] = {}
    for c, logtime, raw in _iterate(reader, role_conns, bag, spans):
        stamp, frame_id = _stamp_of(raw, logtime, reader, c, bag, zero_stamps)
        matches += sync.push(id_to_stream[c.id], stamp, _Ref(c.id, logtime, stamp, frame_id))
    for topic, n in sorted(zero_stamps.items()):
        report.notes.append(f"{n} messages on {topic} have a zero header stamp: their bag "
                            "receive time is used instead (fix the driver's stamps for exact TF)")
    matches += sync.flush()
    report.sync = sync.stats()
    _measured_rates(report, spans)
    report.matched_frames = len(matches)
    report.recording_stamps_ns = [m.stamp_ns for m in matches]
    _read_formats(reader, bag, streams, role_conns, report)
    if matches:
        report.color_stamps_range_ns = (matches[0].stamp_ns, matches[-1].stamp_ns)
    if not matches:
        msg = f"no messages on the colour topic {color.topic}"
        report.missing.insert(0, msg)
        if load_frames:
            raise NoFramesError(msg)
        return BagData([], tf, report)

    camera_frame = matches[0].items["color"].frame_id or next(
        (m.items["camera_info"].frame_id for m in matches if "camera_info" in m.items), "")
    report.camera_frame = camera_frame
    lo, hi = start_ns or None, end_ns or None
    rec_index = {id(m): k for k, m in enumerate(matches)}
    if recording_frames is not None:
        in_window = [matches[k] for k in resolve_frame_spec(recording_frames, len(matches))]
        select_keyframes = False
    else:
        in_window = [m for m in matches
                     if (lo is None or m.stamp_ns >= lo) and (hi is None or m.stamp_ns <= hi)]
    poses = [lookup_camera_pose(tf, fixed, m.items["color"].frame_id or camera_frame, m.stamp_ns,
                                base_frame=cfg.base_frame)
             for m in in_window]
    _pose_report(report, tf, fixed, camera_frame, poses)
    _base_pose_report(report, fixed, cfg.base_frame, poses)

    any_pose = any(p.T is not None for p in poses)
    selector = KeyframeSelector(cfg.keyframes)
    chosen: list[tuple[Any, PoseLookup]] = []
    for m, p in zip(in_window, poses):
        if any_pose and p.T is None:
            report.frames_without_pose += 1
            continue
        if not select_keyframes or selector.consider(m.stamp_ns, p.T).keep:
            chosen.append((m, p))
    usable = [(m, p) for m, p in zip(in_window, poses) if not (any_pose and p.T is None)]
    if chosen and usable and chosen[-1][0] is not usable[-1][0]:
        chosen.append(usable[-1])        # the window's last frame is always a keyframe
    report.keyframes_in_window = len(chosen)
    if not in_window:
        first, last = matches[0].stamp_ns, matches[-1].stamp_ns
        msg = (f"no frames in the window {_s(lo)}..{_s(hi)}; the bag's frames span "
               f"{first / NS_PER_S:.3f}..{last / NS_PER_S:.3f} s")
        report.missing.insert(0, msg)
        if load_frames:
            raise NoFramesError(msg)
        return BagData([], tf, report)
    if not any_pose:
        report.frames_without_pose = len(chosen)

    limit = max_frames if max_frames is not None else cfg.keyframes.max_frames
    chosen = [chosen[i] for i in spread_indices(len(chosen), limit)]
    if not load_frames:
        return BagData([], tf, report)

    # Pass 3: deserialise and convert only the chosen messages.
    frames, camera = _convert(reader, bag, streams, role_conns, chosen, cfg, fixed, report)
    index_of_stamp = {m.stamp_ns: rec_index[id(m)] for m, _ in chosen}
    for f in frames:
        f.recording_index = index_of_stamp.get(f.stamp_ns, -1)
    if frames:
        report.frame_stamps_range_ns = (frames[0].stamp_ns, frames[-1].stamp_ns)
        report.camera_track = camera_track(tf, fixed, camera_frame, tf_stamps,
                                           frames[0].stamp_ns, frames[-1].stamp_ns)
    return BagData(frames, tf, report, camera)


def _convert(reader: Any, bag: Path, streams: dict[str, Any], role_conns: list, chosen: list,
             cfg: Config, fixed: str,
             report: BagReport) -> tuple[list[Frame], CameraModel | None]:
    """Deserialise and convert the chosen frames in one pass, each as soon as its parts are read.

    Raw messages are released once their frame is built, and the number of frames is cut (evenly
    spread) as soon as the first frame shows what one costs, so memory stays near the cap.
    """
    if "camera_info" not in streams:
        raise NoCameraInfoError(_no_info_message(report))
    cap = int(cfg.keyframes.memory_cap_mb) * 1024 * 1024

    def key(ref: _Ref) -> tuple[int, int, int]:
        return (ref.conn_id, ref.logtime, ref.stamp_ns)

    users: dict[tuple[int, int, int], set[int]] = {}
    for j, (m, _) in enumerate(chosen):
        for ref in m.items.values():
            users.setdefault(key(ref), set()).add(j)
    remaining = [len({key(r) for r in m.items.values()}) for m, _ in chosen]
    conn_times = {(k[0], k[1]) for k in users}
    active = set(range(len(chosen)))
    store: dict[tuple[int, int, int], Any] = {}
    built: dict[int, Frame] = {}
    depth_errors: set[str] = set()
    label_errors: set[str] = set()
    info_errors: list[str] = []
    model = _CameraModelUse(choose_model(cfg.topics.image_model, streams["color"].topic))

    for c, logtime, raw in _iterate(reader, role_conns, bag):
        if not active:
            break
        if (c.id, logtime) not in conn_times:
            continue
        stamp, _ = _stamp_of(raw, logtime, reader, c, bag, {})
        k = (c.id, logtime, stamp)
        waiting = users.get(k, set()) & active
        if not waiting or k in store:
            continue
        store[k] = _deserialize(reader, raw, c, bag)
        for j in sorted(waiting):
            remaining[j] -= 1
            if remaining[j] > 0:
                continue
            active.discard(j)
            m, pose = chosen[j]
            frame = _build(m, pose, store, key, streams, fixed, str(bag), depth_errors,
                           label_errors, info_errors, report, model)
            if frame is not None:
                built[j] = frame
                if len(built) == 1 and frame.nbytes * len(chosen) > cap:
                    keep = set(spread_indices(len(chosen), max(1, cap // frame.nbytes)))
                    active &= keep
                    report.notes.append(
                        f"kept {len(keep)} of {len(chosen)} keyframes to stay under "
                        f"keyframes.memory_cap_mb={cfg.keyframes.memory_cap_mb} "
                        f"({frame.nbytes / 1e6:.1f} MB per frame)")
                    for jj in list(built):
                        if jj not in keep:
                            del built[jj]
            for ref in m.items.values():      # release raw messages nobody else waits for
                if not (users[key(ref)] & active):
                    store.pop(key(ref), None)

    frames = [built[j] for j in sorted(built)]
    if not frames:
        if info_errors:
            raise NoCameraInfoError(f"camera_info topic {streams['camera_info'].topic}: "
                                    f"{info_errors[0]}")
        raise NoCameraInfoError(_no_info_message(report))
    for e in sorted(depth_errors):
        report.missing.append(f"depth topic {streams['depth'].topic} not usable: {e}; "
                              "depth from Depth Anything 3 only")
    for e in sorted(label_errors):
        report.notes.append(f"label topic {streams['labels'].topic} not usable: {e}")
    if info_errors:
        report.notes.append(f"{len(info_errors)} frames left out: bad CameraInfo "
                            f"({info_errors[0]})")
    report.frames_loaded = len(frames)
    report.frames_without_depth = sum(f.depth is None for f in frames)
    return frames, frames[-1].camera


class _CameraModelUse:
    """P for a rectified colour topic, K with undistortion for a raw one (noted once)."""

    def __init__(self, choice: ModelChoice) -> None:
        self.choice = choice
        self.undistorter = Undistorter()
        self.noted = False


def _build(m: Any, pose: PoseLookup, store: dict, key: Any, streams: dict[str, Any],
           fixed: str, source: str, depth_errors: set[str], label_errors: set[str],
           info_errors: list[str], report: BagReport,
           model: _CameraModelUse | None = None) -> Frame | None:
    """One Frame from a match whose messages are all in ``store`` (None: unusable CameraInfo)."""
    info_ref = m.items.get("camera_info")
    if info_ref is None:
        info_errors.append("no CameraInfo near the frame's stamp")
        return None
    try:
        cam = (camera_for(store[key(info_ref)], model.choice.rectified) if model is not None
               else camera_model_from_info(store[key(info_ref)]))
    except NoCameraInfoError as exc:
        info_errors.append(exc.message)
        return None
    depth = store[key(m.items["depth"])] if "depth" in m.items else None
    labels = store[key(m.items["labels"])] if "labels" in m.items else None
    try:
        frame = _frame(m.stamp_ns, store[key(m.items["color"])], cam, depth, labels, pose.T, fixed,
                       source, depth_errors, label_errors, pose.T_base)
        if model is not None:
            if not model.choice.rectified:
                frame = model.undistorter.apply(frame)
            if not model.noted:
                model.noted = True
                report.notes.append(f"camera model: {describe(model.choice, cam)}")
        return frame
    except NoCameraInfoError as exc:
        info_errors.append(exc.message)
        return None
    except (ImageConversionError, ValueError) as exc:
        raise NoFramesError(f"colour topic {streams['color'].topic}: {exc}") from None


def _frame(stamp_ns: int, color: Any, cam: CameraModel, depth: Any, labels: Any, pose: np.ndarray | None,
           fixed: str, source: str, depth_errors: set[str], label_errors: set[str],
           base_pose: np.ndarray | None = None) -> Frame:
    """Convert one matched set; a depth or label image that cannot be used is dropped and noted."""
    rgb = image_to_rgb(color)
    shape = rgb.shape[:2]
    depth_m = labels_i = None
    if depth is not None:
        try:
            depth_m = image_to_depth_m(depth)
            if depth_m.shape != shape:
                raise ValueError(f"depth is {depth_m.shape[1]}x{depth_m.shape[0]}, colour is "
                                 f"{shape[1]}x{shape[0]}: not aligned to colour")
        except (ImageConversionError, ValueError) as exc:
            depth_errors.add(str(exc))
            depth_m = None
    if labels is not None:
        try:
            labels_i = image_to_labels(labels)
            if labels_i.shape != shape:
                raise ValueError(f"labels are {labels_i.shape[1]}x{labels_i.shape[0]}, colour is "
                                 f"{shape[1]}x{shape[0]}")
        except (ImageConversionError, ValueError) as exc:
            label_errors.add(str(exc))
            labels_i = None
    return frame_from_arrays(stamp_ns, rgb, cam, depth=depth_m, labels=labels_i,
                             camera_frame=camera_frame_of(color, cam), pose=pose,
                             fixed_frame=fixed, source=source, base_pose=base_pose)


def _pose_report(report: BagReport, tf: TfBuffer, fixed: str, camera_frame: str,
                 poses: list) -> None:
    """Say in the report when frames have no pose in the fixed frame, and why."""
    if poses and all(p.T is None for p in poses):
        why = poses[0].error
        roots = sorted({tf.root_of(f) for f in tf.frames()}) if tf.frames() else []
        hint = f"; TF roots in the bag: {', '.join(roots)}" if roots else "; the bag has no /tf"
        report.missing.append(
            f"no transform from the camera frame '{camera_frame}' to the fixed frame '{fixed}' "
            f"({why}){hint}: positions only in the camera frame '{camera_frame}'"
            " (pass --fixed-frame to use another frame)")
    elif any(p.T is None for p in poses):
        n = sum(p.T is None for p in poses)
        report.notes.append(f"{n} of {len(poses)} frames have no transform to '{fixed}' at their"
                            " stamp (outside the TF range) and were left out")


def _base_pose_report(report: BagReport, fixed: str, base_frame: str, poses: list) -> None:
    """Note (not an error) when frames have no robot base pose: only frame="base" tools need it."""
    if not base_frame or not poses:
        return
    n = sum(p.T_base is None for p in poses)
    if n == len(poses):
        report.notes.append(
            f"no transform '{fixed}' -> base frame '{base_frame}' ({poses[0].base_error}): "
            "tools.Geometry frame='base' is unavailable; set base_frame to the robot's base frame "
            "(or \"\" to silence this)")
    elif n:
        report.notes.append(f"{n} of {len(poses)} frames have no transform '{fixed}' -> base frame "
                            f"'{base_frame}' at their stamp: frame='base' is unavailable for them")


def _measured_rates(report: BagReport, spans: dict[str, list[int]]) -> None:
    """Replace the bag-duration rate estimate by each read topic's own message rate."""
    for t in report.topics:
        if t.name in spans and t.count > 1 and spans[t.name][1] > spans[t.name][0]:
            t.rate_hz = round((t.count - 1) * NS_PER_S / (spans[t.name][1] - spans[t.name][0]), 3)


def _no_info_message(report: BagReport) -> str:
    infos = [t.name for t in report.topics if t.msgtype == CAMERA_INFO]
    return (f"no CameraInfo for the colour topic {report.roles.get('color')} (looked for "
            f"{_sibling(report.roles.get('color', ''), 'camera_info')}; CameraInfo topics in the "
            f"bag: {', '.join(infos) or 'none'}): no intrinsics, so no metric geometry; set "
            "--camera-info-topic or topics.camera_info")


def _resolve_roles(by_topic: dict[str, Any], cfg: Config, color_t: str | None,
                   depth_t: str | None, info_t: str | None, labels_t: str | None,
                   report: BagReport) -> dict[str, Any]:
    """Pick the colour, depth, camera_info and label connections; note what is missing."""
    def typed(name: str, *types: str) -> Any:
        c = by_topic.get(name)
        return c if c is not None and c.msgtype in types else None

    def first(names: Iterable[str], *types: str) -> Any:
        for n in names:
            if n and (c := typed(n, *types)) is not None:
                return c
        return None

    roles: dict[str, Any] = {}
    base_color = color_t or cfg.topics.color
    names = [base_color, *COLOR_CANDIDATES] if not color_t else [color_t]
    if cfg.topics.compressed and not color_t:
        names = [base_color + "/compressed", *names]
    color = first(names, IMAGE)
    if color is None:
        color = first([n + "/compressed" for n in names], COMPRESSED)
    if color is None and not color_t:
        others = [t for t, c in sorted(by_topic.items()) if c.msgtype in (IMAGE, COMPRESSED)
                  and not any(k in t.lower() for k in ("depth", "label", "mask", "ir", "infra"))]
        color = by_topic[others[0]] if others else None
        if color is not None:
            report.notes.append(f"colour topic auto-detected: {color.topic}")
    if color_t and color is None:
        report.missing.append(f"colour topic {color_t} is not in the bag (or not an Image)")
    roles["color"] = color

    depth = None
    if depth_t or (depth_t is None and cfg.topics.depth):
        names = [depth_t] if depth_t else [cfg.topics.depth, *DEPTH_CANDIDATES]
        depth = first(names, IMAGE)
        if depth is None:
            depth = first([n + "/compressedDepth" for n in names], COMPRESSED)
        if depth is None:
            report.missing.append(
                f"no depth topic (looked for {', '.join(dict.fromkeys(names))}): metric depth "
                "from Depth Anything 3 only (perception.depth_backend=da3)")
    else:
        report.notes.append("depth disabled (topics.depth is empty): depth from Depth Anything 3 "
                            "only")
    roles["depth"] = depth

    info = None
    cands = [info_t] if info_t else [cfg.topics.camera_info]
    if color is not None and not info_t:
        cands.append(_sibling(color.topic.removesuffix("/compressed"), "camera_info"))
    info = first(cands, CAMERA_INFO)
    if info is None and not info_t:
        all_infos = [c for c in by_topic.values() if c.msgtype == CAMERA_INFO]
        if len(all_infos) == 1:
            info = all_infos[0]
            report.notes.append(f"camera_info auto-detected: {info.topic}")
    if info is None:
        report.missing.append(
            f"no camera_info topic (looked for {', '.join(dict.fromkeys(c for c in cands if c))}):"
            " no intrinsics, so no back-projection to metres; queries cannot run")
    roles["camera_info"] = info

    names = [labels_t] if labels_t else [cfg.topics.labels, *LABEL_CANDIDATES]
    roles["labels"] = first(names, IMAGE)
    if roles["labels"] is None and not labels_t:
        others = [t for t, c in sorted(by_topic.items()) if c.msgtype == IMAGE
                  and any(k in t.lower() for k in ("instance_label", "labels", "segmentation"))]
        if others:
            roles["labels"] = by_topic[others[0]]
            report.notes.append(f"instance-label topic auto-detected: {others[0]}")
    if roles["labels"] is None:
        report.notes.append("no instance-label topic: segmentation from SAM 3 only")
    return roles


def _sibling(topic: str, name: str) -> str:
    """/camera/color/image_raw -> /camera/color/<name>."""
    return topic.rsplit("/", 1)[0] + "/" + name if "/" in topic else name


def _storage_name(bag: Path) -> str:
    if bag.is_dir():
        files = [p.suffix for p in bag.iterdir()]
        return "mcap" if ".mcap" in files else "sqlite3" if ".db3" in files else "unknown"
    return {".mcap": "mcap", ".db3": "sqlite3"}.get(bag.suffix, bag.suffix)


def _iterate(reader: Any, conns: list, bag: Path,
             spans: dict[str, list[int]] | None = None) -> Iterable[tuple[Any, int, bytes]]:
    """Messages of ``conns`` in log-time order; ``spans`` collects first/last log time per topic."""
    if not conns:
        return
    try:
        for c, logtime, raw in reader.messages(connections=conns):
            if spans is not None:
                sp = spans.setdefault(c.topic, [logtime, logtime])
                sp[1] = logtime
            yield c, logtime, raw
    except SpatialClawError:
        raise
    except Exception as exc:  # truncated chunk, corrupt sqlite page...
        raise BagReadError(
            f"bag '{bag}' could not be read to the end: {type(exc).__name__}: {exc}. The file "
            "is probably truncated or corrupt; try `ros2 bag reindex` (sqlite3) or `mcap recover` "
            "(MCAP)") from None


def _deserialize(reader: Any, raw: bytes, conn: Any, bag: Path) -> Any:
    try:
        return reader.deserialize(raw, conn.msgtype)
    except Exception as exc:
        raise BagReadError(f"bag '{bag}': a {conn.msgtype} message on {conn.topic} cannot be "
                           f"decoded ({type(exc).__name__}: {exc}); the bag may be corrupt") from None


def _header(raw: bytes, reader: Any, conn: Any, bag: Path) -> tuple[int, str]:
    """header.stamp (ns) and header.frame_id read straight from the CDR bytes (no image copy)."""
    try:
        if len(raw) >= 16 and raw[0] == 0 and raw[1] in (0, 1):
            order = "<" if raw[1] == 1 else ">"
            sec, nsec, n = struct.unpack_from(order + "iII", raw, 4)
            if 0 < n <= len(raw) - 16 and nsec < NS_PER_S:
                fid = bytes(raw[16:16 + n - 1]).decode("utf-8")
                return sec * NS_PER_S + nsec, fid.lstrip("/")
    except (struct.error, UnicodeDecodeError):
        pass
    msg = _deserialize(reader, raw, conn, bag)
    st = msg.header.stamp
    return int(st.sec) * NS_PER_S + int(st.nanosec), str(msg.header.frame_id).lstrip("/")


def _stamp_of(raw: bytes, logtime: int, reader: Any, conn: Any, bag: Path,
              zero_stamps: dict[str, int]) -> tuple[int, str]:
    """Header stamp and frame id; a zero stamp (some drivers) falls back to the receive time."""
    stamp, frame_id = _header(raw, reader, conn, bag)
    if stamp == 0:
        zero_stamps[conn.topic] = zero_stamps.get(conn.topic, 0) + 1
        stamp = int(logtime)
    return stamp, frame_id


def _s(ns: int | None) -> str:
    return "-inf" if ns is None else f"{ns / NS_PER_S:.3f}"


def require_poses(data: BagData) -> None:
    """Raise NoTransformError (with the report's explanation) if no frame has a pose."""
    if data.frames and all(f.T_fixed_camera is None for f in data.frames):
        lines = [m for m in data.report.missing if "no transform" in m]
        raise NoTransformError(lines[0] if lines else
                               f"no transform to the fixed frame '{data.report.fixed_frame}'")


# ---- what the bag holds: label legend, encodings, what a query can do ---------------------------
def _read_legend(reader: Any, conns: list, bag: Path, roles: dict[str, Any],
                 report: BagReport) -> None:
    """Objects of the instance-label legend topic (std_msgs/String JSON) into ``report.objects``."""
    from spatialclaw_ros.bags.legend import LegendError, parse_legend

    strings = [c for c in conns if c.msgtype == STRING and c.topic.rstrip("/").endswith("legend")]
    if not strings:
        return
    labels = roles.get("labels")
    want = (labels.topic.rstrip("/") + "/legend") if labels is not None else ""
    strings.sort(key=lambda c: (c.topic != want, c.topic))
    chosen = [c for c in strings if c.topic == strings[0].topic]
    last = None
    for c, _, raw in _iterate(reader, chosen, bag):
        last = (c, raw)                  # a legend may be republished as objects appear: keep the last
    if last is None:
        return
    msg = _deserialize(reader, last[1], last[0], bag)
    try:
        report.objects = parse_legend(str(msg.data))
        report.legend_topic = last[0].topic
    except LegendError as exc:
        report.notes.append(f"label legend {last[0].topic} not usable: {exc}")


def describe_format(msg: Any, role: str) -> str:
    """A short description of an image message's pixel format ("16UC1 (uint16 mm)", "jpeg")."""
    fmt = getattr(msg, "format", None)
    if fmt is not None and not hasattr(msg, "encoding"):
        f = str(fmt).lower()
        if "compresseddepth" in f:
            return f"compressedDepth png ({'16UC1 mm' if '16uc1' in f else '32FC1 m'})"
        return "jpeg (CompressedImage)" if "jpeg" in f or "jpg" in f else \
            "png (CompressedImage)" if "png" in f else f"{fmt} (CompressedImage)"
    enc = str(getattr(msg, "encoding", ""))
    if role == "depth":
        return {"16UC1": "16UC1 (uint16 millimetres, 0 = invalid)",
                "mono16": "mono16 (uint16 millimetres, 0 = invalid)",
                "32FC1": "32FC1 (float32 metres, NaN = invalid)"}.get(enc, f"{enc} (not a depth encoding)")
    return f"{enc} {getattr(msg, 'width', '?')}x{getattr(msg, 'height', '?')}"


def _read_formats(reader: Any, bag: Path, streams: dict[str, Any], role_conns: list,
                  report: BagReport) -> None:
    """Deserialise the first message of each image role to report its encoding."""
    for role in ("color", "depth", "labels"):
        c = streams.get(role)
        if c is None:
            continue
        conn = [x for x in role_conns if x.topic == c.topic][:1]
        for cc, _, raw in _iterate(reader, conn, bag):
            try:
                report.formats[role] = describe_format(_deserialize(reader, raw, cc, bag), role)
            except BagReadError as exc:
                report.formats[role] = f"unreadable ({exc.message[:80]})"
            break


def camera_track(tf: TfBuffer, fixed: str, camera_frame: str, tf_stamps: set[int], t0_ns: int,
                 t1_ns: int, max_samples: int = 4000) -> dict[str, Any] | None:
    """The camera optical frame's path in the fixed frame at every TF stamp in [t0, t1] (and at both ends).

    Returns {"frame", "stamps_ns", "xyz" [[x, y, z]], "quat_wxyz" [[w, x, y, z]]}, or None without
    poses. tools.Geometry.camera_travel sums path length and turn over it (not over keyframes).
    """
    from transforms3d.quaternions import mat2quat

    if not camera_frame or t1_ns <= t0_ns:
        return None
    stamps = sorted({t0_ns, t1_ns} | {t for t in tf_stamps if t0_ns < t < t1_ns})
    if len(stamps) > max_samples:
        keep = spread_indices(len(stamps), max_samples)
        stamps = [stamps[i] for i in keep]
    xyz, quat, used = [], [], []
    for t in stamps:
        p = lookup_camera_pose(tf, fixed, camera_frame, t)
        if p.T is None:
            continue
        used.append(int(t))
        xyz.append([round(float(v), 6) for v in p.T[:3, 3]])
        quat.append([round(float(v), 8) for v in mat2quat(p.T[:3, :3])])
    if len(used) < 2:
        return None
    return {"frame": fixed, "camera_frame": camera_frame, "stamps_ns": used, "xyz": xyz,
            "quat_wxyz": quat}
