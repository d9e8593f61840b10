"""Escape probes: SysV/POSIX IPC, memory (arrays, threads, memfds, tmpfs), disk, stderr, scratch.

IPC targets are segments the test makes and removes; memory is measured on the host (Shmem).
"""
from __future__ import annotations

import ctypes
import os
import random

import pytest
from security_helpers import NR, meminfo_kb

IPC = pytest.mark.probe(category="SysV and POSIX IPC")
MEM = pytest.mark.probe(category="memory")
DISK = pytest.mark.probe(category="disk")
libc = ctypes.CDLL(None, use_errno=True)
libc.shmat.restype = ctypes.c_void_p


def _sysv_keys(kind: str) -> set[int]:
    try:
        with open(f"/proc/sysvipc/{kind}") as f:
            return {int(line.split()[0]) for line in list(f)[1:]}
    except OSError:
        return set()


@pytest.fixture
def segment():  # noqa: ANN201
    """A 0600 SysV shared-memory segment of the test's, holding known bytes; removed at the end."""
    key = random.randint(0x5C000000, 0x5CFFFFFF)
    shmid = libc.shmget(key, 4096, 0o1000 | 0o600)
    assert shmid >= 0, ctypes.get_errno()
    addr = libc.shmat(shmid, None, 0)
    ctypes.memmove(addr, b"segment-original", 16)
    yield key, shmid, addr
    libc.shmdt(ctypes.c_void_p(addr))
    libc.shmctl(shmid, 0, None)           # IPC_RMID


@IPC
def test_sysv_shm_of_the_host(run, segment) -> None:  # noqa: ANN001
    key, shmid, addr = segment
    run(f"libc.shmat.restype = ct.c_void_p\nfor sid in (libc.shmget({key}, 0, 0), {shmid}):\n"
        "    a = libc.shmat(sid, None, 0)\n    print(sid, a)\n"
        "    if a and a != 2**64 - 1:\n        ct.memmove(a, b'segment-OWNED!!!', 16)")
    assert ctypes.string_at(addr, 16) == b"segment-original"


@IPC
@pytest.mark.parametrize("kind", ["shm", "msg", "sem"])
def test_sysv_objects_do_not_outlive_the_kernel(run, kind) -> None:  # noqa: ANN001
    key = random.randint(0x5D000000, 0x5DFFFFFF)
    call = {"shm": f"libc.shmget({key}, 1 << 20, 0o1000 | 0o666)",
            "msg": f"libc.msgget({key}, 0o1000 | 0o666)",
            "sem": f"libc.semget({key}, 1, 0o1000 | 0o666)"}[kind]
    try:
        run(f"print({call}, ct.get_errno())")
        assert key not in _sysv_keys(kind)
    finally:
        getid = {"shm": lambda: libc.shmget(key, 0, 0), "msg": lambda: libc.msgget(key, 0),
                 "sem": lambda: libc.semget(key, 0, 0)}[kind]
        i = getid()
        if i >= 0:                          # escaped: clean up what it left
            {"shm": libc.shmctl, "msg": libc.msgctl, "sem": libc.semctl}[kind](i, 0, None)


@pytest.mark.probe(category="SysV and POSIX IPC", needs=('mountns', 'landlock'))
def test_posix_shm_and_mqueue(run) -> None:  # noqa: ANN001
    name = f"spatialclaw-probe-{os.getpid()}"
    try:
        run(f"print(T(lambda: op('/dev/shm/{name}', 'w').write('x')))\n"
            f"rt = ct.CDLL('librt.so.1', use_errno=True)\n"
            f"print(rt.mq_open(b'/{name}', 0o100 | 2, 0o666, None), ct.get_errno())")
        assert not os.path.exists(f"/dev/shm/{name}")
        assert not os.path.exists(f"/dev/mqueue/{name}")
    finally:
        for p in (f"/dev/shm/{name}", f"/dev/mqueue/{name}"):
            if os.path.exists(p):
                os.unlink(p)


@MEM
def test_array_beyond_the_memory_limit(run) -> None:  # noqa: ANN001
    out = run("try:\n    a = np.ones(1536 * 1024**2, np.uint8)\n    print('allocated')\n"
              "except MemoryError:\n    print('MemoryError')")
    assert out == ["MemoryError"]


@MEM
def test_memfd_fallocate_shmem_growth(run) -> None:  # noqa: ANN001
    before = meminfo_kb("Shmem")
    out = run("fds = []\nfor i in range(8):\n"
              "    fd = libc.memfd_create(b'x', 0)\n    fds.append(fd)\n"
              "    if fd >= 0:\n        libc.fallocate(fd, 0, ct.c_long(0), ct.c_long(256 << 20))\n"
              "print(fds[:2], ct.get_errno())\n"
              "import_sh = 0\nprint(int(op('/proc/meminfo').read().split('Shmem:')[1].split()[0]))")
    grown_mb = (meminfo_kb("Shmem") - before) / 1024
    assert out[0].startswith("[-1, -1]"), out
    assert grown_mb < 256, f"host Shmem grew by {grown_mb:.0f} MiB"


