"""The perception worker process: owns the loaded models and answers the service's requests.

Started by ``PerceptionService`` as ``python -m spatialclaw_ros.perception.worker`` (the node's
Python for onnxruntime/tensorrt, .venv-models' Python for torch). Requests and replies are JSON
lines on stdin/stdout with arrays in shared memory (transport.py); anything the libraries print
goes to stderr, so fd 1 carries only the protocol.
"""
from __future__ import annotations

import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import numpy as np

from spatialclaw_ros.errors import PerceptionError
from spatialclaw_ros.perception import engines
from spatialclaw_ros.perception.transport import private_stdout, read_message, write_message


def load_da3_backend(directory: str, runtime: str, precision: str, threads: int) -> tuple[Any, engines.ModelManifest]:
    """The backend for one exported DA3 model directory and runtime; refuses stale or missing files."""
    d = Path(directory)
    man = engines.ModelManifest.load(d)
    if runtime == "onnxruntime":
        from spatialclaw_ros.perception.backends import OnnxRuntimeBackend
        return OnnxRuntimeBackend(engines.check_onnx(d, man), threads=threads), man
    if runtime == "tensorrt":
        from spatialclaw_ros.perception.backends import TensorRTBackend
        path = engines.select_engine(d, man, engines.current_key(man, precision))
        return TensorRTBackend(path), man
    if runtime == "torch":
        from spatialclaw_ros.perception.torch_backends import RANDOM_CHECKPOINT_NOTE, TorchDa3Backend
        ck = man.checkpoint.replace(RANDOM_CHECKPOINT_NOTE, "").strip()
        if threads:
            import torch
            torch.set_num_threads(threads)
        if man.family == "da3metric":
            from spatialclaw_ros.perception.torch_backends import TorchDa3MetricBackend
            return TorchDa3MetricBackend(ck), man
        return TorchDa3Backend(ck), man
    raise PerceptionError(f"unknown perception runtime {runtime!r}: use tensorrt, onnxruntime or torch")


class WorkerState:
    """Models loaded in this process and the request handlers."""

    def __init__(self) -> None:
        self.da3: Any = None
        self.manifest: engines.ModelManifest | None = None
        self.sam3: Any = None

    def handle(self, header: dict[str, Any],
               arrays: dict[str, np.ndarray]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """Run one request; returns (reply header, reply arrays)."""
        op = header.get("op")
        if op == "ping":
            return {"pid": os.getpid()}, {}
        if op == "load":
            t0 = time.perf_counter()
            reply: dict[str, Any] = {}
            if "da3" in header:
                spec = header["da3"]
                self.da3, self.manifest = load_da3_backend(spec["dir"], spec["runtime"], spec.get("precision", "fp16"),
                                                           int(spec.get("threads", 0)))
                if self.manifest.random_weights:
                    print(f"[perception worker] {engines.RANDOM_WEIGHTS_LABEL}: {self.manifest.model} "
                          f"from {self.manifest.checkpoint}", file=sys.stderr, flush=True)
                reply.update({"backend": self.da3.name, "providers": list(getattr(self.da3, "providers", [])),
                              "manifest": {"model": self.manifest.model, "family": self.manifest.family,
                                           "input_shapes": self.manifest.input_shapes,
                                           "random_weights": self.manifest.random_weights,
                                           "metric": self.manifest.metric, "process_res": self.manifest.process_res}})
            if "sam3" in header:
                spec = header["sam3"]
                from spatialclaw_ros.perception.torch_sam3 import TorchSam3Backend
                if spec.get("random_weights"):
                    print(f"[perception worker] {engines.RANDOM_WEIGHTS_LABEL}: SAM 3 image model", file=sys.stderr,
                          flush=True)
                self.sam3 = TorchSam3Backend(spec["bpe_path"], spec.get("checkpoint", ""),
                                             bool(spec.get("random_weights")), float(spec.get("confidence", 0.5)),
                                             threads=int(spec.get("threads", 0)))
                reply.update({"backend": "torch", "sam3_random_weights": bool(spec.get("random_weights")),
                              "device": self.sam3.device})
            reply["load_ms"] = (time.perf_counter() - t0) * 1000
            return reply, {}
        if op == "sam3.segment":
            if self.sam3 is None:
                raise PerceptionError("SAM 3 is not loaded in the perception worker")
            out, timings = self.sam3.segment(header["image_key"], arrays["image"], header.get("text"),
                                             header.get("box"), header.get("points"))
            return {"timings": timings}, out
        if op == "da3":
            if self.da3 is None:
                raise PerceptionError("DA3 is not loaded in the perception worker")
            t0 = time.perf_counter()
            out = self.da3.run(arrays)
            return {"infer_ms": (time.perf_counter() - t0) * 1000}, out
        raise PerceptionError(f"unknown perception request {op!r}")


def main() -> int:
    """Serve requests until stdin closes."""
    from spatialclaw_ros.secrecy import harden_process

    harden_process()
    proto = private_stdout()
    inp = sys.stdin.buffer
    state = WorkerState()
    while True:
        msg = read_message(inp)
        if msg is None:
            return 0
        header, arrays = msg
        rid = header.get("id")
        try:
            reply, out = state.handle(header, arrays)
            write_message(proto, {"id": rid, "ok": True, **reply}, out)
        except MemoryError:
            write_message(proto, {"id": rid, "ok": False, "error": "out of memory in the perception worker"})
            return 3
        except Exception as exc:  # noqa: BLE001 - every failure goes back to the caller as a message
            kind = "perception" if isinstance(exc, PerceptionError) else type(exc).__name__
            traceback.print_exc(file=sys.stderr)
            write_message(proto, {"id": rid, "ok": False, "kind": kind, "error": str(exc)})


if __name__ == "__main__":
    sys.exit(main())
