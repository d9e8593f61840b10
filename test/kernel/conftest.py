"""Fixtures for the kernel tests: pools (started once per module), small frames, a TCP listener."""
from __future__ import annotations

from collections.abc import Iterator

import pytest
from kernel_helpers import Listener, make_frames

from spatialclaw_ros.config import SandboxConfig
from spatialclaw_ros.frames.types import Frame
from spatialclaw_ros.kernel import KernelPool


@pytest.fixture(scope="module")
def pool() -> Iterator[KernelPool]:
    """A sandboxed (mode auto) pool with two warm kernels."""
    p = KernelPool(SandboxConfig(mode="auto", memory_mb=2048, cpu_s=120), size=2)
    yield p
    p.close()


@pytest.fixture(scope="module")
def frames() -> list[Frame]:
    """Two small frames."""
    return make_frames()


@pytest.fixture
def listener() -> Iterator[Listener]:
    """A loopback TCP listener."""
    lst = Listener()
    yield lst
    lst.close()
