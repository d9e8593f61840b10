"""Live topics -> the core's TF buffer, stamp matcher and keyframe buffer; frames for one query.

No rclpy here: the node hands each callback's message to an `Ingest` method (messages are only
duck-typed), which keeps the whole path testable and the subscriptions' callbacks tiny. Images are
converted only for frames that become keyframes (a few per second), so a 30 Hz RGB-D stream costs
little more than the matching.
"""
from __future__ import annotations

import dataclasses
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from spatialclaw_ros.agent.types import QueryRequest
from spatialclaw_ros.config import Config
from spatialclaw_ros.errors import (
    NoCameraInfoError,
    NoFramesError,
    NoTransformError,
    NoValidDepthError,
    SpatialClawError,
)
from spatialclaw_ros.frames.assemble import (
    camera_frame_of,
    frame_from_messages,
    lookup_base_pose,
    stamp_ns_of,
)
from spatialclaw_ros.frames.buffer import FrameBuffer
from spatialclaw_ros.frames.rectify import ModelChoice, Undistorter, camera_for, choose_model, describe
from spatialclaw_ros.frames.spec import parse_frame_spec, resolve_frame_spec
from spatialclaw_ros.frames.sync import Match, StampSynchronizer
from spatialclaw_ros.frames.tf import TfBuffer
from spatialclaw_ros.frames.types import Frame

NS_PER_S = 1_000_000_000
TF_WAIT_NS = NS_PER_S // 2        # a matched frame waits for TF until colour this much newer came
TF_WAIT_WALL_S = 1.0              # ...and at least this long in wall time (slow delivery, replay)
TIME_JUMP_BACK_NS = NS_PER_S      # a colour stamp this far behind the newest: replay restarted
STALE_AFTER_RESET_S = 2.0         # after a reset, messages of the old timeline still in flight
STALE_GAP_NS = 5 * NS_PER_S       # (stamped this far past the new timeline) are dropped this long


@dataclass
class _Pending:
    """A matched frame waiting for TF at its stamp."""

    match: Match
    camera_frame: str
    arrived: float = 0.0          # time.monotonic() when matched


