"""Model files on disk: the ONNX export, TensorRT engines, their cache keys and the manifest beside them.

Layout: ``<engine_dir>/<model>/model.onnx``, ``<engine_dir>/<model>/<key-digest>.engine`` and
``<engine_dir>/<model>/manifest.json``. An engine is valid only for the key it was built with:
ONNX file hash, TensorRT version, GPU name and compute capability, precision and input shapes.
The node never builds: a missing or stale engine is refused with the command that rebuilds it.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spatialclaw_ros.errors import PerceptionError

MANIFEST = "manifest.json"
ONNX_FILE = "model.onnx"
RANDOM_WEIGHTS_LABEL = "RANDOM WEIGHTS - FOR TESTS ONLY, NOT A REAL MODEL"


@dataclass(frozen=True)
class EngineKey:
    """Everything a TensorRT engine depends on; a change in any field makes the engine stale."""

    onnx_sha256: str
    tensorrt_version: str
    gpu_name: str
    compute_capability: str
    precision: str
    input_shapes: tuple[tuple[str, tuple[int, ...]], ...]

    def digest(self) -> str:
        """A short stable hash of the key, used as the engine's file name."""
        blob = json.dumps(dataclasses.asdict(self), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form."""
        d = dataclasses.asdict(self)
        d["input_shapes"] = {n: list(s) for n, s in self.input_shapes}
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "EngineKey":
        """Inverse of to_json."""
        shapes = tuple((n, tuple(s)) for n, s in sorted(d["input_shapes"].items()))
        return cls(d["onnx_sha256"], d["tensorrt_version"], d["gpu_name"], d["compute_capability"],
                   d["precision"], shapes)


@dataclass
class EngineRecord:
    """One built engine."""

    file: str
    key: dict[str, Any]
    built_at: str
    build_s: float


@dataclass
class ModelManifest:
    """What was exported for one model, from which checkpoint, and which engines exist."""

    model: str
    family: str                               # "da3" | "sam3"
    onnx: str
    onnx_sha256: str
    input_shapes: dict[str, list[int]]
    checkpoint: str
    random_weights: bool
    metric: bool = False
    process_res: int = 504
    exported_at: str = ""
    export_versions: dict[str, str] = field(default_factory=dict)
    engines: list[EngineRecord] = field(default_factory=list)
    label: str = ""

    def save(self, directory: Path) -> Path:
        """Write manifest.json (labelled when the weights are random)."""
        self.label = RANDOM_WEIGHTS_LABEL if self.random_weights else ""
        p = Path(directory) / MANIFEST
        tmp = p.with_suffix(".tmp")
        tmp.write_text(json.dumps(dataclasses.asdict(self), indent=2) + "\n")
        os.replace(tmp, p)
        return p

    @classmethod
    def load(cls, directory: Path) -> "ModelManifest":
        """Read manifest.json; PerceptionError with the build command when it is missing or unreadable."""
        p = Path(directory) / MANIFEST
        if not p.is_file():
            raise PerceptionError(f"no exported model in {directory} (manifest.json missing): run "
                                  f"`spatialclaw build-engines --model {Path(directory).name}`")
        try:
            d = json.loads(p.read_text())
            d["engines"] = [EngineRecord(**e) for e in d.get("engines", [])]
            return cls(**d)
        except (ValueError, TypeError) as exc:
            raise PerceptionError(f"{p} is not a valid manifest ({exc}): rebuild with "
                                  f"`spatialclaw build-engines --model {Path(directory).name}`") from None

    def input_key_shapes(self) -> tuple[tuple[str, tuple[int, ...]], ...]:
        """Input shapes in EngineKey form."""
        return tuple((n, tuple(s)) for n, s in sorted(self.input_shapes.items()))


def model_dir(engine_dir: str | os.PathLike[str], model: str) -> Path:
    """Directory that holds one model's ONNX, engines and manifest."""
    return Path(os.path.expanduser(str(engine_dir))) / model


def sha256_file(path: Path, chunk: int = 1 << 22) -> str:
    """Hex SHA-256 of a file, including ONNX external-data files beside it."""
    h = hashlib.sha256()
    paths = [Path(path)] + sorted(Path(path).parent.glob(Path(path).name + ".data"))
    for p in paths:
        with open(p, "rb") as f:
            while True:
                b = f.read(chunk)
                if not b:
                    break
                h.update(b)
    return h.hexdigest()


def rebuild_command(model: str, precision: str = "fp16", checkpoint: str = "") -> str:
    """The command that (re)builds a model's engine."""
    ck = f" --checkpoint {checkpoint}" if checkpoint and not checkpoint.startswith("(random") else " --checkpoint DIR"
    return f"spatialclaw build-engines --model {model}{ck} --precision {precision}"


def gpu_identity() -> tuple[str, str]:
    """(GPU name, compute capability 'major.minor') of device 0; PerceptionError without an NVIDIA GPU."""
    exe = shutil.which("nvidia-smi")
    if exe:
        try:
            out = subprocess.run([exe, "--query-gpu=name,compute_cap", "--format=csv,noheader"],
                                 capture_output=True, text=True, timeout=20, check=True).stdout
            name, cc = [s.strip() for s in out.strip().splitlines()[0].split(",")]
            return name, cc
        except (subprocess.SubprocessError, ValueError, IndexError):
            pass
    try:
        from spatialclaw_ros.perception.backends import _ck, _cudart
        cudart = _cudart()
        prop = _ck(cudart.cudaGetDeviceProperties(0))
        name = prop.name.decode() if isinstance(prop.name, bytes) else str(prop.name)
        return name.strip("\x00 "), f"{prop.major}.{prop.minor}"
    except Exception as exc:  # noqa: BLE001 - any failure means: no usable GPU
        raise PerceptionError(f"no NVIDIA GPU found (nvidia-smi and CUDA runtime failed: {exc}); TensorRT engines "
                              "can only be built and run on the target GPU") from None


def tensorrt_version() -> str:
    """The installed TensorRT version; PerceptionError when TensorRT is absent."""
    try:
        import tensorrt as trt
    except ImportError:
        raise PerceptionError("TensorRT is not installed (it comes with the NVIDIA base images; on PyPI only "
                              "tensorrt-cu13-bindings + tensorrt-rtx-cu13-libs install without NVIDIA's index); "
                              "use perception.runtime=onnxruntime") from None
    return str(trt.__version__)


def current_key(manifest: ModelManifest, precision: str) -> EngineKey:
    """The key an engine for this manifest, this GPU and this TensorRT would have."""
    name, cc = gpu_identity()
    return EngineKey(manifest.onnx_sha256, tensorrt_version(), name, cc, precision, manifest.input_key_shapes())


def describe_difference(old: dict[str, Any], new: dict[str, Any]) -> str:
    """Human-readable list of key fields that differ."""
    diffs = [f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in sorted(new) if old.get(k) != new.get(k)]
    return "; ".join(diffs) or "no difference"


def select_engine(directory: Path, manifest: ModelManifest, key: EngineKey) -> Path:
    """The engine built for exactly ``key``; otherwise PerceptionError naming what changed and the rebuild command."""
    want = key.to_json()
    cmd = rebuild_command(manifest.model, key.precision, manifest.checkpoint)
    for rec in manifest.engines:
        if rec.key == want:
            p = Path(directory) / rec.file
            if not p.is_file():
                raise PerceptionError(f"engine {p} is listed in the manifest but missing: rebuild with `{cmd}`")
            return p
    if not manifest.engines:
        raise PerceptionError(f"no TensorRT engine for {manifest.model}: build it with `{cmd}`")
    nearest = min(manifest.engines, key=lambda r: sum(r.key.get(k) != v for k, v in want.items()))
    raise PerceptionError(f"TensorRT engine for {manifest.model} is stale ({describe_difference(nearest.key, want)}); "
                          f"the node does not build engines during a query: rebuild with `{cmd}`")


def check_onnx(directory: Path, manifest: ModelManifest) -> Path:
    """The ONNX file, refusing one whose hash no longer matches the manifest."""
    p = Path(directory) / manifest.onnx
    cmd = rebuild_command(manifest.model, checkpoint=manifest.checkpoint)
    if not p.is_file():
        raise PerceptionError(f"ONNX model {p} missing: rebuild with `{cmd}`")
    if sha256_file(p) != manifest.onnx_sha256:
        raise PerceptionError(f"ONNX model {p} changed since export (hash differs from manifest): rebuild with `{cmd}`")
    return p


def build_engine(directory: Path, manifest: ModelManifest, precision: str = "fp16",
                 workspace_gb: float = 4.0, log: Any = print) -> EngineRecord:
    """Build (or reuse) the TensorRT engine for this GPU from the model's ONNX with the TensorRT Python API."""
    if precision not in ("fp16", "fp32"):
        raise PerceptionError(f"precision must be fp16 or fp32, got {precision!r}")
    onnx_path = check_onnx(directory, manifest)
    key = current_key(manifest, precision)
    try:
        select_engine(directory, manifest, key)
        rec = next(r for r in manifest.engines if r.key == key.to_json())
        log(f"engine up to date: {rec.file} ({key.gpu_name}, sm {key.compute_capability}, "
            f"TensorRT {key.tensorrt_version})")
        return rec
    except PerceptionError:
        pass
    import tensorrt as trt

    if manifest.random_weights:
        log(f"[{RANDOM_WEIGHTS_LABEL}] building a TensorRT engine from a random-weight export")
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    flags = 0
    if hasattr(trt.NetworkDefinitionCreationFlag, "EXPLICIT_BATCH"):   # TensorRT 8.x; the default from 10 on
        flags |= 1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH)
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx_path)):
        errs = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise PerceptionError(f"TensorRT could not parse {onnx_path}: {errs}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(workspace_gb * (1 << 30)))
    if precision == "fp16":
        if not hasattr(trt.BuilderFlag, "FP16"):
            raise PerceptionError("this TensorRT has no weakly-typed FP16 flag; build with --precision fp32")
        config.set_flag(trt.BuilderFlag.FP16)
    dynamic = [network.get_input(i) for i in range(network.num_inputs)
               if any(d < 0 for d in network.get_input(i).shape)]
    if dynamic:
        profile = builder.create_optimization_profile()
        for t in dynamic:
            shape = tuple(manifest.input_shapes[t.name])
            profile.set_shape(t.name, shape, shape, shape)
        config.add_optimization_profile(profile)
    t0 = time.time()
    log(f"building TensorRT engine for {manifest.model} ({precision}, {key.gpu_name}); this takes minutes")
    blob = builder.build_serialized_network(network, config)
    if blob is None:
        raise PerceptionError(f"TensorRT engine build failed for {manifest.model} (see the TensorRT log above)")
    name = f"{key.digest()}.engine"
    (Path(directory) / name).write_bytes(bytes(blob))
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    rec = EngineRecord(name, key.to_json(), stamp, round(time.time() - t0, 1))
    manifest.engines = [r for r in manifest.engines if r.file != name] + [rec]
    manifest.save(directory)
    log(f"engine written: {Path(directory) / name} in {rec.build_s:.0f} s")
    return rec
