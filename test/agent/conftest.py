"""Fixtures for the agent tests: a config pointing at a scripted loopback server, a real kernel pool."""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from spatialclaw_ros.config import Config
from support.scripted_vlm import ScriptedVlmServer

SECRET = "sk-test-secret-4f1c9a"   # the API key the tests put in the environment


@pytest.fixture
def cfg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Config:
    """A config with a temporary transcript dir, fast retries and an API key in the environment."""
    monkeypatch.setenv("SPATIALCLAW_TEST_API_KEY", SECRET)
    c = Config()
    c.vlm.api_key_env = "SPATIALCLAW_TEST_API_KEY"
    c.vlm.retries = 1
    c.vlm.timeout_s = 20.0
    c.agent.transcript_dir = str(tmp_path / "transcripts")
    c.agent.cell_timeout_s = 20.0
    c.agent.query_timeout_s = 120.0
    c.sandbox.pool_size = 1
    return c


@pytest.fixture
def secret() -> str:
    """The API key the cfg fixture puts in the environment."""
    return SECRET


@pytest.fixture
def server() -> Iterator[ScriptedVlmServer]:
    """A started scripted server with an empty script (tests add replies)."""
    with ScriptedVlmServer() as srv:
        yield srv


@pytest.fixture(scope="session")
def kernel_pool() -> Iterator[object]:
    """One real kernel pool for the session (each query takes a fresh kernel from it)."""
    from spatialclaw_ros.kernel import KernelPool

    pool = KernelPool(Config().sandbox)
    yield pool
    pool.close()
