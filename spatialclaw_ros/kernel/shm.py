"""Shared memory for the kernel channel: anonymous memfd blocks passed as file descriptors.

Arrays never travel through the pipe. The sender puts them in a memfd (or finds that they already
live in one, see :func:`shared_empty`), and the descriptor crosses the Unix socket with SCM_RIGHTS.
A memfd has no name in /dev/shm: it disappears when the last descriptor and mapping go, so a
killed kernel leaves nothing behind.

Arrays allocated with :func:`shared_empty` (spatialclaw_ros/shm.py, re-exported here) are sent
by their block's read-only descriptor. Blocks a sender gives away are sealed (no write, no
shrink, no grow) or reopened read-only, so the receiver can map them without fearing that the
other side changes or truncates them under it.
"""
from __future__ import annotations

import fcntl
import math
import mmap
import os

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


_block_dir: str | None = None     # set in a sandboxed kernel: blocks are files in its scratch


def set_block_dir(path: str | None) -> None:
    """Make pack_arrays put blocks in unnamed files under `path` (the kernel's scratch) not memfds.

    In the sandbox memfd_create is denied (a memfd's pages escape RLIMIT_AS); files in the
    size-capped scratch count against its quota. Such blocks cannot be sealed: the parent copies
    them (map_readonly) instead of mapping them.
    """
    global _block_dir
    _block_dir = path


def new_block_fd(name: str) -> int:
    """A new sealable memfd, or in a sandboxed kernel an unnamed file in its scratch (see above)."""
    if _block_dir is not None:
        return os.open(_block_dir, os.O_TMPFILE | os.O_RDWR | os.O_CLOEXEC, 0o600)
    return os.memfd_create(name, os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)


def seal(fd: int) -> None:
    """Seal a block against write, shrink and grow (a no-op for scratch files, which cannot be)."""
    if _block_dir is None:
        fcntl.fcntl(fd, fcntl.F_ADD_SEALS, _SEALS)


def pack_arrays(arrays: list[np.ndarray], *, name: str = "spatialclaw") -> tuple[int, list[int]]:
    """Copy arrays into one new sealed memfd (or scratch file); returns (fd, offset of each array)."""
    offsets: list[int] = []
    total = 0
    for a in arrays:
        offsets.append(total)
        total += _align(a.nbytes)
    fd = new_block_fd(name)
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
        seal(fd)
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
    """Map a received block read-only; an untrusted sender's unsealed block is copied instead.

    A mapping of a block the sender can still truncate would fault (SIGBUS) when read past the new
    end, and one it can still write could change under a check: so from an untrusted sender only a
    sealed memfd is mapped; anything else is read into private memory with pread (a short read
    just leaves zeros).
    """
    st = os.fstat(fd)
    import stat as _stat

    if not _stat.S_ISREG(st.st_mode):
        raise ShmError("shared block is not a memory file")
    if st.st_size <= 0 or st.st_size > max_bytes:
        raise ShmError(f"shared block has an unacceptable size ({st.st_size} bytes)")
    if require_sealed and not is_sealed(fd):
        mm = mmap.mmap(-1, st.st_size)
        view_ = memoryview(mm)
        try:
            for start, end in _data_extents(fd, st.st_size):   # holes stay untouched zero pages
                off = start
                while off < end:
                    n = os.preadv(fd, [view_[off:end]], off)
                    if n <= 0:
                        break
                    off += n
        finally:
            view_.release()
        return mm
    return mmap.mmap(fd, st.st_size, mmap.MAP_SHARED, mmap.PROT_READ)


def _data_extents(fd: int, size: int) -> list[tuple[int, int]]:
    """The [start, end) ranges of a file below `size` that hold data (all of it if unknown)."""
    out: list[tuple[int, int]] = []
    off = 0
    try:
        while off < size:
            try:
                start = os.lseek(fd, off, os.SEEK_DATA)
            except OSError as exc:
                if exc.errno == 6:          # ENXIO: no data past off
                    break
                raise
            if start >= size:
                break
            end = min(os.lseek(fd, start, os.SEEK_HOLE), size)
            out.append((start, end))
            off = end
    except (OSError, AttributeError):       # no SEEK_DATA here: read everything
        return [(0, size)]
    return out


def view(mm: mmap.mmap, dtype: str, shape: list[int], offset: int) -> np.ndarray:
    """A read-only numpy view of part of a mapped block, bounds-checked."""
    dt = check_dtype(dtype)
    if type(shape) is not list and type(shape) is not tuple or len(shape) > 8:
        raise ShmError(f"bad array shape {shape!r}")
    n = dt.itemsize
    for s in shape:
        if type(s) is not int or s < 0:
            raise ShmError(f"bad array shape {shape!r}")
        n *= s
    if type(offset) is not int or offset < 0 or offset + n > len(mm):
        raise ShmError("array lies outside its shared block")
    arr = np.ndarray(tuple(shape), dt, buffer=mm, offset=offset)
    arr.flags.writeable = False
    return arr


# ---------------------------------------------------------------- zero-copy allocation (parent side)
# The allocator lives in the neutral spatialclaw_ros.shm so that frame producers (frames/images.py)
# use it without importing the kernel package; re-exported here for the kernel channel.
from spatialclaw_ros.shm import (  # noqa: E402,F401 - re-exports
    SLAB_BYTES,
    block_count,
    find_block,
    is_shared,
    new_slabs,
    open_memfds,
    shared_bytes,
    shared_empty,
    try_shared_empty,
)
