"""Set up a query over a memory: its starting frames, the memory.* handlers and Metadata entries."""
from __future__ import annotations

from typing import Any, Callable

from spatialclaw_ros.errors import NoFramesError
from spatialclaw_ros.frames.types import Frame
from spatialclaw_ros.memory.handlers import memory_handlers
from spatialclaw_ros.memory.retrieve import MemoryReader


def memory_frames_and_handlers(memory_dir: str, *, max_frames: int = 4, start_ns: int | None = None,
                               end_ns: int | None = None, frames: list[Frame] | None = None
                               ) -> tuple[list[Frame], dict[str, Callable[[dict], Any]], dict[str, Any], MemoryReader]:
    """(frames, handlers, extra_metadata, reader): frames are ``frames`` (live ones) or else the newest
    ``max_frames`` keyframes of the window; the caller closes the reader after the query."""
    reader = MemoryReader(memory_dir)
    try:
        if frames is None:
            if max_frames < 1:
                raise ValueError(f"max_frames must be >= 1, got {max_frames}")
            refs = reader.search(start_ns=start_ns, end_ns=end_ns, order="newest", limit=max_frames)
            if not refs:
                raise NoFramesError(f"the memory at {memory_dir} has no keyframes"
                                    + (" in the requested window" if start_ns or end_ns else ""))
            frames = reader.load([r["id"] for r in sorted(refs, key=lambda r: r["stamp_ns"])])
        frames = list(frames)
        info = reader.info()
        extra: dict[str, Any] = {"memory": {k: info[k] for k in ("keyframes", "first_ns", "last_ns", "span_s",
                                                                 "frame", "correction")}}
        objects = reader.objects()
        if objects:
            extra["objects"] = objects
        return frames, memory_handlers(reader, frames), extra, reader
    except BaseException:
        reader.close()
        raise
