"""Synthetic frames and data-URL encoding for the vLLM suite (no files, deterministic)."""
from __future__ import annotations

import base64
import io

import numpy as np
from PIL import Image


def synthetic_rgb(width: int = 640, height: int = 480, seed: int = 0) -> np.ndarray:
    """A deterministic (H, W, 3) uint8 scene: a gradient floor with two coloured boxes."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    img = np.stack([(x * 255 // max(width - 1, 1)), (y * 255 // max(height - 1, 1)),
                    np.full_like(x, 96)], axis=-1).astype(np.uint8)
    for _ in range(2):
        x0, y0 = int(rng.integers(0, width // 2)), int(rng.integers(0, height // 2))
        img[y0:y0 + height // 4, x0:x0 + width // 4] = rng.integers(0, 256, 3, dtype=np.uint8)
    return img


def png_data_url(rgb: np.ndarray) -> str:
    """A ``data:image/png;base64,...`` URL of an (H, W, 3) uint8 array."""
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def image_part(rgb: np.ndarray) -> dict:
    """An OpenAI ``image_url`` content part for ``rgb``."""
    return {"type": "image_url", "image_url": {"url": png_data_url(rgb)}}
