"""Inference backends with one contract: named float32 inputs in, named numpy outputs out.

``onnxruntime`` runs an ONNX file (CUDA provider where present, else CPU); ``tensorrt`` runs a
serialized engine built by ``spatialclaw build-engines`` (GPU only; never built at query time);
``torch`` is the upstream package plus a local checkpoint and lives in ``torch_backends.py``, which
only .venv-models imports. The node's runtime path needs numpy + onnxruntime or tensorrt, no torch.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from spatialclaw_ros.errors import PerceptionError


@dataclass
class TensorSpec:
    """Name, shape (None for a dynamic axis) and dtype of one graph input or output."""

    name: str
    shape: tuple[int | None, ...]
    dtype: str = "float32"


class Backend(Protocol):
    """What the worker needs from any backend."""

    name: str
    inputs: list[TensorSpec]

    def run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run one inference; returns every output by name."""
        ...


def check_feeds(inputs: list[TensorSpec], feeds: dict[str, np.ndarray]) -> None:
    """Raise PerceptionError when feeds miss an input or do not fit its static shape."""
    for spec in inputs:
        if spec.name not in feeds:
            raise PerceptionError(f"model input '{spec.name}' missing (got {sorted(feeds)})")
        got = feeds[spec.name].shape
        if len(got) != len(spec.shape) or any(s is not None and s != g for s, g in zip(spec.shape, got)):
            raise PerceptionError(
                f"model input '{spec.name}' has shape {got}, the model was exported for {spec.shape}; "
                "re-export with `spatialclaw build-engines` for this image size and view count")


@dataclass
class OnnxRuntimeBackend:
    """An ONNX file on onnxruntime; CUDA where the installed onnxruntime offers it, else CPU."""

    path: Path
    threads: int = 0
    name: str = "onnxruntime"
    inputs: list[TensorSpec] = field(default_factory=list)
    providers: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        try:
            import onnxruntime as ort
        except ImportError as exc:  # pragma: no cover - core dependency
            raise PerceptionError("onnxruntime is not installed: run `make setup`") from exc
        if not Path(self.path).is_file():
            raise PerceptionError(f"ONNX model {self.path} not found: run `spatialclaw build-engines`")
        opts = ort.SessionOptions()
        if self.threads:
            opts.intra_op_num_threads = self.threads
        opts.log_severity_level = 3
        wanted = [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in ort.get_available_providers()]
        self._sess = ort.InferenceSession(str(self.path), sess_options=opts, providers=wanted)
        self.providers = self._sess.get_providers()
        self.inputs = [TensorSpec(i.name, tuple(d if isinstance(d, int) else None for d in i.shape))
                       for i in self._sess.get_inputs()]
        self._outputs = [o.name for o in self._sess.get_outputs()]

    def run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run the session on float32 feeds."""
        check_feeds(self.inputs, feeds)
        res = self._sess.run(self._outputs, {k: np.ascontiguousarray(v) for k, v in feeds.items()})
        return dict(zip(self._outputs, res))


def _cudart() -> Any:
    try:
        from cuda.bindings import runtime as cudart  # cuda-python >= 12.6
    except ImportError:
        try:
            from cuda import cudart  # older cuda-python
        except ImportError as exc:
            raise PerceptionError("the tensorrt backend needs cuda-python (`pip install cuda-python`) "
                                  "for device memory; or use perception.runtime=onnxruntime") from exc
    return cudart


def _ck(res: Any) -> Any:
    err, *rest = res if isinstance(res, tuple) else (res,)
    if int(err) != 0:
        raise PerceptionError(f"CUDA runtime error {err}")
    return rest[0] if len(rest) == 1 else rest


class TensorRTBackend:
    """A serialized TensorRT engine (GPU only). The engine must match this GPU and TensorRT (engines.py)."""

    name = "tensorrt"

    def __init__(self, engine_path: Path) -> None:
        try:
            import tensorrt as trt
        except ImportError as exc:
            raise PerceptionError("TensorRT is not installed in this environment (it comes with the NVIDIA "
                                  "base images); use perception.runtime=onnxruntime") from exc
        self._trt = trt
        self._cudart = _cudart()
        self._logger = trt.Logger(trt.Logger.WARNING)
        runtime = trt.Runtime(self._logger)
        self._engine = runtime.deserialize_cuda_engine(Path(engine_path).read_bytes())
        if self._engine is None:
            raise PerceptionError(f"TensorRT could not load {engine_path}: rebuild it with `spatialclaw build-engines`")
        self._ctx = self._engine.create_execution_context()
        self._stream = _ck(self._cudart.cudaStreamCreate())
        self.inputs: list[TensorSpec] = []
        self._outputs: list[str] = []
        for i in range(self._engine.num_io_tensors):
            n = self._engine.get_tensor_name(i)
            shape = tuple(d if d >= 0 else None for d in self._engine.get_tensor_shape(n))
            if self._engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT:
                self.inputs.append(TensorSpec(n, shape))
            else:
                self._outputs.append(n)
        self._buffers: dict[str, tuple[int, int]] = {}   # name -> (device pointer, nbytes)

    def _device(self, name: str, nbytes: int) -> int:
        ptr, size = self._buffers.get(name, (0, 0))
        if size < nbytes:
            if ptr:
                _ck(self._cudart.cudaFree(ptr))
            ptr = _ck(self._cudart.cudaMalloc(nbytes))
            self._buffers[name] = (ptr, nbytes)
        return ptr

    def run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Copy feeds to the GPU, execute, copy outputs back."""
        trt, cudart = self._trt, self._cudart
        check_feeds(self.inputs, feeds)
        h2d, d2h = cudart.cudaMemcpyKind.cudaMemcpyHostToDevice, cudart.cudaMemcpyKind.cudaMemcpyDeviceToHost
        for spec in self.inputs:
            a = np.ascontiguousarray(feeds[spec.name], dtype=trt.nptype(self._engine.get_tensor_dtype(spec.name)))
            self._ctx.set_input_shape(spec.name, a.shape)
            ptr = self._device(spec.name, a.nbytes)
            _ck(cudart.cudaMemcpyAsync(ptr, a.ctypes.data, a.nbytes, h2d, self._stream))
            self._ctx.set_tensor_address(spec.name, ptr)
        host: dict[str, np.ndarray] = {}
        for n in self._outputs:
            shape = tuple(self._ctx.get_tensor_shape(n))
            host[n] = np.empty(shape, dtype=trt.nptype(self._engine.get_tensor_dtype(n)))
            self._ctx.set_tensor_address(n, self._device(n, max(host[n].nbytes, 1)))
        if not self._ctx.execute_async_v3(self._stream):
            raise PerceptionError("TensorRT execution failed (see the TensorRT log above)")
        for n, a in host.items():
            _ck(cudart.cudaMemcpyAsync(a.ctypes.data, self._buffers[n][0], a.nbytes, d2h, self._stream))
        _ck(cudart.cudaStreamSynchronize(self._stream))
        return {n: a.astype(np.float32, copy=False) for n, a in host.items()}


def timed_run(backend: Backend, feeds: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], float]:
    """Run and return (outputs, milliseconds)."""
    t0 = time.perf_counter()
    out = backend.run(feeds)
    return out, (time.perf_counter() - t0) * 1000.0
