"""Shared memory for the kernel channel: anonymous memfd blocks passed as file descriptors.

Arrays never travel through the pipe. The sender puts them in a memfd (or finds that they already
live in one, see :func:`shared_empty`), and the descriptor crosses the Unix socket with SCM_RIGHTS.
A memfd has no name in /dev/shm: it disappears when the last descriptor and mapping go, so a
killed kernel leaves nothing behind.

Blocks a sender gives away are sealed (no write, no shrink, no grow) or reopened read-only, so the
receiver can map them without fearing that the other side changes or truncates them under it.
"""
from __future__ import annotations

import fcntl
import math
import mmap
import os
import threading
import weakref
from dataclasses import dataclass

import numpy as np

ALIGN = 64
_SEALS = fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_WRITE | fcntl.F_SEAL_SEAL
# Dtype kinds that may be rebuilt from raw bytes sent by the (untrusted) kernel.
_SAFE_KINDS = frozenset("biuf?c")


class ShmError(ValueError):
    """A shared-memory block or array description is invalid."""


def _align(n: int) -> int:
    return (n + ALIGN - 1) // ALIGN * ALIGN


_dtype_cache: dict[str, np.dtype] = {}


def check_dtype(dtype: str | np.dtype) -> np.dtype:
    """A plain numeric/bool dtype from its string, or ShmError (never object dtypes)."""
    if isinstance(dtype, str):
        hit = _dtype_cache.get(dtype)
        if hit is not None:
            return hit
    try:
        dt = np.dtype(dtype)
    except TypeError as exc:
        raise ShmError(f"unknown dtype {dtype!r}") from exc
    if dt.kind not in _SAFE_KINDS or dt.fields is not None or dt.subdtype is not None:
        raise ShmError(f"dtype {dt} cannot travel through shared memory (numeric or bool only)")
    if isinstance(dtype, str) and len(_dtype_cache) < 64:
        _dtype_cache[dtype] = dt
    return dt


