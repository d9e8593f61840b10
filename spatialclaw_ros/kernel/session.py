"""One query's kernel: run cells, serve call_parent, restart and replay after a timeout or crash."""
from __future__ import annotations

import logging
import os
import shutil
import threading
import time
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from spatialclaw_ros.errors import (KernelDiedError, KernelProtocolError, QueryCanceledError,
                                    SandboxUnavailableError)
from spatialclaw_ros.frames.types import Frame
from spatialclaw_ros.kernel import protocol, sandbox, schema
from spatialclaw_ros.kernel.process import KernelProcess
from spatialclaw_ros.kernel.types import CellResult, ShownImage, VariableSummary

if TYPE_CHECKING:
    from spatialclaw_ros.kernel.pool import KernelPool

log = logging.getLogger(__name__)
Handler = Callable[[dict], Any]
INIT_TIMEOUT_S = 30.0
VIOLATION = "protocol violation by the kernel: "


def frame_message(frames: list[Frame], metadata: dict[str, Any]) -> dict[str, Any]:
    """The init message body: frames (arrays go by shared memory) and metadata with frame facts."""
    out = []
    for i, f in enumerate(frames):
        if not isinstance(f, Frame):
            raise TypeError(f"frames[{i}] is a {type(f).__name__}, expected spatialclaw_ros Frame")
        rgb = f.rgb
        if not isinstance(rgb, np.ndarray) or rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise ValueError(f"frames[{i}].rgb must be (H, W, 3) uint8, got "
                             f"{getattr(rgb, 'shape', None)} {getattr(rgb, 'dtype', None)}")
        for name, arr, dt in (("depth", f.depth, np.float32), ("labels", f.labels, np.int32)):
            if arr is not None and (not isinstance(arr, np.ndarray) or arr.shape != rgb.shape[:2]
                                    or arr.dtype != dt):
                raise ValueError(f"frames[{i}].{name} must be {rgb.shape[:2]} {np.dtype(dt)}, got "
                                 f"{getattr(arr, 'shape', None)} {getattr(arr, 'dtype', None)}")
        cam = f.camera
        out.append({
            "rgb": rgb, "depth": f.depth, "labels": f.labels, "stamp_ns": int(f.stamp_ns),
            "camera": {"width": int(cam.width), "height": int(cam.height),
                       "K": np.asarray(cam.K, dtype=np.float64).reshape(3, 3).tolist(),
                       "D": np.asarray(cam.D, dtype=np.float64).ravel().tolist(),
                       "distortion_model": cam.distortion_model, "frame_id": cam.frame_id},
            "T_fixed_camera": None if f.T_fixed_camera is None
            else np.asarray(f.T_fixed_camera, dtype=np.float64).reshape(4, 4).tolist(),
            "T_fixed_base": None if getattr(f, "T_fixed_base", None) is None
            else np.asarray(f.T_fixed_base, dtype=np.float64).reshape(4, 4).tolist(),
        })
    fixed = next((f.fixed_frame for f in frames if f.fixed_frame), "")
    facts: dict[str, Any] = {
        "stamps_ns": [int(f.stamp_ns) for f in frames],
        "frame_ids": [f.camera.frame_id for f in frames],
        "fixed_frame": fixed,
        "cameras": [{"width": int(f.camera.width), "height": int(f.camera.height),
                     "K": np.asarray(f.camera.K, dtype=np.float64).reshape(3, 3).tolist(),
                     "frame_id": f.camera.frame_id} for f in frames],
        "has_depth": [f.depth is not None for f in frames],
        "has_labels": [f.labels is not None for f in frames],
        "has_pose": [f.T_fixed_camera is not None for f in frames],
        "num_frames": len(frames),
    }
    if not isinstance(metadata, dict):
        raise TypeError(f"metadata must be a dict, got {type(metadata).__name__}")
    facts.update(metadata)
    return {"op": "init", "frames": out, "metadata": facts, "fixed_frame": facts.get("fixed_frame", fixed),
            "base_frame": str(facts.get("base_frame") or "")}


