"""Landlock (Linux >= 5.13) through its three syscalls, with ctypes.

Written against the kernel UAPI (include/uapi/linux/landlock.h) rather than a PyPI binding: the
binding adds a dependency for ~80 lines, and we need ABI-dependent features (TCP rules, signal and
abstract-socket scoping) that we enable only where the running kernel has them. Syscall numbers
444-446 are the same on x86_64 and aarch64.
"""
from __future__ import annotations

import ctypes
import os
from dataclasses import dataclass, field

_SYS_CREATE_RULESET = 444
_SYS_ADD_RULE = 445
_SYS_RESTRICT_SELF = 446
_CREATE_RULESET_VERSION = 1
_RULE_PATH_BENEATH = 1

FS_EXECUTE = 1 << 0
FS_WRITE_FILE = 1 << 1
FS_READ_FILE = 1 << 2
FS_READ_DIR = 1 << 3
FS_REMOVE_DIR = 1 << 4
FS_REMOVE_FILE = 1 << 5
FS_MAKE_CHAR = 1 << 6
FS_MAKE_DIR = 1 << 7
FS_MAKE_REG = 1 << 8
FS_MAKE_SOCK = 1 << 9
FS_MAKE_FIFO = 1 << 10
FS_MAKE_BLOCK = 1 << 11
FS_MAKE_SYM = 1 << 12
FS_REFER = 1 << 13          # ABI 2
FS_TRUNCATE = 1 << 14       # ABI 3
FS_IOCTL_DEV = 1 << 15      # ABI 5
NET_BIND_TCP = 1 << 0       # ABI 4
NET_CONNECT_TCP = 1 << 1    # ABI 4
SCOPE_ABSTRACT_UNIX = 1 << 0  # ABI 6
SCOPE_SIGNAL = 1 << 1         # ABI 6

_FILE_RIGHTS = FS_EXECUTE | FS_WRITE_FILE | FS_READ_FILE | FS_TRUNCATE | FS_IOCTL_DEV
READ = FS_EXECUTE | FS_READ_FILE | FS_READ_DIR


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64),
                ("handled_access_net", ctypes.c_uint64),
                ("scoped", ctypes.c_uint64)]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


def abi_version() -> int:
    """The Landlock ABI of the running kernel; 0 when Landlock is absent or disabled."""
    r = _libc.syscall(_SYS_CREATE_RULESET, None, ctypes.c_size_t(0),
                      ctypes.c_uint32(_CREATE_RULESET_VERSION))
    return int(r) if r > 0 else 0


def _all_fs(abi: int) -> int:
    rights = (1 << 13) - 1
    if abi >= 2:
        rights |= FS_REFER
    if abi >= 3:
        rights |= FS_TRUNCATE
    if abi >= 5:
        rights |= FS_IOCTL_DEV
    return rights


@dataclass
class LandlockReport:
    """What was enforced."""

    abi: int
    network: bool = False          # TCP bind/connect denied
    signal_scope: bool = False     # no signals to processes outside the domain
    skipped: list[str] = field(default_factory=list)


def restrict(read_paths: list[str], write_paths: list[str], rw_files: list[str]) -> LandlockReport:
    """Make the file system read-only beneath read_paths, writable beneath write_paths, closed elsewhere.

    Also denies TCP (ABI >= 4) and signals/abstract sockets outside the domain (ABI >= 6).
    Raises OSError when Landlock is unavailable. The calling process must have no_new_privs set
    and should be single-threaded (Landlock applies to the calling thread and its future children).
    """
    abi = abi_version()
    if abi <= 0:
        raise OSError("Landlock is not available (kernel < 5.13 or 'landlock' missing from lsm=)")
    handled_fs = _all_fs(abi)
    attr = _RulesetAttr(handled_fs, 0, 0)
    size = 8
    report = LandlockReport(abi=abi)
    if abi >= 4:
        attr.handled_access_net = NET_BIND_TCP | NET_CONNECT_TCP
        size = 16
        report.network = True
    if abi >= 6:
        attr.scoped = SCOPE_ABSTRACT_UNIX | SCOPE_SIGNAL
        size = 24
        report.signal_scope = True
    fd = _libc.syscall(_SYS_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(size),
                       ctypes.c_uint32(0))
    if fd < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"landlock_create_ruleset: {os.strerror(err)}")
    try:
        def add(path: str, rights: int) -> None:
            try:
                pfd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            except OSError:
                report.skipped.append(path)
                return
            try:
                if not os.path.isdir(path):
                    rights &= _FILE_RIGHTS
                rule = _PathBeneathAttr(rights & handled_fs, pfd)
                r = _libc.syscall(_SYS_ADD_RULE, ctypes.c_int(fd), ctypes.c_int(_RULE_PATH_BENEATH),
                                  ctypes.byref(rule), ctypes.c_uint32(0))
                if r != 0:
                    err = ctypes.get_errno()
                    raise OSError(err, f"landlock_add_rule({path}): {os.strerror(err)}")
            finally:
                os.close(pfd)

        for p in read_paths:
            add(p, READ)
        for p in rw_files:
            add(p, READ | FS_WRITE_FILE | FS_TRUNCATE | FS_IOCTL_DEV)
        for p in write_paths:
            add(p, handled_fs)
        if _libc.syscall(_SYS_RESTRICT_SELF, ctypes.c_int(fd), ctypes.c_uint32(0)) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"landlock_restrict_self: {os.strerror(err)}")
    finally:
        os.close(fd)
    return report
