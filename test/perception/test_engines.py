"""Engine cache keys, the manifest and the stale-engine refusal (no TensorRT needed for these)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from perception_fixtures import install_contract_model

from spatialclaw_ros.errors import PerceptionError
from spatialclaw_ros.perception import engines
from spatialclaw_ros.perception.transport import pack, unpack


def _key(**kw) -> engines.EngineKey:
    base = dict(onnx_sha256="abc", tensorrt_version="10.13.0", gpu_name="NVIDIA H100 80GB HBM3",
                compute_capability="9.0", precision="fp16", input_shapes=(("image", (1, 8, 3, 378, 504)),))
    base.update(kw)
    return engines.EngineKey(**base)


def test_key_digest_is_stable_and_sensitive_to_every_field() -> None:
    k = _key()
    assert k.digest() == _key().digest() and len(k.digest()) == 16
    assert engines.EngineKey.from_json(json.loads(json.dumps(k.to_json()))) == k
    variants = [_key(onnx_sha256="abd"), _key(tensorrt_version="10.14.0"), _key(gpu_name="Orin"),
                _key(compute_capability="8.7"), _key(precision="fp32"),
                _key(input_shapes=(("image", (1, 4, 3, 378, 504)),))]
    assert len({v.digest() for v in variants} | {k.digest()}) == 7


def _manifest(engine_dir: Path) -> tuple[Path, engines.ModelManifest]:
    man = install_contract_model(engine_dir, "da3-small", 2, 14, 28, np.ones(2), np.tile(np.eye(4)[:3], (2, 1, 1)))
    return engines.model_dir(engine_dir, "da3-small"), man


def test_manifest_round_trip_and_random_weights_label(engine_dir: Path) -> None:
    d, man = _manifest(engine_dir)
    again = engines.ModelManifest.load(d)
    assert again.random_weights and again.label == engines.RANDOM_WEIGHTS_LABEL
    assert again.input_key_shapes() == (("image", (1, 2, 3, 14, 28)),)
    (d / "manifest.json").write_text("{not json")
    with pytest.raises(PerceptionError, match="not a valid manifest.*build-engines --model da3-small"):
        engines.ModelManifest.load(d)


def test_select_engine_refuses_missing_and_stale_engines_with_the_rebuild_command(engine_dir: Path) -> None:
    d, man = _manifest(engine_dir)
    k = _key(onnx_sha256=man.onnx_sha256, input_shapes=man.input_key_shapes())
    with pytest.raises(PerceptionError, match=r"no TensorRT engine .*`spatialclaw build-engines --model da3-small"):
        engines.select_engine(d, man, k)
    (d / f"{k.digest()}.engine").write_bytes(b"plan")
    man.engines.append(engines.EngineRecord(f"{k.digest()}.engine", k.to_json(), "now", 1.0))
    man.save(d)
    assert engines.select_engine(d, engines.ModelManifest.load(d), k) == d / f"{k.digest()}.engine"
    newer = _key(onnx_sha256=man.onnx_sha256, input_shapes=man.input_key_shapes(), tensorrt_version="10.14.0")
    with pytest.raises(PerceptionError) as ei:
        engines.select_engine(d, man, newer)
    msg = str(ei.value)
    assert "stale" in msg and "tensorrt_version: '10.13.0' -> '10.14.0'" in msg
    assert "does not build engines during a query" in msg and "--precision fp16" in msg
    (d / f"{k.digest()}.engine").unlink()
    with pytest.raises(PerceptionError, match="missing"):
        engines.select_engine(d, man, k)


def test_tensorrt_version_or_why_not() -> None:
    try:
        import tensorrt
    except ImportError:
        with pytest.raises(PerceptionError, match="TensorRT is not installed"):
            engines.tensorrt_version()
    else:                                            # GPU hosts with TensorRT
        assert engines.tensorrt_version() == tensorrt.__version__


def test_shared_memory_transport_round_trip_and_cleanup() -> None:
    arrays = {"a": np.arange(12, dtype=np.float32).reshape(3, 4), "b": np.array([True, False]),
              "c": np.zeros((0, 5), np.int32)}
    meta = pack(arrays)
    out = unpack(meta)
    for k, v in arrays.items():
        np.testing.assert_array_equal(out[k], v)
        assert out[k].dtype == v.dtype
    assert not Path("/dev/shm", meta["shm"].lstrip("/")).exists()       # the receiver unlinked it
    assert pack({}) is None and unpack(None) == {}
    with pytest.raises(TypeError, match="object"):
        pack({"x": np.array([object()])})
