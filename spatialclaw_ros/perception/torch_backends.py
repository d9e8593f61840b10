"""The torch backend: the upstream depth-anything-3 package plus a local checkpoint (.venv-models only).

Also the export shims: upstream ops that the ONNX exporter cannot take, replaced while exporting
(and, harmlessly, while running the torch backend so both paths compute the same graph):
``torch.cartesian_prod`` (DINOv2 RoPE positions) -> meshgrid + stack; the TorchScript
``affine_inverse`` (uses ``.mT``) -> plain tensor code; RoPE's data-dependent ``int(positions.max())``
is traced to a constant, which is why every export has a fixed image size (the manifest records it).
"""
from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from spatialclaw_ros.perception import da3 as da3c
from spatialclaw_ros.perception.torch_compat import prepare_torchvision

RANDOM_CHECKPOINT_NOTE = "(random weights, tests only)"
RANDOM_MARKER = "RANDOM_WEIGHTS_TESTS_ONLY.txt"   # written into every random-weight checkpoint folder


def _cartesian_prod(*tensors: Any) -> Any:
    import torch
    grids = torch.meshgrid(*tensors, indexing="ij")
    return torch.stack([g.reshape(-1) for g in grids], dim=-1)


def _affine_inverse(A: Any) -> Any:
    """Inverse of (..., 3|4, 4) rigid/affine transforms without TorchScript or ``.mT``."""
    import torch
    R = A[..., :3, :3]
    t = A[..., :3, 3:]
    Rt = R.transpose(-1, -2)
    top = torch.cat([Rt, -Rt @ t], dim=-1)
    bottom = torch.zeros_like(A[..., :1, :])
    bottom[..., 0, 3] = 1.0
    return torch.cat([top, bottom], dim=-2)


@contextlib.contextmanager
def export_shims() -> Iterator[None]:
    """Patch the upstream ops that do not export to ONNX; restores them on exit."""
    import depth_anything_3.model.cam_enc as cam_enc
    import depth_anything_3.model.da3 as da3m
    import depth_anything_3.utils.geometry as geom
    import torch

    saved = [(torch, "cartesian_prod", torch.cartesian_prod)]
    saved += [(m, "affine_inverse", m.affine_inverse) for m in (da3m, cam_enc, geom)]
    torch.cartesian_prod = _cartesian_prod
    for m in (da3m, cam_enc, geom):
        m.affine_inverse = _affine_inverse
    try:
        yield
    finally:
        for mod, name, fn in saved:
            setattr(mod, name, fn)


def load_da3(checkpoint: str | os.PathLike[str]) -> Any:
    """Load a DA3 checkpoint directory (config.json + model.safetensors) offline, in eval mode."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    prepare_torchvision()
    from depth_anything_3.api import DepthAnything3
    p = Path(checkpoint)
    if not (p / "config.json").is_file():
        raise FileNotFoundError(f"{p} is not a DA3 checkpoint directory (config.json missing); expected the "
                                "files of DepthAnything3.save_pretrained: config.json + model.safetensors")
    return DepthAnything3.from_pretrained(str(p)).eval()


def make_random_checkpoint(model_name: str, directory: str | os.PathLike[str], seed: int = 0) -> Path:
    """Build a random-weight DA3 from the package's shipped config and save it (TESTS ONLY)."""
    prepare_torchvision()
    import torch
    from depth_anything_3.api import DepthAnything3
    torch.manual_seed(seed)
    m = DepthAnything3(model_name=model_name).eval()
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    m.save_pretrained(str(d))
    (d / RANDOM_MARKER).write_text(
        f"Random-weight {model_name} built from the depth-anything-3 package config; for tests only.\n")
    return d


