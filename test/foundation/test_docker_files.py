"""docker/: read, not built (no container engine here). Checks that the files say what the node and
its sandbox need: the compose security settings match kernel/sandbox.py's DOCKER_REQUIREMENTS, one
onnxruntime build, numpy held at the base image's version, perception venvs and a HEALTHCHECK."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

DOCKER = Path(__file__).resolve().parents[2] / "docker"
NODE_DOCKERFILES = ("Dockerfile", "Dockerfile.jetson")


def _expand(value: str) -> str:
    """Compose's `${VAR:-default}` / `${VAR-default}` with VAR unset: the default."""
    return re.sub(r"\$\{[A-Za-z_][A-Za-z0-9_]*:?-([^}]*)\}", r"\1", value)


def _node_services() -> dict[str, dict]:
    doc = yaml.safe_load((DOCKER / "compose.yaml").read_text())
    out = {name: svc for name, svc in doc["services"].items()
           if Path(str((svc.get("build") or {}).get("dockerfile", ""))).name in NODE_DOCKERFILES}
    assert out, "no service in docker/compose.yaml builds the node image"
    return out


def test_compose_node_services_have_the_sandbox_security_settings() -> None:
    sandbox = pytest.importorskip("spatialclaw_ros.kernel.sandbox")
    req = getattr(sandbox, "DOCKER_REQUIREMENTS", None)
    if req is None:
        pytest.skip("spatialclaw_ros.kernel.sandbox.DOCKER_REQUIREMENTS is not defined on this branch "
                    "(the sandbox branch adds it with compose's security_opt)")
    alt_profile = str(req.get("apparmor_profile_instead_of_unconfined", "")).split()[0]
    for name, svc in _node_services().items():
        have = {_expand(str(o)) for o in svc.get("security_opt") or []}
        for opt in req.get("security_opt", []):
            if opt == "apparmor=unconfined" and alt_profile and f"apparmor={alt_profile}" in have:
                continue
            assert opt in have, f"service {name}: security_opt lacks {opt!r} (has {sorted(have)})"
        caps = set(svc.get("cap_add") or [])
        assert set(req.get("cap_add", [])) <= caps, f"service {name}: cap_add lacks {req['cap_add']}"
        assert "privileged" not in svc or svc["privileged"] is False, f"service {name} must not be privileged"


@pytest.mark.parametrize("dockerfile", NODE_DOCKERFILES)
def test_node_images_have_one_onnxruntime_numpy_pinned_and_a_healthcheck(dockerfile: str) -> None:
    text = (DOCKER / dockerfile).read_text()
    run = " ".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    assert "requirements/core.txt" not in run, "core.txt pulls the CPU onnxruntime and numpy 2"
    assert "requirements/apt.txt" in run and "grep -v '^onnxruntime'" in run
    assert re.search(r"import numpy; print\('numpy==' \+ numpy.__version__\)\" > /tmp/constraints.txt", run)
    assert "-c /tmp/constraints.txt" in run
    assert re.search(r"^HEALTHCHECK .*spatialclaw_ros\.ros\.healthcheck", text, re.M | re.S)
    apt_req = (DOCKER.parent / "requirements" / "apt.txt").read_text()
    assert re.search(r"^numpy[^\n]*<2", apt_req, re.M), "requirements/apt.txt must keep numpy < 2"


def test_x86_image_has_cudnn_for_the_cuda_provider_and_builds_the_perception_venvs() -> None:
    text = (DOCKER / "Dockerfile").read_text()
    assert "onnxruntime-gpu" in text and "libcudnn9-cuda-" in text
    for var, script in (("SPATIALCLAW_MODELS_PYTHON=/opt/spatialclaw-models/bin/python", "setup_models.sh da3"),
                        ("SPATIALCLAW_SAM3_PYTHON=/opt/spatialclaw-sam3/bin/python", "setup_models.sh sam3")):
        assert var in text and script in text
    ignore = (DOCKER / "Dockerfile.dockerignore").read_text().split()
    assert ".venv-*" in ignore and "third_party/jazzy" in ignore
