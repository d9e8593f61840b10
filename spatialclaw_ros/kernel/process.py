"""One kernel process: spawn it with a scrubbed environment, wait for it to be warm, kill its group."""
from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
from typing import Any

from spatialclaw_ros.config import SandboxConfig
from spatialclaw_ros.errors import KernelDiedError
from spatialclaw_ros.kernel import protocol, sandbox

log = logging.getLogger(__name__)
WARMUP_NICE = 10
_PKG_PARENT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# -I: ignore PYTHON* variables and the user site; -B: no .pyc writes (the file system is read-only).
# The package's parent goes last on sys.path so an installed copy wins, a source tree still works.
_BOOT = ("import sys; sys.path.append(%r); "
         "from spatialclaw_ros.kernel.child import main; main()" % _PKG_PARENT)


class KernelProcess:
    """A started kernel child and its channel."""

    def __init__(self, cfg: SandboxConfig) -> None:
        self.cfg = cfg
        parent_sock, child_sock = protocol.socket_pair()
        self.errfile = tempfile.TemporaryFile(prefix="spatialclaw-kernel-")
        opts = {"parent_pid": os.getpid(), "mode": cfg.mode, "memory_mb": cfg.memory_mb,
                "cpu_s": cfg.cpu_s, "max_open_files": cfg.max_open_files,
                "max_file_mb": cfg.max_file_mb, "max_processes": cfg.max_processes}
        self.started = time.perf_counter()
        try:
            self.popen = subprocess.Popen(
                [sys.executable, "-I", "-B", "-c", _BOOT, str(child_sock.fileno()), json.dumps(opts)],
                env=sandbox.child_env(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=self.errfile, pass_fds=(child_sock.fileno(),), start_new_session=True,
                close_fds=True, cwd="/")
        finally:
            child_sock.close()
        self.pid = self.popen.pid
        # Warm up in the background at low priority, so a running query keeps its cores.
        self._set_nice(WARMUP_NICE)
        self.chan = protocol.Channel(parent_sock, untrusted_peer=True)
        self.early_layers: list[str] = []
        self.notes: list[str] = []
        self.ready = False
        self.used = False

    def wait_ready(self, timeout_s: float = 60.0) -> None:
        """Block until the child has imported numpy/scipy/cv2 and said so."""
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
        log.debug("kernel %d warm in %.2f s", self.pid, time.perf_counter() - self.started)

    def _set_nice(self, value: int) -> bool:
        try:
            os.setpriority(os.PRIO_PROCESS, self.pid, value)
            return True
        except OSError:
            return False

    def promote(self) -> None:
        """Back to normal priority for serving a query (a non-root parent may not; then it stays)."""
        self._set_nice(0)

    def alive(self) -> bool:
        """True while the process runs."""
        return self.popen.poll() is None

    def kill(self) -> str:
        """Kill the whole process group, reap the child, close the channel; returns how it ended."""
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.popen.kill()
        except OSError:
            pass
        try:
            rc = self.popen.wait(timeout=10)
        except subprocess.TimeoutExpired:
            rc = None
        self.chan.close()
        return describe_status(rc)

    def exit_status(self, wait_s: float = 1.0) -> str:
        """How the process ended (waits briefly); kills it if it is still there."""
        try:
            rc = self.popen.wait(timeout=wait_s)
        except subprocess.TimeoutExpired:
            return self.kill()
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.chan.close()
        return describe_status(rc)

    def stderr_tail(self, n: int = 2000) -> str:
        """The end of what the child wrote to its stderr (faulthandler, import errors)."""
        try:
            size = os.fstat(self.errfile.fileno()).st_size
            data = os.pread(self.errfile.fileno(), n, max(0, size - n))
            return data.decode("utf-8", "replace").strip()
        except (OSError, ValueError):
            return ""

    def close_files(self) -> None:
        """Drop the stderr file."""
        try:
            self.errfile.close()
        except OSError:
            pass


def describe_status(rc: Any) -> str:
    """'exit code 3', 'signal SIGSEGV (segmentation fault)', ..."""
    if rc is None:
        return "still running"
    if rc < 0:
        try:
            sig = signal.Signals(-rc)
            return f"signal {sig.name} ({signal.strsignal(sig) or ''})".replace(" ()", "")
        except ValueError:
            return f"signal {-rc}"
    return f"exit code {rc}"
