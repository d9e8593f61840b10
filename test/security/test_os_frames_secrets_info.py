"""Escape probes: frame tampering and truncation, secrets, information leaks, surviving the query."""
from __future__ import annotations

import os
import subprocess
import time

import numpy as np
import pytest
from security_helpers import NR, SECRETS, proc_field

from spatialclaw_ros.frames.types import CameraModel, Frame
from spatialclaw_ros.kernel import shared_empty

FRAMES = pytest.mark.probe(category="frame tampering and truncation")
SECRET = pytest.mark.probe(category="secrets in env and /proc")
INFO = pytest.mark.probe(category="information leaks")
SURVIVE = pytest.mark.probe(category="surviving the query")


def _frames(shared: bool) -> list[Frame]:
    h, w = 240, 320                  # large enough to travel by shared memory, not inline
    cam = CameraModel(width=w, height=h, K=np.array([[40.0, 0, 160], [0, 40.0, 120], [0, 0, 1]]))
    out = []
    for i in range(2):
        if shared:
            rgb, depth = shared_empty((h, w, 3), np.uint8), shared_empty((h, w), np.float32)
        else:
            rgb, depth = np.empty((h, w, 3), np.uint8), np.empty((h, w), np.float32)
        rgb[...] = 40 + i
        depth[...] = 2.0 + i
        out.append(Frame(stamp_ns=i, rgb=rgb, camera=cam, depth=depth))
    return out


TAMPER = """\
mm = _imp('mm' + 'ap')
fcntl = _imp('fcn' + 'tl')
res = []
img = InputImages[0]
a = img['rgb'] if isinstance(img, dict) else img
base = a.ctypes.data
fds = []
for d in ('/proc/self/fd/', '/proc/self/map_files/'):
    try:
        names = os.listdir(d)
    except OSError as e:
        res.append('err:' + type(e).__name__)
        continue
    for name in names:
        try:
            link = os.readlink(d + name)
        except OSError:
            continue
        if 'memfd:' in link and 'stderr' not in link:
            fds.append(d + name)
for path in fds:
    res.append(T(lambda: os.write(os.open(path, os.O_RDWR), b'\\xff' * 64)))
    res.append(T(lambda: os.truncate(path, 0)))
    res.append(T(lambda: os.chmod(path, 0o666)))
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as e:
        res.append('err:' + type(e).__name__)
        continue
    res.append(T(os.ftruncate, fd, 0))
    res.append(T(os.fchmod, fd, 0o666))
    res.append(T(fcntl.fcntl, fd, 1033, 8))
    res.append(T(lambda: mm.mmap(fd, 4096, mm.MAP_SHARED, mm.PROT_READ | mm.PROT_WRITE)))
    res.append(T(lambda: os.pwrite(fd, b'\\xff' * 16, 0)))
page = base - base % 4096
r = libc.mprotect(ct.c_void_p(page), ct.c_size_t(4096), 3)
res.append('ok:mprotect' if r == 0 else 'err:mprotect')
print(len(res), sum(r.startswith('ok') for r in res), [r for r in res if r.startswith('ok')][:4], len(fds))
print(T(lambda: setattr(a.flags, 'writeable', True)))
"""


def _check_unchanged(frames: list[Frame]) -> None:
    for i, f in enumerate(frames):
        assert int(f.rgb.min()) == int(f.rgb.max()) == 40 + i        # reads every byte: no SIGBUS
        assert float(f.depth.min()) == float(f.depth.max()) == 2.0 + i


@FRAMES
def test_zero_copy_frames_cannot_be_written_or_truncated(run) -> None:  # noqa: ANN001
    frames = _frames(shared=True)
    out = run(TAMPER, frames=frames)
    _check_unchanged(frames)
    assert out[0].split()[1] == "0", out                          # every attempt failed
    again = run("img = InputImages[0]\nprint(int(np.asarray(img['rgb'] if isinstance(img, dict) "
                "else img).max()))", frames=frames)
    assert again == ["40"]                                         # the next query sees the original


@FRAMES
def test_copied_frames_cannot_be_written_or_truncated(run) -> None:  # noqa: ANN001
    frames = _frames(shared=False)
    out = run(TAMPER, frames=frames)
    _check_unchanged(frames)
    assert out[0].split()[1] == "0", out


@FRAMES
def test_frame_memory_poked_by_address(pool) -> None:  # noqa: ANN001
    frames = _frames(shared=True)
    with pool.acquire(frames, {}) as k:
        r = k.run_cell("img = InputImages[0]\na = np.asarray(img['rgb'] if isinstance(img, dict) else img)\n"
                       "ct = np.ctypeslib.ctypes\nct.memset(a.ctypes.data, 255, 64)\nprint('poked')",
                       timeout_s=20)
        assert "poked" not in r.stdout                              # a read-only mapping: it faults
    _check_unchanged(frames)


@SECRET
def test_environment_has_no_secrets(run) -> None:  # noqa: ANN001
    out = run("print(sorted(os.environ))\nprint(T(lambda: op('/proc/self/environ', 'rb').read()))\n"
              "print(T(lambda: op('/proc/1/environ', 'rb').read()))")
    assert not any(v in x for x in out for v in SECRETS.values())
    assert not any(k in out[0] for k in SECRETS)


