"""Escape probes: processes, exec, signals (also F_SETOWN), other processes' limits and scheduling.

Every target is a victim process the test started, or the test's own pool (its fork server).
"""
from __future__ import annotations

import os
import signal
import time

import pytest
from security_helpers import NR, proc_field

PROC = pytest.mark.probe(category="processes, exec, signals")
LIMITS = pytest.mark.probe(category="other processes' limits and scheduling")


def _alive(p) -> bool:  # noqa: ANN001
    return p.poll() is None and proc_field(p.pid, "status", "State:").split()[1] not in ("Z", "X")


@PROC
def test_fork_and_exec(run) -> None:  # noqa: ANN001
    out = run("print(T(getattr(os, 'fo' + 'rk')))\nprint(T(os.execv, '/bin/true', ['true']))\n"
              f"print(S({NR('clone')}, 17, 0, 0, 0, 0))\nprint(T(getattr(os, 'posix_' + 'spawn'), "
              "'/bin/true', ['true'], {}))")
    assert all(x.startswith("err:") for x in out), out


@PROC
def test_signal_victim(run, victim) -> None:  # noqa: ANN001
    run(f"print(T(getattr(os, 'ki' + 'll'), {victim.pid}, 15))\n"
        f"print(S({NR('tgkill')}, {victim.pid}, {victim.pid}, 15))\n"
        f"print(S({NR('tkill')}, {victim.pid}, 15))\n"
        f"print(S({NR('rt_sigqueueinfo')}, {victim.pid}, 15, (ct.c_char * 128)()))")
    time.sleep(0.1)
    assert _alive(victim)


@PROC
def test_signal_the_node(run) -> None:  # noqa: ANN001
    got = []
    old = signal.signal(signal.SIGUSR1, lambda *_: got.append(1))
    try:
        run(f"print(T(getattr(os, 'ki' + 'll'), {os.getpid()}, 10))\n"
            "print(T(getattr(os, 'ki' + 'll'), os.getppid(), 9))\nprint(T(getattr(os, 'ki' + 'll'), -1, 10))")
        time.sleep(0.1)
    finally:
        signal.signal(signal.SIGUSR1, old)
    assert got == []


@PROC
def test_fsetown_signal_delivery(run, victim) -> None:  # noqa: ANN001
    # F_SETOWN + F_SETSIG + O_ASYNC makes the kernel deliver a signal to the owner on I/O
    out = run(f"r, w = os.pipe()\nfcntl = _imp('fcn' + 'tl')\n"
              f"print(T(fcntl.fcntl, r, 8, {victim.pid}))\nprint(T(fcntl.fcntl, r, 10, 15))\n"
              f"print(T(fcntl.fcntl, r, 15, (ct.c_int * 2)(1, {victim.pid})))\n"
              "print(T(fcntl.fcntl, r, 4, os.O_ASYNC | os.O_NONBLOCK))\nos.write(w, b'x' * 10)")
    time.sleep(0.1)
    assert _alive(victim) and out[0].startswith("err:") and out[1].startswith("err:")


@PROC
def test_ptrace_and_process_vm(run, victim) -> None:  # noqa: ANN001
    out = run(f"print(S({NR('ptrace')}, 16, {victim.pid}, 0, 0))\n"
              f"buf = ct.create_string_buffer(64)\n"
              f"iov = (ct.c_void_p * 2)(ct.cast(buf, ct.c_void_p), 64)\n"
              f"print(S({NR('process_vm_readv')}, {victim.pid}, iov, 1, iov, 1, 0))\n"
              f"print(S({NR('process_vm_writev')}, {victim.pid}, iov, 1, iov, 1, 0))")
    assert all(x.startswith("err:") for x in out), out
    assert _alive(victim) and "t" not in proc_field(victim.pid, "status", "State:").split()[1]


@pytest.mark.probe(category="processes, exec, signals", needs=('pidns', 'landlock'))
def test_proc_mem_and_environ_of_victim(run, victim) -> None:  # noqa: ANN001
    out = run(f"print(T(lambda: op('/proc/{victim.pid}/environ', 'rb').read()))\n"
              f"print(T(lambda: op('/proc/{victim.pid}/mem', 'r+b').write(b'x')))\n"
              f"print(T(lambda: op('/proc/{victim.pid}/cmdline', 'rb').read()))")
    assert not any("victim-secret" in x for x in out) and _alive(victim)
    assert out[1].startswith("err:")


@PROC
def test_pidfd_signal(run, victim) -> None:  # noqa: ANN001
    out = run(f"print(S({NR('pidfd_open')}, {victim.pid}, 0))\n"
              f"print(S({NR('pidfd_send_signal')}, 3, 15, 0, 0))\n"
              f"print(S({NR('kcmp')}, {victim.pid}, 1, 0, 0, 0))")
    assert out[0].startswith("err:") and _alive(victim)


