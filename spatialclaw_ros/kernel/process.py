"""Kernel processes, parent side: the fork server (Zygote) and one forked kernel (KernelProcess)."""
from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from typing import Any

from spatialclaw_ros.config import SandboxConfig
from spatialclaw_ros.errors import KernelDiedError
from spatialclaw_ros.kernel import protocol, sandbox

log = logging.getLogger(__name__)
WARMUP_NICE = 10
_PKG_PARENT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# -I: ignore PYTHON* variables and the user site; -B: no .pyc writes (the file system is read-only
# for kernels). The package's parent goes last on sys.path: an installed copy wins, a source tree
# still works.
_BOOT = ("import sys; sys.path.append(%r); "
         "from spatialclaw_ros.kernel.zygote import main; main()" % _PKG_PARENT)


class Zygote:
    """The fork server process and its control channel."""

    def __init__(self, cfg: SandboxConfig, start_timeout_s: float = 120.0, *,
                 namespaces: bool = True) -> None:
        ours, theirs = protocol.socket_pair()
        self.errfile = capped_errfile()
        opts = {"mode": cfg.mode, "memory_mb": cfg.memory_mb, "cpu_s": cfg.cpu_s,
                "max_open_files": cfg.max_open_files, "max_file_mb": cfg.max_file_mb,
                "max_processes": cfg.max_processes, "namespaces": namespaces}
        t0 = time.perf_counter()
        try:
            self.popen = subprocess.Popen(
                [sys.executable, "-I", "-B", "-c", _BOOT, str(theirs.fileno()), json.dumps(opts),
                 str(os.getpid())],
                env=sandbox.child_env(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=self.errfile, pass_fds=(theirs.fileno(),), start_new_session=True,
                close_fds=True, cwd="/")
        finally:
            theirs.close()
        try:
            os.setpriority(os.PRIO_PROCESS, self.popen.pid, WARMUP_NICE)  # imports in the background
        except OSError:
            pass
        self.pid = self.popen.pid
        self.chan = protocol.Channel(ours, untrusted_peer=False)
        self._lock = threading.Lock()          # one fork request at a time
        self._cond = threading.Condition()
        self._forked: list[int] = []
        self._exited: dict[int, int] = {}
        self._dead = False
        if not self.chan.poll(start_timeout_s):
            self.close()
            raise KernelDiedError(f"the kernel fork server did not start within {start_timeout_s:g} s")
        try:
            msg = self.chan.recv()
        except (protocol.ChannelClosed, protocol.ProtocolError) as exc:
            tail = self.stderr_tail()
            self.close()
            raise KernelDiedError(f"the kernel fork server failed to start: {tail}") from exc
        if msg.get("op") != "ready":
            self.close()
            raise KernelDiedError(f"the kernel fork server sent {msg.get('op')!r}")
        # In its own PID namespace the server's and kernels' pids are not ours: translate them.
        self.pidns = bool(msg.get("pidns"))
        self.server_pid = _only_child(self.pid) if self.pidns else self.pid
        self.outside_uid = msg.get("outside_uid")
        self._host_pid: dict[int, int] = {}
        self.start_s = time.perf_counter() - t0
        self._reader = threading.Thread(target=self._read, name="kernel-zygote", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                msg = self.chan.recv()
            except (protocol.ChannelClosed, protocol.ProtocolError, OSError):
                with self._cond:
                    self._dead = True
                    self._cond.notify_all()
                return
            with self._cond:
                if msg.get("op") == "forked":
                    self._forked.append(self._to_host(int(msg["pid"])))
                elif msg.get("op") == "exited":
                    inner = int(msg["pid"])
                    self._exited[self._host_pid.pop(inner, inner)] = int(msg["code"])
                elif msg.get("op") == "error":
                    self._forked.append(-1)
                self._cond.notify_all()

    def _to_host(self, inner: int) -> int:
        """A kernel's pid as the node sees it (the server reports pids of its PID namespace)."""
        if not self.pidns or inner < 0:
            return inner
        for pid in _children(self.server_pid):
            if _ns_pids(pid)[-1:] == [inner]:
                self._host_pid[inner] = pid
                return pid
        return -1

    def alive(self) -> bool:
        """True while the fork server runs."""
        return not self._dead and self.popen.poll() is None

    def fork(self, sock: socket.socket, errfile: Any, opts: dict[str, Any] | None = None) -> int:
        """A new kernel serving `sock`; returns its pid."""
        with self._lock:
            if not self.alive():
                raise KernelDiedError("the kernel fork server is gone")
            data = b"J" + json.dumps({"op": "fork", "opts": opts or {}}).encode()
            socket.send_fds(self.chan.sock, [data], [sock.fileno(), errfile.fileno()])
            with self._cond:
                if not self._cond.wait_for(lambda: self._forked or self._dead, 30):
                    raise KernelDiedError("the kernel fork server did not answer")
                if self._dead and not self._forked:
                    raise KernelDiedError(f"the kernel fork server died: {self.stderr_tail()}")
                pid = self._forked.pop(0)
        if pid < 0:
            raise KernelDiedError("the kernel fork server refused the request")
        return pid

    def exit_code(self, pid: int, timeout_s: float) -> int | None:
        """The kernel's exit code (negative: signal), once the zygote has reaped it."""
        with self._cond:
            self._cond.wait_for(lambda: pid in self._exited or self._dead, timeout_s)
            return self._exited.pop(pid, None)

    def stderr_tail(self, n: int = 2000) -> str:
        """The end of the fork server's stderr."""
        return _tail(self.errfile, n)

    def close(self) -> None:
        """Kill the fork server (its kernels die with it: PR_SET_PDEATHSIG)."""
        try:
            os.killpg(self.popen.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.popen.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        self.chan.close()
        try:
            self.errfile.close()
        except OSError:
            pass


class KernelProcess:
    """A kernel forked from the zygote, and its channel."""

    def __init__(self, zygote: Zygote) -> None:
        self.zygote = zygote
        parent_sock, child_sock = protocol.socket_pair()
        self.errfile = capped_errfile()
        self.started = time.perf_counter()
        try:
            self.pid = zygote.fork(child_sock, self.errfile)
        except BaseException:
            parent_sock.close()
            self.errfile.close()
            raise
        finally:
            child_sock.close()
        self.chan = protocol.Channel(parent_sock, untrusted_peer=True)
        self.early_layers: list[str] = []
        self.notes: list[str] = []
        self.ready = False
        self.used = False
        self._code: int | None = None
        self._reaped = False
        self._killed = False

    def wait_ready(self, timeout_s: float = 60.0) -> None:
        """Block until the fork has entered its namespaces and said so."""
        if not self.chan.poll(timeout_s):
            self.kill()
            raise KernelDiedError(f"the kernel did not start within {timeout_s:g} s")
        try:
            msg = self.chan.recv()
        except (protocol.ChannelClosed, protocol.ProtocolError) as exc:
            status = self.kill()
            raise KernelDiedError(f"the kernel failed to start ({status}): {self.stderr_tail()}") from exc
        if msg.get("op") != "ready":
            self.kill()
            raise KernelDiedError(f"the kernel sent {msg.get('op')!r} instead of 'ready'")
        self.early_layers = [str(x) for x in msg.get("layers", [])]
        self.notes = [str(x) for x in msg.get("notes", [])]
        self.ready = True
        log.debug("kernel %d ready in %.3f s", self.pid, time.perf_counter() - self.started)

    def _set_nice(self, value: int) -> bool:
        try:
            os.setpriority(os.PRIO_PROCESS, self.pid, value)
            return True
        except OSError:
            return False

    def promote(self) -> None:
        """Normal priority for serving a query (a non-root parent may not lower it; then it stays)."""
        self._set_nice(0)

    def alive(self) -> bool:
        """True while the process runs."""
        if self._reaped:
            return False
        with self.zygote._cond:
            if self.pid in self.zygote._exited:
                return False
        return self.zygote.alive()

    def _wait(self, timeout_s: float) -> str:
        if not self._reaped:
            code = self.zygote.exit_code(self.pid, timeout_s)
            if code is not None:
                self._code, self._reaped = code, True
        return describe_status(self._code) if self._reaped else "ended (status unknown)"

    def _killpg(self) -> None:
        # The group id is the kernel's pid. Once the zygote has reaped the kernel the pid may be
        # reused, but the group lives on while any member does (and a pgid is not reused while
        # its group exists), so signal the group until then and never after it is gone.
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    @property
    def killed_by_parent(self) -> bool:
        """Whether the parent killed this kernel (timeout, violation, close) before it ended."""
        return self._killed

    def kill(self) -> str:
        """Kill the whole process group, close the channel; returns how the kernel ended."""
        if not self._killed:
            self._killpg()
            self._killed = True
        self.chan.close()
        return self._wait(5.0)

    def exit_status(self, wait_s: float = 1.0) -> str:
        """How the process ended (waits briefly for it); kills its group either way."""
        status = self._wait(wait_s)
        if not self._killed:
            self._killpg()
            self._killed = True
        self.chan.close()
        if not self._reaped:
            status = self._wait(5.0)
        return status

    def stderr_tail(self, n: int = 2000) -> str:
        """The end of what the kernel wrote to its stderr (faulthandler, import errors)."""
        return _tail(self.errfile, n)

    def close_files(self) -> None:
        """Drop the stderr file."""
        try:
            self.errfile.close()
        except OSError:
            pass


STDERR_CAP = 256 * 1024


def capped_errfile(cap: int = STDERR_CAP) -> Any:
    """A file for a kernel's stderr that cannot hold more than `cap` bytes (a sealed-size memfd).

    Writes past the cap fail in the kernel (EPERM); nothing reaches the disk. What was written
    ends at the shared file offset, which _tail reads.
    """
    import fcntl

    fd = os.memfd_create("spatialclaw-stderr", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
    try:
        os.ftruncate(fd, cap)
        fcntl.fcntl(fd, fcntl.F_ADD_SEALS, fcntl.F_SEAL_GROW | fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_SEAL)
    except BaseException:
        os.close(fd)
        raise
    return os.fdopen(fd, "r+b", buffering=0)


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def _only_child(pid: int) -> int:
    kids = _children(pid)
    return kids[0] if kids else pid


def _ns_pids(pid: int) -> list[int]:
    """The NSpid line of /proc/<pid>/status: the pid in each nested PID namespace."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("NSpid:"):
                    return [int(x) for x in line.split()[1:]]
    except (OSError, ValueError):
        pass
    return []


def _tail(f: Any, n: int) -> str:
    try:
        size = os.lseek(f.fileno(), 0, os.SEEK_CUR)
        data = os.pread(f.fileno(), min(n, size), max(0, size - n))
        return data.decode("utf-8", "replace").strip()
    except (OSError, ValueError):
        return ""


def describe_status(rc: Any) -> str:
    """'exit code 3', 'signal SIGSEGV (Segmentation fault)', ..."""
    if rc is None:
        return "still running"
    if rc < 0:
        try:
            sig = signal.Signals(-rc)
            return f"signal {sig.name} ({signal.strsignal(sig) or ''})".replace(" ()", "")
        except ValueError:
            return f"signal {-rc}"
    return f"exit code {rc}"
