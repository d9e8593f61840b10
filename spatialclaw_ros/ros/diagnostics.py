"""The node's health as diagnostic_msgs/DiagnosticArray, and a background VLM reachability probe."""
from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field

from builtin_interfaces.msg import Time as TimeMsg
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue

OK, WARN, ERROR = DiagnosticStatus.OK, DiagnosticStatus.WARN, DiagnosticStatus.ERROR


@dataclass
class VlmReachability:
    """Result of the last probe of the VLM endpoint."""

    reachable: bool | None = None     # None: not probed yet
    detail: str = "not probed yet"
    checked_at: float = 0.0           # time.monotonic()


@dataclass
class NodeHealth:
    """A snapshot of what the diagnostics report."""

    frames_buffered: int = 0
    max_frames: int = 0
    buffer_bytes: int = 0
    buffer_cap_bytes: int = 0
    buffer_fill: float = 0.0                  # max(frames / max_frames, bytes / cap), 0..1
    newest_frame_age_s: float | None = None   # None: no frame yet
    newest_image_age_s: float | None = None   # newest colour image received (node clock)
    frame_warn_age_s: float = 2.0             # diagnostics.frame_warn_age_s
    frame_error_age_s: float = 10.0           # diagnostics.frame_error_age_s
    tf_ok: bool | None = None                 # camera -> fixed frame available (None: no camera yet)
    time_resets: int = 0                      # times time went back and the buffers were reset
    camera_model: str = ""                    # rectified (P) or raw (K, undistorted with D)
    oldest_frame_age_s: float | None = None
    images_received: int = 0
    frames_dropped: int = 0
    camera_info_received: int = 0
    tf_lag_s: float | None = None             # now - stamp of the newest TF to the fixed frame
    tf_detail: str = ""
    vlm_url: str = ""
    vlm: VlmReachability = field(default_factory=VlmReachability)
    depth_backend: str = ""
    segment_backend: str = ""
    sandbox_mode: str = ""
    sandbox_layers: list[str] = field(default_factory=list)
    queries_running: int = 0
    queries_queued: int = 0
    max_concurrent: int = 0
    queries_done: int = 0
    queries_failed: int = 0


def health_to_diagnostics(h: NodeHealth, stamp: TimeMsg, node_name: str) -> DiagnosticArray:
    """Four statuses: frames, TF, VLM, agent (perception backend, sandbox, queries)."""
    arr = DiagnosticArray()
    arr.header.stamp = stamp
    arr.status = [_frames(h, node_name), _tf(h, node_name), _vlm(h, node_name),
                  _agent(h, node_name)]
    return arr


def _status(level: int, name: str, message: str, values: dict[str, object],
            node_name: str) -> DiagnosticStatus:
    return DiagnosticStatus(
        level=level, name=f"{node_name}: {name}", message=message, hardware_id=node_name,
        values=[KeyValue(key=k, value=_fmt(v)) for k, v in values.items()])


def _fmt(v: object) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, float):
        return f"{v:.3f}"
    if isinstance(v, (list, tuple)):
        return ",".join(str(x) for x in v) or "none"
    return str(v)


def _frames(h: NodeHealth, node_name: str) -> DiagnosticStatus:
    if h.frames_buffered == 0:
        level = WARN
        if h.images_received and not h.camera_info_received:
            msg = "images arrive but no camera_info: check topics.camera_info"
        elif h.images_received:
            msg = "images arrive but no frame was kept yet (sync or TF pending)"
        else:
            msg = "no camera frames yet: check topics.color / topics.depth"
    else:
        level, msg = OK, f"{h.frames_buffered} keyframes buffered"
        ages = [a for a in (h.newest_image_age_s, h.newest_frame_age_s) if a is not None]
        age = min(ages) if ages else None
        if age is not None and age > h.frame_error_age_s:
            level, msg = ERROR, (f"newest frame is {age:.1f} s old (> diagnostics."
                                 f"frame_error_age_s={h.frame_error_age_s:g}): camera stopped?")
        elif age is not None and age > h.frame_warn_age_s:
            level, msg = WARN, (f"newest frame is {age:.1f} s old (> diagnostics."
                                f"frame_warn_age_s={h.frame_warn_age_s:g})")
    return _status(level, "frames", msg, {
        "frames_buffered": h.frames_buffered, "max_frames": h.max_frames,
        "buffer_mb": h.buffer_bytes / 1e6, "buffer_cap_mb": h.buffer_cap_bytes / 1e6,
        "buffer_fill": h.buffer_fill,
        "newest_frame_age_s": h.newest_frame_age_s, "oldest_frame_age_s": h.oldest_frame_age_s,
        "newest_image_age_s": h.newest_image_age_s, "time_resets": h.time_resets,
        "camera_model": h.camera_model or "n/a",
        "images_received": h.images_received, "frames_dropped": h.frames_dropped,
        "camera_info_received": h.camera_info_received}, node_name)


