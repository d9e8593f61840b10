"""Image bombs from the kernel: checked by header, counted and pixel-capped before any decode."""
from __future__ import annotations

import pytest
from channel_helpers import PNG_BOMB_CODE, PRELUDE, PeakRss, make_frames, png_bomb, pool  # noqa: F401

from spatialclaw_ros.kernel import KernelPool, check_code, schema
from spatialclaw_ros.kernel.protocol import ProtocolError
from spatialclaw_ros.vlm.conversation import jpeg_data_url

probe = pytest.mark.probe(category="channel")
SMALL_JPEG = "_ok, _b = cv2.imencode('.jpg', np.zeros((8, 8, 3), np.uint8))\njpg = _b.tobytes()\n"


def _run_violation(pool: KernelPool, code: str) -> tuple[str, int]:
    assert check_code(PRELUDE + PNG_BOMB_CODE + SMALL_JPEG + code) == []
    with pool.acquire(make_frames(), {}) as k:
        assert k.run_cell(PRELUDE + PNG_BOMB_CODE + SMALL_JPEG, timeout_s=60).ok
        with PeakRss() as rss:
            r = k.run_cell(code, timeout_s=120)
        assert r.protocol_violation, (r.error, r.stdout)
        assert r.error.startswith("protocol violation by the kernel: ")
    return r.error, rss.growth_kb


@probe
def test_six_13000px_pngs_are_refused_without_decoding(pool: KernelPool) -> None:
    """The red team's bomb: decoding these for the transcript took 31 s and 1.46 GB."""
    err, growth_kb = _run_violation(
        pool, "b = png_bomb(13000)\nresult(images=[{'jpeg': b, 'title': 'x', 'width': 13000, "
              "'height': 13000}] * 6)")
    assert "13000x13000 PNG" in err and "not decoded" in err
    assert growth_kb < 64 * 1024, growth_kb          # one decode alone would be 169 MB


@probe
def test_more_images_than_a_cell_may_show_are_refused(pool: KernelPool) -> None:
    err, _ = _run_violation(
        pool, "result(images=[{'jpeg': jpg, 'title': None, 'width': 8, 'height': 8}] * 9)")
    assert "9 images (at most 8 per cell)" in err


@probe
def test_a_jpeg_header_claiming_huge_dimensions_is_refused(pool: KernelPool) -> None:
    # patch the SOF0 frame header of a real 8x8 JPEG to claim 60000x60000
    code = ("i = jpg.index(b'\\xff\\xc0')\n"
            "big = jpg[:i + 5] + _i('struct').pack('>HH', 60000, 60000) + jpg[i + 9:]\n"
            "result(images=[{'jpeg': big, 'title': None, 'width': 60000, 'height': 60000}])")
    err, _ = _run_violation(pool, code)
    assert "60000x60000 JPEG" in err


@probe
def test_size_must_match_the_header(pool: KernelPool) -> None:
    err, _ = _run_violation(
        pool, "result(images=[{'jpeg': jpg, 'title': None, 'width': 4, 'height': 4}])")
    assert "says 4x4 but its header says 8x8" in err


@probe
def test_transcript_encoder_refuses_a_bomb_before_decoding() -> None:
    """Defence in depth: jpeg_data_url reads the header size and refuses before decoding."""
    bomb = png_bomb(13000)
    assert len(bomb) < 1_000_000
    assert schema.image_size(bomb) == ("png", 13000, 13000)
    with PeakRss() as rss, pytest.raises(ValueError, match="not decoded"):
        jpeg_data_url(bomb, 100000)
    assert rss.growth_kb < 64 * 1024, rss.growth_kb
    with pytest.raises(ProtocolError):
        schema.image_size(b"GIF89a....")


@probe
def test_shown_images_still_arrive(pool: KernelPool) -> None:
    """The control: a real show() passes the same checks."""
    with pool.acquire(make_frames(), {}) as k:
        r = k.run_cell("show(np.zeros((2000, 3000, 3), np.uint8), 'big frame')\n"
                       "show(np.random.default_rng(0).integers(0, 255, (1024, 1024, 3), np.uint8))",
                       timeout_s=60)
        assert r.ok, r.error
        assert [(im.width, im.height) for im in r.images] == [(1024, 683), (1024, 1024)]
        assert all(len(im.jpeg) <= schema.IMAGE_MAX_BYTES for im in r.images)


@probe
def test_a_corrupt_image_body_does_not_end_the_query() -> None:
    """A header that passes the check over a corrupt body: the feedback drops it with a note."""
    import cv2
    import numpy as np

    from spatialclaw_ros.agent.feedback import ImageBudget, cell_observation
    from spatialclaw_ros.kernel.types import CellResult, ShownImage

    ok, buf = cv2.imencode(".jpg", np.random.default_rng(1).integers(0, 255, (800, 800, 3), np.uint8))
    data = buf.tobytes()
    corrupt = data[:len(data) // 3]                      # header intact, scan data cut short
    assert schema.image_size(corrupt) == ("jpeg", 800, 800)
    res = CellResult(ok=True, images=[ShownImage(jpeg=corrupt, title="bad", width=800, height=800),
                                      ShownImage(jpeg=data, title="good", width=800, height=800)])
    obs, _ = cell_observation(res, step=1, max_steps=5, output_max_chars=2000,
                              budget=ImageBudget(4, 8, 640), in_conversation=0)
    assert len(obs.image_urls) == 1 and "1 shown image(s) could not be decoded" in obs.text
