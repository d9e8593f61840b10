"""tools.Mask: pixel-mask arithmetic (area, boxes, set operations, morphology, components, IoU)."""
from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from spatialclaw_ros.tools.base import Tool
from spatialclaw_ros.tools.context import KernelContext
from spatialclaw_ros.tools.results import Segmentation


def as_mask(m: Any, what: str = "mask") -> np.ndarray:
    """A (H, W) bool array from a bool/integer array (non-zero), a float array (> 0.5) or a one-mask Segmentation."""
    if isinstance(m, Segmentation):
        if len(m) != 1:
            raise ValueError(f"{what}: got a Segmentation with {len(m)} masks; pick one with seg.mask(k) "
                             f"or merge with seg.union()")
        return m.masks[0]
    a = np.asarray(m)
    if a.ndim != 2:
        raise ValueError(f"{what} must be a 2-D (H, W) array, got shape {a.shape}")
    return a > 0.5 if np.issubdtype(a.dtype, np.floating) else a.astype(bool)


class MaskTool(Tool):
    """Operations on (H, W) boolean pixel masks (e.g. seg.mask(k)); all return new arrays or plain numbers.

    Pixel boxes are [u0, v0, u1, v1] = [min column, min row, max column, max row], inclusive.
    """

    doc_name = "Mask"

    def __init__(self, ctx: KernelContext | None = None) -> None:
        self._ctx = ctx

    def area(self, mask: Any) -> int:
        """Number of True pixels.

        Example: `n_px = tools.Mask.area(seg.mask(0))`
        """
        return int(as_mask(mask).sum())

    def bbox(self, mask: Any) -> list[int] | None:
        """Tight pixel box [u0, v0, u1, v1] (inclusive) of the mask, or None if it is empty.

        Example: `u0, v0, u1, v1 = tools.Mask.bbox(m)`
        """
        m = as_mask(mask)
        rows = np.flatnonzero(m.any(axis=1))
        if rows.size == 0:
            return None
        cols = np.flatnonzero(m.any(axis=0))
        return [int(cols[0]), int(rows[0]), int(cols[-1]), int(rows[-1])]

    def center(self, mask: Any) -> tuple[float, float]:
        """Mean pixel (u, v) of the mask.

        Example: `u, v = tools.Mask.center(m)`
        """
        vs, us = np.nonzero(as_mask(mask))
        if us.size == 0:
            raise ValueError("the mask is empty; it has no center")
        return float(us.mean()), float(vs.mean())

    def union(self, *masks: Any) -> np.ndarray:
        """Pixels in any of the masks.

        Example: `both = tools.Mask.union(a, b)`
        """
        ms = self._many(masks)
        return np.logical_or.reduce(ms)

    def intersection(self, *masks: Any) -> np.ndarray:
        """Pixels in all of the masks.

        Example: `overlap = tools.Mask.intersection(a, b)`
        """
        ms = self._many(masks)
        return np.logical_and.reduce(ms)

    def subtract(self, a: Any, b: Any) -> np.ndarray:
        """Pixels in a but not in b.

        Example: `rest = tools.Mask.subtract(table, mug)`
        """
        ma, mb = self._many((a, b))
        return ma & ~mb

    def iou(self, a: Any, b: Any) -> float:
        """Intersection over union of two masks (0 when both are empty).

        Example: `tools.Mask.iou(seg0.mask(0), seg1.mask(0))`
        """
        ma, mb = self._many((a, b))
        u = int((ma | mb).sum())
        return float((ma & mb).sum()) / u if u else 0.0

    def erode(self, mask: Any, px: int = 1) -> np.ndarray:
        """Shrink the mask by px pixels (square 3x3 steps); use to drop edge pixels before measuring depth.

        Example: `core = tools.Mask.erode(m, 3)`
        """
        return self._morph(mask, px, cv2.erode)

    def dilate(self, mask: Any, px: int = 1) -> np.ndarray:
        """Grow the mask by px pixels.

        Example: `grown = tools.Mask.dilate(m, 2)`
        """
        return self._morph(mask, px, cv2.dilate)

    def components(self, mask: Any, min_area: int = 1) -> list[np.ndarray]:
        """Connected components (8-connected) as separate masks, largest first.

        Example: `parts = tools.Mask.components(m, min_area=50); print(len(parts))`
        """
        m = as_mask(mask).astype(np.uint8)
        n, lab, stats, _ = cv2.connectedComponentsWithStats(m, connectivity=8)
        comps = [(int(stats[k, cv2.CC_STAT_AREA]), k) for k in range(1, n)
                 if stats[k, cv2.CC_STAT_AREA] >= min_area]
        comps.sort(key=lambda t: -t[0])
        return [lab == k for _, k in comps]

    def largest_component(self, mask: Any) -> np.ndarray:
        """The largest connected component (8-connected); an empty mask stays empty.

        Example: `m = tools.Mask.largest_component(m)`
        """
        comps = self.components(mask)
        return comps[0] if comps else np.zeros_like(as_mask(mask))

    def from_box(self, box: Any, shape: tuple[int, int]) -> np.ndarray:
        """A (H, W) mask that is True inside pixel box [u0, v0, u1, v1] (inclusive); shape = (H, W).

        Example: `roi = tools.Mask.from_box([100, 50, 200, 150], InputImages[0].shape[:2])`
        """
        h, w = int(shape[0]), int(shape[1])
        u0, v0, u1, v1 = [int(round(float(x))) for x in box]
        m = np.zeros((h, w), bool)
        m[max(0, v0):max(0, v1 + 1), max(0, u0):max(0, u1 + 1)] = True
        return m

    # -- internals --------------------------------------------------------------------------------

    @staticmethod
    def _many(masks: Any) -> list[np.ndarray]:
        if len(masks) == 1 and isinstance(masks[0], (list, tuple)):
            masks = tuple(masks[0])
        if len(masks) == 1 and isinstance(masks[0], np.ndarray) and masks[0].ndim == 3:
            masks = tuple(masks[0])
        if len(masks) == 0:
            raise ValueError("give at least one mask")
        ms = [as_mask(m, f"mask {k}") for k, m in enumerate(masks)]
        shapes = {m.shape for m in ms}
        if len(shapes) > 1:
            raise ValueError(f"masks have different shapes {sorted(shapes)}; they must come from the same frame size")
        return ms

    @staticmethod
    def _morph(mask: Any, px: int, op: Any) -> np.ndarray:
        m = as_mask(mask)
        px = int(px)
        if px < 0:
            raise ValueError(f"px must be >= 0, got {px}")
        if px == 0:
            return m.copy()
        kernel = np.ones((3, 3), np.uint8)
        return op(m.astype(np.uint8), kernel, iterations=px).astype(bool)