def _tf(h: NodeHealth, node_name: str) -> DiagnosticStatus:
    if h.tf_ok is False or h.tf_lag_s is None:
        level, msg = WARN, h.tf_detail or "no transform to the fixed frame yet"
    elif h.tf_lag_s > 1.0:
        level, msg = WARN, f"newest transform is {h.tf_lag_s:.2f} s old ({h.tf_detail})"
    else:
        level, msg = OK, f"transforms current ({h.tf_detail})" if h.tf_detail else "transforms current"
    return _status(level, "tf", msg, {"tf_lag_s": h.tf_lag_s, "detail": h.tf_detail}, node_name)


def _vlm(h: NodeHealth, node_name: str) -> DiagnosticStatus:
    if h.vlm.reachable is None:
        level = WARN
    else:
        level = OK if h.vlm.reachable else ERROR
    age = time.monotonic() - h.vlm.checked_at if h.vlm.checked_at else None
    return _status(level, "vlm", h.vlm.detail,
                   {"base_url": h.vlm_url, "reachable": h.vlm.reachable,
                    "checked_s_ago": age}, node_name)


def _agent(h: NodeHealth, node_name: str) -> DiagnosticStatus:
    busy = h.queries_running >= h.max_concurrent > 0
    msg = (f"{h.queries_running} running, {h.queries_queued} queued"
           + (" (at the concurrency limit)" if busy else ""))
    return _status(OK, "agent", msg, {
        "queries_running": h.queries_running, "queries_queued": h.queries_queued,
        "max_concurrent_queries": h.max_concurrent, "queries_done": h.queries_done,
        "queries_failed": h.queries_failed, "depth_backend": h.depth_backend,
        "segment_backend": h.segment_backend, "sandbox_mode": h.sandbox_mode,
        "sandbox_layers": h.sandbox_layers or "unknown until the first query"}, node_name)


def probe_vlm(base_url: str, timeout_s: float = 2.0) -> VlmReachability:
    """GET <base_url>/models once; any HTTP answer means the server is up."""
    from spatialclaw_ros.secrecy import Redactor, redact_url

    url = base_url.rstrip("/") + "/models"
    shown = redact_url(url)           # /diagnostics is readable by the whole ROS graph
    now = time.monotonic()
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as resp:  # noqa: S310 - configured URL
            return VlmReachability(True, f"{shown} answered HTTP {resp.status}", now)
    except urllib.error.HTTPError as exc:
        return VlmReachability(True, f"{shown} answered HTTP {exc.code}", now)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = Redactor.for_vlm(base_url)(str(getattr(exc, "reason", exc)))
        return VlmReachability(False, f"{shown} unreachable ({reason}): start the VLM server "
                                      "or set vlm.base_url", now)


class VlmProbe:
    """Probes the VLM endpoint every `period_s` on its own thread (never on the executor)."""

    def __init__(self, base_url: str, period_s: float = 10.0, timeout_s: float = 2.0) -> None:
        self.base_url, self.period_s, self.timeout_s = base_url, period_s, timeout_s
        self._last = VlmReachability()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="vlm-probe", daemon=True)

    def start(self) -> None:
        """Start probing."""
        self._thread.start()

    def stop(self) -> None:
        """Stop probing (returns within the probe timeout)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(self.timeout_s + 1.0)

    @property
    def last(self) -> VlmReachability:
        """The most recent probe result."""
        with self._lock:
            return self._last

    def _loop(self) -> None:
        while not self._stop.is_set():
            r = probe_vlm(self.base_url, self.timeout_s)
            with self._lock:
                self._last = r
            self._stop.wait(self.period_s)
