"""Several live cameras: one `Ingest` per camera (own sync, keyframes, memory cap), one shared TF buffer.

No rclpy here. `make_ingest(cfg)` returns today's single-camera `Ingest` when ``cameras.spec`` is
empty, else a `MultiIngest` with the same interface the node uses (callbacks per camera through
`subscriptions()`, `on_tf`, `frames_for`, `fill_health`, `tick`, `close`...). A query gets frames of
every camera (or of the goal's ``cameras``), at most ``cameras.max_query_frames_per_camera`` each
(0: keyframes.max_query_frames), the time window shared, merged by stamp; each Frame says its camera.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Callable

from spatialclaw_ros.agent.types import QueryRequest
from spatialclaw_ros.cameras import CameraSpec, camera_specs
from spatialclaw_ros.config import Config
from spatialclaw_ros.errors import InvalidRequestError, SpatialClawError
from spatialclaw_ros.frames.types import Frame
from spatialclaw_ros.ros.ingest import Ingest


def make_ingest(cfg: Config, clock_ns: Callable[[], int] | None = None,
                log: Callable[[str], None] | None = None) -> Any:
    """`Ingest` for the one camera of topics.* (cameras.spec empty), else a `MultiIngest`."""
    if not (cfg.cameras.spec or "").strip():
        return Ingest(cfg, clock_ns=clock_ns, log=log)
    return MultiIngest(cfg, clock_ns=clock_ns, log=log)


def camera_config(cfg: Config, cam: CameraSpec) -> Config:
    """A copy of ``cfg`` whose topics.* are the camera's (and max_query_frames its per-camera cap)."""
    c = copy.deepcopy(cfg)
    c.topics.color, c.topics.depth, c.topics.camera_info = cam.color, cam.depth, cam.camera_info
    c.topics.labels, c.topics.image_model = cam.labels, cam.image_model
    if cfg.cameras.max_query_frames_per_camera:
        c.keyframes.max_query_frames = cfg.cameras.max_query_frames_per_camera
    return c


@dataclass
class CameraHealth:
    """One camera's ingest figures for /diagnostics."""

    name: str
    frames_buffered: int = 0
    buffer_bytes: int = 0
    images_received: int = 0
    frames_dropped: int = 0
    newest_frame_age_s: float | None = None
    tf_ok: bool | None = None
    tf_detail: str = ""
    extra: dict[str, str] = field(default_factory=dict)