def da3_module(model: Any) -> Any:
    """A torch module with the contract's signature: image -> (depth, depth_conf, extrinsics, intrinsics)."""
    import torch

    class _Da3Contract(torch.nn.Module):
        def __init__(self, net: Any) -> None:
            super().__init__()
            self.net = net

        def forward(self, image: Any) -> tuple[Any, Any, Any, Any]:
            out = self.net(image, None, None, [], False, False, "first")
            missing = [k for k in da3c.OUTPUT_NAMES if k not in out]
            if missing:
                raise RuntimeError(f"this DA3 preset returns no {missing}; only multi-view presets "
                                   "(da3-small/base/large/giant) fit the Reconstruct contract")
            return out["depth"], out["depth_conf"], out["extrinsics"], out["intrinsics"]

    return _Da3Contract(model.model).eval()


def da3metric_module(model: Any) -> Any:
    """A torch module with the metric contract: image (1, N, 3, H, W) -> (depth, sky), raw network output.

    Upstream's data-dependent sky post-processing (sky depth set to a quantile) is skipped so that
    the torch and exported graphs compute the same thing; the service masks sky pixels itself.
    """
    import torch

    class _Da3MetricContract(torch.nn.Module):
        def __init__(self, net: Any) -> None:
            super().__init__()
            self.net = net
            self.net._process_mono_sky_estimation = lambda output: output

        def forward(self, image: Any) -> tuple[Any, Any]:
            out = self.net(image, None, None, [], False, False, "first")
            if "depth" not in out or "sky" not in out:
                raise RuntimeError(f"this DA3 preset returns {sorted(out)}; the metric contract needs depth and "
                                   "sky (da3metric-large)")
            return out["depth"], out["sky"]

    return _Da3MetricContract(model.model).eval()


class TorchDa3Backend:
    """DA3 on torch from a local checkpoint, fp32, CPU or CUDA; same contract as the ONNX graph."""

    name = "torch"
    output_names = da3c.OUTPUT_NAMES
    _contract = staticmethod(da3_module)

    def __init__(self, checkpoint: str | os.PathLike[str], device: str = "") -> None:
        import torch
        self._torch = torch
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self._module = self._contract(load_da3(checkpoint)).to(self.device)
        self.inputs: list[Any] = []

    def run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Forward on the contract input; numpy outputs by name."""
        torch = self._torch
        x = torch.from_numpy(np.ascontiguousarray(feeds[da3c.INPUT_NAME], np.float32)).to(self.device)
        with torch.inference_mode(), export_shims():
            outs = self._module(x)
        return {k: v.float().cpu().numpy() for k, v in zip(self.output_names, outs)}


class TorchDa3MetricBackend(TorchDa3Backend):
    """da3metric-large on torch from a local checkpoint; same contract as its ONNX graph (depth, sky)."""

    output_names = da3c.METRIC_OUTPUT_NAMES
    _contract = staticmethod(da3metric_module)


def export_da3_onnx(checkpoint: str | os.PathLike[str], out_path: str | os.PathLike[str], views: int,
                    height: int, width: int, opset: int = 17, metric: bool = False) -> dict[str, Any]:
    """Export a DA3 checkpoint to ONNX (legacy exporter + shims) for a fixed (1, views, 3, H, W) input.

    ``metric``: the da3metric-large contract (outputs depth, sky) instead of the multi-view one.
    """
    import torch
    if height % da3c.PATCH or width % da3c.PATCH:
        raise ValueError(f"height and width must be multiples of {da3c.PATCH}, got {height}x{width}")
    model = load_da3(checkpoint)
    module = da3metric_module(model) if metric else da3_module(model)
    names = da3c.METRIC_OUTPUT_NAMES if metric else da3c.OUTPUT_NAMES
    x = torch.randn(1, views, 3, height, width)
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with torch.no_grad(), export_shims():
        torch.onnx.export(module, (x,), str(out_path), input_names=[da3c.INPUT_NAME],
                          output_names=list(names), opset_version=opset, dynamo=False)
    return {"torch": torch.__version__, "opset": str(opset),
            "depth_anything_3": _version("depth-anything-3"), "onnx": _version("onnx")}


def _version(dist: str) -> str:
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version(dist)
    except PackageNotFoundError:
        return "absent"
