"""Bags that cannot be read give a BagReadError that says what is wrong and what to try."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from bag_synth import BagSpec, write_bag

from spatialclaw_ros.bags.reader import BagReadError, load_bag
from spatialclaw_ros.config import Config
from spatialclaw_ros.errors import ErrorCode

CFG = Config()


def test_missing_path(tmp_path: Path) -> None:
    with pytest.raises(BagReadError, match="does not exist") as ei:
        load_bag(tmp_path / "nope", CFG)
    assert ei.value.code == ErrorCode.NO_FRAMES


def test_directory_without_metadata(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(BagReadError, match="metadata.yaml"):
        load_bag(tmp_path / "empty", CFG)


def test_garbage_file(tmp_path: Path) -> None:
    p = tmp_path / "junk.mcap"
    p.write_bytes(b"this is not an mcap file" * 10)
    with pytest.raises(BagReadError, match=r"cannot read bag .*junk.mcap"):
        load_bag(p, CFG)
    p = tmp_path / "notes.txt"
    p.write_text("hello")
    with pytest.raises(BagReadError, match="Expected a rosbag2 directory"):
        load_bag(p, CFG)


@pytest.mark.parametrize("storage, suffix", [("mcap", ".mcap"), ("sqlite3", ".db3")])
@pytest.mark.parametrize("keep", [0.5, 0.95])
def test_truncated_bag(tmp_path: Path, storage: str, suffix: str, keep: float) -> None:
    bag = write_bag(tmp_path / "bag", BagSpec(n_frames=10), storage)
    data_file = next(bag.glob(f"*{suffix}"))
    raw = data_file.read_bytes()
    data_file.write_bytes(raw[: int(len(raw) * keep)])
    with pytest.raises(BagReadError, match=r"truncated|corrupt|cannot read") as ei:
        load_bag(bag, CFG)
    assert "reindex" in ei.value.message or "recover" in ei.value.message


def test_metadata_pointing_to_missing_file(tmp_path: Path) -> None:
    bag = write_bag(tmp_path / "bag", BagSpec(n_frames=2))
    for f in bag.glob("*.mcap"):
        shutil.move(str(f), str(tmp_path / f.name))
    with pytest.raises(BagReadError, match="missing"):
        load_bag(bag, CFG)
