"""Cameras as drivers publish them (issue 13, defect 10): rectified vs raw intrinsics, undistortion,
yuv422 / Bayer / 16-bit colour encodings."""
from __future__ import annotations

from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from spatialclaw_ros.errors import NoCameraInfoError
from spatialclaw_ros.frames.assemble import frame_from_arrays
from spatialclaw_ros.frames.images import image_to_rgb
from spatialclaw_ros.frames.rectify import (Undistorter, camera_for, choose_model,
                                            is_rectified_topic)

W, H = 160, 120
K = [100.0, 0.0, 80.0, 0.0, 100.0, 60.0, 0.0, 0.0, 1.0]
P = [90.0, 0.0, 78.0, 0.0, 0.0, 91.0, 61.0, 0.0, 0.0, 0.0, 1.0, 0.0]
D = [-0.3, 0.1, 0.0, 0.0, 0.0]


def _info(d=D, p=P):  # noqa: ANN001, ANN202 - test helper
    return SimpleNamespace(width=W, height=H, k=K, d=d, p=p, distortion_model="plumb_bob",
                           header=SimpleNamespace(frame_id="cam"))


def _img(arr: np.ndarray, enc: str):  # noqa: ANN202 - test helper
    return SimpleNamespace(height=arr.shape[0], width=arr.shape[1], encoding=enc,
                           is_bigendian=0, step=arr.strides[0], data=arr.tobytes())


def test_rectified_topics_use_p_and_raw_ones_k_and_d() -> None:
    assert is_rectified_topic("/camera/color/image_rect_color")
    assert is_rectified_topic("/cam/image_rect") and not is_rectified_topic("/cam/image_raw")
    rect = camera_for(_info(), choose_model("auto", "/cam/image_rect").rectified)
    np.testing.assert_allclose(rect.K, np.array(P).reshape(3, 4)[:, :3])
    assert rect.D.size == 0
    raw = camera_for(_info(), choose_model("auto", "/cam/image_raw").rectified)
    np.testing.assert_allclose(raw.K, np.array(K).reshape(3, 3))
    np.testing.assert_allclose(raw.D, D)
    assert "P" in choose_model("rectified", "x").reason or choose_model("rectified", "x").rectified
    with pytest.raises(NoCameraInfoError, match="projection matrix P"):
        camera_for(_info(p=[0.0] * 12), True)


def test_raw_image_is_undistorted_so_k_projects_correctly() -> None:
    """A dot drawn where K+D put a 3D point lands, after undistortion, where K alone puts it."""
    pts = np.array([[0.35, -0.25, 1.0], [-0.3, 0.2, 1.0], [0.0, 0.0, 1.0]])
    Km, Dm = np.array(K).reshape(3, 3), np.array(D)
    distorted, _ = cv2.projectPoints(pts, np.zeros(3), np.zeros(3), Km, Dm)
    rgb = np.zeros((H, W, 3), np.uint8)
    depth = np.full((H, W), np.nan, np.float32)
    for (u, v) in distorted.reshape(-1, 2):
        cv2.circle(rgb, (int(round(u)), int(round(v))), 2, (255, 255, 255), -1)
        depth[int(round(v)) - 2:int(round(v)) + 3, int(round(u)) - 2:int(round(u)) + 3] = 2.0
    cam = camera_for(_info(), rectified=False)
    frame = Undistorter().apply(frame_from_arrays(1, rgb, cam, depth=depth))
    assert frame.camera.D.size == 0 and frame.camera.distortion_model == "undistorted"
    for p in pts:
        u, v = Km[0, 0] * p[0] / p[2] + Km[0, 2], Km[1, 1] * p[1] / p[2] + Km[1, 2]
        ys, xs = np.nonzero(frame.rgb[:, :, 0] > 100)
        near = (abs(xs - u) < 4) & (abs(ys - v) < 4)
        assert near.any(), f"no dot near the pinhole projection ({u:.1f}, {v:.1f})"
        assert frame.depth[int(round(v)), int(round(u))] == pytest.approx(2.0)
    # nearest-neighbour depth: only the values that were there, no blends
    vals = frame.depth[np.isfinite(frame.depth)]
    assert set(np.unique(vals)) <= {np.float32(2.0)}
    # no distortion: the frame is returned as it is
    flat = frame_from_arrays(1, rgb, camera_for(_info(d=[0.0] * 5), rectified=False))
    assert Undistorter().apply(flat) is flat


COLOUR = (200, 100, 40)


def test_16_bit_colour_and_grey() -> None:
    rgb16 = np.zeros((4, 6, 3), np.uint16)
    rgb16[...] = [c << 8 for c in COLOUR]
    assert (image_to_rgb(_img(rgb16, "rgb16")) == COLOUR).all()
    assert (image_to_rgb(_img(rgb16[:, :, ::-1].copy(), "bgr16")) == COLOUR).all()
    mono = np.full((4, 6), 0x8000, np.uint16)
    assert (image_to_rgb(_img(mono, "mono16")) == 128).all()


@pytest.mark.parametrize("enc,order", [("yuv422", "UYVY"), ("uyvy", "UYVY"),
                                       ("yuv422_yuy2", "YUYV"), ("yuyv", "YUYV")])
def test_yuv422(enc: str, order: str) -> None:
    r, g, b = COLOUR
    y = 16 + 0.257 * r + 0.504 * g + 0.098 * b             # BT.601 video range (as cameras)
    u = 128 - 0.148 * r - 0.291 * g + 0.439 * b
    v = 128 + 0.439 * r - 0.368 * g - 0.071 * b
    y, u, v = (int(round(x)) for x in (y, u, v))
    pair = [u, y, v, y] if order == "UYVY" else [y, u, y, v]
    packed = np.array(pair * 4 * 3, np.uint8).reshape(3, 8, 2)        # 3 rows of 8 pixels
    out = image_to_rgb(_img(packed, enc))
    assert out.shape == (3, 8, 3)
    assert np.abs(out.astype(int) - COLOUR).max() <= 6


@pytest.mark.parametrize("pattern", ["rggb", "bggr", "gbrg", "grbg"])
@pytest.mark.parametrize("bits", [8, 16])
def test_bayer(pattern: str, bits: int) -> None:
    r, g, b = COLOUR
    chan = {"r": r, "g": g, "b": b}
    tile = np.array([[chan[pattern[0]], chan[pattern[1]]], [chan[pattern[2]], chan[pattern[3]]]])
    mosaic = np.tile(tile, (6, 6)).astype(np.uint8 if bits == 8 else np.uint16)
    if bits == 16:
        mosaic = mosaic << 8
    out = image_to_rgb(_img(mosaic, f"bayer_{pattern}{bits}"))
    inner = out[2:-2, 2:-2].astype(int)
    assert np.abs(inner - COLOUR).max() <= 2, (pattern, inner[0, 0])
