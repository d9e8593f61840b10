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


def pytest_configure(config: pytest.Config) -> None:
    """Register the `models` marker (tests that need .venv-models: make setup-models)."""
    config.addinivalue_line("markers", "models: needs .venv-models (make setup-models); run with make test-models")
    config.addinivalue_line("markers", "sam3: needs .venv-sam3 (scripts/setup_models.sh sam3); optional, ~5 GB RAM")
