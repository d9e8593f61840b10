"""Entry point of the kernel process (started by pool.py; never imported by the parent's code paths).

Order matters: die-with-parent and namespaces first (single-threaded, before numpy), then the heavy
imports (the pool's pre-warming), then "ready"; at "init" the scratch dir is known, so Landlock,
seccomp and rlimits go on, the frames are mapped from shared memory and the namespace is built.
"""
from __future__ import annotations

import json
import os
import socket
import sys
import time
from typing import Any


def main() -> None:
    """Run the kernel: argv = [sock_fd, options JSON]."""
    sock_fd = int(sys.argv[1])
    opts: dict[str, Any] = json.loads(sys.argv[2])
    from spatialclaw_ros.kernel import sandbox

    early_layers, notes = sandbox.apply_early(int(opts["parent_pid"]), opts.get("mode", "auto"))

    import faulthandler

    faulthandler.enable()         # a crash leaves the cell's line on stderr for the parent
    import cv2  # noqa: F401 - pre-warm
    import numpy as np
    import scipy  # noqa: F401
    import scipy.linalg  # noqa: F401
    import scipy.ndimage  # noqa: F401
    import scipy.spatial  # noqa: F401

    from spatialclaw_ros.frames.types import CameraModel, Frame  # noqa: F401
    from spatialclaw_ros.kernel import protocol, runtime
    from spatialclaw_ros.tools.context import KernelContext

    make_toolbox = None
    try:
        from spatialclaw_ros.tools import make_toolbox  # type: ignore[attr-defined,no-redef]
    except Exception as exc:  # noqa: BLE001 - tools are optional while being written
        notes.append(f"tools unavailable (tools = None): {type(exc).__name__}: {exc}")

    if make_toolbox is not None:
        try:   # import every tool module now (pre-warming), not in the first query's time
            make_toolbox(KernelContext(images=[], depths=[], labels=[], cameras=[], poses=[],
                                       stamps_ns=[], fixed_frame=""))
        except Exception:  # noqa: BLE001,S110 - a real context may still work
            pass

    chan = protocol.Channel(socket.socket(fileno=sock_fd), untrusted_peer=False)
    chan.send({"op": "ready", "pid": os.getpid(), "layers": early_layers, "notes": notes})

    package_dir = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    rt: runtime.Runtime | None = None
    call_log: list[dict[str, Any]] = []

    def call_parent(name: str, payload: dict) -> Any:
        """Ask the parent to run a handler (VLM, perception); arrays go by shared memory."""
        if not isinstance(name, str):
            raise TypeError("call_parent: name must be a str")
        if not isinstance(payload, dict):
            raise TypeError("call_parent: payload must be a dict")
        t0 = time.perf_counter()
        chan.send({"op": "call", "name": name, "payload": payload})
        msg = chan.recv()
        call_log.append({"name": name, "seconds": time.perf_counter() - t0, "ok": msg.get("ok", False)})
        if msg.get("op") != "reply":
            raise runtime.ParentCallError(f"call_parent({name!r}): unexpected message {msg.get('op')!r}")
        if not msg.get("ok"):
            raise runtime.ParentCallError(f"{name}: {msg.get('error', 'failed')}")
        return msg.get("value")

    while True:
        try:
            msg = chan.recv()
        except protocol.ChannelClosed:
            os._exit(0)
        op = msg.get("op")
        if op == "init":
            t_init = time.perf_counter()
            scratch = msg["scratch_dir"]
            layers, late_notes = sandbox.apply_late(opts, scratch, package_dir)
            try:
                os.chdir(scratch)
            except OSError as exc:
                late_notes.append(f"chdir to scratch failed: {exc}")
            os.environ["TMPDIR"] = scratch
            os.environ["HOME"] = scratch
            frames = msg.get("frames") or []
            images, depths, labels, cams, poses, stamps = [], [], [], [], [], []
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
                stamps.append(int(f["stamp_ns"]))
            metadata = dict(msg.get("metadata") or {})
            rt = runtime.Runtime(call_parent, int(opts.get("memory_mb", 0)))
            ctx = KernelContext(images=images, depths=depths, labels=labels, cameras=cams,
                                poses=poses, stamps_ns=stamps,
                                fixed_frame=str(msg.get("fixed_frame", "")), metadata=metadata,
                                call_parent=call_parent, scratch_dir=scratch)
            t_tools = time.perf_counter()
            tools = None
            if make_toolbox is not None:
                try:
                    tools = make_toolbox(ctx)
                except Exception as exc:  # noqa: BLE001
                    late_notes.append(f"make_toolbox failed (tools = None): {type(exc).__name__}: {exc}")
            rt.install({"InputImages": images, "Metadata": metadata, "tools": tools})
            t_end = time.perf_counter()
            chan.send({"op": "init_ok", "layers": early_layers + layers, "notes": notes + late_notes,
                       "timings": {"init_s": t_end - t_init, "toolbox_s": t_end - t_tools}})
        elif op == "run":
            if rt is None:
                chan.send({"op": "result", "ok": False, "error": "kernel not initialised"})
                continue
            call_log.clear()
            res = rt.run(str(msg.get("code", "")), int(msg.get("cell", 0)))
            res["op"] = "result"
            res["parent_calls"] = list(call_log)
            try:
                chan.send(res)
            except TypeError as exc:
                chan.send({"op": "result", "ok": False, "error": f"result not sendable: {exc}",
                           "stdout": "", "stderr": "", "variables": [], "images": []})
        elif op == "exit":
            os._exit(0)


if __name__ == "__main__":
    main()
