"""Several cameras from one bag: each camera read as today's single camera, frames merged by stamp.

``load_bag_cameras(path, cfg)`` takes the cameras from ``cameras.spec`` or, when that is empty, finds
them in the bag (``discover_cameras``). Each camera gets its own sync, keyframes and cap (one
``load_bag`` per camera with its topics, the window shared); frames carry ``camera_name``. A bag with
one camera gives exactly what ``load_bag`` gives.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spatialclaw_ros.bags.discover import FoundCamera, discover_cameras
from spatialclaw_ros.bags.reader import BagData, BagReport, load_bag
from spatialclaw_ros.cameras import DEFAULT_CAMERA, camera_specs, group_moments
from spatialclaw_ros.config import Config
from spatialclaw_ros.errors import NoFramesError, SpatialClawError
from spatialclaw_ros.frames.buffer import spread_indices
from spatialclaw_ros.frames.tf import TfEdgeInfo
from spatialclaw_ros.frames.types import Frame

NO_TOPIC = "<none>"      # a topic name no bag has: "this camera has no labels" for load_bag
NS_PER_S = 1_000_000_000


@dataclass
class CameraSummary:
    """What one camera of the query contributed."""

    name: str
    color: str
    camera_info: str
    depth: str
    labels: str
    camera_frame: str = ""
    mount_frame: str = ""            # the rigid body carrying it (first frame up TF with a moving parent)
    matched_frames: int = 0
    frames_loaded: int = 0
    error: str = ""                   # why no frame came from it

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly."""
        return dict(vars(self))


@dataclass
class MultiBagData(BagData):
    """BagData of several cameras: frames of all cameras by stamp; ``cameras`` says who gave what."""

    cameras: list[CameraSummary] = field(default_factory=list)
    reports: dict[str, BagReport] = field(default_factory=dict)


def bag_cameras(path: str | Path, cfg: Config) -> list[FoundCamera]:
    """The cameras a query on this bag uses: ``cameras.spec`` if set, else those found in the bag."""
    if (cfg.cameras.spec or "").strip():
        return [FoundCamera(c.name, "", c.color, c.camera_info, c.depth, c.labels)
                for c in camera_specs(cfg)]
    from rosbags.highlevel import AnyReader
    from rosbags.typesys import Stores, get_typestore

    bag = Path(path).expanduser()
    try:
        with AnyReader([bag], default_typestore=get_typestore(Stores.ROS2_HUMBLE)) as reader:
            topics = {(c.topic, c.msgtype) for c in reader.connections}
    except Exception:  # noqa: BLE001 - load_bag reports an unreadable bag with the full story
        return []
    return discover_cameras(topics)


def mount_frame(edges: list[TfEdgeInfo], camera_frame: str) -> str:
    """The frame the camera is rigidly mounted on: up the TF tree along static edges from the optical
    frame, the first frame whose parent edge moves (or the root); "" when TF does not know the camera."""
    parent = {e.child: e for e in edges}
    f, seen = camera_frame, set()
    if f not in parent:
        return ""
    while f in parent and f not in seen:
        seen.add(f)
        e = parent[f]
        if not e.static:
            return f
        f = e.parent
    return f


def load_bag_cameras(path: str | Path, cfg: Config, *, start_ns: int | None = None,
                     end_ns: int | None = None, fixed_frame: str | None = None,
                     max_frames_per_camera: int | None = None,
                     cameras: list[str] | None = None, load_frames: bool = True,
                     select_keyframes: bool = True) -> MultiBagData:
    """Frames of every camera (or of ``cameras`` only) in the shared window, at most
    ``max_frames_per_camera`` each (default: cameras.max_query_frames_per_camera, else
    keyframes.max_query_frames), sorted by stamp. NoFramesError when no camera gives a frame."""
    found = bag_cameras(path, cfg)
    if cameras:
        unknown = sorted(set(cameras) - {c.name for c in found})
        if unknown:
            raise NoFramesError(f"no camera named {unknown} in {path}; cameras: "
                                f"{[c.name for c in found] or 'none found'}")
        found = [c for c in found if c.name in cameras]
    if not found:                                  # nothing recognisable: today's single camera
        data = load_bag(path, cfg, start_ns=start_ns, end_ns=end_ns, fixed_frame=fixed_frame,
                        load_frames=load_frames, select_keyframes=select_keyframes)
        return _single(data, cfg, max_frames_per_camera)
    k = max_frames_per_camera or cfg.cameras.max_query_frames_per_camera \
        or cfg.keyframes.max_query_frames
    frames: list[Frame] = []
    summaries: list[CameraSummary] = []
    reports: dict[str, BagReport] = {}
    first: BagData | None = None
    errors: list[SpatialClawError] = []
    for cam in found:
        s = CameraSummary(cam.name, cam.color, cam.camera_info, cam.depth, cam.labels)
        summaries.append(s)
        try:
            data = load_bag(path, cfg, start_ns=start_ns, end_ns=end_ns, fixed_frame=fixed_frame,
                            color_topic=cam.color, depth_topic=cam.depth,
                            camera_info_topic=cam.camera_info,
                            labels_topic=cam.labels or NO_TOPIC, load_frames=load_frames,
                            select_keyframes=select_keyframes)
        except SpatialClawError as exc:
            s.error = exc.message
            errors.append(exc)
            continue
        first = first or data
        reports[cam.name] = data.report
        s.camera_frame = data.report.camera_frame
        s.mount_frame = mount_frame(data.report.tf_edges, data.report.camera_frame)
        s.matched_frames = data.report.matched_frames
        mine = [data.frames[i] for i in spread_indices(len(data.frames), k)]
        for f in mine:
            f.camera_name = cam.name
        s.frames_loaded = len(mine)
        frames.extend(mine)
    if first is None:
        if errors:
            raise errors[0]
        raise NoFramesError(f"no camera in {path} gave a frame")
    frames.sort(key=lambda f: (f.stamp_ns, [c.name for c in found].index(f.camera_name)))
    report = _merged_report(first.report, summaries, reports)
    return MultiBagData(frames, first.tf, report, first.camera, cameras=summaries, reports=reports)