@MEM
def test_threads_and_their_memory(run) -> None:  # noqa: ANN001
    out = run("th = _imp('thre' + 'ading')\nn = 0\nhold = []\n"
              "def grab():\n    try:\n        hold.append(np.ones(200 << 20, np.uint8))\n"
              "    except MemoryError:\n        pass\n"
              "ts = []\nfor i in range(100):\n    try:\n        t = th.Thread(target=grab)\n"
              "        t.start()\n        ts.append(t)\n    except BaseException as e:\n"
              "        print('stopped', type(e).__name__)\n        break\n"
              "for t in ts:\n    t.join()\nprint(len(ts), sum(h.nbytes for h in hold) >> 20)", timeout_s=60)
    n_threads, mb = (int(x) for x in out[-1].split())
    assert mb < 1024                          # RLIMIT_AS covers every thread's memory


@pytest.mark.probe(category="memory", needs=('mountns',))
def test_scratch_tmpfs_is_capped_and_freed(run) -> None:  # noqa: ANN001
    before = meminfo_kb("Shmem")
    out = run("n = 0\nblk = b'y' * (1 << 20)\ntry:\n    for i in range(400):\n"
              "        with op('f%d' % i, 'wb') as f:\n            f.write(blk)\n        n += 1\n"
              "except OSError as e:\n    print(type(e).__name__, e.errno)\nprint(n)", timeout_s=60)
    assert int(out[-1]) <= 64 + 1, out          # max_file_mb = 64 in total, not per file
    assert (meminfo_kb("Shmem") - before) / 1024 < 32, "the kernel's scratch memory was not freed"


@pytest.mark.probe(category="memory", needs=('mountns', 'landlock'))
def test_dev_shm_is_not_reachable(run) -> None:  # noqa: ANN001
    out = run("print(T(os.listdir, '/dev/shm'))\nprint(T(lambda: op('/dev/shm/probe', 'wb').write(b'x')))")
    assert out[1].startswith("err:")


@pytest.mark.probe(category="disk", needs=('mountns',))
def test_disk_quota_across_many_files(run, pool) -> None:  # noqa: ANN001
    keep = []
    out = run("n = 0\nblk = b'z' * (1 << 20)\nfor i in range(300):\n    try:\n"
              "        with op('d%d' % i, 'wb') as f:\n            f.write(blk)\n        n += 1\n"
              "    except OSError:\n        break\nprint(n)", keep=keep, timeout_s=60)
    assert int(out[-1]) <= 65
    s = keep[0]
    leftover = [os.path.join(d, f) for d, _, fs in os.walk(s.scratch_dir) for f in fs] \
        if os.path.isdir(s.scratch_dir) else []
    assert leftover == []                     # the host scratch dir holds nothing after close


@DISK
def test_stderr_flood_is_capped_in_the_parent(run) -> None:  # noqa: ANN001
    keep = []
    run("sys = _imp('s' + 'ys')\nblk = 'e' * 65536\nfor i in range(160):\n"
        "    try:\n        os.write(2, blk.encode())\n    except OSError:\n        break\nprint('done')",
        keep=keep)
    f = keep[0]._kernel.errfile if keep[0]._kernel is not None else None
    if f is not None and not f.closed:
        assert os.lseek(f.fileno(), 0, os.SEEK_CUR) <= 256 * 1024
        assert os.fstat(f.fileno()).st_size <= 256 * 1024


@DISK
def test_scratch_is_gone_when_the_node_is_killed(tmp_path) -> None:  # noqa: ANN001
    """A node killed with SIGKILL leaves no scratch and no kernel behind."""
    import subprocess
    import sys
    import time

    code = ("from spatialclaw_ros.config import SandboxConfig\nfrom spatialclaw_ros.kernel import KernelPool\n"
            "import os, sys\np = KernelPool(SandboxConfig(mode='auto'), size=0)\nk = p.acquire([], {})\n"
            "r = k.run_cell(\"open('big', 'wb').write(b'q' * (8 << 20))\\nimport os\\nprint(os.getcwd())\", timeout_s=20)\n"
            "print(k._kernel.pid, k.scratch_dir, r.stdout.strip(), flush=True)\nos.kill(os.getpid(), 9)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    pid, host_scratch, cwd = proc.stdout.split()
    for _ in range(50):
        if not os.path.exists(f"/proc/{pid}"):
            break
        time.sleep(0.05)
    assert not os.path.exists(f"/proc/{pid}")
    if cwd == "/scratch":                     # a private tmpfs: nothing on the host to leave
        assert not os.path.exists(os.path.join(host_scratch, "big"))