def pack_arrays(arrays: list[np.ndarray], *, name: str = "spatialclaw") -> tuple[int, list[int]]:
    """Copy arrays into one new sealed memfd; returns (fd, byte offset of each array)."""
    offsets: list[int] = []
    total = 0
    for a in arrays:
        offsets.append(total)
        total += _align(a.nbytes)
    fd = os.memfd_create(name, os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
    try:
        os.ftruncate(fd, max(total, 1))
        # pwrite, not mmap + copy: the kernel fills page-cache pages without a user page fault
        # each, which is 2x faster for fresh memory (and much more so in VMs).
        for a, off in zip(arrays, offsets):
            if a.nbytes:
                view = memoryview(np.ascontiguousarray(a)).cast("B")
                while view:
                    n = os.pwrite(fd, view, off)
                    view, off = view[n:], off + n
        fcntl.fcntl(fd, fcntl.F_ADD_SEALS, _SEALS)
    except BaseException:
        os.close(fd)
        raise
    return fd, offsets


def readonly_fd(fd: int) -> int:
    """A new read-only descriptor of the same memfd (the receiver cannot map it writable)."""
    return os.open(f"/proc/self/fd/{fd}", os.O_RDONLY | os.O_CLOEXEC)


def is_sealed(fd: int) -> bool:
    """True when the memfd can no longer be written, shrunk or grown."""
    try:
        seals = fcntl.fcntl(fd, fcntl.F_GET_SEALS)
    except OSError:
        return False
    need = fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_WRITE
    return seals & need == need


def map_readonly(fd: int, *, require_sealed: bool = False, max_bytes: int = 1 << 34) -> mmap.mmap:
    """Map a received memfd read-only (checking seals when the sender is untrusted)."""
    st = os.fstat(fd)
    import stat as _stat

    if not _stat.S_ISREG(st.st_mode):
        raise ShmError("shared block is not a memory file")
    if require_sealed and not is_sealed(fd):
        raise ShmError("shared block from the kernel is not sealed")
    if st.st_size <= 0 or st.st_size > max_bytes:
        raise ShmError(f"shared block has an unacceptable size ({st.st_size} bytes)")
    return mmap.mmap(fd, st.st_size, mmap.MAP_SHARED, mmap.PROT_READ)


def view(mm: mmap.mmap, dtype: str, shape: list[int], offset: int) -> np.ndarray:
    """A read-only numpy view of part of a mapped block, bounds-checked."""
    dt = check_dtype(dtype)
    if not isinstance(shape, (list, tuple)) or not all(
            isinstance(s, int) and s >= 0 for s in shape) or len(shape) > 8:
        raise ShmError(f"bad array shape {shape!r}")
    n = math.prod(shape) * dt.itemsize
    if not isinstance(offset, int) or offset < 0 or offset + n > len(mm):
        raise ShmError("array lies outside its shared block")
    arr = np.ndarray(tuple(shape), dt, buffer=mm, offset=offset)
    arr.flags.writeable = False
    return arr


# ---------------------------------------------------------------- zero-copy allocation (parent side)
@dataclass
class _Block:
    fd: int          # read-write, kept by the owner
    ro_fd: int       # read-only reopening: what kernels receive
    addr: int
    size: int


_registry: dict[int, _Block] = {}      # id(mmap) -> block
_registry_lock = threading.Lock()


def _forget(key: int, fds: tuple[int, ...]) -> None:
    with _registry_lock:
        _registry.pop(key, None)
    for fd in fds:
        try:
            os.close(fd)
        except OSError:
            pass


SLAB_BYTES = 32 * 1024 * 1024
_slab: list = [None, 0]                 # [current slab mmap, bytes used]; guarded by _registry_lock


def _new_block(size: int) -> mmap.mmap:
    fd = os.memfd_create("spatialclaw-frames", os.MFD_CLOEXEC)
    try:
        os.ftruncate(fd, size)
        mm = mmap.mmap(fd, size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        ro_fd = readonly_fd(fd)
    except BaseException:
        os.close(fd)
        raise
    addr = np.frombuffer(mm, np.uint8, 1).__array_interface__["data"][0]
    key = id(mm)
    with _registry_lock:
        _registry[key] = _Block(fd, ro_fd, addr, size)
    weakref.finalize(mm, _forget, key, (fd, ro_fd))
    return mm


def shared_empty(shape: tuple[int, ...] | list[int], dtype: str | np.dtype, *,
                 own_block: bool = False) -> np.ndarray:
    """An uninitialised array in shared memory, so handing it to a kernel copies nothing.

    Use it where frames are made (ingest, bag reading, simulation): :meth:`KernelPool.acquire`
    sends such arrays by descriptor instead of copying them. Arrays up to 16 MiB share 32 MiB
    blocks (fewer descriptors and mappings per query: 32 VGA RGB-D frames take 5 blocks, not 64);
    a block is freed when its last array is. A kernel can read every array in a block it gets,
    i.e. neighbouring frames of the same robot; ``own_block=True`` gives the array a block alone.
    """
    dt = np.dtype(dtype)
    nbytes = max(math.prod(shape) * dt.itemsize, 1)
    if own_block or nbytes > SLAB_BYTES // 2:
        return np.ndarray(tuple(shape), dt, buffer=_new_block(nbytes))
    need = _align(nbytes)
    with _registry_lock:
        mm, used = _slab
        if mm is None or used + need > len(mm):
            mm, used = None, 0
    if mm is None:
        mm = _new_block(SLAB_BYTES)
        with _registry_lock:
            _slab[0], _slab[1] = mm, 0
            used = 0
    with _registry_lock:
        if _slab[0] is not mm or _slab[1] + need > len(mm):   # another thread filled it: own block
            mm, used = _new_block(need), 0
        else:
            used = _slab[1]
            _slab[1] = used + need
    return np.ndarray(tuple(shape), dt, buffer=mm, offset=used)


def find_block(arr: np.ndarray) -> tuple[int, int] | None:
    """(read-only fd, byte offset) when a C-contiguous array lies in a :func:`shared_empty` block, else None."""
    if not arr.flags.c_contiguous:
        return None
    base = arr
    while isinstance(base, np.ndarray) and base.base is not None:
        base = base.base
    if not isinstance(base, mmap.mmap):
        return None
    with _registry_lock:
        blk = _registry.get(id(base))
    if blk is None:
        return None
    off = arr.__array_interface__["data"][0] - blk.addr
    if off < 0 or off + arr.nbytes > blk.size:
        return None
    return blk.ro_fd, off


def open_memfds() -> int:
    """How many memfd descriptors this process holds (for leak checks)."""
    n = 0
    for name in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{name}").startswith("/memfd:"):
                n += 1
        except OSError:
            pass
    return n
