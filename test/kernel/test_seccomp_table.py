"""The seccomp allow-list, checked on a BPF interpreter for x86_64 and aarch64 (no aarch64 CPU needed)."""
from __future__ import annotations

import ctypes.util
import errno
import importlib.util
from pathlib import Path

import pytest

from spatialclaw_ros.kernel import seccomp

ALLOW, EPERM, ENOSYS = 0x7FFF0000, 0x00050000 | errno.EPERM, 0x00050000 | errno.ENOSYS
ME = 4242
THREAD = 0x3D0F00       # the flags glibc's pthread_create passes to clone


@pytest.mark.parametrize("arch", ["x86_64", "aarch64"])
def test_allow_list_and_argument_filters(arch: str) -> None:
    prog = seccomp.build_filter(ME, arch)
    assert len(prog) // 8 < 4096
    aid = seccomp.AUDIT_ARCH[arch]

    def act(name: str, *args: int) -> int:
        return seccomp.run_filter(prog, seccomp.nr(name, arch), aid, args)

    for name in ("read", "write", "openat", "mmap", "futex", "recvmsg", "sendmsg", "exit_group",
                 "landlock_restrict_self"):
        assert act(name) == ALLOW, name
    for name in seccomp.NOTABLE_DENIED:
        if seccomp.nr(name, arch) is not None and name not in seccomp.ALLOW:
            assert act(name, 1, 2, 3) == EPERM, name
    assert act("clone", THREAD) == ALLOW
    assert act("clone", 0x11) == EPERM                           # fork (SIGCHLD)
    assert act("clone", THREAD | 0x10000000) == EPERM            # thread + new user namespace
    assert act("clone3") == ENOSYS
    assert act("kill", ME, 9) == ALLOW and act("kill", 0, 9) == ALLOW and act("kill", -ME, 9) == ALLOW
    assert act("kill", 1, 9) == EPERM and act("kill", -1, 9) == EPERM
    assert act("tgkill", ME, 7, 9) == ALLOW and act("tgkill", 99, 99, 9) == EPERM
    assert act("prlimit64", 0, 7) == ALLOW and act("prlimit64", ME, 7) == ALLOW
    assert act("prlimit64", 1, 7) == EPERM
    assert act("setpriority", 0, 0, 5) == ALLOW and act("setpriority", 0, 77, 5) == EPERM
    assert act("setpriority", 1, 0, 5) == EPERM                  # PRIO_PGRP
    assert act("sched_setaffinity", 0) == ALLOW and act("sched_setaffinity", 77) == EPERM
    for cmd in (8, 10, 15, 1024, 1026):                          # SETOWN, SETSIG, SETOWN_EX, LEASE, NOTIFY
        assert act("fcntl", 3, cmd, 1) == EPERM, cmd
    for cmd in (1, 2, 3, 4, 1030, 1033, 1034):
        assert act("fcntl", 3, cmd) == ALLOW, cmd
    assert act("fcntl", 3, 1 | (1 << 32)) == EPERM               # high bits are not ignored
    assert act("ioctl", 1, 0x5401) == ALLOW and act("ioctl", 1, 0x5412) == EPERM   # TIOCSTI
    assert act("prctl", 15) == ALLOW and act("prctl", 4, 1) == EPERM   # PR_SET_DUMPABLE
    # other entry points of the same CPU
    assert seccomp.run_filter(prog, 1, seccomp.AUDIT_ARCH_I386) == EPERM
    assert seccomp.run_filter(prog, 0x40000000 | 41, aid) == EPERM    # x32 numbering


def test_identity_drop_variant_and_deny_filter() -> None:
    arch = "x86_64"
    prog = seccomp.build_filter(ME, arch, identity_drop=True)
    aid = seccomp.AUDIT_ARCH[arch]
    assert seccomp.run_filter(prog, seccomp.nr("setresuid", arch), aid) == ALLOW
    deny = seccomp.deny_filter(seccomp.IDENTITY_DROP, arch)
    assert seccomp.run_filter(deny, seccomp.nr("setresuid", arch), aid) == EPERM
    assert seccomp.run_filter(deny, seccomp.nr("read", arch), aid) == ALLOW


def test_generated_table_is_current() -> None:
    if not ctypes.util.find_library("seccomp"):
        pytest.skip("libseccomp is not installed: cannot regenerate the table here")
    root = Path(__file__).resolve().parents[2]
    spec = importlib.util.spec_from_file_location("gen", root / "scripts" / "gen_seccomp_tables.py")
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    assert gen.render() == (root / "spatialclaw_ros" / "kernel" / "seccomp_tables.py").read_text(), \
        "run: .venv/bin/python scripts/gen_seccomp_tables.py"
    # spot checks against the kernel's tables
    assert seccomp.nr("openat", "x86_64") == 257 and seccomp.nr("openat", "aarch64") == 56
    assert seccomp.nr("open", "aarch64") is None and seccomp.nr("clone3", "aarch64") == 435
