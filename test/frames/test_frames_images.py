"""Image conversion: every encoding round trip, padding, endianness, compressed, camera info."""
from __future__ import annotations

import struct
from types import SimpleNamespace as NS

import cv2
import numpy as np
import pytest

from spatialclaw_ros.errors import ErrorCode, NoCameraInfoError
from spatialclaw_ros.frames.images import (
    ImageConversionError,
    camera_model_from_info,
    image_to_depth_m,
    image_to_labels,
    image_to_numpy,
    image_to_rgb,
)

RNG = np.random.default_rng(0)
H, W = 5, 7
RGB = RNG.integers(0, 256, (H, W, 3), dtype=np.uint8)


def img(arr: np.ndarray, encoding: str, *, big: bool = False, pad: int = 0,
        as_list: bool = False) -> NS:
    """A duck-typed sensor_msgs/Image."""
    a = np.ascontiguousarray(arr)
    if big:
        a = a.astype(a.dtype.newbyteorder(">"))
    rows = a.reshape(a.shape[0], -1).view(np.uint8)
    if pad:
        rows = np.concatenate([rows, np.full((rows.shape[0], pad), 0xEE, np.uint8)], axis=1)
    data = np.ascontiguousarray(rows).tobytes()
    return NS(encoding=encoding, height=a.shape[0], width=a.shape[1], step=rows.shape[1],
              is_bigendian=int(big), data=list(data) if as_list else data,
              header=NS(stamp=NS(sec=1, nanosec=2), frame_id="cam"))


@pytest.mark.parametrize("pad", [0, 3])
@pytest.mark.parametrize("encoding, make", [
    ("rgb8", lambda: RGB),
    ("bgr8", lambda: RGB[..., ::-1]),
    ("rgba8", lambda: np.dstack([RGB, np.full((H, W), 9, np.uint8)])),
    ("bgra8", lambda: np.dstack([RGB[..., ::-1], np.full((H, W), 9, np.uint8)])),
])
def test_colour_round_trip(encoding: str, make, pad: int) -> None:
    out = image_to_rgb(img(make(), encoding, pad=pad))
    assert out.dtype == np.uint8 and out.shape == (H, W, 3)
    np.testing.assert_array_equal(out, RGB)


def test_grey_encodings_become_rgb() -> None:
    g = RGB[..., 0]
    np.testing.assert_array_equal(image_to_rgb(img(g, "mono8")), np.dstack([g, g, g]))
    g16 = g.astype(np.uint16) * 256 + 17
    for big in (False, True):
        np.testing.assert_array_equal(image_to_rgb(img(g16, "mono16", big=big)),
                                      np.dstack([g, g, g]))


@pytest.mark.parametrize("big", [False, True])
@pytest.mark.parametrize("pad", [0, 2])
def test_16uc1_millimetres_to_metres_zero_invalid(big: bool, pad: int) -> None:
    mm = RNG.integers(1, 65535, (H, W)).astype(np.uint16)
    mm[1, 2] = 0
    d = image_to_depth_m(img(mm, "16UC1", big=big, pad=pad))
    assert d.dtype == np.float32 and np.isnan(d[1, 2])
    ok = mm != 0
    np.testing.assert_allclose(d[ok], mm[ok] / 1000.0, rtol=1e-6)
    np.testing.assert_array_equal(image_to_numpy(img(mm, "16UC1", big=big, pad=pad)), mm)


@pytest.mark.parametrize("big", [False, True])
def test_32fc1_metres_nan_inf_and_zero_invalid(big: bool) -> None:
    m = RNG.uniform(0.2, 9.0, (H, W)).astype(np.float32)
    m[0, 0], m[0, 1], m[0, 2], m[0, 3] = np.nan, np.inf, -np.inf, 0.0
    d = image_to_depth_m(img(m, "32FC1", big=big, pad=4))
    assert d.dtype == np.float32
    assert np.isnan(d[0, :4]).all()
    np.testing.assert_array_equal(d[1:], m[1:])


def test_labels_to_int32() -> None:
    lab = RNG.integers(0, 40000, (H, W)).astype(np.uint16)
    out = image_to_labels(img(lab, "16UC1", big=True))
    assert out.dtype == np.int32
    np.testing.assert_array_equal(out, lab.astype(np.int32))
    lab32 = RNG.integers(-5, 10**6, (H, W)).astype(np.int32)
    np.testing.assert_array_equal(image_to_labels(img(lab32, "32SC1")), lab32)


def test_data_as_list_like_rclpy_array() -> None:
    np.testing.assert_array_equal(image_to_rgb(img(RGB, "rgb8", as_list=True)), RGB)


def test_unsupported_encoding_names_supported_ones() -> None:
    with pytest.raises(ImageConversionError, match=r"unsupported image encoding 'nv21'.*rgb8.*32FC1"):
        image_to_rgb(img(RGB, "nv21"))


@pytest.mark.parametrize("fn, arr, enc, match", [
    (image_to_depth_m, RGB, "rgb8", "not a depth image"),
    (image_to_rgb, np.zeros((H, W), np.float32), "32FC1", "not a colour image"),
    (image_to_labels, RGB, "rgb8", "cannot hold instance labels"),
])
def test_wrong_kind_of_image(fn, arr, enc, match) -> None:
    with pytest.raises(ImageConversionError, match=match):
        fn(img(arr, enc))


