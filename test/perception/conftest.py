"""Fixtures shared by the perception tests."""
from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def engine_dir(tmp_path: Path) -> Path:
    """An empty engine directory."""
    d = tmp_path / "engines"
    d.mkdir()
    return d

