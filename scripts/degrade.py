#!/usr/bin/env python3
"""Run a command on a simulated weaker host: `degrade.py --deny userns,landlock -- CMD ...`.

Installs a seccomp filter (inherited by everything CMD starts) that refuses what such hosts refuse:
  userns    unshare/clone with CLONE_NEWUSER -> EPERM (Ubuntu 24.04's AppArmor restriction on
            unprivileged user namespaces; user.max_user_namespaces=0)
  ns        unshare/setns/clone with any CLONE_NEW* flag and mount -> EPERM (Docker's default
            seccomp profile for a container without extra privileges)
  landlock  landlock_* -> ENOSYS (kernel < 5.13, or Landlock not in lsm=, e.g. JetPack kernels)
  mount     mount/pivot_root -> EPERM while namespaces work (a restrictive LSM policy): the fork
            server cannot build its view, and `auto` must fall back to running without namespaces
clone3 reports ENOSYS so that libc falls back to clone, whose flags the filter can read.
"""
from __future__ import annotations

import argparse
import errno
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from spatialclaw_ros.kernel import seccomp  # noqa: E402

MODES = ("userns", "ns", "landlock", "mount")


def build(deny: set[str], arch: str | None = None) -> bytes:
    """The wrapper's filter program for the denied host features."""
    arch = arch or seccomp.machine()
    a = seccomp._Asm()
    eperm, enosys = seccomp._RET_ERRNO | errno.EPERM, seccomp._RET_ERRNO | errno.ENOSYS
    a.op(seccomp._LD_W_ABS, 4)
    a.op(seccomp._JEQ_K, seccomp.AUDIT_ARCH[arch], 1, 0)
    a.ret(seccomp._RET_ALLOW)
    a.op(seccomp._LD_W_ABS, 0)
    mask = 0x10000000 if "userns" in deny else 0
    if "ns" in deny:
        mask |= 0x7E020080
    a.jeq_goto(seccomp.nr("clone3", arch), "enosys")
    if mask:
        for name in ("unshare", "clone"):
            a.jeq_goto(seccomp.nr(name, arch), f"flags_{name}")
    if "ns" in deny or "mount" in deny:
        for name in ("setns", "mount", "pivot_root") if "ns" in deny else ("mount", "pivot_root"):
            a.jeq_goto(seccomp.nr(name, arch), "eperm")
    if "landlock" in deny:
        for name in ("landlock_create_ruleset", "landlock_add_rule", "landlock_restrict_self"):
            a.jeq_goto(seccomp.nr(name, arch), "enosys")
    a.ret(seccomp._RET_ALLOW)
    for name in ("unshare", "clone"):
        if mask:
            a.label(f"flags_{name}")
            a.op(seccomp._LD_W_ABS, 16)
            a.op(seccomp._JSET_K, mask, 0, 1)
            a.goto("eperm")
            a.ret(seccomp._RET_ALLOW)
    a.label("eperm")
    a.ret(eperm)
    a.label("enosys")
    a.ret(enosys)
    return a.assemble()


def main() -> None:
    """Parse, install the filter, exec the command."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--deny", required=True, help="comma-separated: " + ", ".join(MODES))
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    deny = {x for x in a.deny.split(",") if x}
    bad = deny - set(MODES)
    if bad or not a.cmd:
        ap.error(f"unknown mode(s) {sorted(bad)} or no command")
    cmd = a.cmd[1:] if a.cmd[0] == "--" else a.cmd
    seccomp.install_program(build(deny))
    os.environ["SPATIALCLAW_SIMULATED_HOST"] = ",".join(sorted(deny))
    os.execvp(cmd[0], cmd)


if __name__ == "__main__":
    main()
