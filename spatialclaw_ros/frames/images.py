"""One image conversion for live (rclpy) and bag (rosbags) messages, duck-typed.

``sensor_msgs/Image`` (``encoding, height, width, step, is_bigendian, data``) and
``sensor_msgs/CompressedImage`` (``format, data``) become numpy arrays in the conventions of
``Frame``: RGB (H, W, 3) uint8; depth (H, W) float32 metres with NaN invalid (REP-118: 16UC1
millimetres with 0 invalid, 32FC1 metres with NaN invalid); instance labels (H, W) int32.
``camera_model_from_info`` turns a ``sensor_msgs/CameraInfo`` into a ``CameraModel``.

The frame conversions (``image_to_rgb``, ``image_to_depth_m``, ``image_to_labels``) write their
output straight into shared memory (``spatialclaw_ros.shm``, pool ``"frames"``), so a frame reaches
a query's kernel by descriptor, never copied. Such arrays share 32 MiB blocks with other frames
of this process (a kernel given one frame can read its neighbours: frames of the same robot) and
give their pages back as soon as they are dropped (e.g. evicted from the ``FrameBuffer``).
A process that holds frames of several robots or tenants passes each its own ``shm_pool``.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

import numpy as np

from spatialclaw_ros.errors import ErrorCode, NoCameraInfoError, SpatialClawError
from spatialclaw_ros.frames.types import CameraModel
from spatialclaw_ros.shm import DEFAULT_POOL, try_shared_empty

# encoding -> (numpy dtype, channels)
_RAW: dict[str, tuple[str, int]] = {
    "rgb8": ("u1", 3), "bgr8": ("u1", 3), "rgba8": ("u1", 4), "bgra8": ("u1", 4),
    "mono8": ("u1", 1), "8UC1": ("u1", 1), "mono16": ("u2", 1), "16UC1": ("u2", 1),
    "32FC1": ("f4", 1), "32SC1": ("i4", 1),
    "rgb16": ("u2", 3), "bgr16": ("u2", 3), "rgba16": ("u2", 4), "bgra16": ("u2", 4),
    # packed 4:2:2 (2 bytes a pixel): ROS "yuv422" is UYVY, "yuv422_yuy2" is YUYV
    "yuv422": ("u1", 2), "uyvy": ("u1", 2), "yuv422_yuy2": ("u1", 2), "yuyv": ("u1", 2),
    "bayer_rggb8": ("u1", 1), "bayer_bggr8": ("u1", 1), "bayer_gbrg8": ("u1", 1),
    "bayer_grbg8": ("u1", 1), "bayer_rggb16": ("u2", 1), "bayer_bggr16": ("u2", 1),
    "bayer_gbrg16": ("u2", 1), "bayer_grbg16": ("u2", 1),
}
SUPPORTED_ENCODINGS: tuple[str, ...] = tuple(_RAW)
COLOR_ENCODINGS = ("rgb8", "bgr8", "rgba8", "bgra8", "mono8", "8UC1", "mono16", "rgb16", "bgr16",
                   "rgba16", "bgra16", "yuv422", "uyvy", "yuv422_yuy2", "yuyv", "bayer_rggb8",
                   "bayer_bggr8", "bayer_gbrg8", "bayer_grbg8", "bayer_rggb16", "bayer_bggr16",
                   "bayer_gbrg16", "bayer_grbg16")
# ROS Bayer pattern -> OpenCV's name for it (OpenCV names the pattern from the second row)
_BAYER_CV = {"rggb": "COLOR_BayerBG2RGB", "bggr": "COLOR_BayerRG2RGB",
             "gbrg": "COLOR_BayerGR2RGB", "grbg": "COLOR_BayerGB2RGB"}
_YUV_CV = {"yuv422": "COLOR_YUV2RGB_UYVY", "uyvy": "COLOR_YUV2RGB_UYVY",
           "yuv422_yuy2": "COLOR_YUV2RGB_YUYV", "yuyv": "COLOR_YUV2RGB_YUYV"}
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


# cv2 colour conversion to RGB, by encoding (names of cv2 constants; cv2 is imported when used)
_CV_TO_RGB = {"bgr8": "COLOR_BGR2RGB", "bgra8": "COLOR_BGRA2RGB", "rgba8": "COLOR_RGBA2RGB",
              "mono8": "COLOR_GRAY2RGB", "8UC1": "COLOR_GRAY2RGB"}


def _frame_array(shape: tuple[int, ...], dtype: type, pool: str) -> np.ndarray:
    """Output of a frame conversion: in shared memory (plain memory only where memfds fail)."""
    return try_shared_empty(shape, dtype, pool=pool)


def _raw_rows(msg: Any) -> tuple[np.ndarray, str] | None:
    """A raw Image's pixels as a read-only view of the message (no copy), or None if compressed."""
    if is_compressed(msg):
        return None
    enc = str(msg.encoding)
    if enc not in _RAW:
        return None                      # decode_image raises the error that names the encodings
    dt, ch = _RAW[enc]
    h, w, step = int(msg.height), int(msg.width), int(msg.step)
    dtype = np.dtype(dt).newbyteorder(">" if msg.is_bigendian else "<")
    row = w * ch * dtype.itemsize
    if h <= 0 or w <= 0 or step < row:
        return None
    buf = np.frombuffer(_as_bytes(msg.data), dtype=np.uint8)
    if buf.size < step * (h - 1) + row:
        return None
    typed = buf[:buf.size - buf.size % dtype.itemsize].view(dtype)
    shape = (h, w, ch) if ch > 1 else (h, w)
    strides = (step, ch * dtype.itemsize, dtype.itemsize) if ch > 1 else (step, dtype.itemsize)
    return np.lib.stride_tricks.as_strided(typed, shape=shape, strides=strides,
                                           writeable=False), enc