@PROC
def test_leave_the_process_group(run) -> None:  # noqa: ANN001
    out = run("print(T(os.setsid))\nprint(T(os.setpgid, 0, 0))\n"
              f"print(S({NR('unshare')}, 0x10000000))\nprint(S({NR('setns')}, 0, 0))")
    assert all(x.startswith("err:") for x in out), out


@LIMITS
def test_prlimit_victim(run, victim) -> None:  # noqa: ANN001
    before = open(f"/proc/{victim.pid}/limits").read()
    resource = "res = _imp('reso' + 'urce')\n"
    run(resource + f"print(T(res.prlimit, {victim.pid}, res.RLIMIT_CPU, (1, 1)))\n"
        f"print(T(res.prlimit, {victim.pid}, res.RLIMIT_NOFILE, (4, 4)))")
    assert open(f"/proc/{victim.pid}/limits").read() == before and _alive(victim)


@LIMITS
def test_prlimit_fork_server_and_pool_survives(run, pool) -> None:  # noqa: ANN001
    z = pool._zygote
    before = open(f"/proc/{z.server_pid}/limits").read()
    # Only the kernel's own parent, the fork server this test's pool started: never pid 1 or 2,
    # which on a host without a PID namespace are the machine's own processes.
    run("res = _imp('reso' + 'urce')\nprint(T(res.prlimit, os.getppid(), res.RLIMIT_NOFILE, (4, 4)))")
    assert open(f"/proc/{z.server_pid}/limits").read() == before
    assert run("print('still serving')") == ["still serving"]


@LIMITS
def test_setpriority_victim(run, victim) -> None:  # noqa: ANN001
    before = os.getpriority(os.PRIO_PROCESS, victim.pid)
    run(f"print(T(os.setpriority, os.PRIO_PROCESS, {victim.pid}, 19))\n"
        f"print(T(os.setpriority, os.PRIO_PGRP, 0, 19))\nprint(T(os.setpriority, os.PRIO_USER, 0, 19))")
    assert os.getpriority(os.PRIO_PROCESS, victim.pid) == before


@LIMITS
def test_sched_setaffinity_victim(run, victim) -> None:  # noqa: ANN001
    before = os.sched_getaffinity(victim.pid)
    run(f"print(T(os.sched_setaffinity, {victim.pid}, {{0}}))")
    assert os.sched_getaffinity(victim.pid) == before


@LIMITS
def test_sched_setscheduler_idle_victim(run, victim) -> None:  # noqa: ANN001
    before = os.sched_getscheduler(victim.pid)
    run(f"print(T(os.sched_setscheduler, {victim.pid}, 5, os.sched_param(0)))\n"
        f"print(S({NR('sched_setattr')}, {victim.pid}, (ct.c_char * 56)(), 0))")
    assert os.sched_getscheduler(victim.pid) == before


@LIMITS
def test_ioprio_set_victim(run, victim) -> None:  # noqa: ANN001
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    get = lambda: libc.syscall(NR("ioprio_get"), 1, victim.pid)  # noqa: E731
    before = get()
    run(f"print(S({NR('ioprio_set')}, 1, {victim.pid}, (3 << 13)))")
    assert get() == before


@PROC
def test_sibling_kernel_out_of_reach(pool, run) -> None:  # noqa: ANN001
    """A kernel serving another query at the same time: no signal, limit or priority reaches it."""
    with pool.acquire([], {}) as other:
        assert other.run_cell("kept = 41", timeout_s=10).ok
        before = open(f"/proc/{other._kernel.pid}/limits").read()
        # The sibling's pid as the probe sees it (innermost NSpid): aim at it alone, never at a
        # range of pids that on a host without a PID namespace would be the machine's processes.
        nspid = [ln for ln in open(f"/proc/{other._kernel.pid}/status") if ln.startswith("NSpid:")]
        target = int(nspid[0].split()[-1]) if nspid else other._kernel.pid
        run("res = _imp('reso' + 'urce')\nn = 0\n"
            f"for pid in ({target},):\n"
            "    for f in (lambda: getattr(os, 'ki' + 'll')(pid, 9),\n"
            "              lambda: res.prlimit(pid, res.RLIMIT_NOFILE, (3, 3)),\n"
            "              lambda: os.setpriority(os.PRIO_PROCESS, pid, 19)):\n"
            "        try:\n            f()\n            n += 1\n        except OSError:\n            pass\n"
            "print(n)")
        assert open(f"/proc/{other._kernel.pid}/limits").read() == before
        r = other.run_cell("print(kept + 1)", timeout_s=10)
        assert r.ok and r.stdout.strip() == "42", r.error
