"""Which intrinsics an image uses: P for rectified topics, K and D (undistorted here) for raw ones.

A camera driver publishes `image_raw` (distorted, intrinsics K with distortion D) and, through
image_proc, `image_rect` (undistorted, intrinsics P[:3, :3]). Frames must carry the intrinsics
that match their pixels: a rectified image gets P's; a raw image with non-zero D is undistorted
here with OpenCV (colour bilinear, depth and labels nearest-neighbour, so no depth is invented
across edges) and then carries K with D = 0. `describe()` says which was used (diagnostics).
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from spatialclaw_ros.errors import NoCameraInfoError
from spatialclaw_ros.frames.images import camera_model_from_info
from spatialclaw_ros.frames.types import CameraModel, Frame
from spatialclaw_ros.shm import try_shared_empty

MODELS = ("auto", "rectified", "raw")


def is_rectified_topic(topic: str) -> bool:
    """image_pipeline naming: `image_rect`, `image_rect_color`, `.../rect/...` are rectified."""
    parts = topic.strip("/").split("/")
    return any(p.startswith("image_rect") or p == "rect" for p in parts)


@dataclass(frozen=True)
class ModelChoice:
    """How a topic's frames get their intrinsics."""

    rectified: bool
    reason: str


def choose_model(image_model: str, color_topic: str) -> ModelChoice:
    """topics.image_model (auto | rectified | raw) for `color_topic` -> the choice and why."""
    if image_model not in MODELS:
        raise ValueError(f"topics.image_model must be one of {', '.join(MODELS)}, got "
                         f"{image_model!r}")
    if image_model == "rectified":
        return ModelChoice(True, "topics.image_model=rectified")
    if image_model == "raw":
        return ModelChoice(False, "topics.image_model=raw")
    rect = is_rectified_topic(color_topic)
    return ModelChoice(rect, f"topic '{color_topic}' looks {'rectified' if rect else 'raw'}")


def camera_for(info: Any, rectified: bool) -> CameraModel:
    """The CameraModel for images of this CameraInfo: P[:3,:3] and no D when rectified."""
    cam = camera_model_from_info(info)
    if not rectified:
        return cam
    p = getattr(info, "p", None)
    if p is None:
        p = getattr(info, "P", None)
    P = np.asarray(p if p is not None else np.zeros(12), dtype=np.float64).reshape(-1)
    if P.size != 12 or not np.any(P) or P[0] <= 0 or P[5] <= 0:
        raise NoCameraInfoError(
            f"CameraInfo for '{cam.frame_id or '?'}' has no projection matrix P, needed for a "
            "rectified image: publish P (image_proc does) or set topics.image_model: raw")
    K = P.reshape(3, 4)[:, :3].copy()
    return replace(cam, K=K, D=np.zeros(0), distortion_model="rectified")


def needs_undistortion(cam: CameraModel) -> bool:
    """A raw image with non-zero distortion coefficients."""
    return cam.D.size > 0 and bool(np.any(np.abs(cam.D) > 1e-12))


class Undistorter:
    """Undistorts raw frames; the remap tables are made once per camera model and size."""

    def __init__(self) -> None:
        self._maps: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}
        self._lock = threading.Lock()

    def _map(self, cam: CameraModel) -> tuple[np.ndarray, np.ndarray]:
        import cv2

        key = (cam.width, cam.height, cam.distortion_model, cam.K.tobytes(), cam.D.tobytes())
        with self._lock:
            m = self._maps.get(key)
            if m is None:
                size = (cam.width, cam.height)
                if cam.distortion_model == "equidistant":
                    m = cv2.fisheye.initUndistortRectifyMap(
                        cam.K, cam.D[:4].reshape(4, 1), np.eye(3), cam.K, size, cv2.CV_32FC1)
                else:                # plumb_bob, rational_polynomial (OpenCV's 5/8/12/14 terms)
                    m = cv2.initUndistortRectifyMap(cam.K, cam.D, np.eye(3), cam.K, size,
                                                    cv2.CV_32FC1)
                if len(self._maps) > 8:
                    self._maps.clear()
                self._maps[key] = m
            return m

    def apply(self, frame: Frame) -> Frame:
        """The frame with undistorted pixels and the camera's K with D = 0 (as is if D is 0)."""
        cam = frame.camera
        if not needs_undistortion(cam):
            return frame
        if cam.distortion_model not in ("plumb_bob", "rational_polynomial", "equidistant"):
            raise NoCameraInfoError(
                f"distortion model '{cam.distortion_model}' of '{cam.frame_id or '?'}' is not "
                "supported for undistortion (plumb_bob, rational_polynomial, equidistant): "
                "subscribe to a rectified topic (image_proc) and set topics.image_model: rectified")
        import cv2

        h, w = frame.rgb.shape[:2]
        if (w, h) != (cam.width, cam.height):
            raise NoCameraInfoError(
                f"image {w}x{h} does not match its CameraInfo {cam.width}x{cam.height}: cannot "
                "undistort; check topics.camera_info")
        mx, my = self._map(cam)

        def remap(a: np.ndarray | None, interp: int, border: float) -> np.ndarray | None:
            if a is None:
                return None
            out = try_shared_empty(a.shape, a.dtype)
            cv2.remap(a, mx, my, interp, dst=out, borderMode=cv2.BORDER_CONSTANT,
                      borderValue=border)
            return out

        depth = remap(frame.depth, cv2.INTER_NEAREST, float("nan"))
        labels = (None if frame.labels is None else
                  remap(frame.labels.astype(np.float32), cv2.INTER_NEAREST, 0.0).astype(np.int32))
        return replace(frame, rgb=remap(frame.rgb, cv2.INTER_LINEAR, 0.0), depth=depth,
                       labels=labels, camera=replace(cam, D=np.zeros(0),
                                                     distortion_model="undistorted"))


def describe(choice: ModelChoice, cam: CameraModel | None) -> str:
    """One line for diagnostics: which intrinsics the frames carry and why."""
    if choice.rectified:
        return f"rectified: intrinsics from P ({choice.reason})"
    if cam is not None and needs_undistortion(cam):
        return (f"raw: undistorted with D ({cam.distortion_model}) and K, then K "
                f"({choice.reason})")
    return f"raw: K, no distortion in CameraInfo ({choice.reason})"
