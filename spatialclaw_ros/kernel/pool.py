"""A pool of pre-warmed kernels: each serves one query (KernelSession) and is then discarded."""
from __future__ import annotations

import logging
import os
import stat
import threading
from typing import Any, Callable

from spatialclaw_ros.config import SandboxConfig
from spatialclaw_ros.errors import KernelDiedError, SandboxUnavailableError
from spatialclaw_ros.frames.types import Frame
from spatialclaw_ros.kernel import sandbox
from spatialclaw_ros.kernel.process import KernelProcess, Zygote
from spatialclaw_ros.kernel.session import KernelSession

log = logging.getLogger(__name__)
_MODES = ("auto", "strict", "off")


STALE_SCRATCH_S = 3600.0


def clean_stale_scratch(max_age_s: float = STALE_SCRATCH_S) -> int:
    """Remove empty spatialclaw-scratch-* dirs older than max_age_s from the temp dir; how many.

    With a mount namespace a kernel's scratch is its own tmpfs (gone with it, whatever kills the
    node); the session's host directory stays empty, and one is left behind only when the node is
    killed. Only empty directories are removed (never anything a live kernel wrote).
    """
    import tempfile
    import time

    root = tempfile.gettempdir()
    n = 0
    try:
        names = [x for x in os.listdir(root) if x.startswith("spatialclaw-scratch-")]
    except OSError:
        return 0
    now = time.time()
    for name in names:
        path = os.path.join(root, name)
        try:
            st = os.lstat(path)
            if stat.S_ISDIR(st.st_mode) and now - st.st_mtime > max_age_s:
                os.rmdir(path)              # fails (and is skipped) unless empty
                n += 1
        except OSError:
            pass
    return n


