"""The kernel's seccomp-BPF filter: a default-deny allow-list (x86_64 and aarch64), generated here.

Every syscall not listed below fails with EPERM (so Python raises a readable PermissionError);
new syscalls that later kernels add are denied too. The list is what the kernel runtime, numpy,
scipy and OpenCV call while serving a query (measured with `strace -f -c` over test/kernel and
test/tools), and nothing that reaches outside the process:

- files: open/read/write/stat/getdents/mkdir/unlink/rename; no chmod/chown/utime/xattr/mknod/
  link/inotify/fanotify (metadata of host files, and watching them);
- memory: mmap/mprotect/madvise/brk; no memfd_create (a memfd's pages escape RLIMIT_AS: kernel
  blocks go to the size-capped scratch instead), no fallocate, no mlock, no userfaultfd;
- the channel: sendmsg/recvmsg on the inherited socket; no socket/socketpair/connect/bind;
- threads only: clone with CLONE_THREAD and no namespace flag; clone3 reports ENOSYS (libc falls
  back to clone, whose flags a filter can read); no fork/vfork/execve;
- argument filters: kill/tgkill only to itself, prlimit64/setpriority/sched_setaffinity/
  getpriority/sched_getaffinity only on itself (pid 0 or its own), fcntl without F_SETOWN/F_SETSIG/
  F_SETOWN_EX/F_SETLEASE/F_NOTIFY, ioctl only FIONREAD/FIONBIO/FIOCLEX/FIONCLEX/TCGETS, prctl only
  name/dumpable/seccomp queries;
- other architectures' entry points on the same CPU: i386 (`int 0x80`) and x32 (nr | 0x40000000)
  are denied, so a different syscall table cannot walk around the list.

Numbers come from `seccomp_tables.py`, generated from libseccomp's tables by
scripts/gen_seccomp_tables.py. We assemble the BPF ourselves (no runtime dependency on libseccomp, which
a robot image may lack; pyseccomp is a binding to that same C library); a test runs the program on
a small BPF interpreter for both architectures.
"""
from __future__ import annotations

import ctypes
import errno
import os
import platform
import struct

from spatialclaw_ros.kernel.seccomp_tables import NR

_RET_ALLOW = 0x7FFF0000
_RET_ERRNO = 0x00050000
_RET_KILL_PROCESS = 0x80000000
_LD_W_ABS = 0x20
_JEQ_K = 0x15
_JSET_K = 0x45
_JGE_K = 0x35
_JA = 0x05
_RET_K = 0x06
_CLONE_NEW_MASK = 0x7E020080   # NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET|NEWTIME
_CLONE_THREAD = 0x00010000
_CLONE_VM = 0x00000100
AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
AUDIT_ARCH_I386 = 0x40000003
X32_BIT = 0x40000000
_MACHINE = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "aarch64", "arm64": "aarch64"}

