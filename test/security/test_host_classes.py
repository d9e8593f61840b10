"""The documented host-class table and Docker settings agree with the code and with this host."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

from spatialclaw_ros.kernel import sandbox

ROOT = Path(__file__).resolve().parents[2]


def test_this_host_class_has_the_documented_layers(pool) -> None:  # noqa: ANN001
    sim = set(filter(None, os.environ.get("SPATIALCLAW_SIMULATED_HOST", "").split(",")))
    root = os.geteuid() == 0
    offered = sandbox.detect_sandbox_layers()
    userns = "userns" not in sim and "ns" not in sim and offered["userns"] == "available"
    want = sandbox.expected_layers(root=root, userns=userns, namespaces_ok="ns" not in sim,
                                   landlock_ok="landlock" not in sim
                                   and offered["landlock"].startswith("available"))
    with pool.acquire([], {}) as k:
        assert want <= set(k.sandbox_layers), (want - set(k.sandbox_layers), k.notes)


def test_compose_security_opt_is_what_the_sandbox_needs() -> None:
    doc = yaml.safe_load((ROOT / "docker" / "compose.yaml").read_text())
    for svc in ("spatialclaw", "spatialclaw-orin"):
        opts = [o.replace("${SPATIALCLAW_APPARMOR:-unconfined}", "unconfined")
                for o in doc["services"][svc]["security_opt"]]
        assert opts == sandbox.DOCKER_REQUIREMENTS["security_opt"], svc
    assert "security_opt" in (ROOT / "docs" / "sandbox.md").read_text()


def test_docs_table_lists_every_probe() -> None:
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "security_table.py"), "--check"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
