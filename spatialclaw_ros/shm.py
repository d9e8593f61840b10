"""Arrays in shared memory (anonymous memfds), so that handing them to a kernel copies nothing.

Low-level and dependency-free (numpy only): producers of frames (``frames/images.py``) allocate
here, the kernel channel (``kernel/shm.py``, ``kernel/protocol.py``) finds an array's block and
sends its read-only descriptor instead of copying. Neither side imports the other.

Layout. Arrays up to 16 MiB share 32 MiB blocks ("slabs", fewer descriptors and mappings per
query: 32 VGA RGB-D frames take 3 blocks, not 64); larger ones, and ``own_block=True``, get a block
alone. A kernel given a slab can read *every* array in it, including frames allocated after the
query started; so a slab only ever holds arrays of one ``pool`` (default ``"frames"``: the frames
of the robot this process serves). A process that serves several robots or tenants must give each
its own pool name (or ``own_block=True``).

Memory. A slab is never reused, but it does not hold memory for dead arrays: each array's pages
(allocations are page-aligned inside a slab) are returned to the OS (``MADV_REMOVE``) as soon as
the array and every view of it are gone, e.g. when ``FrameBuffer`` evicts the frame. The block's
descriptors close with its last array. A memfd has no name in /dev/shm: nothing is left behind.
"""
from __future__ import annotations

import logging
import math
import mmap
import os
import threading
import weakref
from dataclasses import dataclass

import numpy as np

log = logging.getLogger(__name__)

PAGE = mmap.PAGESIZE
SLAB_BYTES = 32 * 1024 * 1024
DEFAULT_POOL = "frames"


def _page_align(n: int) -> int:
    return (n + PAGE - 1) // PAGE * PAGE


@dataclass
class _Block:
    fd: int          # read-write, kept by the owner
    ro_fd: int       # read-only reopening: what kernels receive
    addr: int
    size: int


_registry: dict[int, _Block] = {}      # id(mmap) -> block
_lock = threading.RLock()          # re-entrant: dropping a slab under it runs _forget
_slabs: dict[str, list] = {}           # pool -> [current slab mmap, bytes used]; guarded by _lock


def _forget(key: int, fds: tuple[int, ...]) -> None:
    with _lock:
        _registry.pop(key, None)
    for fd in fds:
        try:
            os.close(fd)
        except OSError:
            pass


def _release(mm: mmap.mmap, off: int, n: int) -> None:
    """Give the pages of a dead array in a slab back to the OS (the slab itself lives on)."""
    try:
        if not mm.closed:
            mm.madvise(mmap.MADV_REMOVE, off, n)
    except (OSError, ValueError, AttributeError):  # pragma: no cover - freed with its slab anyway
        pass


_FIXED_SIZE_SEALS = 0x0001 | 0x0002 | 0x0004     # F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW


def _new_block(size: int) -> mmap.mmap:
    # Kernels get ro_fd. So that none can change or shrink what the node and later queries see:
    # mode 0400 (reopening /proc/self/fd/N read-write needs write permission, and a kernel is not
    # the owner, or - same uid without namespaces - may not chmod: seccomp), and sealed against
    # shrinking and growing (no truncation, so no SIGBUS in the node). Writes stay possible through
    # the node's own read-write mapping (F_SEAL_WRITE would forbid those and MADV_REMOVE).
    fd = os.memfd_create("spatialclaw-frames", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
    try:
        os.ftruncate(fd, size)
        mm = mmap.mmap(fd, size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        os.fchmod(fd, 0o400)
        ro_fd = os.open(f"/proc/self/fd/{fd}", os.O_RDONLY | os.O_CLOEXEC)
        import fcntl

        fcntl.fcntl(fd, fcntl.F_ADD_SEALS, _FIXED_SIZE_SEALS)
    except BaseException:
        os.close(fd)
        raise
    addr = np.frombuffer(mm, np.uint8, 1).__array_interface__["data"][0]
    key = id(mm)
    with _lock:
        _registry[key] = _Block(fd, ro_fd, addr, size)
    weakref.finalize(mm, _forget, key, (fd, ro_fd)).atexit = False
    return mm


def _carve(pool: str, need: int) -> tuple[mmap.mmap, int]:
    """(slab, offset) of `need` fresh bytes in the pool's current slab, starting a new one if full."""
    with _lock:
        cur = _slabs.get(pool)
        if cur is not None and cur[1] + need <= len(cur[0]):
            off = cur[1]
            cur[1] = off + need
            return cur[0], off
    mm = _new_block(SLAB_BYTES)        # outside the lock: memfd_create + mmap take ~20 us
    with _lock:
        _slabs[pool] = [mm, need]
    return mm, 0


def shared_empty(shape: tuple[int, ...] | list[int], dtype: str | np.dtype, *,
                 own_block: bool = False, pool: str = DEFAULT_POOL) -> np.ndarray:
    """An uninitialised array in shared memory, so handing it to a kernel copies nothing.

    Use it where frames are made (image conversion, simulation): :meth:`KernelPool.acquire` sends
    such arrays by descriptor. Arrays of the same ``pool`` up to 16 MiB share a 32 MiB block that a
    kernel can read in full (neighbouring frames of the same robot); ``own_block=True`` gives the
    array a block alone. Its memory is returned when the array and all its views are gone.
    """
    dt = np.dtype(dtype)
    shape = tuple(int(s) for s in shape)
    if any(s < 0 for s in shape):
        raise ValueError(f"negative dimension in shape {shape}")
    nbytes = max(math.prod(shape) * dt.itemsize, 1)
    if own_block or nbytes > SLAB_BYTES // 2:
        return np.ndarray(shape, dt, buffer=_new_block(nbytes))
    need = _page_align(nbytes)
    mm, off = _carve(pool, need)
    arr = np.ndarray(shape, dt, buffer=mm, offset=off)
    # Views of `arr` keep `arr` alive (numpy stops collapsing .base at the mmap), so when this
    # fires no array in this range is left; the slab (mm) is still referenced by the finalizer.
    weakref.finalize(arr, _release, mm, off, need).atexit = False   # the process exit frees all
    return arr


def try_shared_empty(shape: tuple[int, ...] | list[int], dtype: str | np.dtype, *,
                     pool: str = DEFAULT_POOL) -> np.ndarray:
    """:func:`shared_empty`, or a plain ``np.empty`` (logged once) where no memfd can be made."""
    global _warned
    try:
        return shared_empty(shape, dtype, pool=pool)
    except (OSError, AttributeError) as exc:   # no memfd_create (not Linux), EMFILE, ENOMEM
        if not _warned:
            _warned = True
            log.warning("shared memory unavailable (%s): frames will be copied into each kernel", exc)
        return np.empty(tuple(shape), dtype)


_warned = False


def find_block(arr: np.ndarray) -> tuple[int, int] | None:
    """(read-only fd, byte offset) when a C-contiguous array lies in a :func:`shared_empty` block, else None."""
    if not arr.flags.c_contiguous:
        return None
    base = arr
    while isinstance(base, np.ndarray) and base.base is not None:
        base = base.base
    if not isinstance(base, mmap.mmap):
        return None
    blk = _registry.get(id(base))      # dict read: atomic under the GIL
    if blk is None:
        return None
    off = arr.__array_interface__["data"][0] - blk.addr
    if off < 0 or off + arr.nbytes > blk.size:
        return None
    return blk.ro_fd, off


def is_shared(arr: np.ndarray) -> bool:
    """Whether the array can reach a kernel without a copy (lies in a shared block)."""
    return isinstance(arr, np.ndarray) and find_block(arr) is not None


def new_slabs() -> None:
    """Start fresh blocks for later allocations (the current ones are freed with their arrays)."""
    with _lock:
        old = list(_slabs.values())
        _slabs.clear()
    del old                            # outside the lock: the last slab's finalizer takes it


def shared_bytes() -> int:
    """Bytes of memory the live shared blocks of this process hold now (allocated pages only)."""
    with _lock:
        fds = [b.fd for b in _registry.values()]
    total = 0
    for fd in fds:
        try:
            total += os.fstat(fd).st_blocks * 512
        except OSError:
            pass
    return total


def block_count() -> int:
    """Live shared blocks (each holds two descriptors: read-write and read-only)."""
    with _lock:
        return len(_registry)


def open_memfds() -> int:
    """How many memfd descriptors of shared blocks this process holds (for leak checks).

    Kernels' stderr buffers (``/memfd:spatialclaw-stderr``, one per kernel while it lives, also
    for kernels the pool pre-warms in the background) are not counted.
    """
    n = 0
    for name in os.listdir("/proc/self/fd"):
        try:
            link = os.readlink(f"/proc/self/fd/{name}")
            if link.startswith("/memfd:") and not link.startswith("/memfd:spatialclaw-stderr"):
                n += 1
        except OSError:
            pass
    return n
