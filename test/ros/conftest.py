"""Fixtures for the ROS tests (helpers live in ros_graph.py)."""
from __future__ import annotations

from typing import Callable, Iterator

import pytest
from ros_graph import Graph, fast_config

from spatialclaw_ros.config import Config


@pytest.fixture(scope="module")
def shared_pool() -> Iterator[object]:
    """One warm kernel pool for a test module (a kernel starts in seconds on 2 cores)."""
    from spatialclaw_ros.config import SandboxConfig
    from spatialclaw_ros.kernel import KernelPool

    pool = KernelPool(SandboxConfig(mode="off", pool_size=1))
    yield pool
    pool.close()


@pytest.fixture
def make_graph() -> Iterator[Callable[..., Graph]]:
    """Factory: make_graph(cfg) -> Graph, closed at the end of the test."""
    graphs: list[Graph] = []

    def make(cfg: Config | None = None, pool: object = None,
             cli_args: list[str] | None = None) -> Graph:
        g = Graph(cfg or fast_config(), pool=pool, cli_args=cli_args)
        graphs.append(g)
        return g

    yield make
    for g in graphs:
        g.close()