class KernelPool:
    """Keeps `size` kernels warm in the background, forked from a server that imported numpy,
    scipy, cv2 and the tools once (a kernel starts in milliseconds; the server in seconds).

    Example::

        pool = KernelPool(cfg.sandbox)
        with pool.acquire(frames, {"question": q}, handlers={"vlm": ask}) as k:
            res = k.run_cell("print(len(InputImages))", timeout_s=30)
        pool.close()
    """

    def __init__(self, cfg: SandboxConfig, *, size: int | None = None) -> None:
        if cfg.mode not in _MODES:
            raise ValueError(f"sandbox.mode must be one of {', '.join(_MODES)}, got {cfg.mode!r}")
        self.cfg = cfg
        self.size = max(0, cfg.pool_size if size is None else int(size))
        if cfg.mode == "strict":
            layers = [k for k, v in sandbox.detect_sandbox_layers().items() if v.startswith("available")]
            missing = sandbox.missing_protections(layers)
            if missing:
                raise SandboxUnavailableError(
                    "sandbox.mode is strict but this OS cannot provide: " + ", ".join(missing)
                    + " (" + "; ".join(f"{k}: {v}" for k, v in sandbox.detect_sandbox_layers().items()
                                       if not v.startswith("available"))
                    + "). Set sandbox.mode: auto to run with the layers available.")
        elif cfg.mode == "off":
            log.warning("sandbox.mode is off: model-written code runs without OS isolation")
        self._lock = threading.Condition()
        self._ready: list[KernelProcess] = []
        self._live: set[KernelProcess] = set()
        self._spawning = 0
        self._closed = False
        self._errors: list[str] = []
        self._zygote: Zygote | None = None
        self._use_namespaces = True
        clean_stale_scratch()
        self._zygote_lock = threading.Lock()
        self._thread = threading.Thread(target=self._fill, name="kernel-pool", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ background warm-up
    def _fill(self) -> None:
        # This long-lived thread is the only one that starts the fork server: PR_SET_PDEATHSIG
        # fires when the *thread* that forked a process exits, so a short-lived caller's thread
        # must not be its parent.
        while True:
            with self._lock:
                while not self._closed and not self._zygote_wanted() and \
                        len(self._ready) + self._spawning >= self.size:
                    self._lock.wait()
                if self._closed:
                    return
                need_kernel = len(self._ready) + self._spawning < self.size
                if need_kernel:
                    self._spawning += 1
            try:
                self._ensure_zygote()
                if not need_kernel:
                    continue
                k = self._spawn()
            except Exception as exc:  # noqa: BLE001 - reported at acquire
                with self._lock:
                    if not self._closed and not (need_kernel and self._zygote_wanted()):
                        log.error("could not pre-warm a kernel: %s", exc)
                    if need_kernel:
                        self._spawning -= 1
                    self._errors.append(str(exc))
                    self._lock.notify_all()
                    if not self._closed and not (need_kernel and self._zygote_wanted()):
                        self._lock.wait(5.0)  # do not spin on a broken set-up
                continue
            with self._lock:
                self._spawning -= 1
                if self._closed:
                    k.kill()
                    k.close_files()
                    return
                self._ready.append(k)
                self._lock.notify_all()

    def _zygote_wanted(self) -> bool:
        z = self._zygote
        return z is None or not z.alive()

    def _ensure_zygote(self) -> None:
        """Start (or restart) the fork server; called on the filler thread only."""
        with self._zygote_lock:
            z = self._zygote
            if z is not None and z.alive():
                return
            if z is not None:
                log.warning("kernel fork server died (%s); restarting it", z.stderr_tail(300))
                z.close()
                self._zygote = None
            if self._closed:
                raise KernelDiedError("the kernel pool is closed")
            try:
                z = Zygote(self.cfg, namespaces=self._use_namespaces)
            except KernelDiedError as exc:
                if self.cfg.mode != "auto" or not self._use_namespaces:
                    raise
                # e.g. a root node whose interpreter or venv is not readable by uid 65534: keep
                # the other layers rather than not running at all (strict refuses instead)
                log.warning("kernel fork server failed in its namespaces (%s); starting it without "
                            "them: sandbox layers will be reduced", exc)
                self._use_namespaces = False
                z = Zygote(self.cfg, namespaces=False)
            self._zygote = z
            log.info("kernel fork server %d ready in %.2f s", z.pid, z.start_s)
        with self._lock:
            self._lock.notify_all()

    def _get_zygote(self, timeout_s: float = 180.0) -> Zygote:
        """The running fork server, waiting for the filler thread to (re)start it if needed."""
        if threading.current_thread() is self._thread:
            self._ensure_zygote()
        with self._lock:
            self._lock.notify_all()
            n_errors = len(self._errors)
            ok = self._lock.wait_for(lambda: self._closed or not self._zygote_wanted()
                                     or len(self._errors) > n_errors, timeout_s)
            if self._closed:
                raise KernelDiedError("the kernel pool is closed")
            if not ok or self._zygote_wanted():
                why = self._errors[-1] if self._errors else f"not ready after {timeout_s:g} s"
                raise KernelDiedError(f"the kernel fork server could not start: {why}")
            assert self._zygote is not None
            return self._zygote

    def _spawn(self) -> KernelProcess:
        k = KernelProcess(self._get_zygote())
        with self._lock:
            self._live.add(k)
        try:
            k.wait_ready()
        except Exception:
            with self._lock:
                self._live.discard(k)
            k.close_files()
            raise
        return k

    def _take(self) -> KernelProcess:
        """A warm kernel if one is ready, else a fresh one started now."""
        k = self._take_warm()
        if k is not None:
            return k
        k = self._spawn()
        k.promote()
        return k

    def _take_warm(self) -> KernelProcess | None:
        with self._lock:
            if self._closed:
                raise KernelDiedError("the kernel pool is closed")
            while self._ready:
                k = self._ready.pop(0)         # replaced once the session has started (refill)
                if k.alive():
                    k.promote()
                    return k
                self._live.discard(k)
                k.close_files()
        return None

    def _refill(self) -> None:
        """Let the filler fork replacements (after a hand-out, so it does not compete with it)."""
        with self._lock:
            self._lock.notify_all()

    def _forget(self, k: KernelProcess) -> None:
        with self._lock:
            self._live.discard(k)

    # ------------------------------------------------------------------ public API
    def acquire(self, frames: list[Frame], metadata: dict[str, Any], *,
                handlers: dict[str, Callable[[dict], Any]] | None = None,
                scratch_dir: str | None = None) -> KernelSession:
        """A kernel for one query with the frames mapped in; close() it when the query ends."""
        session = KernelSession(self, frames, metadata, handlers=handlers, scratch_dir=scratch_dir)
        try:
            try:
                session._start(self._take())
            except KernelDiedError as exc:
                # a warm kernel can die before it is used (its fork server died): one more try
                log.warning("warm kernel unusable (%s); starting another", exc)
                session._start(self._take())
        except BaseException:
            session.close()
            raise
        finally:
            self._refill()
        return session

    def warm_count(self) -> int:
        """Kernels ready to serve now."""
        with self._lock:
            return len(self._ready)

    def wait_warm(self, n: int | None = None, timeout_s: float = 60.0) -> bool:
        """Block until n (default: size) kernels are warm; False on timeout."""
        want = self.size if n is None else n
        with self._lock:
            return self._lock.wait_for(lambda: len(self._ready) >= want or self._closed, timeout_s)

    def close(self) -> None:
        """Kill every kernel (warm or serving a session) and stop warming new ones."""
        with self._lock:
            self._closed = True
            live = list(self._live)
            self._live.clear()
            self._ready.clear()
            self._lock.notify_all()
        for k in live:
            k.kill()
            k.close_files()
        with self._zygote_lock:
            if self._zygote is not None:
                self._zygote.close()
                self._zygote = None
        self._thread.join(timeout=10)

    def __enter__(self) -> "KernelPool":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
