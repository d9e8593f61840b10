"""memory.* handlers: validation, repeated loads, and frames a restarted kernel no longer has."""
from __future__ import annotations

from pathlib import Path

import pytest

from spatialclaw_ros.config import MemoryConfig
from spatialclaw_ros.memory.handlers import memory_handlers
from spatialclaw_ros.memory.retrieve import MemoryReader
from spatialclaw_ros.memory.store import MemoryStore
from spatialclaw_ros.memory.synth import SynthWorld, record


@pytest.fixture()
def reader(tmp_path: Path):
    """A reader over 20 s of the synthetic room."""
    d = tmp_path / "m"
    with MemoryStore(d, MemoryConfig()) as st:
        record(st, SynthWorld(), 0.0, 20.0)
    r = MemoryReader(d)
    yield r
    r.close()


def test_load_appends_to_the_query_frames_once_and_realigns_after_a_kernel_restart(reader: MemoryReader) -> None:
    world = SynthWorld()
    frames = [world.render(0.0)]
    h = memory_handlers(reader, frames)
    refs = h["memory.search"]({"limit": 5})["refs"]
    ids = [r["id"] for r in refs]
    a = h["memory.load"]({"ids": ids[:2], "have": 1})
    assert a["indices"] == [1, 2] and len(a["frames"]) == 2 and len(frames) == 3
    b = h["memory.load"]({"ids": ids[1:3], "have": 3})
    assert b["indices"] == [2, 3] and len(b["frames"]) == 1 and len(frames) == 4
    assert [r["loaded_index"] for r in h["memory.search"]({"limit": 5})["refs"]][:3] == [1, 2, 3]
    # the kernel restarted and kept only the query's frame: the parent forgets the rest, reloads
    c = h["memory.load"]({"ids": [ids[2]], "have": 1})
    assert c["indices"] == [1] and len(frames) == 2 and frames[1].stamp_ns == refs[2]["stamp_ns"]
    with pytest.raises(ValueError, match="list of keyframe ids"):
        h["memory.load"]({"ids": "1"})
    with pytest.raises(KeyError, match="search again"):
        h["memory.load"]({"ids": [99999], "have": 2})
    with pytest.raises(ValueError, match="tags"):
        h["memory.search"]({"tags": "mug"})
    with pytest.raises(ValueError, match="required"):
        h["memory.motion"]({"start_ns": 1})
