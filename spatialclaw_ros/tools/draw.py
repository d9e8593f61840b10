"""tools.Draw: overlays (masks, boxes, points, 3-D axes, text) on images, returned as new uint8 arrays."""
from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from spatialclaw_ros.tools.base import Tool
from spatialclaw_ros.tools.context import KernelContext
from spatialclaw_ros.tools.geometry import GeometryTool
from spatialclaw_ros.tools.results import Segmentation

# Distinct RGB colours for successive masks/boxes/points.
PALETTE = [(230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48), (145, 30, 180),
           (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 212), (0, 128, 128), (170, 110, 40)]


def _color(k: int, color: Any) -> tuple[int, int, int]:
    if color is None:
        return PALETTE[k % len(PALETTE)]
    c = tuple(int(x) for x in color)
    if len(c) != 3:
        raise ValueError(f"color must be (r, g, b) 0-255, got {color!r}")
    return c  # type: ignore[return-value]


class DrawTool(Tool):
    """Draw on an image and get a new (H, W, 3) uint8 RGB copy to pass to show(); the input is never changed.

    `img` may be an (H, W, 3) uint8 array or a keyframe index (draws on InputImages[i]). Colours are (r, g, b).
    """

    doc_name = "Draw"

    def __init__(self, ctx: KernelContext, geometry: GeometryTool) -> None:
        self._ctx = ctx
        self._geo = geometry

    def masks(self, img: Any, masks: Any, alpha: float = 0.5, colors: Any = None,
              labels: list[str] | None = None) -> np.ndarray:
        """Tint each mask (a Segmentation, an (N, H, W) array, a list of (H, W) masks or one mask) and outline it.

        Example: `show(tools.Draw.masks(0, seg), title="mugs")`
        """
        out = self._image(img)
        if isinstance(masks, Segmentation):
            labels = labels if labels is not None else [f"{lab or '?'}#{i}" for lab, i in zip(masks.labels, masks.ids)]
            ms = list(masks.masks)
        else:
            arr = np.asarray(masks)
            ms = [arr] if arr.ndim == 2 else list(arr)
        for k, m in enumerate(ms):
            m = np.asarray(m, bool)
            if m.shape != out.shape[:2]:
                raise ValueError(f"mask {k} is {m.shape} but the image is {out.shape[:2]}")
            c = np.array(_color(k, None if colors is None else colors[k]), float)
            out[m] = (out[m] * (1 - alpha) + c * alpha).astype(np.uint8)
            cnts, _ = cv2.findContours(m.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
            cv2.drawContours(out, cnts, -1, tuple(int(x) for x in c), 1)
            if labels is not None and k < len(labels) and m.any():
                vs, us = np.nonzero(m)
                self._put(out, str(labels[k]), (int(us.min()), max(12, int(vs.min()) - 3)), tuple(int(x) for x in c))
        return out

    def boxes(self, img: Any, boxes: Any, labels: list[str] | None = None, color: Any = None,
              thickness: int = 2) -> np.ndarray:
        """Draw pixel boxes [[u0, v0, u1, v1], ...] (or a Segmentation's boxes) with optional labels.

        Example: `show(tools.Draw.boxes(0, seg.boxes, labels=seg.labels))`
        """
        out = self._image(img)
        if isinstance(boxes, Segmentation):
            labels = labels if labels is not None else boxes.labels
            boxes = boxes.boxes
        b = np.asarray(boxes, float).reshape(-1, 4)
        for k, (u0, v0, u1, v1) in enumerate(b):
            if not np.all(np.isfinite([u0, v0, u1, v1])):
                continue
            c = _color(k, color)
            cv2.rectangle(out, (int(u0), int(v0)), (int(u1), int(v1)), c, int(thickness))
            if labels is not None and k < len(labels):
                self._put(out, str(labels[k]), (int(u0), max(12, int(v0) - 3)), c)
        return out

    def points(self, img: Any, uv: Any, color: Any = None, radius: int = 4,
               labels: list[str] | None = None) -> np.ndarray:
        """Draw pixel points [[u, v], ...] as filled circles.

        Example: `show(tools.Draw.points(0, [[120, 80]], labels=["here"]))`
        """
        out = self._image(img)
        p = np.asarray(uv, float).reshape(-1, 2)
        for k, (u, v) in enumerate(p):
            if not (np.isfinite(u) and np.isfinite(v)):
                continue
            c = _color(k, color)
            cv2.circle(out, (int(round(u)), int(round(v))), int(radius), c, -1)
            if labels is not None and k < len(labels):
                self._put(out, str(labels[k]), (int(round(u)) + radius + 2, int(round(v))), c)
        return out

    def points3d(self, img: Any, frame_index: int, points: Any, color: Any = None, radius: int = 2) -> np.ndarray:
        """Project 3-D points (Point, PointCloud or (N, 3) fixed-frame array) into keyframe frame_index and draw them.

        Example: `show(tools.Draw.points3d(0, 0, cloud))`
        """
        out = self._image(img)
        uv, z = self._geo.project(frame_index, points)
        uv = uv[z > 0]
        h, w = out.shape[:2]
        inside = (uv[:, 0] >= 0) & (uv[:, 0] < w) & (uv[:, 1] >= 0) & (uv[:, 1] < h)
        uv = uv[inside]
        if len(uv) > 5000:
            uv = uv[np.linspace(0, len(uv) - 1, 5000).astype(int)]
        c = _color(0, color)
        for u, v in uv:
            cv2.circle(out, (int(round(u)), int(round(v))), int(radius), c, -1)
        return out

    def axes(self, img: Any, frame_index: int, origin: Any = None, length_m: float = 0.2,
             R: Any = None) -> np.ndarray:
        """Draw fixed-frame axes (x red, y green, z blue) of length_m at origin (default: the fixed-frame origin).

        R (3x3, columns = axes) draws a rotated frame instead, e.g. an oriented box's axes.
        Example: `show(tools.Draw.axes(0, 0, origin=c, length_m=0.1))`
        """
        out = self._image(img)
        o = np.zeros(3) if origin is None else np.asarray(origin, float).reshape(3)
        Rm = np.eye(3) if R is None else np.asarray(R, float).reshape(3, 3)
        pts = np.vstack([o, o + Rm[:, 0] * length_m, o + Rm[:, 1] * length_m, o + Rm[:, 2] * length_m])
        uv, z = self._geo.project(frame_index, pts)
        if z[0] <= 0:
            self._put(out, "axes origin behind camera", (5, 15), (255, 255, 255))
            return out
        p0 = (int(round(uv[0, 0])), int(round(uv[0, 1])))
        for k, c in zip(range(1, 4), [(255, 0, 0), (0, 255, 0), (0, 0, 255)]):
            if z[k] > 0 and np.all(np.isfinite(uv[k])):
                cv2.arrowedLine(out, p0, (int(round(uv[k, 0])), int(round(uv[k, 1]))), c, 2, tipLength=0.15)
        return out

    def text(self, img: Any, text: str, org: tuple[int, int] = (5, 20), color: Any = (255, 255, 255),
             scale: float = 0.5) -> np.ndarray:
        """Write text with its baseline-left at pixel org=(u, v), on a dark outline so it stays readable.

        Example: `show(tools.Draw.text(0, "frame 0"))`
        """
        out = self._image(img)
        self._put(out, str(text), (int(org[0]), int(org[1])), _color(0, color), scale)
        return out

    # -- internals --------------------------------------------------------------------------------

    def _image(self, img: Any) -> np.ndarray:
        if isinstance(img, (int, np.integer)) and not isinstance(img, bool):
            from spatialclaw_ros.tools.reconstruct import check_frame_index
            return np.array(self._ctx.images[check_frame_index(self._ctx, img)], dtype=np.uint8, copy=True)
        a = np.asarray(img)
        if a.ndim == 2:
            a = np.repeat(a[..., None], 3, axis=2)
        if a.ndim != 3 or a.shape[2] not in (3, 4):
            raise ValueError(f"image must be (H, W, 3) uint8 or a keyframe index, got shape {a.shape}")
        if a.dtype != np.uint8:
            if a.dtype == bool:
                a = a.astype(np.uint8) * 255
            else:
                a = np.clip(a, 0, 255).astype(np.uint8)
        return np.ascontiguousarray(a[..., :3]).copy()

    @staticmethod
    def _put(out: np.ndarray, text: str, org: tuple[int, int], color: tuple[int, int, int],
             scale: float = 0.5) -> None:
        cv2.putText(out, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 3, cv2.LINE_AA)
        cv2.putText(out, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, color, 1, cv2.LINE_AA)
