"""Depth sensor realism: per-pixel Gaussian noise growing with distance, holes at depth/label edges."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage


@dataclass(frozen=True)
class DepthNoise:
    """Noise model; all zero means perfect depth."""

    sigma_per_m2: float = 0.0       # sigma(z) = sigma_per_m2 * z**2 (stereo-like), metres
    edge_dropout: float = 0.0       # probability that a pixel next to a depth edge goes missing
    edge_width_px: int = 1          # how far from an edge pixels may go missing

    @property
    def enabled(self) -> bool:
        """True when any noise is on."""
        return self.sigma_per_m2 > 0 or self.edge_dropout > 0


def apply_depth_noise(depth: np.ndarray, labels: np.ndarray, noise: DepthNoise,
                      rng: np.random.Generator) -> np.ndarray:
    """A noisy copy of ``depth`` (float32 m, NaN invalid); deterministic for a given rng state."""
    out = depth.astype(np.float32).copy()
    if not noise.enabled:
        return out
    if noise.sigma_per_m2 > 0:
        z = np.nan_to_num(out, nan=0.0)
        out = out + (rng.standard_normal(out.shape) * noise.sigma_per_m2 * z * z).astype(np.float32)
    if noise.edge_dropout > 0:
        z = np.nan_to_num(depth, nan=0.0)
        gy, gx = np.gradient(z)
        edge = (np.hypot(gx, gy) > 0.04 * np.maximum(z, 0.1)) | (ndimage.sobel(labels.astype(
            np.int32), 0) != 0) | (ndimage.sobel(labels.astype(np.int32), 1) != 0)
        if noise.edge_width_px > 1:
            edge = ndimage.binary_dilation(edge, iterations=noise.edge_width_px - 1)
        drop = edge & (rng.random(out.shape) < noise.edge_dropout)
        out[drop] = np.nan
    return out
