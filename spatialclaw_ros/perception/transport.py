"""Messages between the perception service and its worker: JSON headers on a pipe, arrays in shared memory.

Each message's arrays are packed into one ``multiprocessing.shared_memory`` block; the header
carries its name and each array's dtype, shape and offset. The receiver copies the arrays out and
unlinks the block, so a block lives only while one message is in flight.
"""
from __future__ import annotations

import json
import os
from multiprocessing import resource_tracker, shared_memory
from typing import IO, Any

import numpy as np

ALIGN = 64


def pack(arrays: dict[str, np.ndarray]) -> dict[str, Any] | None:
    """Copy ``arrays`` into a new shared-memory block; returns the header part that describes it."""
    if not arrays:
        return None
    layout, off = [], 0
    for k, a in arrays.items():
        a = np.asarray(a)
        if a.dtype == object:
            raise TypeError(f"array '{k}' has dtype object; only numeric arrays cross the perception pipe")
        layout.append({"key": k, "dtype": a.dtype.str, "shape": list(a.shape), "offset": off})
        off += (a.nbytes + ALIGN - 1) // ALIGN * ALIGN
    shm = shared_memory.SharedMemory(create=True, size=max(off, 1))
    try:
        for item, a in zip(layout, arrays.values()):
            a = np.ascontiguousarray(a)
            dst = np.ndarray(a.shape, a.dtype, buffer=shm.buf, offset=item["offset"])
            dst[...] = a
        name = shm.name
    finally:
        shm.close()
    # The receiver unlinks; keep this process's resource tracker from unlinking it again at exit.
    try:
        resource_tracker.unregister(shm._name, "shared_memory")  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001 - best effort, tracker absent on some platforms
        pass
    return {"shm": name, "layout": layout}


def unpack(meta: dict[str, Any] | None) -> dict[str, np.ndarray]:
    """Copy the arrays a header describes out of shared memory and unlink the block."""
    if not meta:
        return {}
    shm = shared_memory.SharedMemory(name=meta["shm"])
    try:
        out = {}
        for item in meta["layout"]:
            a = np.ndarray(tuple(item["shape"]), np.dtype(item["dtype"]), buffer=shm.buf, offset=item["offset"])
            out[item["key"]] = a.copy()
        return out
    finally:
        shm.close()
        discard(meta)


def discard(meta: dict[str, Any] | None) -> None:
    """Unlink a block that will not be read (request abandoned)."""
    if not meta:
        return
    try:
        shm = shared_memory.SharedMemory(name=meta["shm"])
    except FileNotFoundError:
        return
    shm.close()
    shm.unlink()          # also drops the tracker registration that attaching made


def write_message(stream: IO[bytes], header: dict[str, Any], arrays: dict[str, np.ndarray] | None = None) -> None:
    """Send one message: the arrays go to shared memory, the header as one JSON line."""
    header = dict(header)
    header["arrays"] = pack(arrays or {})
    try:
        stream.write(json.dumps(header).encode() + b"\n")
        stream.flush()
    except (BrokenPipeError, OSError):
        discard(header["arrays"])
        raise


def read_message(stream: IO[bytes]) -> tuple[dict[str, Any], dict[str, np.ndarray]] | None:
    """Receive one message (header, arrays); None at end of stream."""
    line = stream.readline()
    if not line:
        return None
    header = json.loads(line)
    return header, unpack(header.pop("arrays", None))


def private_stdout() -> IO[bytes]:
    """Keep fd 1 for the protocol only: return it as a binary stream and point fd 1 at stderr."""
    proto = os.fdopen(os.dup(1), "wb", buffering=0)
    os.dup2(2, 1)
    return proto
