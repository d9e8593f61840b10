"""Depth Anything 3: the one input/output contract every backend (tensorrt, onnxruntime, torch) keeps.

Input ``image``: float32 (1, N, 3, H, W), RGB normalised with the ImageNet mean/std, H and W
multiples of 14 (the longest side is ``process_res``). Outputs, named alike in the ONNX graph, the
TensorRT engine and the torch wrapper: ``depth`` (1, N, H, W), ``depth_conf`` (1, N, H, W),
``extrinsics`` (1, N, 3|4, 4) world-to-camera (OpenCV axes) in DA3's own world and scale, and
``intrinsics`` (1, N, 3, 3) at the processed resolution.

The metric model ``da3metric-large`` has its own, single-view contract (its views do not interact,
so the service runs it once per frame): input ``image`` float32 (1, 1, 3, H, W), normalised and
sized as above; outputs ``depth`` (1, 1, H, W), the raw network output (metres only after
``depth_m = focal_px * depth / 300`` with ``focal_px = (fx + fy) / 2`` of the camera intrinsics
scaled to the processed H x W), and ``sky`` (1, 1, H, W), a sky score in [0, 1] (>= 0.3 is sky).
Upstream's own sky post-processing (sky depth set to the 99th percentile, data-dependent) is left
out of the graph; the service marks sky pixels invalid instead. No confidence, no poses.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

INPUT_NAME = "image"
OUTPUT_NAMES = ("depth", "depth_conf", "extrinsics", "intrinsics")
MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)
PATCH = 14
# Presets the depth-anything-3 package ships; whether their output is metric and their weights' licence.
MODELS = {
    "da3-small": {"metric": False, "weights_licence": "Apache-2.0"},
    "da3-base": {"metric": False, "weights_licence": "Apache-2.0"},
    "da3-large": {"metric": False, "weights_licence": "CC BY-NC 4.0 (non-commercial)"},
    "da3-giant": {"metric": False, "weights_licence": "CC BY-NC 4.0 (non-commercial)"},
    "da3metric-large": {"metric": True, "weights_licence": "Apache-2.0"},
}
# Presets whose network returns depth, confidence and camera poses (the Reconstruct contract).
MULTIVIEW_MODELS = ["da3-small", "da3-base", "da3-large", "da3-giant"]
# The metric model (depth + sky only, one view per call): the scale fallback of Reconstruct.
METRIC_MODEL = "da3metric-large"
METRIC_OUTPUT_NAMES = ("depth", "sky")
METRIC_VIEWS = 1
SKY_THRESHOLD = 0.3        # sky score at or above this is sky (upstream's compute_sky_mask)


@dataclass
class Da3Output:
    """One multi-view DA3 call at the processed resolution; arrays indexed by view."""

    depth: np.ndarray        # (N, H, W) float32, DA3 units (metric model: raw output)
    conf: np.ndarray         # (N, H, W) float32
    extrinsics: np.ndarray   # (N, 3, 4) float32 world-to-camera
    intrinsics: np.ndarray   # (N, 3, 3) float32

    @classmethod
    def from_outputs(cls, outputs: dict[str, np.ndarray]) -> "Da3Output":
        """Build from the named graph outputs (batch dimension 1), checking their shapes."""
        missing = [k for k in OUTPUT_NAMES if k not in outputs]
        if missing:
            raise ValueError(f"DA3 backend returned no {missing}; outputs were {sorted(outputs)}")
        d = np.asarray(outputs["depth"], np.float32)
        if d.ndim != 4 or d.shape[0] != 1:
            raise ValueError(f"DA3 depth must be (1, N, H, W), got {d.shape}")
        n = d.shape[1]
        out = cls(d[0], np.asarray(outputs["depth_conf"], np.float32)[0],
                  np.asarray(outputs["extrinsics"], np.float32).reshape(n, -1, 4)[:, :3, :],
                  np.asarray(outputs["intrinsics"], np.float32).reshape(n, 3, 3))
        if out.conf.shape != out.depth.shape:
            raise ValueError(f"DA3 depth_conf {out.conf.shape} differs from depth {out.depth.shape}")
        return out


@dataclass
class MetricOutput:
    """One da3metric-large call at the processed resolution; arrays indexed by view."""

    raw: np.ndarray                  # (N, H, W) float32 network output (not yet metres)
    sky: np.ndarray | None           # (N, H, W) float32 sky score, None when the graph has no sky output

    @classmethod
    def from_outputs(cls, outputs: dict[str, np.ndarray]) -> "MetricOutput":
        """Build from the named graph outputs (batch dimension 1), checking their shapes."""
        if "depth" not in outputs:
            raise ValueError(f"DA3 metric backend returned no depth; outputs were {sorted(outputs)}")
        d = np.asarray(outputs["depth"], np.float32)
        if d.ndim != 4 or d.shape[0] != 1:
            raise ValueError(f"DA3 metric depth must be (1, N, H, W), got {d.shape}")
        sky = None
        if "sky" in outputs:
            sky = np.asarray(outputs["sky"], np.float32).reshape(d.shape)[0]
        return cls(d[0], sky)


def processed_size(height: int, width: int, process_res: int = 504) -> tuple[int, int]:
    """Network input (H, W): longest side ``process_res``, both multiples of 14, aspect kept."""
    if height <= 0 or width <= 0:
        raise ValueError(f"image size must be positive, got {height}x{width}")
    if process_res < PATCH or process_res % PATCH:
        raise ValueError(f"process_res must be a positive multiple of {PATCH}, got {process_res}")
    s = process_res / max(height, width)
    h = max(PATCH, int(round(height * s / PATCH)) * PATCH)
    w = max(PATCH, int(round(width * s / PATCH)) * PATCH)
    return h, w


def preprocess(images: list[np.ndarray], size: tuple[int, int]) -> np.ndarray:
    """RGB uint8 (H, W, 3) images -> float32 (1, N, 3, h, w) normalised network input."""
    if not images:
        raise ValueError("DA3 needs at least one image")
    h, w = size
    out = np.empty((1, len(images), 3, h, w), np.float32)
    for i, img in enumerate(images):
        if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
            raise ValueError(f"image {i}: expected (H, W, 3) uint8 RGB, got {img.shape} {img.dtype}")
        r = cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA if img.shape[0] > h else cv2.INTER_LINEAR)
        out[0, i] = ((r.astype(np.float32) / 255.0 - MEAN) / STD).transpose(2, 0, 1)
    return out


def to_size(a: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resize an (h, w) float map to (height, width), bilinear."""
    if a.shape == (height, width):
        return a.astype(np.float32, copy=False)
    return cv2.resize(a.astype(np.float32), (width, height), interpolation=cv2.INTER_LINEAR)