class MultiIngest:
    """One `Ingest` per configured camera; TF is fed once into a buffer they share."""

    def __init__(self, cfg: Config, clock_ns: Callable[[], int] | None = None,
                 log: Callable[[str], None] | None = None) -> None:
        """Per-camera ingests from ``camera_specs(cfg)``."""
        self.cfg = cfg
        self.specs = camera_specs(cfg)
        self.cameras: dict[str, Ingest] = {}
        for spec in self.specs:
            ing = Ingest(camera_config(cfg, spec), clock_ns=clock_ns,
                         log=(lambda line, n=spec.name: (log or (lambda _l: None))(f"[{n}] {line}")))
            self.cameras[spec.name] = ing
        first = next(iter(self.cameras.values()))
        self.tf = first.tf
        for ing in self.cameras.values():
            ing.tf = self.tf                       # one TF buffer for every camera
        self.topic_names: dict[str, str] = {}

    # ---- the node's hooks --------------------------------------------------------------------
    @property
    def on_keyframe(self) -> Callable[[Frame], None] | None:
        """Called with every buffered keyframe of the first camera (the memory hook records one
        camera: its store keeps one optical frame per keyframe)."""
        return next(iter(self.cameras.values())).on_keyframe

    @on_keyframe.setter
    def on_keyframe(self, fn: Callable[[Frame], None] | None) -> None:
        name, first = next(iter(self.cameras.items()))
        first.on_keyframe = None if fn is None else _named(fn, name)

    def subscriptions(self) -> list[tuple[str, str, Callable[[Any], None], CameraSpec]]:
        """(kind, topic, callback, camera) for each camera stream; kind is color|depth|labels|camera_info."""
        out = []
        for spec in self.specs:
            ing = self.cameras[spec.name]
            out.append(("color", spec.color, ing.on_color, spec))
            if spec.depth:
                out.append(("depth", spec.depth, ing.on_depth, spec))
            if spec.labels:
                out.append(("labels", spec.labels, ing.on_labels, spec))
            out.append(("camera_info", spec.camera_info, ing.on_camera_info, spec))
        return out

    def resolved(self, topic: str, name: str) -> None:
        """Record how the node resolved a topic (namespace, remaps) for messages."""
        self.topic_names[topic] = name
        for ing in self.cameras.values():
            ing.topic_names[topic] = name

    def on_tf(self, msg: Any, static: bool = False) -> None:
        """/tf or /tf_static: into the shared buffer once, then every camera retries its waiting frames."""
        first, *rest = self.cameras.values()
        first.on_tf(msg, static=static)
        for ing in rest:
            ing.tick()

    def tick(self) -> None:
        """Store frames that waited long enough for TF, in every camera."""
        for ing in self.cameras.values():
            ing.tick()

    def time_jumped(self, reason: str, now_ns: int | None = None) -> None:
        """The node's clock went back: every camera forgets what came after."""
        for ing in self.cameras.values():
            ing.time_jumped(reason, now_ns)

    def apply_dynamic(self, cfg: Config) -> None:
        """Settings a running node may change."""
        k = cfg.cameras.max_query_frames_per_camera or cfg.keyframes.max_query_frames
        for ing in self.cameras.values():
            ing.buffer.cfg.max_query_frames = k

    # ---- queries -----------------------------------------------------------------------------
    def select_for(self, request: QueryRequest,
                   fixed_frame: str) -> tuple[list[Frame], dict[str, Any]]:
        """The query's frames and their Metadata entries (see Ingest.select_for). Frames named by
        index (request.frames) count within one camera's stream, so they need one camera."""
        if not (getattr(request, "frames", "") or "").strip():
            return self.frames_for(request, fixed_frame), {}
        wanted = list(getattr(request, "cameras", None) or [])
        if len(wanted) != 1 and len(self.cameras) != 1:
            raise InvalidRequestError(
                f"goal.frames counts the frames of one camera: name it in goal.cameras (this "
                f"node's cameras: {sorted(self.cameras)}), or leave goal.frames empty")
        name = wanted[0] if wanted else next(iter(self.cameras))
        if name not in self.cameras:
            raise InvalidRequestError(f"no camera named {name!r}; this node's cameras: "
                                      f"{sorted(self.cameras)} (parameter cameras.spec)")
        frames, meta = self.cameras[name].select_for(request, fixed_frame)
        for f in frames:
            f.camera_name = name
        return frames, meta

    def frames_for(self, request: QueryRequest, fixed_frame: str) -> list[Frame]:
        """Frames of every requested camera (request.cameras; empty = all), merged by stamp."""
        wanted = [c for c in (getattr(request, "cameras", None) or [])]
        unknown = sorted(set(wanted) - set(self.cameras))
        if unknown:
            raise InvalidRequestError(f"no camera named {unknown}; this node's cameras: "
                                      f"{sorted(self.cameras)} (parameter cameras.spec)")
        names = wanted or list(self.cameras)
        frames: list[Frame] = []
        errors: list[tuple[str, SpatialClawError]] = []
        for name in names:
            try:
                got = self.cameras[name].frames_for(request, fixed_frame)
            except SpatialClawError as exc:
                errors.append((name, exc))
                continue
            for f in got:
                f.camera_name = name
            frames.extend(got)
        if not frames:
            name, exc = errors[0]
            if len(errors) == 1:
                raise exc
            raise type(exc)("no camera has frames for this query: " + "; ".join(
                f"{n}: {e.message}" for n, e in errors))
        order = {n: i for i, n in enumerate(names)}
        frames.sort(key=lambda f: (f.stamp_ns, order[f.camera_name]))
        return frames

    # ---- health ------------------------------------------------------------------------------
    def backends(self) -> tuple[str, str]:
        """(depth backend, segment backend): 'sensor' when any camera has depth."""
        pairs = [ing.backends() for ing in self.cameras.values()]
        depth = "sensor" if any(d == "sensor" for d, _ in pairs) else pairs[0][0]
        if any(d != depth for d, _ in pairs):
            depth += " (" + ", ".join(f"{n}: {p[0]}" for n, p in zip(self.cameras, pairs)) + ")"
        seg = "labels" if any(s == "labels" for _, s in pairs) else pairs[0][1]
        return depth, seg

    def fill_health(self, h: Any) -> None:
        """Totals over the cameras into a NodeHealth (ages: the freshest camera's)."""
        from spatialclaw_ros.ros.diagnostics import NodeHealth

        per = []
        for name, ing in self.cameras.items():
            x = NodeHealth()
            ing.fill_health(x)
            per.append((name, x))
        first = per[0][1]
        for k, v in vars(first).items():
            setattr(h, k, v)
        for attr in ("frames_buffered", "max_frames", "buffer_bytes", "buffer_cap_bytes",
                     "images_received", "camera_info_received", "frames_dropped", "time_resets"):
            setattr(h, attr, sum(getattr(x, attr) or 0 for _, x in per))
        h.buffer_fill = max(x.buffer_fill for _, x in per)
        ages = [x.newest_frame_age_s for _, x in per if x.newest_frame_age_s is not None]
        h.newest_frame_age_s = min(ages) if ages else None
        bad = [(n, x) for n, x in per if x.tf_ok is False]
        h.tf_ok = False if bad else first.tf_ok
        h.tf_detail = "; ".join(f"{n}: {x.tf_detail}" for n, x in per)

    def camera_health(self) -> list[CameraHealth]:
        """Per-camera figures (the node publishes one /diagnostics status each)."""
        from spatialclaw_ros.ros.diagnostics import NodeHealth

        out = []
        for name, ing in self.cameras.items():
            x = NodeHealth()
            ing.fill_health(x)
            out.append(CameraHealth(name, x.frames_buffered, x.buffer_bytes, x.images_received,
                                    x.frames_dropped, x.newest_frame_age_s, x.tf_ok, x.tf_detail,
                                    {"topic": ing.cfg.topics.color,
                                     "depth": ing.cfg.topics.depth or "none",
                                     "camera_model": x.camera_model}))
        return out

    def close(self) -> None:
        """Stop taking messages and drop every buffered frame."""
        for ing in self.cameras.values():
            ing.close()


