"""MemoryRecorder: the node's side of the memory. Keyframes are offered from the ingest thread and
recorded on a background thread (bounded queue: ingest never waits on disk); map corrections are
polled from TF; `status()` feeds /diagnostics."""
from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Any

import numpy as np

from spatialclaw_ros.config import Config
from spatialclaw_ros.frames.types import Frame
from spatialclaw_ros.memory.store import MemoryStore

log = logging.getLogger(__name__)
QUEUE_MAX = 8
CORRECTION_MIN_M, CORRECTION_MIN_DEG = 0.01, 0.5
MAP_FRAME = "map"


class MemoryRecorder:
    """Owns a MemoryStore on its own thread."""

    def __init__(self, cfg: Config, *, objects: list[dict[str, Any]] | None = None,
                 is_idle: Any = None) -> None:
        self.cfg = cfg
        self.store = MemoryStore(cfg.memory.dir, cfg.memory, fixed_frame=cfg.fixed_frame, objects=objects,
                                 base_frame=cfg.base_frame)
        self._q: queue.Queue[Frame | None] = queue.Queue(maxsize=QUEUE_MAX)
        self._lock = threading.Lock()
        self.offered = self.dropped = self.recorded = self.errors = 0
        self.last_error = ""
        self.correction_detail = ""
        self._last_corr: np.ndarray | None = None
        self._stats: dict[str, Any] = self.store.stats().to_dict()
        self.n_objects = len(self.store.legend)     # label legend entries (names of label ids)
        self._thread = threading.Thread(target=self._loop, name="memory-recorder", daemon=True)
        self._closed = False
        self._thread.start()
        self.captioner: Any = None
        if cfg.memory.captions_per_hour > 0 and is_idle is not None:
            from spatialclaw_ros.memory.captions import IdleCaptioner

            self.captioner = IdleCaptioner(str(self.store.dir), cfg, is_idle)
            self.captioner.start()

    @property
    def directory(self) -> str:
        """The memory directory."""
        return str(self.store.dir)

    def offer(self, frame: Frame) -> None:
        """From the ingest thread: queue a frame (dropped, and counted, when the recorder is behind)."""
        if self._closed:
            return
        self.offered += 1
        try:
            self._q.put_nowait(frame)
        except queue.Full:
            self.dropped += 1

    def _loop(self) -> None:
        while True:
            f = self._q.get()
            if f is None:
                return
            try:
                with self._lock:
                    if f.T_fixed_base is not None:
                        self.store.add_pose(int(f.stamp_ns), f.T_fixed_base)
                    if self.store.add_frame(f) is not None:
                        self.recorded += 1
                        self._stats = self.store.stats().to_dict()
            except Exception as exc:  # noqa: BLE001 - bad frames never stop the recorder or the node
                self.errors += 1
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("memory: frame at %d not recorded: %s", f.stamp_ns, self.last_error)

    def set_objects(self, objects: list[dict[str, Any]]) -> None:
        """The label legend (from the legend topic): names of label ids, tags of the keyframes from now on."""
        with self._lock:
            self.store.set_objects(objects)
            self.store.index.commit()
            self.n_objects = len(self.store.legend)
            self._stats = self.store.stats().to_dict()

    def poll_correction(self, tf: Any, stamp_ns: int | None = None) -> bool:
        """Store map -> fixed_frame from TF when it changed (after a loop closure); True when stored."""
        fixed = self.store.fixed_frame
        if fixed == MAP_FRAME:
            return False
        try:
            T = np.asarray(tf.lookup_transform(MAP_FRAME, fixed, stamp_ns), float)
        except Exception as exc:  # noqa: BLE001 - no map frame: nothing to correct
            self.correction_detail = f"no {MAP_FRAME} -> {fixed}: {exc}"
            return False
        last = self._last_corr
        if last is not None:
            moved = float(np.linalg.norm(T[:3, 3] - last[:3, 3]))
            c = (np.trace(last[:3, :3].T @ T[:3, :3]) - 1.0) / 2.0
            turned = float(np.degrees(np.arccos(np.clip(c, -1.0, 1.0))))
            if moved < CORRECTION_MIN_M and turned < CORRECTION_MIN_DEG:
                return False
        with self._lock:
            self.store.add_correction(int(stamp_ns or time.time_ns()), MAP_FRAME, fixed, T)
        self._last_corr = T
        self.correction_detail = f"{MAP_FRAME} -> {fixed} stored"
        return True

    def status(self) -> dict[str, Any]:
        """Keyframes, span, disk used and budget, offered/dropped/errors (for /diagnostics)."""
        out = dict(self._stats)
        if self.captioner is not None:
            out.update({"captioned": self.captioner.captioned, "captions_preempted": self.captioner.preempted})
        out.update({"dir": self.directory, "offered": self.offered, "recorder_dropped": self.dropped,
                    "errors": self.errors, "last_error": self.last_error, "objects": self.n_objects,
                    "correction": self.correction_detail, "queue": self._q.qsize()})
        return out

    def flush(self, timeout_s: float = 10.0) -> None:
        """Wait until the queue is empty (tests, shutdown)."""
        t_end = time.monotonic() + timeout_s
        while self._q.qsize() and time.monotonic() < t_end:
            time.sleep(0.01)
        with self._lock:
            pass

    def close(self) -> None:
        """Record what is queued, then close the store (the open segment becomes a complete bag)."""
        if self._closed:
            return
        self._closed = True
        if self.captioner is not None:
            self.captioner.close()
        self._q.put(None)
        self._thread.join(timeout=30.0)
        with self._lock:
            self.store.close()
