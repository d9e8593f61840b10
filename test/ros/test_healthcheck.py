"""The container HEALTHCHECK command (python3 -m spatialclaw_ros.ros.healthcheck) against a live node."""
from __future__ import annotations

import os
import subprocess
import sys

from spatialclaw_ros.ros.healthcheck import action_name


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "spatialclaw_ros.ros.healthcheck", *args],
                          env=dict(os.environ), capture_output=True, text=True, timeout=60)


def test_healthcheck_passes_with_a_serving_node_and_fails_for_another_namespace(make_graph) -> None:
    make_graph()                                   # the agent node at the root namespace
    ok = _run("--timeout", "20")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "healthy: action server /spatial_query" in ok.stdout
    bad = _run("--namespace", "robot9", "--timeout", "2")
    assert bad.returncode == 1
    assert "no action server /robot9/spatial_query" in bad.stderr


def test_action_name_in_namespaces() -> None:
    assert action_name("") == action_name("/") == "/spatial_query"
    assert action_name("robot1") == action_name("/robot1/") == "/robot1/spatial_query"
