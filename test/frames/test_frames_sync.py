"""StampSynchronizer: nearest partner within the tolerance, waiting, drops, fallbacks."""
from __future__ import annotations

import pytest

from spatialclaw_ros.frames.sync import StampSynchronizer

MS = 1_000_000


def feed(sync: StampSynchronizer, events):
    out = []
    for stream, t in events:
        out += sync.push(stream, t * MS, f"{stream}@{t}")
    return out


def test_nearest_within_tolerance_waits_for_a_nearer_partner() -> None:
    s = StampSynchronizer("color", required=["depth"], tolerance_ns=20 * MS)
    assert feed(s, [("color", 100), ("depth", 92)]) == []   # 108 may still come
    out = feed(s, [("depth", 103)])
    assert len(out) == 1 and out[0].items == {"color": "color@100", "depth": "depth@103"}
    assert out[0].offset_ns("depth") == 3 * MS


def test_required_partner_beyond_tolerance_drops_and_counts() -> None:
    s = StampSynchronizer("color", required=["depth"], tolerance_ns=10 * MS)
    out = feed(s, [("depth", 0), ("color", 50), ("depth", 100), ("color", 100)])
    assert [m.items["color"] for m in out] == ["color@100"]
    st = s.stats()
    assert st.matched == 1 and st.dropped == {"no_depth": 1}


def test_many_streams_out_of_arrival_order() -> None:
    s = StampSynchronizer("color", required=["depth", "camera_info"], optional=["labels"],
                          tolerance_ns=20 * MS)
    ev = []
    for i in range(10):
        t = i * 100
        ev += [("camera_info", t), ("color", t + 1)]
        ev += [("labels", t + 1)]
        ev += [("depth", t - 4)] if i % 2 else [("depth", t + 7)]
    ev.append(("color", 2000))
    out = feed(s, ev)
    assert len(out) == 10
    for i, m in enumerate(out):
        assert m.stamp_ns == (i * 100 + 1) * MS
        assert set(m.items) == {"color", "depth", "camera_info", "labels"}
        assert abs(m.offset_ns("depth")) <= 20 * MS


def test_optional_silent_stream_does_not_block_forever() -> None:
    s = StampSynchronizer("color", optional=["labels"], tolerance_ns=10 * MS, max_wait_ns=300 * MS)
    assert feed(s, [("labels", 0)]) == []    # labels seen once, then silent
    out = feed(s, [("color", 100), ("color", 200), ("color", 300)])
    assert out == []
    out = feed(s, [("color", 400)])
    assert [m.stamp_ns for m in out] == [100 * MS]
    assert "labels" not in out[0].items


def test_latched_camera_info_falls_back_to_latest() -> None:
    s = StampSynchronizer("color", required=["camera_info"], tolerance_ns=10 * MS,
                          latest_fallback=["camera_info"], queue_size=3)
    out = feed(s, [("camera_info", 0), ("color", 1000), ("color", 1100), ("color", 1200)])
    assert [m.items["camera_info"] for m in out] == ["camera_info@0"]
    assert s.stats().latest_fallback == {"camera_info": 1}


def test_queue_bounded_when_required_stream_silent() -> None:
    s = StampSynchronizer("color", required=["depth"], tolerance_ns=10 * MS, queue_size=5)
    out = feed(s, [("color", t) for t in range(0, 10000, 100)])
    assert out == []
    st = s.stats()
    assert st.pending <= 5 and sum(st.dropped.values()) + st.pending == 100


def test_flush_resolves_pending_at_end_of_bag() -> None:
    s = StampSynchronizer("color", required=["depth"], tolerance_ns=10 * MS)
    assert feed(s, [("color", 10), ("depth", 5), ("color", 100)]) == []   # 12 could still come
    out = s.flush()
    assert [m.stamp_ns for m in out] == [10 * MS] and s.stats().dropped == {"no_depth": 1}


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="tolerance"):
        StampSynchronizer("color", tolerance_ns=-1)
    with pytest.raises(ValueError, match="unknown stream 'ir'"):
        StampSynchronizer("color", required=["depth"]).push("ir", 0, None)
