"""One image conversion for live (rclpy) and bag (rosbags) messages, duck-typed.

``sensor_msgs/Image`` (``encoding, height, width, step, is_bigendian, data``) and
``sensor_msgs/CompressedImage`` (``format, data``) become numpy arrays in the conventions of
``Frame``: RGB (H, W, 3) uint8; depth (H, W) float32 metres with NaN invalid (REP-118: 16UC1
millimetres with 0 invalid, 32FC1 metres with NaN invalid); instance labels (H, W) int32.
``camera_model_from_info`` turns a ``sensor_msgs/CameraInfo`` into a ``CameraModel``.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

import numpy as np

from spatialclaw_ros.errors import ErrorCode, NoCameraInfoError, SpatialClawError
from spatialclaw_ros.frames.types import CameraModel

# encoding -> (numpy dtype, channels)
_RAW: dict[str, tuple[str, int]] = {
    "rgb8": ("u1", 3), "bgr8": ("u1", 3), "rgba8": ("u1", 4), "bgra8": ("u1", 4),
    "mono8": ("u1", 1), "8UC1": ("u1", 1), "mono16": ("u2", 1), "16UC1": ("u2", 1),
    "32FC1": ("f4", 1), "32SC1": ("i4", 1),
}
SUPPORTED_ENCODINGS: tuple[str, ...] = tuple(_RAW)
COLOR_ENCODINGS = ("rgb8", "bgr8", "rgba8", "bgra8", "mono8", "8UC1", "mono16")
DEPTH_ENCODINGS = ("16UC1", "mono16", "32FC1")
LABEL_ENCODINGS = ("16UC1", "mono16", "mono8", "8UC1", "32SC1")
COMPRESSED_FORMATS = ("jpeg", "png", "16UC1; compressedDepth png", "32FC1; compressedDepth png")


class ImageConversionError(SpatialClawError, ValueError):
    """An image message cannot be converted (unsupported encoding, inconsistent sizes)."""

    code = ErrorCode.NO_FRAMES


@dataclass
class DecodedImage:
    """Pixels of one message in the layout its encoding names (BGR for decoded jpeg/png colour)."""

    array: np.ndarray
    encoding: str


def is_compressed(msg: Any) -> bool:
    """Whether the message is a CompressedImage (has ``format``, no ``encoding``)."""
    return hasattr(msg, "format") and not hasattr(msg, "encoding")


def decode_image(msg: Any) -> DecodedImage:
    """Decode an Image or CompressedImage message to a native-endian array, padding removed."""
    if is_compressed(msg):
        return _decode_compressed(msg)
    enc = str(msg.encoding)
    if enc not in _RAW:
        raise ImageConversionError(
            f"unsupported image encoding '{enc}'; supported: {', '.join(SUPPORTED_ENCODINGS)} "
            f"(and CompressedImage formats {', '.join(COMPRESSED_FORMATS)})")
    dt, ch = _RAW[enc]
    h, w, step = int(msg.height), int(msg.width), int(msg.step)
    dtype = np.dtype(dt).newbyteorder(">" if msg.is_bigendian else "<")
    row = w * ch * dtype.itemsize
    if h <= 0 or w <= 0:
        raise ImageConversionError(f"image of size {w}x{h} ({enc}) has no pixels")
    if step < row:
        raise ImageConversionError(
            f"image step {step} is smaller than width*channels*bytes = {w}*{ch}*{dtype.itemsize}"
            f" = {row} ({enc}, {w}x{h})")
    buf = np.frombuffer(_as_bytes(msg.data), dtype=np.uint8)
    if buf.size < step * (h - 1) + row:
        raise ImageConversionError(
            f"image data has {buf.size} bytes, expected {step}*{h} = {step * h} "
            f"({enc}, {w}x{h}); the message is truncated")
    rows = np.lib.stride_tricks.as_strided(buf, shape=(h, row), strides=(step, 1),
                                           writeable=False)
    # A copy: the array owns its memory (the message can go) and drops any row padding.
    arr = np.array(rows, copy=True).view(dtype).reshape((h, w, ch) if ch > 1 else (h, w))
    return DecodedImage(arr.astype(dtype.newbyteorder("="), copy=False), enc)


def image_to_numpy(msg: Any) -> np.ndarray:
    """The message's pixels as a native-endian array in its encoding's layout."""
    return decode_image(msg).array


def image_to_rgb(msg: Any) -> np.ndarray:
    """(H, W, 3) uint8 RGB from any supported colour or grey encoding."""
    d = decode_image(msg)
    a, enc = d.array, d.encoding
    if enc == "rgb8":
        return a
    if enc in ("bgr8", "bgra8"):
        return np.ascontiguousarray(a[:, :, 2::-1])
    if enc == "rgba8":
        return np.ascontiguousarray(a[:, :, :3])
    if enc in ("mono8", "8UC1"):
        return np.repeat(a[:, :, None], 3, axis=2)
    if enc == "mono16":
        return np.repeat((a >> 8).astype(np.uint8)[:, :, None], 3, axis=2)
    raise ImageConversionError(
        f"encoding '{enc}' is not a colour image; colour encodings: {', '.join(COLOR_ENCODINGS)}"
        " (or a jpeg/png CompressedImage)")


def image_to_depth_m(msg: Any) -> np.ndarray:
    """(H, W) float32 metres, NaN invalid, from 16UC1/mono16 (mm, 0 invalid) or 32FC1 (m)."""
    d = decode_image(msg)
    a, enc = d.array, d.encoding
    if enc in ("16UC1", "mono16"):
        out = a.astype(np.float32) * np.float32(0.001)
        out[a == 0] = np.nan
        return out
    if enc == "32FC1":
        out = a.astype(np.float32, copy=True)
        out[~np.isfinite(out) | (out <= 0)] = np.nan
        return out
    raise ImageConversionError(
        f"encoding '{enc}' is not a depth image; depth encodings: {', '.join(DEPTH_ENCODINGS)}"
        " (16UC1 millimetres with 0 invalid, 32FC1 metres with NaN invalid; REP-118) or a "
        "compressedDepth png CompressedImage")


def image_to_labels(msg: Any) -> np.ndarray:
    """(H, W) int32 instance ids (0 = none) from 16UC1/mono16/mono8/32SC1 or a png."""
    d = decode_image(msg)
    if d.encoding not in LABEL_ENCODINGS or d.array.ndim != 2:
        raise ImageConversionError(
            f"encoding '{d.encoding}' cannot hold instance labels; label encodings: "
            f"{', '.join(LABEL_ENCODINGS)}")
    return d.array.astype(np.int32)


def camera_model_from_info(msg: Any) -> CameraModel:
    """A CameraModel from a sensor_msgs/CameraInfo-like message; rejects an all-zero K."""
    k = _field(msg, "k", "K")
    d = _field(msg, "d", "D")
    width, height = int(msg.width), int(msg.height)
    frame_id = str(getattr(getattr(msg, "header", None), "frame_id", "") or "").lstrip("/")
    K = np.asarray(k if k is not None else np.zeros(9), dtype=np.float64).reshape(-1)
    if K.size != 9:
        raise NoCameraInfoError(f"CameraInfo K has {K.size} values, expected 9 (row-major 3x3)")
    K = K.reshape(3, 3)
    if not np.any(K) or not np.all(np.isfinite(K)):
        raise NoCameraInfoError(
            f"CameraInfo for '{frame_id or '?'}' has an all-zero or non-finite K: the camera is "
            "uncalibrated; calibrate it (camera_calibration) or publish a CameraInfo with intrinsics")
    if K[0, 0] <= 0 or K[1, 1] <= 0:
        raise NoCameraInfoError(
            f"CameraInfo for '{frame_id or '?'}' has non-positive focal lengths fx={K[0, 0]}, "
            f"fy={K[1, 1]}")
    if width <= 0 or height <= 0:
        raise NoCameraInfoError(
            f"CameraInfo for '{frame_id or '?'}' has size {width}x{height}; expected the image size")
    D = np.asarray(d if d is not None else [], dtype=np.float64).reshape(-1)
    return CameraModel(width=width, height=height, K=K, D=D,
                       distortion_model=str(getattr(msg, "distortion_model", "") or "plumb_bob"),
                       frame_id=frame_id)


# ---- internals -------------------------------------------------------------------------------
def _field(msg: Any, *names: str) -> Any:
    for n in names:
        v = getattr(msg, n, None)
        if v is not None:
            return v
    return None


def _as_bytes(data: Any) -> bytes | memoryview | np.ndarray:
    if isinstance(data, (bytes, bytearray, memoryview)):
        return data
    if isinstance(data, np.ndarray):
        return data.astype(np.uint8, copy=False)
    return bytes(data)  # array.array('B') from rclpy, lists


def _decode_compressed(msg: Any) -> DecodedImage:
    import cv2

    fmt = str(msg.format).strip()
    raw = np.frombuffer(_as_bytes(msg.data), dtype=np.uint8)
    if "compresseddepth" in fmt.lower():
        return _decode_compressed_depth(fmt, raw)
    lower = fmt.lower()
    if not any(k in lower for k in ("jpeg", "jpg", "png")):
        raise ImageConversionError(
            f"unsupported CompressedImage format '{fmt}'; supported: {', '.join(COMPRESSED_FORMATS)}")
    img = cv2.imdecode(raw, cv2.IMREAD_UNCHANGED) if raw.size else None
    if img is None:
        raise ImageConversionError(f"CompressedImage ({fmt}) could not be decoded: corrupt data")
    if img.ndim == 2:
        enc = {np.dtype(np.uint8): "mono8", np.dtype(np.uint16): "16UC1"}.get(img.dtype)
        if enc is None:
            raise ImageConversionError(f"CompressedImage ({fmt}) decoded to unsupported {img.dtype}")
        if enc == "16UC1" and "mono16" in lower:
            enc = "mono16"
        return DecodedImage(img, enc)
    if img.dtype != np.uint8:
        img = (img >> 8).astype(np.uint8)
    return DecodedImage(img, "bgr8" if img.shape[2] == 3 else "bgra8")


def _decode_compressed_depth(fmt: str, raw: np.ndarray) -> DecodedImage:
    """compressed_depth_image_transport: a 12-byte header (format, quantisation A, B) + PNG."""
    import cv2

    base = fmt.split(";")[0].strip()
    if "png" not in fmt.lower():
        raise ImageConversionError(
            f"compressedDepth format '{fmt}' is not supported (only png); "
            f"supported: {', '.join(COMPRESSED_FORMATS)}")
    if raw.size < 12 + 8:
        raise ImageConversionError(f"compressedDepth message ({fmt}) is too short: {raw.size} bytes")
    _, quant_a, quant_b = struct.unpack("<iff", raw[:12].tobytes())
    img = cv2.imdecode(raw[12:], cv2.IMREAD_UNCHANGED)
    if img is None:
        raise ImageConversionError(f"compressedDepth message ({fmt}) has a corrupt png")
    if base == "16UC1":
        return DecodedImage(img.astype(np.uint16, copy=False), "16UC1")
    if base == "32FC1":
        inv = img.astype(np.float32)
        with np.errstate(divide="ignore", invalid="ignore"):
            depth = np.float32(quant_a) / (inv - np.float32(quant_b))
        depth[img == 0] = np.nan
        return DecodedImage(depth.astype(np.float32), "32FC1")
    raise ImageConversionError(
        f"compressedDepth base encoding '{base}' is not supported; use 16UC1 or 32FC1")