# Plain allow (most frequent first: the filter is a linear scan).
ALLOW = [
    "read", "write", "recvmsg", "sendmsg", "poll", "ppoll", "futex", "mmap", "munmap", "madvise",
    "brk", "mprotect", "mremap", "lseek", "close", "fstat", "newfstatat", "stat", "lstat", "statx",
    "openat", "open", "pread64", "pwrite64", "readv", "writev", "preadv", "pwritev", "preadv2",
    "pwritev2", "getdents64", "getdents", "access", "faccessat", "faccessat2", "readlink",
    "readlinkat", "getcwd", "chdir", "fchdir", "mkdir", "mkdirat", "unlink", "unlinkat", "rmdir",
    "rename", "renameat", "renameat2", "ftruncate", "fsync", "fdatasync",
    "statfs", "fstatfs", "dup", "dup2", "dup3", "pipe", "pipe2", "select", "pselect6",
    "epoll_create1", "epoll_ctl", "epoll_wait", "epoll_pwait", "epoll_pwait2", "eventfd2",
    "recvfrom", "sendto", "getsockopt", "getsockname", "getpeername", "shutdown",
    "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "sigaltstack", "rt_sigpending",
    "rt_sigsuspend", "rt_sigtimedwait", "restart_syscall", "pause", "alarm", "setitimer",
    "getitimer", "timer_create", "timer_settime", "timer_gettime", "timer_getoverrun",
    "timer_delete", "timerfd_create", "timerfd_settime", "timerfd_gettime",
    "getpid", "gettid", "getppid", "getuid", "geteuid", "getgid", "getegid", "getgroups",
    "getresuid", "getresgid", "getpgrp", "getpgid", "getsid", "uname", "sysinfo", "getrusage",
    "times", "clock_gettime", "clock_getres", "clock_nanosleep", "nanosleep", "gettimeofday",
    "time", "sched_yield", "sched_getparam", "sched_getscheduler", "sched_get_priority_max",
    "sched_get_priority_min", "getcpu", "getrandom", "set_robust_list",
    "set_tid_address", "rseq", "membarrier", "exit", "exit_group", "wait4", "waitid",
    "arch_prctl", "umask", "getrlimit", "setrlimit", "sendfile", "copy_file_range",
    "get_mempolicy", "close_range", "msync",
    # Landlock can only take rights away: allowed so that it goes on at "init", after seccomp
    "landlock_create_ruleset", "landlock_add_rule", "landlock_restrict_self",
]
# Calls allowed only in some forms: see _filtered_blocks.
FILTERED = ["clone", "clone3", "kill", "tgkill", "prlimit64", "setpriority", "getpriority",
            "sched_setaffinity", "sched_getaffinity", "fcntl", "ioctl", "prctl"]
# Denied explicitly in tests (must resolve in the tables even though default-deny covers them).
NOTABLE_DENIED = ["socket", "socketpair", "connect", "bind", "execve", "execveat", "fork", "vfork",
                  "ptrace", "process_vm_readv", "process_vm_writev", "chmod", "fchmod", "fchmodat",
                  "chown", "fchown", "lchown", "fchownat", "utimensat", "utimes", "utime",
                  "setxattr", "fsetxattr", "lsetxattr", "mknod", "mknodat", "memfd_create",
                  "fallocate", "shmget", "shmat", "msgget", "semget", "mq_open", "unshare",
                  "setns", "mount", "pivot_root", "bpf", "io_uring_setup", "userfaultfd",
                  "inotify_init1", "inotify_add_watch", "fanotify_init", "ioprio_set",
                  "sched_setscheduler", "sched_setattr", "pidfd_open", "pidfd_send_signal",
                  "tkill", "rt_sigqueueinfo", "setsid", "setpgid", "keyctl", "perf_event_open",
                  "seccomp", "mlock", "link", "symlink", "truncate", "setuid", "setresuid",
                  "setgroups", "capset", "landlock_create_ruleset", "kcmp", "open_by_handle_at",
                  "name_to_handle_at", "syslog", "personality", "process_madvise", "flock",
                  "get_robust_list", "mincore", "fadvise64", "readahead"]