def image_to_rgb(msg: Any, *, shm_pool: str = DEFAULT_POOL) -> np.ndarray:
    """(H, W, 3) uint8 RGB from any supported colour or grey encoding (in shared memory)."""
    raw = _raw_rows(msg)
    if raw is not None and raw[1] in ("rgb8", "bgr8", "rgba8", "bgra8", "mono8", "8UC1"):
        a, enc = raw                      # convert straight from the message: one pass, no temp
    else:
        d = decode_image(msg)
        a, enc = d.array, d.encoding
    if enc not in COLOR_ENCODINGS:
        raise ImageConversionError(
            f"encoding '{enc}' is not a colour image; colour encodings: {', '.join(COLOR_ENCODINGS)}"
            " (or a jpeg/png CompressedImage)")
    out = _frame_array((a.shape[0], a.shape[1], 3), np.uint8, shm_pool)
    if a.dtype.itemsize == 2:             # 16-bit colour, grey or Bayer: keep the high byte
        a = (a >> 8).astype(np.uint8)
        enc = {"mono16": "mono8", "rgb16": "rgb8", "bgr16": "bgr8", "rgba16": "rgba8",
               "bgra16": "bgra8"}.get(enc, enc.replace("16", "8"))
    if enc in _YUV_CV or enc.startswith("bayer_"):
        import cv2

        code = _YUV_CV.get(enc) or _BAYER_CV[enc[len("bayer_"):len("bayer_") + 4]]
        src = np.ascontiguousarray(a)
        if enc.startswith("bayer_") and (src.shape[0] < 2 or src.shape[1] < 2):
            raise ImageConversionError(f"a {enc} image needs at least 2x2 pixels")
        if enc in _YUV_CV and (src.ndim != 3 or src.shape[2] != 2 or src.shape[1] % 2):
            raise ImageConversionError(f"a {enc} image needs an even width (pixel pairs share "
                                       f"U and V), got {src.shape[1]}")
        cv2.cvtColor(src, getattr(cv2, code), dst=out)
        return out
    if enc == "rgb8":
        out[...] = a
        return out
    try:                                  # cv2 writes into `out` ~5x faster than a strided numpy copy
        import cv2

        if cv2.cvtColor(a, getattr(cv2, _CV_TO_RGB[enc]), dst=out) is out:
            return out
    except cv2.error:                     # pragma: no cover - e.g. an unusual row stride
        pass
    if enc in ("bgr8", "bgra8"):
        out[...] = a[:, :, 2::-1]
    elif enc == "rgba8":
        out[...] = a[:, :, :3]
    else:                                 # mono8, 8UC1
        out[...] = a[:, :, None]
    return out


def image_to_depth_m(msg: Any, *, shm_pool: str = DEFAULT_POOL) -> np.ndarray:
    """(H, W) float32 metres, NaN invalid, from 16UC1/mono16 (mm, 0 invalid) or 32FC1 (m)."""
    raw = _raw_rows(msg)
    if raw is not None and raw[1] in DEPTH_ENCODINGS:
        a, enc = raw
    else:
        d = decode_image(msg)
        a, enc = d.array, d.encoding
    if enc in ("16UC1", "mono16"):
        out = _frame_array(a.shape, np.float32, shm_pool)
        np.multiply(a, np.float32(0.001), out=out, dtype=np.float32)
        out[a == 0] = np.nan
        return out
    if enc == "32FC1":
        out = _frame_array(a.shape, np.float32, shm_pool)
        out[...] = a
        out[~np.isfinite(out) | (out <= 0)] = np.nan
        return out
    raise ImageConversionError(
        f"encoding '{enc}' is not a depth image; depth encodings: {', '.join(DEPTH_ENCODINGS)}"
        " (16UC1 millimetres with 0 invalid, 32FC1 metres with NaN invalid; REP-118) or a "
        "compressedDepth png CompressedImage")


def image_to_labels(msg: Any, *, shm_pool: str = DEFAULT_POOL) -> np.ndarray:
    """(H, W) int32 instance ids (0 = none) from 16UC1/mono16/mono8/32SC1 or a png."""
    raw = _raw_rows(msg)
    if raw is not None and raw[1] in LABEL_ENCODINGS and raw[0].ndim == 2:
        a, enc = raw
    else:
        d = decode_image(msg)
        a, enc = d.array, d.encoding
    if enc not in LABEL_ENCODINGS or a.ndim != 2:
        raise ImageConversionError(
            f"encoding '{enc}' cannot hold instance labels; label encodings: "
            f"{', '.join(LABEL_ENCODINGS)}")
    out = _frame_array(a.shape, np.int32, shm_pool)
    out[...] = a
    return out


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
    try:
        return memoryview(data).cast("B")    # array.array('B') from rclpy: no copy
    except TypeError:
        return bytes(data)                   # lists


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