def _single(data: BagData, cfg: Config, k: int | None) -> MultiBagData:
    k = k or cfg.cameras.max_query_frames_per_camera or cfg.keyframes.max_query_frames
    frames = [data.frames[i] for i in spread_indices(len(data.frames), k)]
    r = data.report
    s = CameraSummary(DEFAULT_CAMERA, r.roles.get("color", ""), r.roles.get("camera_info", ""),
                      r.roles.get("depth", ""), r.roles.get("labels", ""), r.camera_frame,
                      mount_frame(r.tf_edges, r.camera_frame), r.matched_frames, len(frames))
    report = _merged_report(r, [s], {DEFAULT_CAMERA: r})
    return MultiBagData(frames, data.tf, report, data.camera, cameras=[s],
                        reports={DEFAULT_CAMERA: r})


def _merged_report(base: BagReport, summaries: list[CameraSummary],
                   reports: dict[str, BagReport]) -> BagReport:
    """The first camera's report, with every camera's missing/notes (prefixed) and ``cameras``."""
    import copy

    rep = copy.copy(base)
    rep.missing = []
    rep.notes = []
    for s in summaries:
        r = reports.get(s.name)
        tag = f"camera {s.name}: " if len(summaries) > 1 else ""
        if r is None:
            rep.missing.append(f"{tag}{s.error}")
            continue
        rep.missing.extend(tag + m for m in r.missing)
        rep.notes.extend(tag + n for n in r.notes)
    loaded = [r for r in reports.values()]
    rep.frames_loaded = sum(s.frames_loaded for s in summaries)
    rep.matched_frames = sum(r.matched_frames for r in loaded)
    rep.cameras = [s.to_dict() for s in summaries]          # type: ignore[attr-defined]
    return rep


def camera_metadata(data: MultiBagData, cfg: Config) -> dict[str, Any]:
    """Kernel Metadata about the cameras: mount frames and topics by camera name."""
    return {"camera_mounts": {s.name: s.mount_frame for s in data.cameras},
            "camera_topics": {s.name: {"color": s.color, "depth": s.depth,
                                       "camera_info": s.camera_info} for s in data.cameras}}


def moments(frames: list[Frame], cfg: Config) -> list[int]:
    """Moment index per frame (frames of different cameras within cameras.moment_tolerance_s share one)."""
    return group_moments([f.stamp_ns for f in frames], [f.camera_name for f in frames],
                         int(cfg.cameras.moment_tolerance_s * NS_PER_S))


def is_multi_camera(path: str | Path, cfg: Config) -> bool:
    """Whether a query on this bag uses several cameras (cameras.spec set, or 2+ found in the bag)."""
    if (cfg.cameras.spec or "").strip():
        return True
    return len(bag_cameras(path, cfg)) > 1


def load_query_bag(path: str | Path, cfg: Config, **kwargs: Any) -> BagData:
    """Today's ``load_bag`` for a one-camera bag; ``load_bag_cameras`` when there are several."""
    if is_multi_camera(path, cfg):
        keep = {k: v for k, v in kwargs.items()
                if k in ("start_ns", "end_ns", "fixed_frame", "load_frames")}
        return load_bag_cameras(path, cfg, **keep)
    return load_bag(path, cfg, **kwargs)


def camera_frames(path: str | Path, cfg: Config,
                  found: list[FoundCamera]) -> dict[str, dict[str, str]]:
    """{camera: {"camera_frame", "mount_frame"}} from each colour topic's first header and the TF tree."""
    out: dict[str, dict[str, str]] = {}
    edges = None
    for cam in found:
        data = load_bag(path, cfg, color_topic=cam.color, depth_topic=cam.depth,
                        camera_info_topic=cam.camera_info, labels_topic=cam.labels or NO_TOPIC,
                        load_frames=False)
        edges = data.report.tf_edges if edges is None else edges
        out[cam.name] = {"camera_frame": data.report.camera_frame,
                         "mount_frame": mount_frame(edges, data.report.camera_frame)}
    return out