# fcntl commands allowed: DUPFD, GETFD, SETFD, GETFL, SETFL, GETOWN(9), GETSIG(11), GETOWN_EX(16),
# DUPFD_CLOEXEC (1030), GETPIPE_SZ (1032), ADD_SEALS (1033), GET_SEALS (1034). Not: SETOWN (8),
# SETSIG (10), SETOWN_EX (15), SETLEASE (1024), NOTIFY (1026), SETPIPE_SZ (1031), and no record
# locks (5-7, 36-38; like flock, a lock on a shared read-only file could stall a host process).
FCNTL_ALLOWED = (0, 1, 2, 3, 4, 9, 11, 16, 1030, 1032, 1033, 1034)
# ioctl: TCGETS (isatty), FIONREAD, FIONBIO, FIONCLEX, FIOCLEX - same values on both arches.
IOCTL_ALLOWED = (0x5401, 0x541B, 0x5421, 0x5450, 0x5451)
# prctl: GET_DUMPABLE 3, SET_NAME 15, GET_NAME 16, GET_SECCOMP 21, CAPBSET_READ 23,
# GET_NO_NEW_PRIVS 39, SET_VMA 0x53564d41 (glibc names its arenas), GET_TID_ADDRESS 40.
PRCTL_ALLOWED = (3, 15, 16, 21, 23, 39, 40, 0x53564D41)
# Extra calls for the one-time identity drop at "init" on a root host without namespaces
# (chown the scratch dir, then setres[ug]id to nobody); denied again by a second filter.
IDENTITY_DROP = ["fchown", "chown", "setgroups", "setresgid", "setresuid", "capset", "prctl", "seccomp"]


def all_names() -> set[str]:
    """Every syscall name the filter or its tests refer to (what the generated table must hold)."""
    return set(ALLOW) | set(FILTERED) | set(NOTABLE_DENIED) | set(IDENTITY_DROP) | {
        "seccomp", "landlock_create_ruleset", "landlock_add_rule", "landlock_restrict_self",
        "ioprio_get", "shmctl", "msgctl", "semctl"}


def machine() -> str | None:
    """'x86_64' or 'aarch64' for this CPU, else None."""
    return _MACHINE.get(platform.machine())


def supported() -> str:
    """'' when a filter can be built for this machine, else why not."""
    if machine() is None:
        return f"no syscall table for {platform.machine()}"
    try:
        with open("/proc/self/status") as f:
            if "Seccomp:" not in f.read():
                return "kernel built without CONFIG_SECCOMP"
    except OSError as exc:
        return f"cannot read /proc/self/status: {exc}"
    return ""


def nr(name: str, arch: str) -> int | None:
    """The syscall number of `name` on `arch` ('x86_64' or 'aarch64'), None if absent."""
    return NR[name][0 if arch == "x86_64" else 1]


# ------------------------------------------------------------------------------ assembler
class _Asm:
    """BPF with symbolic forward jump targets (resolved at the end; offsets must fit in 8 bits)."""

    def __init__(self) -> None:
        self.ins: list[tuple[int, int, object, object]] = []
        self.labels: dict[str, int] = {}

    def op(self, code: int, k: int, jt: object = 0, jf: object = 0) -> None:
        self.ins.append((code, k & 0xFFFFFFFF, jt, jf))

    def label(self, name: str) -> None:
        self.labels[name] = len(self.ins)

    def ret(self, k: int) -> None:
        self.op(_RET_K, k)

    def goto(self, label: str) -> None:
        """Unconditional jump (32-bit offset)."""
        self.ins.append((_JA, 0, label, None))

    def jeq_goto(self, k: int, label: str) -> None:
        """if A == k: goto label (any distance)."""
        self.op(_JEQ_K, k, 0, 1)
        self.goto(label)

    def assemble(self) -> bytes:
        out = []
        for i, (code, k, jt, jf) in enumerate(self.ins):
            if code == _JA and isinstance(jt, str):
                out.append(struct.pack("=HBBI", code, 0, 0, self.labels[jt] - i - 1))
                continue
            offs = []
            for j in (jt, jf):
                if isinstance(j, str):
                    d = self.labels[j] - i - 1
                    if not 0 <= d <= 255:
                        raise ValueError(f"BPF jump to {j} out of range ({d})")
                    offs.append(d)
                else:
                    offs.append(int(j))
            out.append(struct.pack("=HBBI", code, offs[0], offs[1], k))
        return b"".join(out)


def _arg_lo(i: int) -> int:
    return 16 + 8 * i          # little-endian on both architectures: low word first


