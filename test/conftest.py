"""Suite-wide settings: ROS 2 over shared memory only, a domain id per test session."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parent

# Shared-memory-only Fast DDS: no UDP sockets, images and /tf on time across processes.
os.environ.setdefault("FASTDDS_DEFAULT_PROFILES_FILE", str(HERE / "fastdds-shm-only.xml"))
os.environ.setdefault("RMW_IMPLEMENTATION", "rmw_fastrtps_cpp")
# A domain per session so parallel runs on one machine don't cross.
os.environ.setdefault("ROS_DOMAIN_ID", str(100 + os.getpid() % 100))
os.environ.setdefault("ROS_LOCALHOST_ONLY", "1")


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The repository root."""
    return REPO


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """Committed fixtures (bags, question sets)."""
    return HERE / "data"