class KernelSession:
    """A kernel serving one query; discard it after (close). Also a context manager."""

    def __init__(self, pool: "KernelPool", frames: list[Frame], metadata: dict[str, Any], *,
                 handlers: dict[str, Handler] | None = None, scratch_dir: str | None = None) -> None:
        self._pool = pool
        self._handlers = dict(handlers or {})
        self._lock = threading.Lock()
        self._kernel: KernelProcess | None = None
        self._closed = False
        self._canceled = False
        self._good: list[tuple[int, str, list[tuple[str, Any]]]] = []   # (cell, code, replies)
        self._cell = 0
        self._rid = 0                      # request ids: every request and its answers carry one
        self.violation = ""                # what the kernel did wrong; the session is finished
        self.notes: list[str] = []
        self.init_timings: dict[str, Any] = {}
        self.sandbox_layers: list[str] = []
        if scratch_dir is None:
            import tempfile

            self.scratch_dir = tempfile.mkdtemp(prefix="spatialclaw-scratch-")
            self._own_scratch = True
        else:
            real = os.path.realpath(scratch_dir)
            pkg = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
            if real in ("/", os.path.realpath(os.path.expanduser("~"))) or \
                    (pkg + os.sep).startswith(real + os.sep):
                raise ValueError(f"scratch_dir {scratch_dir!r} would let model code write there; "
                                 "give a dedicated directory (e.g. tempfile.mkdtemp())")
            os.makedirs(real, exist_ok=True)
            self.scratch_dir = real
            self._own_scratch = False
        msg = frame_message(frames, metadata)
        msg["scratch_dir"] = self.scratch_dir
        # Encoded once: a restart re-sends the same shared blocks (no second copy of the frames).
        self._keep: list[Any] = []        # zero-copy frames: their blocks' descriptors are ours
        self._init_msg, self._init_fds, self._init_owned = protocol.encode(msg, self._keep)

    # ------------------------------------------------------------------ life cycle
    def _start(self, kernel: KernelProcess) -> None:
        """Hand the frames to a warm kernel and wait for it to be sandboxed and ready."""
        with self._lock:
            if self._closed:
                kernel.kill()
                raise QueryCanceledError("the session was closed")
            self._kernel = kernel
        kernel.used = True
        rid = self._next_id()
        try:
            _send_encoded(kernel.chan, dict(self._init_msg, id=rid), self._init_fds)
            if not kernel.chan.poll(INIT_TIMEOUT_S):
                raise KernelDiedError(f"the kernel did not initialise within {INIT_TIMEOUT_S:g} s")
            reply = kernel.chan.recv()
        except protocol.ProtocolError as exc:
            kernel.kill()
            self._discard(kernel)
            raise KernelProtocolError(f"{VIOLATION}{exc} (while receiving the frames; the parent "
                                      "killed the kernel)") from exc
        except (protocol.ChannelClosed, OSError, KernelDiedError) as exc:
            status = kernel.kill()
            tail = kernel.stderr_tail()
            self._discard(kernel)
            raise KernelDiedError(f"the kernel died while receiving the frames ({status})"
                                  + (f": {tail}" if tail else "")) from exc
        try:
            if reply.get("op") != "init_ok":
                raise protocol.ProtocolError(f"answered {_op(reply)} to init")
            self.sandbox_layers, self.notes, self.init_timings = schema.check_init_ok(reply, rid)
        except protocol.ProtocolError as exc:
            self._discard(kernel)
            raise KernelProtocolError(f"{VIOLATION}{exc} (the parent killed the kernel)") from exc
        cfg = self._pool.cfg
        if cfg.mode == "strict":
            missing = sandbox.missing_protections(self.sandbox_layers)
            if missing:
                self._discard(kernel)
                raise SandboxUnavailableError(
                    "sandbox.mode is strict and these protections are missing: "
                    + ", ".join(missing) + f" (active layers: {', '.join(self.sandbox_layers)}; "
                    + "; ".join(self.notes) + "). Use sandbox.mode: auto to run anyway.")
        log.info("kernel %d sandbox layers: %s", kernel.pid, ", ".join(self.sandbox_layers))

    def _next_id(self) -> int:
        self._rid += 1
        return self._rid

    def _discard(self, kernel: KernelProcess) -> None:
        kernel.kill()
        kernel.close_files()
        self._pool._forget(kernel)
        with self._lock:
            if self._kernel is kernel:
                self._kernel = None

    def close(self) -> None:
        """Kill the kernel's process group and free the frames' shared memory and scratch dir."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            kernel, self._kernel = self._kernel, None
        if kernel is not None:
            kernel.kill()
            kernel.close_files()
            self._pool._forget(kernel)
        for fd in self._init_owned:
            try:
                os.close(fd)
            except OSError:
                pass
        self._init_owned = []
        self._keep = []
        if self._own_scratch:
            shutil.rmtree(self.scratch_dir, ignore_errors=True)

    def __enter__(self) -> "KernelSession":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def cancel(self) -> None:
        """From any thread: stop the running cell and kill the kernel now; the session is finished."""
        with self._lock:
            self._canceled = True
            kernel = self._kernel
        if kernel is not None:
            try:
                os.killpg(kernel.pid, 9)
            except (ProcessLookupError, PermissionError):
                pass

    @property
    def pid(self) -> int | None:
        """The current kernel's process id (changes after a restart)."""
        k = self._kernel
        return None if k is None else k.pid

    # ------------------------------------------------------------------ cells
    def run_cell(self, code: str, timeout_s: float) -> CellResult:
        """Run one cell; on timeout or crash restart the kernel and replay the cells that succeeded.

        Call from one thread at a time (cancel() may come from any thread). The cell's clock stops
        while the parent serves its call_parent requests (VLM, perception).
        """
        if not isinstance(code, str):
            raise TypeError(f"code must be str, got {type(code).__name__}")
        if not timeout_s or timeout_s <= 0:
            raise ValueError(f"timeout_s must be > 0, got {timeout_s!r}")
        if self._canceled:
            raise QueryCanceledError("the kernel session was canceled")
        if self.violation:
            raise KernelProtocolError(self.violation)
        if self._closed:
            raise KernelDiedError("the kernel session is closed; acquire a new one")
        self._cell += 1
        cell = self._cell
        res, replies = self._execute(code, cell, timeout_s, replay=None)
        if res.canceled or res.protocol_violation:
            return res
        if res.timed_out or res.crashed:
            what = (f"timed out after {timeout_s:g} s" if res.timed_out else res.error or "crashed")
            restored, lost = self._restart()
            res.restored = restored
            names = [r.split(": ", 1)[1] for r in restored if ": " in r and r.split(": ", 1)[1]]
            if lost:
                tail = (f"the kernel was restarted; replayed {len(restored)} earlier cell(s) but "
                        f"could not restore: {lost}; its variables are gone, recompute them.")
            elif not restored:
                tail = "the kernel was restarted; no earlier cells to restore."
            else:
                tail = (f"the kernel was restarted and the {len(restored)} earlier successful cell(s) "
                        "were replayed" + (f" (variables restored: {', '.join(names)})" if names else "")
                        + ".")
            res.error = f"{what}; {tail}"
            if res.timed_out:
                res.error = f"The cell timed out after {timeout_s:g} s and was stopped; {tail}"
        elif res.ok:
            self._good.append((cell, code, replies))
        return res

    def _execute(self, code: str, cell: int, timeout_s: float,
                 replay: list[tuple[str, Any]] | None) -> tuple[CellResult, list[tuple[str, Any]]]:
        kernel = self._kernel
        t0 = time.perf_counter()
        replies: list[tuple[str, Any]] = []
        calls: list[dict[str, Any]] = []
        if kernel is None:
            raise KernelDiedError("no kernel")
        rid = self._next_id()
        seq = 0
        try:
            if kernel.chan.poll(0):                    # nothing may arrive between requests
                try:
                    msg = kernel.chan.recv()
                except protocol.ProtocolError as exc:
                    return self._violated(kernel, cell, t0, calls, str(exc)), replies
                return self._violated(kernel, cell, t0, calls, f"sent {_op(msg)} while no "
                                      "request was pending"), replies
            kernel.chan.send({"op": "run", "id": rid, "code": code, "cell": cell})
        except (protocol.ChannelClosed, OSError):
            return self._died(kernel, cell, t0, calls), replies
        deadline = time.perf_counter() + timeout_s
        while True:
            remaining = deadline - time.perf_counter()
            if remaining <= 0 or not kernel.chan.poll(remaining):
                if self._canceled:
                    return self._died(kernel, cell, t0, calls), replies
                kernel.kill()
                return CellResult(ok=False, timed_out=True, cell_index=cell,
                                  error=f"timed out after {timeout_s:g} s",
                                  duration_s=time.perf_counter() - t0, parent_calls=calls), replies
            try:
                msg = kernel.chan.recv()
            except protocol.ProtocolError as exc:
                if self._canceled:
                    return self._died(kernel, cell, t0, calls), replies
                return self._violated(kernel, cell, t0, calls, str(exc)), replies
            except (protocol.ChannelClosed, OSError):
                return self._died(kernel, cell, t0, calls), replies
            op = msg.get("op")
            try:
                if op == "call":
                    seq += 1
                    name, payload = schema.check_call(msg, rid, seq)
                elif op == "result":
                    fields = schema.check_result(msg, rid)
                else:
                    raise protocol.ProtocolError(f"sent {_op(msg)} during a cell")
            except protocol.ProtocolError as exc:
                return self._violated(kernel, cell, t0, calls, str(exc)), replies
            except (ValueError, TypeError, ArithmeticError, RecursionError) as exc:
                # a check itself tripped over the message: still the kernel's doing
                return self._violated(kernel, cell, t0, calls, f"malformed {_op(msg)} message "
                                      f"({type(exc).__name__}: {str(exc)[:200]})"), replies
            if op == "result":
                return self._result(fields, cell, t0, calls), replies
            h0 = time.perf_counter()
            reply = self._dispatch(name, payload, replay)
            spent = time.perf_counter() - h0
            deadline += spent          # the cell's clock stops while the parent works
            calls.append({"name": name, "seconds": spent, "ok": reply.get("ok", False)})
            if reply.get("ok"):
                replies.append((name, reply.get("value")))
            reply.update(id=rid, seq=seq)
            try:
                try:
                    kernel.chan.send(reply)
                except TypeError as exc:
                    kernel.chan.send({"op": "reply", "id": rid, "seq": seq, "ok": False, "error":
                                      f"the {name} handler returned something unsendable: {exc}"})
            except OSError:
                return self._died(kernel, cell, t0, calls), replies

    def _dispatch(self, name: str, payload: Any, replay: list[tuple[str, Any]] | None) -> dict[str, Any]:
        if replay:
            rec_name, value = replay[0]
            if rec_name == name:
                replay.pop(0)
                return {"op": "reply", "ok": True, "value": value}
            replay.clear()
        handler = self._handlers.get(name)
        if handler is None:
            have = ", ".join(sorted(self._handlers)) or "none"
            return {"op": "reply", "ok": False,
                    "error": f"no parent handler named {name!r} (available: {have})"}
        if not isinstance(payload, dict):
            return {"op": "reply", "ok": False, "error": "payload must be a dict"}
        try:
            value = handler(payload)
        except Exception as exc:  # noqa: BLE001 - becomes an error in the cell
            log.warning("parent handler %s failed: %s", name, exc)
            return {"op": "reply", "ok": False, "error": f"{type(exc).__name__}: {exc}"}
        return {"op": "reply", "ok": True, "value": value}

    def _violated(self, kernel: KernelProcess, cell: int, t0: float, calls: list[dict],
                  what: str) -> CellResult:
        """The kernel broke the protocol: kill it; the session takes no more cells."""
        kernel.kill()
        self.violation = (f"{VIOLATION}{what}. The parent killed the kernel and the query ends "
                          "(model code must not write to the kernel's channel).")
        log.warning("kernel %d: %s", kernel.pid, self.violation)
        return CellResult(ok=False, protocol_violation=True, cell_index=cell,
                          duration_s=time.perf_counter() - t0, parent_calls=calls,
                          error=self.violation)

    def _died(self, kernel: KernelProcess, cell: int, t0: float, calls: list[dict]) -> CellResult:
        parent_killed = kernel.killed_by_parent
        status = kernel.exit_status()
        dur = time.perf_counter() - t0
        if self._canceled:
            return CellResult(ok=False, canceled=True, error="canceled: the kernel was stopped",
                              cell_index=cell, duration_s=dur, parent_calls=calls)
        tail = _crash_lines(kernel.stderr_tail(4000))
        hint = ""
        if "SIGXCPU" in status:
            hint = f" (the kernel used its {self._pool.cfg.cpu_s} CPU seconds)"
        elif parent_killed:
            hint = " (killed by the parent)"
        elif "SIGKILL" in status:
            hint = " (killed, probably out of memory)"
        return CellResult(ok=False, crashed=True, cell_index=cell, duration_s=dur,
                          parent_calls=calls, stderr=tail,
                          error=f"the kernel crashed ({status}){hint} while running this cell")

    def _result(self, msg: dict[str, Any], cell: int, t0: float, calls: list[dict]) -> CellResult:
        """A CellResult from a result whose fields schema.check_result has checked."""
        variables = [VariableSummary(**v) for v in msg["variables"]]
        images = [ShownImage(**im) for im in msg["images"]]
        return CellResult(ok=msg["ok"], stdout=msg["stdout"], stderr=msg["stderr"],
                          error=msg["error"], variables=variables, images=images,
                          answer=msg["answer"], cell_index=cell,
                          duration_s=time.perf_counter() - t0, parent_calls=calls)

    def _restart(self) -> tuple[list[str], str]:
        """A fresh kernel with the same frames; replay the good cells. (restored, what was lost).

        A replayed cell that fails ends the replay: the cells from it on are dropped from the
        history (later restarts will not replay them) and reported as lost.
        """
        lost = ""
        for _attempt in range(2):
            old = self._kernel
            if old is not None:
                self._discard(old)
            self._start(self._pool._take())
            self._pool._refill()
            restored: list[str] = []
            for n, (cell, code, replies) in enumerate(list(self._good)):
                res, _ = self._execute(code, cell, max(10.0, self._pool.cfg.cpu_s / 4), list(replies))
                if res.protocol_violation:
                    raise KernelProtocolError(self.violation)
                if not res.ok:
                    self._good = self._good[:n]
                    last = (res.error or "").strip().splitlines()[-1:] or ["failed"]
                    lost = f"cell {cell} and later ({last[0]})"
                    if res.timed_out or res.crashed:
                        break                  # the kernel is gone: start again with the prefix
                    return restored, lost
                names = ", ".join(v.name for v in res.variables)
                restored.append(f"cell {cell}: {names}" if names else f"cell {cell}")
            else:
                return restored, lost
        self._good = []
        old = self._kernel
        if old is not None:
            self._discard(old)
        self._start(self._pool._take())
        return [], lost or "the replay failed twice"


