"""The channel: messages and arrays through memfd shared memory, and what the parent refuses."""
from __future__ import annotations

import fcntl
import mmap
import os
import socket

import numpy as np
import pytest

from spatialclaw_ros.kernel import protocol, shm


def _pair(untrusted_b: bool = True) -> tuple[protocol.Channel, protocol.Channel]:
    a, b = protocol.socket_pair()
    return protocol.Channel(a, untrusted_peer=False), protocol.Channel(b, untrusted_peer=untrusted_b)


def test_round_trip_of_values_bytes_and_arrays() -> None:
    a, b = _pair()
    big = np.arange(200_000, dtype=np.float32).reshape(400, 500)
    small = np.array([[1, 2], [3, 4]], np.int16)
    a.send({"op": "x", "big": big, "small": small, "raw": b"\x00\xff", "nan": float("nan"),
            "nested": [1, "two", {"t": (3, 4)}], "flag": np.bool_(True)})
    msg = b.recv()
    assert msg["op"] == "x" and msg["raw"] == b"\x00\xff" and np.isnan(msg["nan"])
    assert msg["nested"] == [1, "two", {"t": [3, 4]}] and msg["flag"] is True
    np.testing.assert_array_equal(msg["big"], big)
    np.testing.assert_array_equal(msg["small"], small)
    assert not msg["big"].flags.writeable
    base = msg["big"]
    while isinstance(base, np.ndarray):
        base = base.base
    assert isinstance(base, mmap.mmap), "large arrays must arrive as shared-memory views"
    a.close()
    b.close()


def test_large_message_body_spills_into_a_memfd() -> None:
    a, b = _pair()
    text = "x" * 500_000
    a.send({"op": "big", "text": text})
    assert b.recv()["text"] == text


def test_shared_empty_arrays_are_sent_without_copying() -> None:
    a, b = _pair(untrusted_b=False)         # parent -> kernel direction
    arr = shm.shared_empty((300, 400, 3), np.uint8)
    arr[...] = 5
    msg, fds, owned = protocol.encode({"rgb": arr, "again": arr[10:20]})
    assert len(fds) == 1, "one block, sent once, by descriptor"
    for fd in owned:
        os.close(fd)
    a.send({"rgb": arr})
    got = b.recv()["rgb"]
    arr[0, 0, 0] = 9                      # same pages: the receiver sees the writer's update
    assert got[0, 0, 0] == 9 and not got.flags.writeable


def test_receiver_cannot_map_a_sent_block_writable() -> None:
    fd, offsets = shm.pack_arrays([np.ones(100_000, np.uint8)])
    with pytest.raises(PermissionError):
        mm = mmap.mmap(fd, 100_000, mmap.MAP_SHARED, mmap.PROT_WRITE | mmap.PROT_READ)
        mm.close()
    os.close(fd)
    arr = shm.shared_empty((1000,), np.uint8)
    ro = shm.find_block(arr)
    assert ro is not None
    with pytest.raises(PermissionError):
        mmap.mmap(ro[0], 1000, mmap.MAP_SHARED, mmap.PROT_WRITE | mmap.PROT_READ)


def test_parent_copies_unsealed_blocks_and_refuses_object_dtypes_from_the_kernel() -> None:
    a, b = _pair(untrusted_b=True)
    fd = os.memfd_create("evil", os.MFD_CLOEXEC)
    os.ftruncate(fd, 4096)
    os.pwrite(fd, np.arange(10, dtype="<f4").tobytes(), 0)
    hdr = b'J{"op":"x","a":{"__nd__":0,"dtype":"<f4","shape":[10],"offset":0}}'
    socket.send_fds(a.sock, [hdr], [fd])
    got = b.recv()["a"]              # unsealed: received as a private copy, never mapped
    os.ftruncate(fd, 0)              # so neither truncation (SIGBUS) nor writes reach the parent
    os.ftruncate(fd, 4096)
    assert got.tolist() == list(range(10))
    a.sock.sendall(b'J{"op":"x","a":{"__nd__":-1,"dtype":"|O","shape":[1],"b64":""}}')
    with pytest.raises(protocol.ProtocolError, match="numeric or bool"):
        b.recv()
    a.sock.sendall(b"Jnot json")
    with pytest.raises(protocol.ProtocolError, match="malformed"):
        b.recv()
    os.close(fd)


def test_parent_refuses_arrays_outside_their_block() -> None:
    a, b = _pair(untrusted_b=True)
    fd, _ = shm.pack_arrays([np.zeros(16, np.uint8)])
    hdr = b'J{"op":"x","a":{"__nd__":0,"dtype":"<f8","shape":[1000],"offset":0}}'
    socket.send_fds(a.sock, [hdr], [fd])
    with pytest.raises(protocol.ProtocolError, match="outside"):
        b.recv()
    os.close(fd)
    assert fcntl.F_SEAL_WRITE  # the constants the seals rely on exist on this Python


def test_unsendable_values_get_a_clear_error() -> None:
    a, _ = _pair()
    with pytest.raises(TypeError, match="cannot send a set"):
        a.send({"op": "x", "v": {1, 2}})
    with pytest.raises(shm.ShmError, match="numeric or bool"):
        a.send({"op": "x", "v": np.array([object()])})


def test_closed_peer_is_reported() -> None:
    a, b = _pair()
    a.close()
    with pytest.raises(protocol.ChannelClosed):
        b.recv()


def test_shared_empty_packs_frames_into_few_blocks_and_frees_them() -> None:
    import gc

    shm.new_slabs()                                       # start from a fresh allocator block
    gc.collect()
    before = shm.open_memfds()
    arrays = [shm.shared_empty((480, 640, 3), np.uint8) for _ in range(8)]
    arrays += [shm.shared_empty((480, 640), np.float32) for _ in range(8)]
    arrays[3][...] = 3
    arrays[9][...] = 1.5
    msg, fds, owned = protocol.encode({"a": arrays})
    assert owned == [] and 1 <= len(fds) <= 2            # 16 arrays, 17 MB: one or two blocks
    assert int(arrays[3].sum()) == 3 * 480 * 640 * 3 and float(arrays[9][0, 0]) == 1.5
    alone = shm.shared_empty((10,), np.uint8, own_block=True)
    assert shm.find_block(alone)[0] not in fds
    del arrays, alone, msg
    shm.new_slabs()                                       # drop the allocator's current block
    gc.collect()
    assert shm.open_memfds() == before
