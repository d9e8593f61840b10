"""Parent-side handlers for the kernel's ``memory.*`` calls (payloads in docs/CONTRACTS.md).

``memory_handlers(reader, frames)`` is passed to ``run_query(..., handlers=...)``. ``memory.load``
appends the loaded Frames to ``frames`` (the query's own list), so parent handlers that index
frames (``perception.*``) see loaded keyframes at the same indices as the kernel.
"""
from __future__ import annotations

import threading
from typing import Any, Callable

from spatialclaw_ros.frames.types import Frame
from spatialclaw_ros.memory.retrieve import MemoryReader

MAX_LOAD = 64


def _opt_int(payload: dict, key: str) -> int | None:
    v = payload.get(key)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ValueError(f"memory: {key} must be a number of nanoseconds, got {v!r}")
    return int(v)


def memory_handlers(reader: MemoryReader, frames: list[Frame], *,
                    max_loaded: int = MAX_LOAD) -> dict[str, Callable[[dict], Any]]:
    """``memory.info``, ``memory.search``, ``memory.load``, ``memory.motion``, ``memory.pose_at``."""
    loaded: dict[int, int] = {}          # keyframe id -> frame index in this query
    lock = threading.Lock()
    n_query = len(frames)                # the query's own frames are never dropped

    def info(payload: dict) -> dict[str, Any]:
        return reader.info()

    def search(payload: dict) -> dict[str, Any]:
        tags = payload.get("tags")
        if tags is not None and (not isinstance(tags, list) or not all(isinstance(t, str) for t in tags)):
            raise ValueError(f"memory.search: tags must be a list of strings, got {tags!r}")
        text = payload.get("text")
        if text is not None and not isinstance(text, str):
            raise ValueError("memory.search: text must be a string")
        refs = reader.search(start_ns=_opt_int(payload, "start_ns"), end_ns=_opt_int(payload, "end_ns"),
                             near=payload.get("near"), radius_m=payload.get("radius_m"), tags=tags, text=text,
                             limit=int(payload.get("limit", 32)), order=str(payload.get("order", "time")))
        for r in refs:
            r["loaded_index"] = loaded.get(r["id"])
        return {"refs": refs}

    def load(payload: dict) -> dict[str, Any]:
        from spatialclaw_ros.kernel.session import frame_message

        ids = payload.get("ids")
        if not isinstance(ids, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
            raise ValueError(f"memory.load: ids must be a list of keyframe ids (ints), got {ids!r}")
        have = payload.get("have")
        with lock:
            if isinstance(have, int) and not isinstance(have, bool) and n_query <= have < len(frames):
                # a restarted kernel did not replay the cell that loaded these: forget them on both sides
                del frames[have:]
                for kid in [k for k, v in loaded.items() if v >= have]:
                    del loaded[kid]
            new = [i for i in dict.fromkeys(ids) if i not in loaded]
            if len(loaded) + len(new) > max_loaded:
                raise ValueError(f"memory.load: at most {max_loaded} keyframes per query "
                                 f"({len(loaded)} loaded, {len(new)} more asked); narrow the search")
            got = reader.load(new)
            start = len(frames)
            for k, (kid, f) in enumerate(zip(new, got)):
                frames.append(f)
                loaded[kid] = start + k
            msg = frame_message(got, {}) if got else {"frames": []}
            return {"frames": msg["frames"], "indices": [loaded[i] for i in ids],
                    "new_indices": [loaded[i] for i in new], "fixed_frame": got[0].fixed_frame if got else ""}

    def motion(payload: dict) -> dict[str, Any]:
        s, e = _opt_int(payload, "start_ns"), _opt_int(payload, "end_ns")
        if s is None or e is None:
            raise ValueError("memory.motion: start_ns and end_ns are required")
        return reader.motion(s, e)

    def pose_at(payload: dict) -> dict[str, Any]:
        s = _opt_int(payload, "stamp_ns")
        if s is None:
            raise ValueError("memory.pose_at: stamp_ns is required")
        return reader.pose_at(s)

    return {"memory.info": info, "memory.search": search, "memory.load": load,
            "memory.motion": motion, "memory.pose_at": pose_at}
