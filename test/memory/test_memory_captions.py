"""Idle-time captions: only when idle, within the budget, searchable with FTS5, abandoned when a query starts."""
from __future__ import annotations

import threading
from pathlib import Path

import pytest
from support.scripted_vlm import Reply, ScriptedVlmServer

from spatialclaw_ros.config import Config, MemoryConfig
from spatialclaw_ros.memory.captions import IdleCaptioner
from spatialclaw_ros.memory.retrieve import MemoryReader
from spatialclaw_ros.memory.store import MemoryStore
from spatialclaw_ros.memory.synth import SynthWorld, record


@pytest.fixture()
def memory_dir(tmp_path: Path) -> Path:
    """A few keyframes."""
    d = tmp_path / "m"
    with MemoryStore(d, MemoryConfig()) as st:
        record(st, SynthWorld(), 0.0, 12.0)
    return d


def _cfg(url: str) -> Config:
    c = Config()
    c.vlm.base_url, c.vlm.retries, c.vlm.timeout_s = url, 0, 10.0
    return c


def test_captions_in_idle_time_within_budget_and_searchable(memory_dir: Path) -> None:
    idle = threading.Event()
    with ScriptedVlmServer([Reply("A wooden table with a red mug and a green book.")],
                           default=Reply("An empty floor.")) as srv:
        cap = IdleCaptioner(str(memory_dir), _cfg(srv.base_url), idle.is_set, per_hour=2)
        try:
            assert cap.caption_one() is None and not srv.requests          # a query is running: nothing
            idle.set()
            kid = cap.caption_one()
            assert kid is not None and len(srv.requests[-1].images) == 1
            second = cap.caption_one()
            assert second is not None and second != kid
            assert cap.caption_one() is None                                # budget: 2 per hour
        finally:
            cap.close()
    r = MemoryReader(memory_dir)
    try:
        hits = r.search(text="wooden mug", limit=10)
        assert [h["id"] for h in hits] == [kid]                             # newest keyframe, captioned first
        newest = r.search(order="newest", limit=1)[0]
        assert newest["id"] == kid
    finally:
        r.close()


def test_a_caption_in_flight_is_abandoned_when_a_query_starts(memory_dir: Path) -> None:
    idle = threading.Event()
    idle.set()
    with ScriptedVlmServer([Reply("too late", delay_s=5.0)]) as srv:
        cap = IdleCaptioner(str(memory_dir), _cfg(srv.base_url), idle.is_set, per_hour=10)
        try:
            threading.Timer(0.3, idle.clear).start()                        # a query arrives
            assert cap.caption_one() is None                                # abandoned, not waited for
            assert cap.preempted == 1 and cap.failed == 0
        finally:
            cap.close()
    r = MemoryReader(memory_dir)
    try:
        assert r.db.execute("SELECT COUNT(*) FROM keyframes WHERE caption != ''").fetchone()[0] == 0
    finally:
        r.close()
