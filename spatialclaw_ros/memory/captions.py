"""Captions in idle time: the VLM describes the newest uncaptioned keyframes while no query runs,
within memory.captions_per_hour; FTS5 then finds them (`tools.Memory.search(text=...)`).

A caption never delays a query: none starts while a query runs, and one in flight is abandoned
(the connection closed) as soon as a query starts.
"""
from __future__ import annotations

import collections
import logging
import threading
import time
from typing import Any, Callable

from spatialclaw_ros.config import Config
from spatialclaw_ros.memory.retrieve import MemoryReader

log = logging.getLogger(__name__)
PROMPT = ("Describe this robot camera view for later search in one or two sentences: the objects you "
          "see, their colours, and where they are (on a table, on the floor, by a door...).")
MAX_CAPTION_CHARS = 500


class IdleCaptioner:
    """Captions keyframes of one memory directory with the VLM, newest first, in idle time."""

    def __init__(self, memory_dir: str, cfg: Config, is_idle: Callable[[], bool], *,
                 per_hour: float | None = None, vlm: Any = None) -> None:
        self.cfg = cfg
        self.per_hour = float(cfg.memory.captions_per_hour if per_hour is None else per_hour)
        self.is_idle = is_idle
        self.reader = MemoryReader(memory_dir)
        if vlm is None:
            from spatialclaw_ros.vlm.client import VlmClient

            vlm = VlmClient(cfg.vlm)
        self.vlm = vlm
        self._done: collections.deque[float] = collections.deque()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.captioned = self.preempted = self.failed = 0
        self.last_error = ""

    def caption_one(self) -> int | None:
        """Caption the newest uncaptioned keyframe if idle and within the budget; its id, or None."""
        if self.per_hour <= 0 or not self.is_idle():
            return None
        now = time.monotonic()
        while self._done and now - self._done[0] > 3600.0:
            self._done.popleft()
        if len(self._done) >= self.per_hour:
            return None
        row = self.reader.db.execute("SELECT id FROM keyframes WHERE caption = '' ORDER BY stamp_ns DESC "
                                     "LIMIT 1").fetchone()
        if row is None:
            return None
        kid = int(row[0])
        frame = self.reader.load([kid])[0]
        from spatialclaw_ros.vlm.conversation import Conversation, jpeg_data_url

        conv = Conversation()
        conv.add_system("You caption robot camera images for a searchable memory. Be factual and brief.")
        conv.add_user(PROMPT, [jpeg_data_url(frame.rgb, self.cfg.vlm.image_max_side)])
        preempt = threading.Event()
        watch_stop = threading.Event()

        def watch() -> None:                  # a query started: abandon the caption at once
            while not watch_stop.wait(0.05):
                if not self.is_idle():
                    preempt.set()
                    return

        watcher = threading.Thread(target=watch, name="caption-preempt", daemon=True)
        watcher.start()
        self._done.append(now)
        try:
            reply = self.vlm.chat(conv, max_tokens=96, cancel=preempt)
        except Exception as exc:  # noqa: BLE001 - captions are best effort
            if preempt.is_set():
                self.preempted += 1
            else:
                self.failed += 1
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.info("memory: caption of keyframe %d failed: %s", kid, self.last_error)
            return None
        finally:
            watch_stop.set()
            watcher.join(1.0)
        text = " ".join(str(reply.text or "").split())[:MAX_CAPTION_CHARS]
        if not text:
            self.failed += 1
            return None
        self.reader.index.set_caption(kid, text)
        self.captioned += 1
        return kid

    def start(self, poll_s: float = 1.0) -> None:
        """Caption on a background thread until close()."""
        def loop() -> None:
            while not self._stop.wait(poll_s):
                try:
                    self.caption_one()
                except Exception as exc:  # noqa: BLE001 - never take the node down
                    self.failed += 1
                    self.last_error = f"{type(exc).__name__}: {exc}"
        self._thread = threading.Thread(target=loop, name="memory-captions", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop the thread and close the index connection."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5.0)
        self.reader.close()