def _one_of(a: _Asm, arg: int, values: tuple[int, ...], ok: str, bad: str, tag: str) -> None:
    """Jump to ok when 64-bit argument `arg` equals one of values (as a C int/long), else bad."""
    for n, v in enumerate(values):
        nxt = f"{tag}_v{n + 1}_{len(a.ins)}"
        a.op(_LD_W_ABS, _arg_lo(arg))
        a.op(_JEQ_K, v & 0xFFFFFFFF, 0, 3)
        a.op(_LD_W_ABS, _arg_lo(arg) + 4)
        hi = 0xFFFFFFFF if v < 0 else 0
        a.op(_JEQ_K, hi, 0, 1)
        a.goto(ok)
        a.label(nxt)
    a.goto(bad)


def build_filter(self_pid: int, arch: str | None = None, *, identity_drop: bool = False) -> bytes:
    """The filter program (sock_filter array) for `arch` (default: this machine) and pid."""
    arch = arch or machine()
    if arch not in AUDIT_ARCH:
        raise OSError(f"no syscall table for {arch}")
    eperm = _RET_ERRNO | errno.EPERM
    a = _Asm()
    a.op(_LD_W_ABS, 4)                                   # seccomp_data.arch
    a.op(_JEQ_K, AUDIT_ARCH[arch], "native", 0)
    a.ret(eperm)                                         # i386 (int 0x80), arm32: other tables
    a.label("native")
    a.op(_LD_W_ABS, 0)                                   # seccomp_data.nr
    if arch == "x86_64":
        a.op(_JGE_K, X32_BIT, 0, 1)                      # x32 ABI: same calls, other numbers
        a.goto("deny")
    allowed = list(ALLOW) + (IDENTITY_DROP if identity_drop else [])
    filtered = [f for f in FILTERED if not (identity_drop and f in IDENTITY_DROP)]
    for name in filtered:
        n = nr(name, arch)
        if n is not None:
            a.jeq_goto(n, f"f_{name}")
    nums = [nr(x, arch) for x in allowed]
    nums = [x for i, x in enumerate(nums) if x is not None and x not in nums[:i]]
    for g in range(0, len(nums), 200):                  # 8-bit jumps: an "allow" per 200 entries
        for n in nums[g:g + 200]:
            a.op(_JEQ_K, n, f"allow{g}", 0)
        a.goto(f"after{g}")
        a.label(f"allow{g}")
        a.ret(_RET_ALLOW)
        a.label(f"after{g}")
    a.label("deny")
    a.ret(eperm)
    # --- filtered calls: each block ends in a return
    me = self_pid
    for name in filtered:
        if nr(name, arch) is None:
            continue
        a.label(f"f_{name}")
        if name == "clone3":
            a.ret(_RET_ERRNO | errno.ENOSYS)
        elif name == "clone":                            # flags: arg 0 on both architectures
            a.op(_LD_W_ABS, _arg_lo(0))
            a.op(_JSET_K, _CLONE_NEW_MASK, 0, 1)
            a.goto("ret_deny")
            a.op(_JSET_K, _CLONE_THREAD, 1, 0)
            a.goto("ret_deny")
            a.op(_JSET_K, _CLONE_VM, 0, 1)
            a.goto("ret_allow")
            a.goto("ret_deny")
        elif name == "kill":                             # pid 0 (own group), itself, -itself
            _one_of(a, 0, (0, me, -me), "ret_allow", "ret_deny", "kill")
        elif name == "tgkill":
            _one_of(a, 0, (me,), "ret_allow", "ret_deny", "tgkill")
        elif name in ("prlimit64", "sched_setaffinity", "sched_getaffinity"):
            _one_of(a, 0, (0, me), "ret_allow", "ret_deny", name)
        elif name in ("setpriority", "getpriority"):     # PRIO_PROCESS (0) of itself only
            _one_of(a, 0, (0,), f"{name}_who", "ret_deny", name + "w")
            a.label(f"{name}_who")
            _one_of(a, 1, (0, me), "ret_allow", "ret_deny", name)
        elif name == "fcntl":
            _one_of(a, 1, FCNTL_ALLOWED, "ret_allow", "ret_deny", name)
        elif name == "ioctl":
            _one_of(a, 1, IOCTL_ALLOWED, "ret_allow", "ret_deny", name)
        elif name == "prctl":
            _one_of(a, 0, PRCTL_ALLOWED, "ret_allow", "ret_deny", name)
    a.label("ret_deny")
    a.ret(eperm)
    a.label("ret_allow")
    a.ret(_RET_ALLOW)
    return a.assemble()


