"""Offline too: a rectified colour topic uses P, a raw one K (undistorted when D is not zero)."""
from __future__ import annotations

from pathlib import Path

from bag_synth import BagSpec, write_bag

from spatialclaw_ros.bags.reader import load_bag
from spatialclaw_ros.config import Config


def test_rectified_and_raw_topics_say_which_intrinsics_they_use(bag_dir: Path) -> None:
    rect = write_bag(bag_dir / "rect", BagSpec(n_frames=2, labels=False,
                                               color_topic="/camera/color/image_rect_color"))
    data = load_bag(rect, Config(), select_keyframes=False)
    assert any("rectified: intrinsics from P" in n for n in data.report.notes), data.report.notes
    raw = write_bag(bag_dir / "raw", BagSpec(n_frames=2, labels=False))
    data = load_bag(raw, Config(), select_keyframes=False)
    assert any("raw: K, no distortion" in n for n in data.report.notes), data.report.notes
    cfg = Config()
    cfg.topics.image_model = "rectified"                  # forced
    data = load_bag(raw, cfg, select_keyframes=False)
    assert any("topics.image_model=rectified" in n for n in data.report.notes)
