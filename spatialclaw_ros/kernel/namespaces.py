"""Namespaces for the fork server and its kernels: identity, PID/IPC/mount/net/UTS, a read-only view.

The fork server process (zygote.py) calls :func:`enter` first thing. It forks a helper, leaves for a
new user, PID, IPC, mount, network and UTS namespace, and the helper (still in the host's
namespaces) maps the inside uid/gid 0 to an *unprivileged* outside id: 65534 (nobody) when the
node runs as root, the node's own uid otherwise. The process then becomes that id, so as seen from
the host it owns nothing and can change nothing (chmod/chown/utime/xattr/mknod on host files fail
with EPERM: their owners are not mapped in its namespace). It forks the real fork server, PID 1 of
the new PID namespace, which builds a minimal read-only file system view (:func:`build_view`):
a tmpfs root holding read-only binds of the interpreter, the libraries, the package, a few /dev
nodes and /sys/devices/system/cpu, its own /proc (hidepid=2), and an empty /scratch mount point.

Each kernel forked from it (:func:`private_scratch`, :func:`drop_privileges`) takes a mount
namespace of its own with a size-capped tmpfs on /scratch (gone with the kernel, whatever kills
the node), and then drops every capability (bounding, ambient, effective, permitted, inheritable).

Where a user namespace is refused (AppArmor's restriction, a container's seccomp profile) a root
node still gets the other namespaces and its kernels become uid 65534 by setresuid; a non-root
node without user namespaces gets none (the seccomp allow-list, Landlock and rlimits remain).
"""
from __future__ import annotations

import ctypes
import os
import signal
from dataclasses import dataclass, field

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
NS_ALL = CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWPID | CLONE_NEWNET
NOBODY = 65534
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
MS_NOATIME, MS_NODIRATIME, MS_RELATIME = 1024, 2048, 1 << 21
MNT_DETACH = 2
_ST_TO_MS = ((1, MS_RDONLY), (2, MS_NOSUID), (4, MS_NODEV), (8, MS_NOEXEC), (1024, MS_NOATIME),
             (2048, MS_NODIRATIME), (4096, MS_RELATIME))
SCRATCH = "/scratch"
_NEWROOT = "/tmp"              # where the new root's tmpfs is mounted before pivot_root
DEV_FILES = ("/dev/null", "/dev/zero", "/dev/urandom", "/dev/random")

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong,
                        ctypes.c_char_p]
_libc.syscall.restype = ctypes.c_long


@dataclass
class NsState:
    """What the fork server got: layers active for every kernel, and notes on what is missing."""

    layers: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    userns: bool = False
    mountns: bool = False
    pidns: bool = False
    outside_uid: int = -1      # the kernels' uid as seen from the host
    view_fds: dict[str, int] = field(default_factory=dict)   # O_PATH of each view source


def _err(what: str) -> OSError:
    e = ctypes.get_errno()
    return OSError(e, f"{what}: {os.strerror(e)}")


