"""The fork server: imports numpy/scipy/cv2/tools once, then forks a kernel per request (~10 ms).

Runs as its own process (started by process.Zygote), single-threaded, with the scrubbed
environment. It never runs model code. Requests arrive on a control socket with the new kernel's
channel and stderr file as descriptors; it forks, the fork becomes a kernel (child.serve), and the
zygote answers with the pid. It also reaps its kernels and reports how each ended, since only a
parent can learn an exit status.
"""
from __future__ import annotations

import ctypes
import json
import os
import select
import signal
import sys

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

def _reap(ctl) -> None:  # noqa: ANN001 - protocol.Channel
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        code = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
        ctl.send({"op": "exited", "pid": pid, "code": code})


def main() -> None:
    """argv: control socket fd, options JSON, parent pid."""
    ctl_fd = int(sys.argv[1])
    opts = json.loads(sys.argv[2])
    parent = int(sys.argv[3])
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGKILL, 0, 0, 0)        # PR_SET_PDEATHSIG: die with the node
    if os.getppid() != parent:
        os._exit(3)

    from spatialclaw_ros.kernel import namespaces, sandbox

    ns = namespaces.NsState()
    if opts.get("mode") != "off" and opts.get("namespaces", True):
        ns = namespaces.enter(parent, sandbox.read_paths(_PACKAGE_DIR))   # returns in its PID 1
        if ns.userns or ns.pidns:
            try:
                namespaces.build_view(ns)
            except OSError as exc:
                raise SystemExit(f"the kernel's read-only file system view failed: {exc}") from exc
        for fd in ns.view_fds.values():
            os.close(fd)
        ns.view_fds.clear()
    elif opts.get("mode") != "off":
        ns.notes.append("namespaces: not used (the fork server failed to start in them; see the log)")
        ns.outside_uid = os.geteuid()
    if opts.get("mode") != "off":
        libc.prctl(4, 0, 0, 0, 0)              # PR_SET_DUMPABLE 0: kernels cannot read or trace it
    sandbox.set_server_state(ns, opts)

    from spatialclaw_ros.kernel import child, protocol

    notes: list[str] = list(ns.notes)
    make_toolbox = child.prewarm(notes)
    import gc

    gc.collect()
    gc.freeze()      # the imported heap becomes permanent: kernels' GC will not touch (copy) it
    ctl = protocol.Channel(__import__("socket").socket(fileno=ctl_fd), untrusted_peer=False)
    rfd, wfd = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    signal.set_wakeup_fd(wfd)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    me = os.getpid()
    ctl.send({"op": "ready", "pid": me, "pidns": ns.pidns, "layers": ns.layers,
              "outside_uid": ns.outside_uid})
    while True:
        try:
            r, _, _ = select.select([ctl.sock, rfd], [], [])
        except InterruptedError:
            continue
        if rfd in r:
            try:
                while os.read(rfd, 512):
                    pass
            except BlockingIOError:
                pass
            _reap(ctl)
        if ctl.sock not in r:
            continue
        try:
            msg, fds = _recv_with_fds(ctl)
        except EOFError:
            os._exit(0)
        if msg.get("op") != "fork" or len(fds) != 2:
            for fd in fds:
                os.close(fd)
            ctl.send({"op": "error", "error": "expected fork with 2 descriptors"})
            continue
        sock_fd, err_fd = fds
        pid = os.fork()
        if pid == 0:
            try:
                signal.set_wakeup_fd(-1)
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                os.close(rfd)
                os.close(wfd)
                ctl.sock.detach()
                os.close(ctl_fd)
                os.dup2(err_fd, 2)
                os.close(err_fd)
                os.setsid()                           # its own process group, killed as one
                kopts = dict(opts, **(msg.get("opts") or {}))
                child.serve(sock_fd, kopts, me, notes, make_toolbox)
            except BaseException:  # noqa: BLE001 - report, then leave without unwinding the zygote
                import traceback

                traceback.print_exc()
            finally:
                os._exit(70)
        os.close(sock_fd)
        os.close(err_fd)
        ctl.send({"op": "forked", "pid": pid})


def _recv_with_fds(ctl) -> tuple[dict, list[int]]:  # noqa: ANN001
    """A control message and its raw descriptors (not memfds: kept as they are)."""
    import socket as _socket

    data, fds, _, _ = _socket.recv_fds(ctl.sock, 65536, 4)
    if not data:
        raise EOFError
    return json.loads(data[1:]), list(fds)


if __name__ == "__main__":
    main()
