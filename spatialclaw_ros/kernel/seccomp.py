"""A seccomp-BPF filter for the kernel child, assembled by hand (x86_64 and aarch64).

Default allow, with denials that matter for model-written code:
- no new sockets at all (the channel to the parent is an inherited socketpair; pathname Unix sockets
  such as /run/docker.sock would otherwise be reachable, and Landlock does not cover them);
- signals only to itself or its own process group (kill/tgkill), no ptrace, process_vm_*, pidfd_*;
- no new processes and no execve: clone is allowed only with CLONE_THREAD (threads for OpenCV and
  BLAS), fork/vfork are denied. Model code never needs a process, and RLIMIT_NPROC cannot bound a
  fork bomb when the node runs as root (Linux exempts uid 0), so this is the fork-bomb guard;
- no setsid/setpgid (should a process appear anyway, it stays in the group the parent kills), no
  namespace creation (unshare, setns, clone with CLONE_NEW*; clone3 reports ENOSYS so libc falls
  back to clone, whose flags a filter can read);
- no io_uring (it can open sockets and files behind seccomp's back), bpf, perf, keyrings, mounts,
  modules, reboot, clock changes.
Denied calls fail with EPERM (ENOSYS for clone3), so Python raises a readable PermissionError.
The libseccomp Python binding is not on PyPI and Debian's python3-seccomp is not in the venv, so a
~100-line assembler beats a system dependency a robot image may lack.
"""
from __future__ import annotations

import ctypes
import errno
import os
import platform
import struct

_RET_ALLOW = 0x7FFF0000
_RET_ERRNO = 0x00050000
_RET_KILL_PROCESS = 0x80000000
_LD_W_ABS = 0x20
_JEQ_K = 0x15
_JSET_K = 0x45
_JGE_K = 0x35
_RET_K = 0x06
_CLONE_NEW_MASK = 0x7E020080   # NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET|NEWTIME

# name -> (x86_64, aarch64)
_NR: dict[str, tuple[int, int]] = {
    "socket": (41, 198), "kill": (62, 129), "tkill": (200, 130), "tgkill": (234, 131),
    "rt_sigqueueinfo": (129, 138), "rt_tgsigqueueinfo": (297, 240), "ptrace": (101, 117),
    "process_vm_readv": (310, 270), "process_vm_writev": (311, 271), "pidfd_open": (434, 434),
    "pidfd_send_signal": (424, 424), "pidfd_getfd": (438, 438), "unshare": (272, 97),
    "setns": (308, 268), "mount": (165, 40), "umount2": (166, 39), "pivot_root": (155, 41),
    "chroot": (161, 51), "bpf": (321, 280), "perf_event_open": (298, 241), "keyctl": (250, 219),
    "add_key": (248, 217), "request_key": (249, 218), "io_uring_setup": (425, 425),
    "io_uring_enter": (426, 426), "io_uring_register": (427, 427), "userfaultfd": (323, 282),
    "setsid": (112, 157), "setpgid": (109, 154), "clone": (56, 220), "clone3": (435, 435),
    "kexec_load": (246, 104), "init_module": (175, 105), "finit_module": (313, 273),
    "delete_module": (176, 106), "open_by_handle_at": (304, 265), "fsopen": (430, 430),
    "fsmount": (432, 432), "move_mount": (429, 429), "open_tree": (428, 428),
    "fspick": (433, 433), "mount_setattr": (442, 442), "quotactl": (179, 60),
    "swapon": (167, 224), "swapoff": (168, 225), "reboot": (169, 142), "syslog": (103, 116),
    "acct": (163, 89), "settimeofday": (164, 170), "clock_settime": (227, 112),
    "sethostname": (170, 161), "setdomainname": (171, 162), "seccomp": (317, 277),
    "execve": (59, 221), "execveat": (322, 281),
}
_X86_ONLY = {"fork": 57, "vfork": 58}       # aarch64 has only clone
_CLONE_THREAD = 0x00010000
_DENY = ["socket", "tkill", "rt_sigqueueinfo", "rt_tgsigqueueinfo", "ptrace",
         "process_vm_readv", "process_vm_writev", "pidfd_open", "pidfd_send_signal", "pidfd_getfd",
         "unshare", "setns", "mount", "umount2", "pivot_root", "chroot", "bpf", "perf_event_open",
         "keyctl", "add_key", "request_key", "io_uring_setup", "io_uring_enter",
         "io_uring_register", "userfaultfd", "setsid", "setpgid", "kexec_load", "init_module",
         "finit_module", "delete_module", "open_by_handle_at", "fsopen", "fsmount", "move_mount",
         "open_tree", "fspick", "mount_setattr", "quotactl", "swapon", "swapoff", "reboot",
         "syslog", "acct", "settimeofday", "clock_settime", "sethostname", "setdomainname",
         "execve", "execveat"]
