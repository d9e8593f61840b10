"""Keyframe selection and the bounded FrameBuffer (memory cap, max_frames, windows, stats)."""
from __future__ import annotations

import json
import math
import threading

import numpy as np
import pytest
from transforms3d.euler import euler2mat

from spatialclaw_ros.config import KeyframeConfig
from spatialclaw_ros.frames.buffer import FrameBuffer, spread_indices
from spatialclaw_ros.frames.keyframes import KeyframeSelector, relative_motion
from spatialclaw_ros.frames.types import CameraModel, Frame

S = 1_000_000_000
CAM = CameraModel(64, 48, np.array([[50.0, 0, 32], [0, 50.0, 24], [0, 0, 1]]), frame_id="cam")


def pose(x: float = 0.0, yaw_deg: float = 0.0) -> np.ndarray:
    T = np.eye(4)
    T[:3, :3] = euler2mat(0, 0, math.radians(yaw_deg))
    T[0, 3] = x
    return T


def frame(stamp_ns: int, T: np.ndarray | None = None, h: int = 48, w: int = 64) -> Frame:
    return Frame(stamp_ns=stamp_ns, rgb=np.zeros((h, w, 3), np.uint8), camera=CAM,
                 depth=np.ones((h, w), np.float32), T_fixed_camera=T, fixed_frame="odom")


def test_relative_motion() -> None:
    t, r = relative_motion(pose(0, 0), pose(0.3, 30))
    assert t == pytest.approx(0.3) and r == pytest.approx(30)


def test_keyframes_by_time_translation_and_rotation() -> None:
    sel = KeyframeSelector(KeyframeConfig(min_interval_s=0.5, min_translation_m=0.05,
                                          min_rotation_deg=5.0))
    assert sel.consider(0, pose()).reason == "first"
    assert not sel.consider(S // 10, pose(0.01, 1)).keep          # too close in every way
    assert sel.consider(2 * S // 10, pose(0.06)).reason == "translation"
    assert sel.consider(3 * S // 10, pose(0.06, 6)).reason == "rotation"
    assert not sel.consider(4 * S // 10, pose(0.06, 6)).keep
    assert sel.consider(8 * S // 10, pose(0.06, 6)).reason == "time"
    assert not sel.consider(9 * S // 10, None).keep               # no pose: time only
    assert sel.consider(13 * S // 10, None).reason == "time"
    assert sel.evaluate(S, pose()).reason == "older_than_last_keyframe"


def test_buffer_keeps_only_keyframes_at_high_rate() -> None:
    cfg = KeyframeConfig(min_interval_s=0.5, min_translation_m=0.05, min_rotation_deg=5.0,
                         max_frames=1000, memory_cap_mb=64)
    buf = FrameBuffer(cfg)
    for i in range(300):                               # 10 s at 30 Hz, static camera
        assert buf.should_keep(i * S // 30, pose()).keep == buf.add(frame(i * S // 30, pose()))
    assert len(buf) == 20                              # one every 0.5 s
    st = buf.stats(now_ns=10 * S)
    assert st.added == 20 and st.dropped == {"not_keyframe": 280}


def test_memory_cap_holds_whatever_the_input_rate() -> None:
    cfg = KeyframeConfig(max_frames=10_000, memory_cap_mb=1)
    buf = FrameBuffer(cfg, select_keyframes=False)
    per = frame(0).nbytes
    cap = 1024 * 1024
    for i in range(3000):
        buf.add(frame(i * S // 1000))
        assert buf.nbytes <= cap
    assert len(buf) == cap // per
    kept = buf.frames()
    assert kept[-1].stamp_ns == 2999 * S // 1000 and kept[0].stamp_ns == (3000 - cap // per) * S // 1000
    st = buf.stats(now_ns=3 * S)
    assert st.dropped["evicted_memory_cap"] == 3000 - cap // per
    assert st.fill == pytest.approx(len(buf) * per / cap)
    print(json.dumps({"frames_fed": 3000, "frame_bytes": per, "cap_bytes": cap,
                      "held_bytes": buf.nbytes, "held_frames": len(buf)}))


def test_memory_cap_under_concurrent_producers() -> None:
    buf = FrameBuffer(KeyframeConfig(max_frames=10_000, memory_cap_mb=1), select_keyframes=False)
    errors: list[str] = []

    def producer(k: int) -> None:
        for i in range(400):
            buf.add(frame((i * 4 + k) * S // 1000))
            if buf.nbytes > 1024 * 1024:
                errors.append("cap exceeded")

    threads = [threading.Thread(target=producer, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    stamps = [f.stamp_ns for f in buf.frames()]
    assert stamps == sorted(stamps) and sum(f.nbytes for f in buf.frames()) == buf.nbytes


def test_max_frames_and_oversized_frame() -> None:
    buf = FrameBuffer(KeyframeConfig(max_frames=5, memory_cap_mb=1), select_keyframes=False)
    for i in range(12):
        buf.add(frame(i * S))
    assert [f.stamp_ns // S for f in buf.frames()] == [7, 8, 9, 10, 11]
    assert not buf.add(frame(20 * S, h=480, w=640))      # 2.1 MB > 1 MB cap
    assert buf.stats().dropped["larger_than_memory_cap"] == 1
    with pytest.raises(ValueError, match="max_frames"):
        FrameBuffer(KeyframeConfig(max_frames=0))


def test_select_window_spread() -> None:
    buf = FrameBuffer(KeyframeConfig(max_frames=100, memory_cap_mb=64), select_keyframes=False)
    for i in range(50):
        buf.add(frame(i * S))
    sel = buf.select(10 * S, 30 * S, 5)
    assert [f.stamp_ns // S for f in sel] == [10, 15, 20, 25, 30]
    assert [f.stamp_ns // S for f in buf.select(None, 3 * S, 10)] == [0, 1, 2, 3]
    assert buf.select(100 * S, 200 * S, 5) == []
    assert len(buf.select(max_frames=None)) == KeyframeConfig().max_query_frames


def test_spread_indices() -> None:
    assert spread_indices(10, 3) == [0, 4, 9] or spread_indices(10, 3) == [0, 5, 9]
    assert spread_indices(3, 8) == [0, 1, 2]
    assert spread_indices(5, 1) == [4] and spread_indices(0, 3) == []
