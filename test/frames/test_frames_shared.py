"""Frames from the image conversions live in shared memory, and the FrameBuffer frees it on eviction."""
from __future__ import annotations

import gc
from types import SimpleNamespace as NS

import cv2
import numpy as np

from spatialclaw_ros import shm
from spatialclaw_ros.config import KeyframeConfig
from spatialclaw_ros.frames.assemble import frame_from_messages
from spatialclaw_ros.frames.buffer import FrameBuffer
from spatialclaw_ros.frames.images import image_to_depth_m, image_to_labels, image_to_rgb

H, W = 480, 640
MB = 1024 * 1024


def raw(arr: np.ndarray, encoding: str, stamp_s: int = 1) -> NS:
    a = np.ascontiguousarray(arr)
    return NS(encoding=encoding, height=a.shape[0], width=a.shape[1],
              step=a.strides[0], is_bigendian=0, data=a.tobytes(),
              header=NS(stamp=NS(sec=stamp_s, nanosec=0), frame_id="cam"))


def info() -> NS:
    return NS(k=[525.0, 0, W / 2, 0, 525.0, H / 2, 0, 0, 1], d=[0.0] * 5, width=W, height=H,
              distortion_model="plumb_bob", header=NS(frame_id="cam"))


def test_every_frame_conversion_writes_into_shared_memory() -> None:
    rgb = np.random.default_rng(1).integers(0, 256, (H, W, 3), dtype=np.uint8)
    depth_mm = np.random.default_rng(2).integers(0, 4000, (H, W), dtype=np.uint16)
    ok, jpg = cv2.imencode(".png", rgb[:, :, ::-1])
    assert ok
    outs = {
        "bgr8": image_to_rgb(raw(rgb[:, :, ::-1], "bgr8")),
        "rgb8": image_to_rgb(raw(rgb, "rgb8")),
        "mono8": image_to_rgb(raw(rgb[:, :, 0], "mono8")),
        "png": image_to_rgb(NS(format="png", data=jpg.tobytes())),
        "16UC1": image_to_depth_m(raw(depth_mm, "16UC1")),
        "32FC1": image_to_depth_m(raw(depth_mm.astype(np.float32) / 1000, "32FC1")),
        "labels": image_to_labels(raw(depth_mm, "16UC1")),
    }
    for name, a in outs.items():
        assert shm.is_shared(a), f"{name}: output not in shared memory"
    np.testing.assert_array_equal(outs["bgr8"], rgb)
    np.testing.assert_array_equal(outs["png"], rgb)
    np.testing.assert_array_equal(outs["mono8"], np.dstack([rgb[:, :, 0]] * 3))
    assert np.isnan(outs["16UC1"][depth_mm == 0]).all()
    np.testing.assert_allclose(outs["16UC1"][depth_mm > 0], depth_mm[depth_mm > 0] * 0.001, rtol=1e-6)
    assert outs["labels"].dtype == np.int32 and (outs["labels"] == depth_mm).all()


def test_frame_buffer_cap_holds_in_shared_memory_and_eviction_frees_it() -> None:
    gc.collect()
    shm.new_slabs()
    base_bytes, base_blocks = shm.shared_bytes(), shm.block_count()
    cap_mb = 8
    buf = FrameBuffer(KeyframeConfig(max_frames=1000, memory_cap_mb=cap_mb), select_keyframes=False)
    rgb = np.full((H, W, 3), 7, np.uint8)
    depth = np.full((H, W), 1500, np.uint16)
    peak = 0
    for i in range(40):                      # 40 x 2.1 MB = 84 MB through an 8 MB buffer
        f = frame_from_messages(raw(rgb, "rgb8", i + 1), info(), depth=raw(depth, "16UC1", i + 1))
        assert shm.is_shared(f.rgb) and shm.is_shared(f.depth)
        assert buf.add(f)
        del f
        peak = max(peak, shm.shared_bytes() - base_bytes)
    assert buf.nbytes <= cap_mb * MB and len(buf) == 3
    # allocations are page-aligned, so what the OS holds is what the buffer counts
    assert peak <= cap_mb * MB + 64 * 1024, f"shared memory peaked at {peak / MB:.1f} MB"
    assert abs(float(buf.frames()[-1].depth[5, 5]) - 1.5) < 1e-6     # kept frames are intact
    buf.clear()
    gc.collect()
    assert shm.shared_bytes() - base_bytes == 0
    shm.new_slabs()
    gc.collect()
    assert shm.block_count() == base_blocks                     # blocks and descriptors closed


def test_a_view_keeps_its_frame_memory() -> None:
    a = image_to_rgb(raw(np.full((H, W, 3), 9, np.uint8), "rgb8"))
    v = a[100:200]
    del a
    gc.collect()
    assert int(v.min()) == 9 and int(v.max()) == 9              # not released under a live view


def test_frames_of_different_pools_never_share_a_block() -> None:
    msg = raw(np.zeros((48, 64, 3), np.uint8), "rgb8")
    a = image_to_rgb(msg, shm_pool="robot-a")
    b = image_to_rgb(msg, shm_pool="robot-b")
    a2 = image_to_rgb(msg, shm_pool="robot-a")
    assert shm.find_block(a)[0] == shm.find_block(a2)[0]       # neighbours of the same robot
    assert shm.find_block(a)[0] != shm.find_block(b)[0]        # a kernel given `a` cannot read `b`
