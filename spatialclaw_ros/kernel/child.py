"""The kernel's code: imports done once in the fork server, then one query's loop in each kernel.

Order matters. The fork server (zygote.py) imports numpy/scipy/cv2 and the tools once, single-
threaded. Each kernel is a fork of it that leaves for its own process group and namespaces (still
single-threaded), puts on seccomp and rlimits, warms its copy-on-write pages and says "ready"; at
"init" - when the scratch dir is known - it puts on Landlock, then maps the frames and builds the
namespace. No model code runs before every layer is on.
"""
from __future__ import annotations

import os
import socket
import time
from typing import Any, Callable

Toolbox = Callable[[Any], Any]


def prewarm(notes: list[str]) -> Toolbox | None:
    """Import everything a cell may need; returns make_toolbox (None if tools are not importable)."""
    import faulthandler

    faulthandler.enable()         # a crash leaves the cell's line on stderr for the parent
    import cv2  # noqa: F401
    import numpy  # noqa: F401
    import scipy  # noqa: F401
    import scipy.linalg  # noqa: F401
    import scipy.ndimage  # noqa: F401
    import scipy.spatial  # noqa: F401

    import spatialclaw_ros.frames.types  # noqa: F401
    import spatialclaw_ros.kernel.protocol  # noqa: F401
    import spatialclaw_ros.kernel.runtime  # noqa: F401
    from spatialclaw_ros.tools.context import KernelContext

    try:
        from spatialclaw_ros.tools import make_toolbox
    except Exception as exc:  # noqa: BLE001 - tools are optional while being written
        notes.append(f"tools unavailable (tools = None): {type(exc).__name__}: {exc}")
        return None
    try:   # import every tool module now, not in the first query's time
        make_toolbox(KernelContext(images=[], depths=[], labels=[], cameras=[], poses=[],
                                   stamps_ns=[], fixed_frame=""))
    except Exception:  # noqa: BLE001,S110 - a real context may still work
        pass
    return make_toolbox