def deny_filter(names: list[str], arch: str | None = None) -> bytes:
    """A small filter that denies `names` (EPERM) and allows the rest (stacked after the main one)."""
    arch = arch or machine()
    a = _Asm()
    a.op(_LD_W_ABS, 4)
    a.op(_JEQ_K, AUDIT_ARCH[arch], "native", 0)
    a.ret(_RET_ERRNO | errno.EPERM)
    a.label("native")
    a.op(_LD_W_ABS, 0)
    for name in names:
        n = nr(name, arch)
        if n is not None:
            a.op(_JEQ_K, n, "deny", 0)
    a.ret(_RET_ALLOW)
    a.label("deny")
    a.ret(_RET_ERRNO | errno.EPERM)
    return a.assemble()


# ------------------------------------------------------------------------------ interpreter (tests)
def run_filter(prog: bytes, nr_: int, arch: int, args: tuple[int, ...] = ()) -> int:
    """Evaluate a filter on one syscall like the kernel would; returns the action word."""
    data = struct.pack("=iI Q", nr_, arch, 0) + b"".join(
        struct.pack("=Q", (list(args) + [0] * 6)[i] & 0xFFFFFFFFFFFFFFFF) for i in range(6))
    ins = [struct.unpack("=HBBI", prog[i:i + 8]) for i in range(0, len(prog), 8)]
    pc, acc = 0, 0
    while True:
        code, jt, jf, k = ins[pc]
        if code == _LD_W_ABS:
            acc = struct.unpack_from("=I", data, k)[0]
            pc += 1
        elif code == _JEQ_K:
            pc += 1 + (jt if acc == k else jf)
        elif code == _JGE_K:
            pc += 1 + (jt if acc >= k else jf)
        elif code == _JSET_K:
            pc += 1 + (jt if acc & k else jf)
        elif code == _JA:
            pc += 1 + k
        elif code == _RET_K:
            return k
        else:
            raise ValueError(f"unknown BPF opcode {code:#x}")


# ------------------------------------------------------------------------------ install
class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def install_program(code: bytes) -> None:
    """Set no_new_privs and install a filter program on every thread; OSError on failure."""
    why = supported()
    if why:
        raise OSError(why)
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    if libc.prctl(38, 1, 0, 0, 0) != 0:     # PR_SET_NO_NEW_PRIVS
        err = ctypes.get_errno()
        raise OSError(err, f"PR_SET_NO_NEW_PRIVS: {os.strerror(err)}")
    buf = ctypes.create_string_buffer(code, len(code))
    prog = _SockFprog(len(code) // 8, ctypes.cast(buf, ctypes.c_void_p))
    nr_seccomp = nr("seccomp", machine() or "x86_64")
    # SECCOMP_SET_MODE_FILTER = 1, SECCOMP_FILTER_FLAG_TSYNC = 1
    if libc.syscall(ctypes.c_long(nr_seccomp), ctypes.c_uint(1), ctypes.c_uint(1),
                    ctypes.byref(prog)) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"seccomp(SET_MODE_FILTER): {os.strerror(err)}")


def install(self_pid: int | None = None, *, identity_drop: bool = False) -> None:
    """Install the kernel's allow-list on every thread; raises OSError on failure."""
    install_program(build_filter(self_pid if self_pid is not None else os.getpid(),
                                 identity_drop=identity_drop))