@pytest.mark.probe(category="secrets in env and /proc", needs=('pidns', 'landlock'))
def test_node_environ_and_memory(run) -> None:  # noqa: ANN001
    me = os.getpid()
    os.environ["PROBE_NODE_TOKEN"] = "node-secret-777"
    try:
        out = run(f"print(T(lambda: op('/proc/{me}/environ', 'rb').read()))\n"
                  f"print(T(lambda: op('/proc/{me}/mem', 'r+b')))\n"
                  f"print(T(lambda: op('/proc/{me}/cmdline', 'rb').read()))")
    finally:
        del os.environ["PROBE_NODE_TOKEN"]
    assert not any("sk-probe" in x or "node-secret" in x for x in out)
    assert out[1].startswith("err:")


@SECRET
def test_non_dumpable_node_cannot_be_read_or_written(run) -> None:  # noqa: ANN001
    """The node sets PR_SET_DUMPABLE 0: then even a same-uid kernel without namespaces or
    Landlock cannot open its /proc/<pid>/environ or mem (a victim that does the same stands in)."""
    import sys

    code = ("import ctypes, time\nctypes.CDLL(None).prctl(4, 0, 0, 0, 0)\nprint('ready', flush=True)\n"
            "time.sleep(120)")
    env = {"PATH": "/usr/bin:/bin", "NODE_LIKE_TOKEN": "node-like-secret-9"}
    v = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert v.stdout.readline().strip() == "ready"
        out = run(f"print(T(lambda: op('/proc/{v.pid}/environ', 'rb').read()))\n"
                  f"print(T(lambda: op('/proc/{v.pid}/mem', 'r+b')))\n"
                  f"print(T(lambda: op('/proc/{v.pid}/maps').read()[:20]))")
        assert not any("node-like-secret" in x for x in out) and out[1].startswith("err:"), out
        assert v.poll() is None
    finally:
        v.kill()
        v.wait()


@pytest.mark.probe(category="information leaks", needs=("mountns",))   # Landlock has no stat hook
def test_stat_access_inotify_outside(run, tmp_path) -> None:  # noqa: ANN001
    os.chmod(tmp_path, 0o755)
    (tmp_path / "private-name-xyz").write_text("x")
    out = run(f"print(T(os.stat, {str(tmp_path / 'private-name-xyz')!r}))\n"
              f"print(T(os.access, {str(tmp_path / 'private-name-xyz')!r}, 0))\n"
              f"print(T(os.listdir, {str(tmp_path)!r}))\n"
              f"print(S({NR('inotify_init1')}, 0))")
    assert out[0].startswith("err:") and out[1] in ("ok:False", ) and out[3].startswith("err:"), out
    assert not any("private-name-xyz" in x for x in out[2:3])


@pytest.mark.probe(category="information leaks", needs=('pidns',))
def test_host_processes_are_not_listed(run, victim) -> None:  # noqa: ANN001
    out = run("print(sorted(int(x) for x in os.listdir('/proc') if x.isdigit()))\n"
              f"print(T(os.stat, '/proc/{victim.pid}'))\nprint(T(lambda: op('/proc/1/cmdline').read()))")
    pids = eval(out[0])                                             # noqa: S307 - our own output
    assert victim.pid not in pids and os.getpid() not in pids and len(pids) <= 4, pids


@INFO
def test_hostname_and_mounts(run) -> None:  # noqa: ANN001
    out = run("print(os.uname().nodename)\nprint(T(lambda: len(op('/proc/self/mounts').read().splitlines())))")
    assert out[0] != os.uname().nodename or "mountns" not in str(out)


@INFO
def test_identity_as_seen_from_the_host(pool) -> None:  # noqa: ANN001
    with pool.acquire([], {}) as k:
        pid = k._kernel.pid
        uid = int(proc_field(pid, "status", "Uid:").split()[2])        # effective uid, host view
        capeff = int(proc_field(pid, "status", "CapEff:").split()[1], 16)
        capbnd = int(proc_field(pid, "status", "CapBnd:").split()[1], 16)
        nnp = proc_field(pid, "status", "NoNewPrivs:").split()[1]
    assert uid != 0 and capeff == 0 and nnp == "1"
    if os.geteuid() == 0 and "identity" in k.sandbox_layers:
        assert uid == 65534
    assert capbnd == 0 or os.geteuid() != 0


@SURVIVE
def test_no_process_outlives_the_query(pool) -> None:  # noqa: ANN001
    with pool.acquire([], {}) as k:
        r = k.run_cell("_B = getattr(np, '__buil' + 'tins__')\nth = _B['__imp' + 'ort__']('thre' + 'ading')\n"
                       "t = th.Thread(target=lambda: __import__('time').sleep(600), daemon=False)\n"
                       "t.start()\nos = _B['__imp' + 'ort__']('o' + 's')\n"
                       "for i in range(3):\n    try:\n        getattr(os, 'fo' + 'rk')()\n    except OSError:\n        pass\n"
                       "print('ok')", timeout_s=20)
        pid = k._kernel.pid
    for _ in range(100):
        left = subprocess.run(["pgrep", "-g", str(pid)], capture_output=True, text=True).stdout.split()
        if not left and not os.path.exists(f"/proc/{pid}"):
            break
        time.sleep(0.05)
    assert not left and not os.path.exists(f"/proc/{pid}")