def _named(fn: Callable[[Frame], None], name: str) -> Callable[[Frame], None]:
    def call(frame: Frame) -> None:
        frame.camera_name = name
        fn(frame)
    return call


def camera_statuses(ingest: Any, node_name: str) -> list[Any]:
    """One diagnostic_msgs/DiagnosticStatus per camera (empty for a single-camera node)."""
    if not isinstance(ingest, MultiIngest):
        return []
    from diagnostic_msgs.msg import DiagnosticStatus, KeyValue

    out = []
    for c in ingest.camera_health():
        level = DiagnosticStatus.OK
        msg = f"{c.frames_buffered} frames buffered"
        if c.images_received == 0:
            level, msg = DiagnosticStatus.WARN, f"no images yet on {c.extra.get('topic')}"
        elif c.tf_ok is False:
            level, msg = DiagnosticStatus.WARN, c.tf_detail
        values = {"frames_buffered": str(c.frames_buffered), "buffer_bytes": str(c.buffer_bytes),
                  "images_received": str(c.images_received),
                  "frames_dropped": str(c.frames_dropped),
                  "newest_frame_age_s": "" if c.newest_frame_age_s is None
                  else f"{c.newest_frame_age_s:.3f}", "tf": c.tf_detail, **c.extra}
        out.append(DiagnosticStatus(level=level, name=f"{node_name}: camera {c.name}",
                                    hardware_id=c.name, message=msg,
                                    values=[KeyValue(key=k, value=str(v)) for k, v in values.items()]))
    return out
