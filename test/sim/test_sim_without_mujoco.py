"""`spatialclaw sim` without MuJoCo (apt installs, the numpy-1 venv) says how to install it."""
from __future__ import annotations

import subprocess
import sys

# Runs the CLI with `import mujoco` failing as it does where mujoco is not installed.
BLOCK_MUJOCO = """
import importlib.abc, sys
class _NoMujoco(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "mujoco" or name.startswith("mujoco."):
            raise ModuleNotFoundError("No module named 'mujoco'", name="mujoco")
        return None
sys.meta_path.insert(0, _NoMujoco())
from spatialclaw_ros.cli import main
sys.exit(main(["sim", "--out", sys.argv[1], "--force"]))
"""


def test_sim_without_mujoco_is_a_clear_error_with_the_install_command(tmp_path) -> None:
    r = subprocess.run([sys.executable, "-c", BLOCK_MUJOCO, str(tmp_path / "out")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "Traceback" not in r.stderr and "ModuleNotFoundError" not in r.stderr, r.stderr
    assert "needs MuJoCo" in r.stderr and "pip install mujoco==4.0.0" in r.stderr, r.stderr
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
