"""docker/ and the deployment configs hang together (main suite; no container engine needed).

The images are not built here (no engine); these checks catch the mistakes that need no build:
a parameter file the node would refuse, a compose file that does not parse or names files that do
not exist, an image limit that disagrees with the server flags, an entry point with a syntax error.
"""
from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from spatialclaw_ros.config import load_config

REPO = Path(__file__).resolve().parents[2]
DOCKER = REPO / "docker"


def _compose() -> dict:
    return yaml.safe_load((DOCKER / "compose.yaml").read_text())


@pytest.mark.parametrize("name", ["agent.rtx.yaml", "agent.orin.yaml"])
def test_deployment_parameter_files_load_as_node_config(name):
    cfg = load_config(DOCKER / name)
    assert cfg.vlm.model == "vlm" and cfg.vlm.base_url == "http://127.0.0.1:8000/v1"
    assert cfg.perception.runtime == "tensorrt"


def test_compose_services_match_the_node_config():
    services = _compose()["services"]
    pairs = {"vllm": ("spatialclaw", "agent.rtx.yaml"), "vllm-orin": ("spatialclaw-orin", "agent.orin.yaml")}
    for vllm_name, (node_name, params) in pairs.items():
        args = [str(a) for a in services[vllm_name]["command"]]
        for flag in ("--enable-auto-tool-choice", "--tool-call-parser=hermes",
                     "--served-model-name=vlm", "--host=127.0.0.1", "--port=8000"):
            assert flag in args, (vllm_name, flag)
        assert any(a.startswith("--gpu-memory-utilization=") for a in args)
        mm = next(a for a in args if a.startswith("--limit-mm-per-prompt="))
        mm_json = json.loads(re.sub(r"\$\{VLM_MAX_IMAGES:-(\d+)\}", r"\1", mm.split("=", 1)[1]))
        node = services[node_name]
        cfg = load_config(DOCKER / params)
        assert mm_json["image"] == cfg.vlm.max_images_per_query
        assert node["environment"]["SPATIALCLAW_VLM_MODEL"] == "vlm"
        assert node["depends_on"][vllm_name]["condition"] == "service_healthy"
        for volume in node["volumes"]:
            src = volume.split(":", 1)[0]
            if src.startswith("./"):
                assert (DOCKER / src).exists(), src
        assert (REPO / node["build"]["dockerfile"]).exists()


def test_dockerfiles_copy_files_that_exist_and_entrypoint_parses():
    for dockerfile in ("Dockerfile", "Dockerfile.jetson"):
        text = (DOCKER / dockerfile).read_text()
        for src in re.findall(r"^COPY\s+(\S+)\s+\S+", text, flags=re.M):
            assert src == "." or (REPO / src).exists(), (dockerfile, src)
        assert "colcon build --packages-select spatialclaw_ros" in text
    r = subprocess.run(["bash", "-n", str(DOCKER / "entrypoint.sh")], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