_ARCH = {"x86_64": (0xC000003E, 0), "aarch64": (0xC00000B7, 1), "arm64": (0xC00000B7, 1)}


def supported() -> str:
    """'' when a filter can be built for this machine, else why not."""
    if platform.machine() not in _ARCH:
        return f"no syscall table for {platform.machine()}"
    try:
        with open("/proc/self/status") as f:
            if "Seccomp:" not in f.read():
                return "kernel built without CONFIG_SECCOMP"
    except OSError as exc:
        return f"cannot read /proc/self/status: {exc}"
    return ""


def _ins(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k & 0xFFFFFFFF)


def build_filter(self_pid: int) -> bytes:
    """The filter program (sock_filter array) for this architecture and pid."""
    arch_id, col = _ARCH[platform.machine()]
    nr = {k: v[col] for k, v in _NR.items()}
    eperm = _RET_ERRNO | errno.EPERM
    prog: list[bytes] = [
        _ins(_LD_W_ABS, 4),                       # arch
        _ins(_JEQ_K, arch_id, 1, 0),
        _ins(_RET_K, _RET_KILL_PROCESS),
        _ins(_LD_W_ABS, 0),                       # nr
    ]
    if col == 0:                                  # x32 ABI syscalls on x86_64
        prog += [_ins(_JGE_K, 0x40000000, 0, 1), _ins(_RET_K, eperm)]
    for name in _DENY:
        prog += [_ins(_JEQ_K, nr[name], 0, 1), _ins(_RET_K, eperm)]
    if col == 0:
        for n in _X86_ONLY.values():
            prog += [_ins(_JEQ_K, n, 0, 1), _ins(_RET_K, eperm)]
    prog += [_ins(_JEQ_K, nr["clone3"], 0, 1), _ins(_RET_K, _RET_ERRNO | errno.ENOSYS)]
    # kill(pid, sig): pid 0 (own group), own pid, or -own pid (own group, pgid == pid after setsid)
    kill_block = [
        _ins(_LD_W_ABS, 16),
        _ins(_JEQ_K, 0, 3, 0),
        _ins(_JEQ_K, self_pid, 2, 0),
        _ins(_JEQ_K, -self_pid, 1, 0),
        _ins(_RET_K, eperm),
        _ins(_RET_K, _RET_ALLOW),
    ]
    prog += [_ins(_JEQ_K, nr["kill"], 0, len(kill_block))] + kill_block
    tgkill_block = [
        _ins(_LD_W_ABS, 16),
        _ins(_JEQ_K, self_pid, 1, 0),
        _ins(_RET_K, eperm),
        _ins(_RET_K, _RET_ALLOW),
    ]
    prog += [_ins(_JEQ_K, nr["tgkill"], 0, len(tgkill_block))] + tgkill_block
    clone_block = [                               # threads yes; processes, namespaces no
        _ins(_LD_W_ABS, 16),                      # flags (low word) on both architectures
        _ins(_JSET_K, _CLONE_NEW_MASK, 2, 0),
        _ins(_JSET_K, _CLONE_THREAD, 0, 1),
        _ins(_RET_K, _RET_ALLOW),
        _ins(_RET_K, eperm),
    ]
    prog += [_ins(_JEQ_K, nr["clone"], 0, len(clone_block))] + clone_block
    prog.append(_ins(_RET_K, _RET_ALLOW))
    return b"".join(prog)


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def install(self_pid: int | None = None) -> None:
    """Set no_new_privs and install the filter on every thread; raises OSError on failure."""
    why = supported()
    if why:
        raise OSError(why)
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    if libc.prctl(38, 1, 0, 0, 0) != 0:     # PR_SET_NO_NEW_PRIVS
        err = ctypes.get_errno()
        raise OSError(err, f"PR_SET_NO_NEW_PRIVS: {os.strerror(err)}")
    code = build_filter(self_pid if self_pid is not None else os.getpid())
    buf = ctypes.create_string_buffer(code, len(code))
    prog = _SockFprog(len(code) // 8, ctypes.cast(buf, ctypes.c_void_p))
    _, col = _ARCH[platform.machine()]
    nr_seccomp = _NR["seccomp"][col]
    # SECCOMP_SET_MODE_FILTER = 1, SECCOMP_FILTER_FLAG_TSYNC = 1
    if libc.syscall(ctypes.c_long(nr_seccomp), ctypes.c_uint(1), ctypes.c_uint(1),
                    ctypes.byref(prog)) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"seccomp(SET_MODE_FILTER): {os.strerror(err)}")