def _mount(src: str | None, dst: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    if _libc.mount(src.encode() if src else None, dst.encode(), fstype.encode() if fstype else None,
                   ctypes.c_ulong(flags), data.encode() if data else None) != 0:
        raise _err(f"mount {src or fstype} on {dst}")


def _write(path: str, text: str) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def _map_ids(pid: int, uid: int, gid: int, deny_setgroups: bool) -> None:
    if deny_setgroups:
        _write(f"/proc/{pid}/setgroups", "deny")
    _write(f"/proc/{pid}/uid_map", f"0 {uid} 1")
    _write(f"/proc/{pid}/gid_map", f"0 {gid} 1")


def enter(parent_pid: int, view_paths: list[str]) -> NsState:
    """Called first in the fork server: leave for new namespaces; returns in their PID 1.

    The calling process stays outside the PID namespace (a process cannot move itself), so it
    forks the server and only waits for it; both die with the node (PR_SET_PDEATHSIG).
    """
    st = NsState()
    root = os.geteuid() == 0
    uid, gid = (NOBODY, NOBODY) if root else (os.geteuid(), os.getegid())
    me = os.getpid()
    r, w = os.pipe()
    r2, w2 = os.pipe()
    helper = os.fork()
    if helper == 0:                     # stays in the host namespaces: writes the id maps
        code = 1
        try:
            os.close(w)
            os.close(r2)
            if os.read(r, 1) == b"u":
                try:
                    _map_ids(me, uid, gid, deny_setgroups=not root)
                    code = 0
                except OSError as exc:
                    os.write(w2, str(exc).encode()[:500])
        finally:
            os._exit(code)
    os.close(r)
    os.close(w2)
    if _libc.unshare(CLONE_NEWUSER | NS_ALL) == 0:
        os.write(w, b"u")
        os.close(w)
        why = os.read(r2, 600).decode(errors="replace")
        os.close(r2)
        _, status = os.waitpid(helper, 0)
        if status != 0:
            raise OSError(f"could not map the kernel's user namespace ids: {why}")
        st.userns = True
        _open_view(st, view_paths)
        if root:
            os.setgroups([])
        os.setresgid(0, 0, 0)          # becomes `gid` outside
        os.setresuid(0, 0, 0)          # becomes `uid` outside: no privilege over host files
        st.outside_uid = uid
        st.layers.append("userns")
    else:
        e1 = ctypes.get_errno()
        os.write(w, b"n")
        os.close(w)
        os.close(r2)
        os.waitpid(helper, 0)
        st.notes.append(f"userns: unshare(CLONE_NEWUSER) failed: {os.strerror(e1)}")
        if not root:
            st.notes.append("pidns/ipcns/mountns/netns: need a user namespace for a non-root node")
            st.outside_uid = os.geteuid()
            return st
        if _libc.unshare(NS_ALL) != 0:
            st.notes.append(f"pidns/ipcns/mountns/netns: unshare failed: {os.strerror(ctypes.get_errno())}")
            st.outside_uid = NOBODY        # kernels setresuid to nobody at init (sandbox.py)
            return st
        st.outside_uid = NOBODY
        _open_view(st, view_paths)
    st.layers += ["pidns", "ipcns", "netns"]
    st.pidns = True
    alive_r, alive_w = os.pipe()        # the server sees EOF here once the outer process is gone
    server = os.fork()
    if server != 0:                     # outside the PID namespace: wait, mirror the exit status
        for fd in range(3, 256):
            if fd != alive_w and fd not in st.view_fds.values():
                try:
                    os.close(fd)
                except OSError:
                    pass
        signal.signal(signal.SIGTERM, lambda *_: os.kill(server, signal.SIGKILL))
        while True:
            try:
                _, status = os.waitpid(server, 0)
                break
            except ChildProcessError:
                os._exit(0)
            except InterruptedError:
                continue
        os._exit(os.waitstatus_to_exitcode(status) & 0xFF)
    _libc.prctl(1, signal.SIGKILL, 0, 0, 0)          # PDEATHSIG: die with the outer process
    os.close(alive_w)
    os.set_blocking(alive_r, False)
    try:                                             # (getppid() is 0 in a new PID namespace)
        if os.read(alive_r, 1) == b"":
            os._exit(3)                              # the outer process is already gone
    except BlockingIOError:
        pass
    os.close(alive_r)
    try:
        _libc.sethostname(b"spatialclaw-kernel", 18)
    except OSError:
        pass
    return st


def _open_view(st: NsState, view_paths: list[str]) -> None:
    """O_PATH descriptors of the view's sources, opened in the new mount namespace (bind mounts
    need that) but still with the node's ids: after the switch to an unprivileged id a source such
    as an interpreter under /root may not be reachable by path any more."""
    for p in read_only_sources(view_paths + list(DEV_FILES)):
        if p != "/proc" and not p.startswith("/proc/"):
            try:
                st.view_fds[p] = os.open(p, os.O_PATH | os.O_CLOEXEC)
            except OSError:
                pass


def read_only_sources(paths: list[str]) -> list[str]:
    """Paths without those already beneath another path in the list."""
    out: list[str] = []
    for p in sorted(set(paths), key=lambda x: (x.count("/"), x)):
        if not any(p == q or p.startswith(q.rstrip("/") + "/") for q in out):
            out.append(p)
    return out


def _flags_of(path: str) -> int:
    try:
        f = os.statvfs(path).f_flag
    except OSError:
        return 0
    return sum(ms for st, ms in _ST_TO_MS if f & st)


def build_view(st: NsState) -> None:
    """In the fork server: pivot into a tmpfs root with read-only binds of the sources + own /proc."""
    fds = st.view_fds
    srcs = list(fds)
    try:
        _mount(None, "/", None, MS_REC | MS_PRIVATE)
        _mount("tmpfs", _NEWROOT, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,nr_inodes=4096,mode=0755")
        nr = _NEWROOT
        for p in srcs:
            tgt = nr + p
            import stat as _stat

            if _stat.S_ISDIR(os.fstat(fds[p]).st_mode):
                os.makedirs(tgt, exist_ok=True)
            else:
                os.makedirs(os.path.dirname(tgt), exist_ok=True)
                os.close(os.open(tgt, os.O_CREAT | os.O_WRONLY, 0o644))
            _mount(f"/proc/self/fd/{fds[p]}", tgt, None, MS_BIND | MS_REC)
            flags = _flags_of(tgt) | MS_RDONLY | MS_NOSUID
            if p not in DEV_FILES:
                flags |= MS_NODEV
            _mount(None, tgt, None, MS_BIND | MS_REMOUNT | flags)
        os.makedirs(nr + SCRATCH, exist_ok=True)
        os.makedirs(nr + "/proc", exist_ok=True)
        os.makedirs(nr + "/tmp", exist_ok=True)
        try:
            _mount("proc", nr + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, "hidepid=2")
            _mount(None, nr + "/proc", None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV
                   | MS_NOEXEC, "hidepid=2")
            st.layers.append("procns")
        except OSError as exc:              # e.g. in a container with masked /proc paths
            st.notes.append(f"own /proc: {exc}; the host's /proc is bound read-only instead")
            _mount("/proc", nr + "/proc", None, MS_BIND | MS_REC)
        os.chdir(nr)
        from spatialclaw_ros.kernel import seccomp

        if _libc.syscall(seccomp.nr("pivot_root", seccomp.machine() or "x86_64"), b".", b".") != 0:
            raise _err("pivot_root")
        if _libc.umount2(b".", MNT_DETACH) != 0:
            raise _err("umount old root")
        os.chdir("/")
        _mount(None, "/", None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)
        st.mountns = True
        st.layers.append("mountns")
    finally:
        for fd in fds.values():
            try:
                os.close(fd)
            except OSError:
                pass
        fds.clear()


def private_scratch(max_mb: int, uid: int | None = None) -> str:
    """In a kernel (still privileged in its namespace): own mount namespace, tmpfs on /scratch."""
    if _libc.unshare(CLONE_NEWNS) != 0:
        raise _err("unshare(CLONE_NEWNS)")
    opts = f"size={max(1, int(max_mb))}m,nr_inodes=16384,mode=0700"
    if uid is not None:
        opts += f",uid={uid},gid={uid}"
    _mount("tmpfs", SCRATCH, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, opts)
    return SCRATCH


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


def drop_privileges(to_uid: int | None = None) -> None:
    """Empty every capability set (bounding and ambient too); optionally become to_uid first."""
    for cap in range(64):
        if _libc.prctl(24, cap, 0, 0, 0) != 0 and ctypes.get_errno() == 22:   # PR_CAPBSET_DROP
            break
    _libc.prctl(47, 4, 0, 0, 0)                 # PR_CAP_AMBIENT_CLEAR_ALL
    if to_uid is not None:
        os.setgroups([])
        os.setresgid(to_uid, to_uid, to_uid)
        os.setresuid(to_uid, to_uid, to_uid)
    hdr = _CapHeader(0x20080522, 0)             # _LINUX_CAPABILITY_VERSION_3
    data = (_CapData * 2)()
    if _libc.capset(ctypes.byref(hdr), data) != 0:
        raise _err("capset")


def capabilities() -> dict[str, int]:
    """This process's capability sets from /proc/self/status (CapEff, CapPrm, CapBnd, ...)."""
    out = {}
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("Cap"):
                k, v = line.split(":")
                out[k] = int(v.strip(), 16)
    return out