def serve(sock_fd: int, opts: dict[str, Any], zygote_pid: int, notes: list[str],
          make_toolbox: Toolbox | None) -> None:
    """One kernel's life, in a fresh fork of the zygote; never returns."""
    from spatialclaw_ros.kernel import sandbox

    notes = list(notes)
    early_layers, early_notes = sandbox.apply_early(zygote_pid, opts.get("mode", "auto"))
    notes += early_notes
    package_dir = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    read_only = sandbox.read_paths(package_dir)
    warm_layers, warm_notes = sandbox.apply_warm(opts)
    early_layers += warm_layers
    notes += warm_notes
    import numpy as np

    np.random.seed()              # forks share the zygote's RNG state: give each kernel its own
    from spatialclaw_ros.frames.types import CameraModel
    from spatialclaw_ros.kernel import protocol, runtime
    from spatialclaw_ros.tools.context import KernelContext

    # Touch the paths a query takes (copy-on-write faults after fork) before saying "ready".
    try:
        if make_toolbox is not None:
            make_toolbox(KernelContext(images=[], depths=[], labels=[], cameras=[], poses=[],
                                       stamps_ns=[], fixed_frame=""))
        warm = runtime.Runtime(lambda name, payload: None, 0)
        warm.install({})
        warm.run("_w = [1]\n_w", 0)
        del warm
        protocol.prewarm_decoder()      # the fork's copy-on-write faults for a frame message, now
    except Exception:  # noqa: BLE001,S110 - warming is best effort
        pass
    chan = protocol.Channel(socket.socket(fileno=sock_fd), untrusted_peer=False)
    chan.send({"op": "ready", "pid": os.getpid(), "layers": early_layers, "notes": notes})

    rt: runtime.Runtime | None = None
    call_log: list[dict[str, Any]] = []
    request = {"id": 0, "seq": 0}      # the run request being served; its calls are numbered

    def call_parent(name: str, payload: dict) -> Any:
        """Ask the parent to run a handler (VLM, perception); arrays go by shared memory."""
        if not isinstance(name, str):
            raise TypeError("call_parent: name must be a str")
        if not isinstance(payload, dict):
            raise TypeError("call_parent: payload must be a dict")
        t0 = time.perf_counter()
        request["seq"] += 1
        chan.send({"op": "call", "id": request["id"], "seq": request["seq"], "name": name,
                   "payload": payload})
        msg = chan.recv()
        call_log.append({"name": name, "seconds": time.perf_counter() - t0, "ok": msg.get("ok", False)})
        if msg.get("op") != "reply" or msg.get("id") != request["id"] \
                or msg.get("seq") != request["seq"]:
            raise runtime.ParentCallError(f"call_parent({name!r}): unexpected message {msg.get('op')!r}")
        if not msg.get("ok"):
            raise runtime.ParentCallError(f"{name}: {msg.get('error', 'failed')}")
        return msg.get("value")

    while True:
        chan.poll(None)
        t_recv = time.perf_counter()
        try:
            msg = chan.recv()
        except protocol.ChannelClosed:
            os._exit(0)
        op = msg.get("op")
        if op == "init":
            t_init = time.perf_counter()
            scratch = sandbox.kernel_scratch(msg["scratch_dir"])   # its private tmpfs if any
            layers, late_notes = sandbox.apply_late(opts, scratch, read_only)
            t_sandbox = time.perf_counter()
            try:
                os.chdir(scratch)
            except OSError as exc:
                late_notes.append(f"chdir to scratch failed: {exc}")
            os.environ["TMPDIR"] = scratch
            os.environ["HOME"] = scratch
            frames = msg.get("frames") or []
            images, depths, labels, cams, poses, stamps = [], [], [], [], [], []
            base_poses = []
            for f in frames:
                images.append(f["rgb"])
                depths.append(f.get("depth"))
                labels.append(f.get("labels"))
                c = f["camera"]
                cams.append(CameraModel(width=c["width"], height=c["height"],
                                        K=np.asarray(c["K"], dtype=np.float64).reshape(3, 3),
                                        D=np.asarray(c.get("D", []), dtype=np.float64),
                                        distortion_model=c.get("distortion_model", "plumb_bob"),
                                        frame_id=c.get("frame_id", "")))
                T = f.get("T_fixed_camera")
                poses.append(None if T is None else np.asarray(T, dtype=np.float64).reshape(4, 4))
                Tb = f.get("T_fixed_base")
                base_poses.append(None if Tb is None else np.asarray(Tb, dtype=np.float64).reshape(4, 4))
                stamps.append(int(f["stamp_ns"]))
            metadata = dict(msg.get("metadata") or {})
            rt = runtime.Runtime(call_parent, int(opts.get("memory_mb", 0)))
            ctx = KernelContext(images=images, depths=depths, labels=labels, cameras=cams,
                                poses=poses, stamps_ns=stamps,
                                fixed_frame=str(msg.get("fixed_frame", "")), metadata=metadata,
                                call_parent=call_parent, scratch_dir=scratch,
                                base_frame=str(msg.get("base_frame", "") or ""),
                                base_poses=base_poses)
            t_tools = time.perf_counter()
            tools = None
            if make_toolbox is not None:
                try:
                    tools = make_toolbox(ctx)
                except Exception as exc:  # noqa: BLE001
                    late_notes.append(f"make_toolbox failed (tools = None): {type(exc).__name__}: {exc}")
            rt.install({"InputImages": images, "Metadata": metadata, "tools": tools})
            t_end = time.perf_counter()
            chan.send({"op": "init_ok", "id": msg.get("id", 0), "layers": early_layers + layers,
                       "notes": notes + late_notes,
                       "timings": {"init_s": t_end - t_init, "toolbox_s": t_end - t_tools,
                                   "sandbox_s": t_sandbox - t_init, "recv_s": t_init - t_recv}})
        elif op == "run":
            request["id"], request["seq"] = msg.get("id", 0), 0
            if rt is None:
                chan.send({"op": "result", "id": request["id"], "ok": False,
                           "error": "kernel not initialised"})
                continue
            call_log.clear()
            res = rt.run(str(msg.get("code", "")), int(msg.get("cell", 0)))
            res["op"] = "result"
            res["id"] = request["id"]
            res["parent_calls"] = list(call_log)
            try:
                chan.send(res)
            except (TypeError, ValueError) as exc:
                chan.send({"op": "result", "id": request["id"], "ok": False,
                           "error": f"result not sendable: {str(exc)[:500]}",
                           "stdout": "", "stderr": "", "variables": [], "images": []})
        elif op == "exit":
            os._exit(0)
