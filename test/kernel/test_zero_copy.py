"""Frames made by the real conversions reach the kernel mapped, not copied; read-only; freed after."""
from __future__ import annotations

import gc
import os
from types import SimpleNamespace as NS

import numpy as np

from spatialclaw_ros import shm as alloc
from spatialclaw_ros.frames.assemble import frame_from_messages
from spatialclaw_ros.kernel import KernelPool, protocol, shm

H, W = 240, 320                 # every array above the 64 KiB inline limit


def _msg(arr: np.ndarray, encoding: str, stamp_s: int) -> NS:
    a = np.ascontiguousarray(arr)
    return NS(encoding=encoding, height=a.shape[0], width=a.shape[1], step=a.strides[0],
              is_bigendian=0, data=a.tobytes(), header=NS(stamp=NS(sec=stamp_s, nanosec=0),
                                                          frame_id="cam"))


def converted_frames(n: int) -> list:
    """n RGB-D-label frames through frames/images.py, as bags and the live node make them."""
    info = NS(k=[100.0, 0, W / 2, 0, 100.0, H / 2, 0, 0, 1], d=[], width=W, height=H,
              distortion_model="plumb_bob", header=NS(frame_id="cam"))
    out = []
    for i in range(n):
        out.append(frame_from_messages(
            _msg(np.full((H, W, 3), (i, 2 * i, 3 * i), np.uint8), "bgr8", i + 1), info,
            depth=_msg(np.full((H, W), 1000 + i, np.uint16), "16UC1", i + 1),
            labels=_msg(np.full((H, W), i + 1, np.uint16), "16UC1", i + 1)))
    return out


def test_converted_frames_are_mapped_not_copied(pool: KernelPool) -> None:
    frames = converted_frames(4)
    before = protocol.copy_stats()
    with pool.acquire(frames, {}) as k:
        after = protocol.copy_stats()
        assert after["bytes_copied"] == before["bytes_copied"], "frames were copied into the kernel"
        assert after["arrays_shared"] - before["arrays_shared"] == 12   # rgb, depth, labels x 4
        r = k.run_cell("a = InputImages[3]\nprint(type(a.base).__name__, a.flags.writeable, "
                       "int(a[0, 0, 2]))", timeout_s=10)
        assert r.ok, r.error
        assert r.stdout.split()[:3] == ["mmap", "False", "3"]        # bgr (3, 6, 9) -> rgb (9, 6, 3)
        # the parent's pages, not a copy: a change made after the hand-over is visible in the kernel
        frames[3].rgb[0, 0, 2] = 200
        r = k.run_cell("print(int(InputImages[3][0, 0, 2]))", timeout_s=10)
        assert r.stdout.strip() == "200"


def test_kernel_cannot_write_the_frames(pool: KernelPool) -> None:
    frames = converted_frames(1)
    with pool.acquire(frames, {}) as k:
        for code, err in (("InputImages[0][0, 0, 0] = 1", "read-only"),
                          ("InputImages[0].flags.writeable = True", "WRITEABLE"),
                          ("import numpy as np\nnp.frombuffer(InputImages[0].base, np.uint8)[0:1] = 1",
                           "read-only")):
            r = k.run_cell(code, timeout_s=10)
            assert not r.ok and err in (r.error or ""), (code, r.error)
    assert int(frames[0].rgb[0, 0, 0]) == 0


def test_frames_dropped_during_a_query_stay_valid_and_are_freed_after(pool: KernelPool) -> None:
    gc.collect()
    alloc.new_slabs()
    memfds, held, dev_shm = shm.open_memfds(), alloc.shared_bytes(), set(os.listdir("/dev/shm"))
    frames = converted_frames(3)
    k = pool.acquire(frames, {})
    del frames                       # e.g. evicted from the FrameBuffer while the query runs
    gc.collect()
    r = k.run_cell("print([int(InputImages[i][0, 0, 0]) for i in range(3)])", timeout_s=10)
    assert r.stdout.strip() == "[0, 3, 6]", r.stdout + (r.error or "")    # pages not yet released
    k.close()
    gc.collect()
    assert alloc.shared_bytes() == held                  # pages released with the last reference
    alloc.new_slabs()
    gc.collect()
    assert shm.open_memfds() == memfds                   # and the blocks' descriptors closed
    assert not [n for n in set(os.listdir("/dev/shm")) - dev_shm if n.startswith("spatialclaw")]


def test_arrays_sent_later_stay_readable_after_the_sender_drops_them() -> None:
    a, b = protocol.socket_pair()
    tx, rx = protocol.Channel(a, untrusted_peer=True), protocol.Channel(b, untrusted_peer=False)
    arr = alloc.shared_empty((256, 256), np.float32)
    arr[...] = 2.5
    tx.send({"op": "reply", "value": arr})
    del arr
    gc.collect()                      # without the channel's reference the pages would be zeroed
    got = rx.recv()["value"]
    assert float(got.min()) == 2.5 and float(got.max()) == 2.5
    tx.close()
    rx.close()
