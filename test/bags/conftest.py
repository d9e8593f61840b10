"""Synthetic bags shared by the bag tests (written once per session)."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bag_synth import BagSpec, write_bag  # noqa: E402


@pytest.fixture(scope="session")
def bag_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder for this session's bags."""
    return tmp_path_factory.mktemp("bags")


@pytest.fixture(scope="session")
def mcap_bag(bag_dir: Path) -> Path:
    """20 frames, 32FC1 depth, camera_info, TF, labels (MCAP)."""
    return write_bag(bag_dir / "full_mcap", BagSpec(), "mcap")


@pytest.fixture(scope="session")
def sqlite_bag(bag_dir: Path) -> Path:
    """The same with 16UC1 depth (sqlite3)."""
    return write_bag(bag_dir / "full_sqlite", BagSpec(depth="16UC1"), "sqlite3")