def test_truncated_and_inconsistent_messages() -> None:
    m = img(RGB, "rgb8")
    m.data = m.data[:-5]
    with pytest.raises(ImageConversionError, match="truncated"):
        image_to_rgb(m)
    m = img(RGB, "rgb8")
    m.step = W * 3 - 1
    with pytest.raises(ImageConversionError, match="step"):
        image_to_rgb(m)
    m = img(RGB, "rgb8")
    m.width = 0
    with pytest.raises(ImageConversionError, match="no pixels"):
        image_to_rgb(m)
    assert ImageConversionError("x").code == ErrorCode.NO_FRAMES


def compressed(fmt: str, data: bytes) -> NS:
    return NS(format=fmt, data=data, header=NS(stamp=NS(sec=0, nanosec=0), frame_id="cam"))


def test_compressed_png_lossless_and_jpeg_close() -> None:
    big = cv2.resize(RGB, (64, 48), interpolation=cv2.INTER_NEAREST)
    ok, png = cv2.imencode(".png", big[..., ::-1])
    np.testing.assert_array_equal(image_to_rgb(compressed("rgb8; png compressed bgr8",
                                                          png.tobytes())), big)
    smooth = np.dstack([np.tile(np.arange(64, dtype=np.uint8) * 3, (48, 1))] * 3)
    ok, jpg = cv2.imencode(".jpg", smooth[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 95])
    out = image_to_rgb(compressed("jpeg", jpg.tobytes()))
    assert out.shape == smooth.shape and np.abs(out.astype(int) - smooth).mean() < 3
    ok, grey = cv2.imencode(".png", smooth[..., 0])
    np.testing.assert_array_equal(image_to_rgb(compressed("mono8; png", grey.tobytes())), smooth)


def test_compressed_16bit_png_depth_and_compressed_depth() -> None:
    mm = RNG.integers(0, 5000, (H, W)).astype(np.uint16)
    ok, png = cv2.imencode(".png", mm)
    d = image_to_depth_m(compressed("16UC1; png", png.tobytes()))
    np.testing.assert_allclose(d[mm > 0], mm[mm > 0] / 1000, rtol=1e-6)
    header = struct.pack("<iff", 0, 0.0, 0.0)
    d2 = image_to_depth_m(compressed("16UC1; compressedDepth png", header + png.tobytes()))
    np.testing.assert_array_equal(np.isnan(d2), mm == 0)
    np.testing.assert_allclose(d2[mm > 0], mm[mm > 0] / 1000, rtol=1e-6)


def test_compressed_depth_32fc1_inverse_quantisation() -> None:
    # compressed_depth_image_transport defaults: depth_quantization 100, depth_max 10 m.
    depth_max, quant = 10.0, 100.0
    qa = np.float32(quant * (quant + 1.0))
    qb = np.float32(1.0 - qa / depth_max)
    m = RNG.uniform(0.5, 9.0, (H, W)).astype(np.float32)
    inv = np.round(qa / m + qb).astype(np.uint16)
    inv[0, 0] = 0
    ok, png = cv2.imencode(".png", inv)
    d = image_to_depth_m(compressed("32FC1; compressedDepth png",
                                    struct.pack("<iff", 0, qa, qb) + png.tobytes()))
    assert np.isnan(d[0, 0])
    expect = qa / (inv.astype(np.float32) - qb)
    np.testing.assert_allclose(d[1:], expect[1:], rtol=1e-5)
    np.testing.assert_allclose(d[1:], m[1:], atol=0.01)   # quantisation error at <= 9 m


@pytest.mark.parametrize("fmt, data, match", [
    ("jpeg", b"not an image", "could not be decoded"),
    ("tiff", b"xx", "unsupported CompressedImage format 'tiff'"),
    ("16UC1; compressedDepth rvl", b"\0" * 40, "only png"),
])
def test_bad_compressed(fmt: str, data: bytes, match: str) -> None:
    with pytest.raises(ImageConversionError, match=match):
        image_to_rgb(compressed(fmt, data))


def info(k, w=640, h=480, frame="cam_optical") -> NS:
    return NS(k=k, d=[0.1, -0.2, 0, 0, 0.01], distortion_model="plumb_bob", width=w, height=h,
              header=NS(frame_id=frame))


def test_camera_model_from_info() -> None:
    cam = camera_model_from_info(info([500, 0, 320, 0, 510, 240, 0, 0, 1]))
    assert (cam.fx, cam.fy, cam.cx, cam.cy) == (500, 510, 320, 240)
    assert cam.K.shape == (3, 3) and list(cam.D) == [0.1, -0.2, 0, 0, 0.01]
    assert (cam.width, cam.height, cam.frame_id) == (640, 480, "cam_optical")
    legacy = NS(K=[1, 0, 1, 0, 1, 1, 0, 0, 1], D=[], distortion_model="", width=2, height=2,
                header=NS(frame_id="/x"))
    assert camera_model_from_info(legacy).frame_id == "x"


@pytest.mark.parametrize("msg, match", [
    (info([0] * 9), "all-zero or non-finite K"),
    (info([500, 0, 320, 0, 510, 240, 0, 0, 1], w=0), "size 0x480"),
    (info([-1, 0, 320, 0, 510, 240, 0, 0, 1]), "non-positive focal"),
    (info([1, 2, 3]), "expected 9"),
])
def test_bad_camera_info(msg, match) -> None:
    with pytest.raises(NoCameraInfoError, match=match):
        camera_model_from_info(msg)