def _send_encoded(chan: protocol.Channel, msg: dict[str, Any], fds: list[int]) -> None:
    """Send a pre-encoded message, keeping its descriptors (they are sent again on restart)."""
    import json
    import socket

    data = json.dumps(msg, separators=(",", ":"), allow_nan=False).encode()
    if len(data) + 1 > protocol.PACKET_MAX:
        # large metadata: go through the normal path, which spills the JSON into a memfd
        body_fd = os.memfd_create("spatialclaw-msg", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(body_fd, view):]
            socket.send_fds(chan.sock, [b"M"], [body_fd] + fds)
        finally:
            os.close(body_fd)
    elif fds:
        socket.send_fds(chan.sock, [b"J" + data], fds)
    else:
        chan.sock.sendall(b"J" + data)


def _op(msg: dict[str, Any]) -> str:
    """A message's op for an error text, bounded."""
    op = msg.get("op")
    return repr(op[:40]) if isinstance(op, str) else f"a message without a valid op ({type(op).__name__})"


def _crash_lines(text: str) -> str:
    """faulthandler's report cut to what the model can use: the fatal error and its cell lines."""
    keep = [ln.strip() for ln in text.splitlines()
            if ln.startswith("Fatal Python error") or "<cell-" in ln]
    return "\n".join(keep[-10:])