class Ingest:
    """Feeds the core buffers from live messages; thread-safe (callbacks and queries)."""

    def __init__(self, cfg: Config, clock_ns: Callable[[], int] | None = None,
                 log: Callable[[str], None] | None = None) -> None:
        """Buffers sized from `cfg`; `clock_ns` is the node's clock (sim time aware); `log` gets
        one line per reset after time went back."""
        self.cfg = cfg
        self.clock_ns = clock_ns or time.time_ns
        self.log = log or (lambda _line: None)
        self.resets = 0
        self.topic_names: dict[str, str] = {}    # config name -> resolved (namespace, remaps)
        self._undistorter = Undistorter()
        self.camera_model_note = ""              # which intrinsics frames carry (diagnostics)
        self._tf_newest: dict[str, int] = {}     # child frame -> newest dynamic stamp
        self._stale_cut_ns = 0                   # after a reset: stamps above this are stale...
        self._stale_until = 0.0                  # ...until this time.monotonic()
        self.stale_dropped = 0
        self.tf = TfBuffer(cache_duration_s=30.0)
        self.buffer = FrameBuffer(cfg.keyframes)
        self.on_keyframe: Callable[[Frame], None] | None = None   # memory hook: every buffered keyframe
        t = cfg.topics
        self.has_depth = bool(t.depth)
        self.has_labels = bool(t.labels)
        self.sync = StampSynchronizer(
            "color",
            required=("camera_info",) + (("depth",) if self.has_depth else ()),
            optional=("labels",) if self.has_labels else (),
            tolerance_ns=int(cfg.keyframes.sync_tolerance_s * NS_PER_S),
            queue_size=4, latest_fallback=("camera_info",))
        self._lock = threading.RLock()
        self._pending: deque[_Pending] = deque(maxlen=12)
        self._counts = {"color": 0, "depth": 0, "camera_info": 0, "labels": 0, "tf": 0,
                        "tf_static": 0}
        self._conversion_errors = 0
        self._conversion_detail = ""
        self._no_pose = 0
        self._last_tf_error = ""
        self._newest_color_ns = 0
        self._camera_frame = ""
        self._closed = False

    # ---- subscription callbacks --------------------------------------------------------------
    def on_color(self, msg: Any) -> None:
        """A colour image (raw or compressed)."""
        self._push("color", msg)

    def on_depth(self, msg: Any) -> None:
        """A depth image aligned to colour."""
        self._push("depth", msg)

    def on_labels(self, msg: Any) -> None:
        """An instance-label image (simulation)."""
        self._push("labels", msg)

    def on_camera_info(self, msg: Any) -> None:
        """The colour camera's CameraInfo."""
        self._push("camera_info", msg)

    def on_tf(self, msg: Any, static: bool = False) -> None:
        """A tf2_msgs/TFMessage from /tf or /tf_static."""
        with self._lock:   # one step with a reset: no transform of the old timeline slips in after
            if not static:
                newest = max((_stamp_ns(ts) for ts in getattr(msg, "transforms", None) or []),
                             default=0)
                if self._stale(newest):
                    return
                self._check_tf_jump(msg)
            try:
                self.tf.add_tf_message(msg, static=static)
            except ValueError as exc:   # a malformed transform: count it, keep the rest
                self._last_tf_error = f"bad transform ignored: {exc}"
            self._counts["tf_static" if static else "tf"] += 1
            self._retry_pending(final=False)

    # ---- matching and keyframes --------------------------------------------------------------
    def _push(self, stream: str, msg: Any) -> None:
        if self._closed:
            return
        stamp = stamp_ns_of(msg)
        with self._lock:
            if self._stale(stamp):
                return
            self._counts[stream] += 1
            if stream == "color":
                if self._newest_color_ns and stamp < self._newest_color_ns - TIME_JUMP_BACK_NS:
                    self._restart(stamp, f"colour stamps went back by "
                                         f"{(self._newest_color_ns - stamp) / NS_PER_S:.3f} s")
                self._newest_color_ns = max(self._newest_color_ns, stamp)
            for match in self.sync.push(stream, stamp, msg):
                self._on_match(match)
            self._retry_pending(final=False)

    def _stale(self, stamp_ns: int) -> bool:
        """A message of the old timeline that was still in flight when time went back: stamped
        far past the newest stamp of the new timeline (which advances as its messages come)."""
        if not self._stale_until:
            return False
        if time.monotonic() >= self._stale_until:
            self._stale_until = 0.0
            return False
        if stamp_ns > self._stale_cut_ns + STALE_GAP_NS:
            self.stale_dropped += 1
            return True
        self._stale_cut_ns = max(self._stale_cut_ns, stamp_ns)
        return False

    def _check_tf_jump(self, msg: Any) -> None:
        """A dynamic transform stamped well before the newest of its link: time went back."""
        jumped: tuple[int, str] | None = None
        with self._lock:
            for ts in getattr(msg, "transforms", None) or []:
                st = ts.header.stamp
                stamp = int(st.sec) * NS_PER_S + int(st.nanosec)
                child = str(ts.child_frame_id).lstrip("/")
                newest = self._tf_newest.get(child, 0)
                if stamp and newest and stamp < newest - TIME_JUMP_BACK_NS and jumped is None:
                    jumped = (stamp, f"/tf {child} stamps went back by "
                                     f"{(newest - stamp) / NS_PER_S:.3f} s")
                if stamp:
                    self._tf_newest[child] = max(self._tf_newest.get(child, 0), stamp)
            if jumped is not None:
                self._restart(*jumped)
                for ts in getattr(msg, "transforms", None) or []:
                    st = ts.header.stamp
                    self._tf_newest[str(ts.child_frame_id).lstrip("/")] = (
                        int(st.sec) * NS_PER_S + int(st.nanosec))

    def time_jumped(self, reason: str, now_ns: int | None = None) -> None:
        """The node's clock went back (simulator reset, `play --loop`, /clock restarted)."""
        with self._lock:
            self._restart(self.clock_ns() if now_ns is None else now_ns, reason)

    def _restart(self, new_time_ns: int, reason: str) -> None:
        """Time went back to `new_time_ns`: forget frames, pending matches, the synchroniser's
        messages and dynamic TF stamped after it (+1 s: what already came for the new timeline,
        whichever stream noticed first, stays; a replayed stamp replaces its old frame); static
        TF is kept, as tf2 does."""
        cut = new_time_ns + TIME_JUMP_BACK_NS
        dropped_frames = self.buffer.clear_after(cut)
        self.sync.reset(cut)
        dropped_tf = self.tf.clear_dynamic(cut)
        self._pending = deque((p for p in self._pending if p.match.stamp_ns <= cut),
                              maxlen=self._pending.maxlen)
        self._newest_color_ns = 0
        self._tf_newest = {k: v for k, v in self._tf_newest.items() if v <= cut}
        self._stale_cut_ns, self._stale_until = new_time_ns, time.monotonic() + STALE_AFTER_RESET_S
        self.resets += 1
        self.log(f"time went back ({reason}): dropped {dropped_frames} buffered frames, pending "
                 f"matches and {dropped_tf} dynamic transforms stamped after the new time; "
                 f"static TF kept (reset #{self.resets})")

    def _model_choice(self) -> ModelChoice:
        """topics.image_model for the colour topic as resolved (remaps included)."""
        t = self.cfg.topics
        return choose_model(t.image_model, self.topic_names.get(t.color, t.color))

    def apply_dynamic(self, cfg: Config) -> None:
        """Take the settings a running node may change (those not read-only)."""
        self.buffer.cfg.max_query_frames = cfg.keyframes.max_query_frames

    def _on_match(self, match: Match) -> None:
        color = match.items["color"]
        cam_frame = camera_frame_of(color, None) or str(
            getattr(getattr(match.items.get("camera_info"), "header", None), "frame_id", ""))
        self._camera_frame = cam_frame or self._camera_frame
        pend = _Pending(match, cam_frame, time.monotonic())
        if not self._try_store(pend, final=False):
            if len(self._pending) == self._pending.maxlen:
                self._try_store(self._pending.popleft(), final=True)
            self._pending.append(pend)

    def _retry_pending(self, final: bool) -> None:
        while self._pending:
            head = self._pending[0]
            too_old = (self._newest_color_ns - head.match.stamp_ns > TF_WAIT_NS
                       and time.monotonic() - head.arrived > TF_WAIT_WALL_S)
            if self._try_store(head, final=final or too_old):
                self._pending.popleft()
            else:
                break

    def _try_store(self, pend: _Pending, final: bool) -> bool:
        """Look up the pose and store the frame if it is a keyframe; False: wait for TF."""
        stamp = pend.match.stamp_ns
        fixed = self.cfg.fixed_frame
        pose: np.ndarray | None = None
        if pend.camera_frame:
            try:
                pose = self.tf.lookup_transform(fixed, pend.camera_frame, stamp)
            except NoTransformError as exc:
                # TF may trail the images (or /tf_static may come late): wait a little first.
                if not final:
                    return False
                self._last_tf_error = exc.message
        else:
            self._last_tf_error = "the colour image has no header.frame_id"
        if pose is None:
            self._no_pose += 1
        if not self.buffer.should_keep(stamp, pose).keep:
            return True
        # The robot base pose is optional (only frame="base" tools need it): None when TF lacks it.
        base = (lookup_base_pose(self.tf, fixed, self.cfg.base_frame, stamp).T
                if pose is not None and self.cfg.base_frame else None)
        items = pend.match.items
        try:
            choice = self._model_choice()
            camera = camera_for(items["camera_info"], choice.rectified)
            frame = frame_from_messages(
                items["color"], camera, depth=items.get("depth"),
                labels=items.get("labels"), pose=pose, fixed_frame=fixed,
                source=self.cfg.topics.color, base_pose=base)
            if not choice.rectified:
                frame = self._undistorter.apply(frame)
            self.camera_model_note = describe(choice, camera)
        except (SpatialClawError, ValueError) as exc:
            self._conversion_errors += 1
            self._conversion_detail = str(exc)
            self.buffer.count_drop("conversion_error")
            return True
        self.buffer.add(frame)
        if self.on_keyframe is not None:
            self.on_keyframe(frame)
        return True

    def tick(self) -> None:
        """Store frames that waited long enough for TF (call periodically; the node does at 1 Hz)."""
        with self._lock:
            self._retry_pending(final=False)

    # ---- queries -----------------------------------------------------------------------------
    def frames_for(self, request: QueryRequest, fixed_frame: str) -> list[Frame]:
        """The frames a query gets, posed in `fixed_frame`; raises a SpatialClawError saying why not."""
        return self.select_for(request, fixed_frame)[0]

    def select_for(self, request: QueryRequest,
                   fixed_frame: str) -> tuple[list[Frame], dict[str, Any]]:
        """The query's frames and the Metadata entries that go with them.

        With ``request.frames`` ("last,12,-2") frame k is the k-th frame buffered in the window
        (oldest first; all buffered frames when start and end are zero) and "last" the newest; each
        chosen frame's ``recording_index`` is k and the entries are ``recording_count`` (frames in the
        window) and ``recording_stamps_ns``. Without it the frames are spread over the window.
        """
        with self._lock:
            self._retry_pending(final=True)
            counts = dict(self._counts)
        t = self._resolved()
        if len(self.buffer) == 0:
            if counts["color"] == 0:
                raise NoFramesError(
                    f"no camera frames received yet on '{t.color}': check that the camera (or "
                    "`spatialclaw play BAG`) publishes there, or set topics.color")
            if counts["camera_info"] == 0:
                raise NoCameraInfoError(
                    f"{counts['color']} images arrived on '{t.color}' but no CameraInfo on "
                    f"'{t.camera_info}': publish the camera's camera_info or set topics.camera_info")
            if self.has_depth and counts["depth"] == 0:
                raise NoFramesError(
                    f"colour images arrive but no depth on '{t.depth}': publish aligned depth, "
                    "or set topics.depth to \"\" to run without sensor depth")
            why = self._conversion_detail or f"sync drops: {self.sync.stats().dropped}"
            raise NoFramesError(
                f"images arrive but no frame could be assembled yet ({why}); "
                f"check stamps (keyframes.sync_tolerance_s={self.cfg.keyframes.sync_tolerance_s})")
        window = self.buffer.select(request.start_ns or None, request.end_ns or None,
                                    max_frames=None if not request.frames else len(self.buffer))
        if not window:
            held = self.buffer.frames()
            raise NoFramesError(
                f"no buffered frame between {_fmt(request.start_ns)} and {_fmt(request.end_ns)}; "
                f"the buffer holds {len(held)} frames from {_fmt(held[0].stamp_ns)} to "
                f"{_fmt(held[-1].stamp_ns)} (node clock): ask about that window or leave start "
                "and end zero")
        extra: dict[str, Any] = {}
        frames = window
        if request.frames:
            where = ("the window" if request.start_ns or request.end_ns else "the buffer")
            picked = resolve_frame_spec(parse_frame_spec(request.frames, "frames"), len(window),
                                        where, "buffered frames")
            frames = [dataclasses.replace(window[k], recording_index=k) for k in picked]
            extra = {"recording_count": len(window),
                     "recording_stamps_ns": [int(f.stamp_ns) for f in window]}
        frames = self._posed(frames, fixed_frame)
        self._check_depth(frames)
        return frames, extra

    def _posed(self, frames: list[Frame], fixed_frame: str) -> list[Frame]:
        """Frames with a pose in `fixed_frame` (re-looked up if it is not the configured one)."""
        out: list[Frame] = []
        error = self._last_tf_error
        for f in frames:
            if fixed_frame == self.cfg.fixed_frame and f.T_fixed_camera is not None:
                out.append(f)
                continue
            cam = f.camera.frame_id or self._camera_frame
            try:
                T = self.tf.lookup_transform(fixed_frame, cam, f.stamp_ns)
            except NoTransformError as exc:
                error = exc.message
                continue
            base = (lookup_base_pose(self.tf, fixed_frame, self.cfg.base_frame, f.stamp_ns).T
                    if self.cfg.base_frame else None)
            out.append(dataclasses.replace(f, fixed_frame=fixed_frame, T_fixed_camera=T,
                                           T_fixed_base=base))
        if not out:
            cam = frames[0].camera.frame_id or self._camera_frame or "(no frame_id)"
            raise NoTransformError(
                f"{len(frames)} frames are buffered but none has a transform from the camera "
                f"frame '{cam}' to the fixed frame '{fixed_frame}' ({error or 'no TF'}): publish "
                "/tf and /tf_static linking them, or set fixed_frame / the goal's fixed_frame")
        return out

    def _check_depth(self, frames: list[Frame]) -> None:
        if not self.has_depth or self.cfg.perception.depth_backend == "da3":
            return
        for f in frames:
            d = f.depth
            if d is not None and bool(np.any(np.isfinite(d) & (d > 0))):
                return
        raise NoValidDepthError(
            f"depth is NaN or zero everywhere in the {len(frames)} frames of this query (topic "
            f"'{self._resolved().depth}'): check the depth camera (range, exposure, alignment), or "
            "set perception.depth_backend: da3 to estimate depth from colour")

    def _resolved(self) -> Any:
        """cfg.topics with the names as the node resolved them (for messages)."""
        import dataclasses  # noqa: PLC0415

        t = self.cfg.topics
        return dataclasses.replace(t, **{k: self.topic_names.get(getattr(t, k), getattr(t, k))
                                         for k in ("color", "depth", "camera_info", "labels")})

    # ---- health ------------------------------------------------------------------------------
    def backends(self) -> tuple[str, str]:
        """(depth backend, segment backend) after resolving 'auto'."""
        p = self.cfg.perception
        depth = p.depth_backend if p.depth_backend != "auto" else (
            "sensor" if self.has_depth else "da3")
        seg = p.segment_backend if p.segment_backend != "auto" else (
            "labels" if self.has_labels else "sam3")
        return depth, seg

    def fill_health(self, h: Any) -> None:
        """Fill the ingest fields of a diagnostics.NodeHealth."""
        now = self.clock_ns()
        st = self.buffer.stats(now)
        sync = self.sync.stats()
        with self._lock:
            counts = dict(self._counts)
            conv_err = self._conversion_errors
            cam = self._camera_frame
        h.frames_buffered, h.max_frames = st.frames, st.max_frames
        h.buffer_bytes, h.buffer_cap_bytes, h.buffer_fill = st.bytes, st.memory_cap_bytes, st.fill
        h.newest_frame_age_s, h.oldest_frame_age_s = st.newest_age_s, st.oldest_age_s
        h.images_received = counts["color"]
        h.camera_info_received = counts["camera_info"]
        h.frames_dropped = sum(sync.dropped.values()) + conv_err
        newest_tf = max((e.last_ns for e in self.tf.edges() if not e.static), default=None)
        h.tf_lag_s = None if newest_tf is None else (now - newest_tf) / NS_PER_S
        fixed = self.cfg.fixed_frame
        with self._lock:
            newest_color = self._newest_color_ns
        h.newest_image_age_s = (now - newest_color) / NS_PER_S if newest_color else None
        h.time_resets = self.resets
        h.camera_model = self.camera_model_note
        if cam and self.tf.can_transform(fixed, cam):
            h.tf_ok, h.tf_detail = True, f"{cam} -> {fixed} available"
        elif cam:
            h.tf_ok = False
            h.tf_detail = f"no transform {cam} -> {fixed}: {self._last_tf_error or 'not in TF'}"
        else:
            h.tf_ok, h.tf_detail = None, "no camera frame seen yet"

    def close(self) -> None:
        """Stop taking messages and drop every buffered frame."""
        self._closed = True
        self.buffer.clear()


def _stamp_ns(ts: Any) -> int:
    st = ts.header.stamp
    return int(st.sec) * NS_PER_S + int(st.nanosec)


def _fmt(ns: int) -> str:
    if not ns:
        return "(open)"
    return f"{ns / NS_PER_S:.3f} s"

