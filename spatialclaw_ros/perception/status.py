"""Whether the perception models are set up (without starting them), and what to do if not."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from spatialclaw_ros.config import Config
from spatialclaw_ros.perception import engines


@dataclass
class ModelStatus:
    """One model: usable or not; how it would run, or what is missing and how to get it."""

    name: str
    available: bool
    detail: str = ""          # how it runs when available
    missing: str = ""         # what is missing and the command/path that fixes it

    def to_dict(self) -> dict[str, object]:
        """JSON-friendly dict."""
        return {"name": self.name, "available": self.available, "detail": self.detail,
                "missing": self.missing}


def da3_status(cfg: Config, *, engine_dir: str | None = None,
               runtime: str | None = None) -> ModelStatus:
    """Depth Anything 3: an export (manifest.json) of perception.da3_model (or the metric model) under engine_dir."""
    model, runtime = cfg.perception.da3_model, runtime or cfg.perception.runtime
    root = engine_dir or cfg.perception.engine_dir
    d = engines.model_dir(root, model)
    if (d / engines.MANIFEST).is_file():
        return ModelStatus("da3", True, f"{model}, {runtime}, {d}")
    from spatialclaw_ros.perception.da3 import METRIC_MODEL

    m = engines.model_dir(root, METRIC_MODEL)
    if (m / engines.MANIFEST).is_file():
        return ModelStatus("da3", True, f"{METRIC_MODEL}, {runtime}, {m}")
    return ModelStatus(
        "da3", False, missing=(
            f"Depth Anything 3 is not set up: no export of {model} in {d}; run `spatialclaw "
            f"build-engines --model {model} --checkpoint DIR` with a local checkpoint (weights are "
            "never downloaded), or give a depth topic (--depth-topic)"))


def sam3_status(cfg: Config, *, checkpoint: str | None = None,
                random_weights: bool = False) -> ModelStatus:
    """SAM 3: the .venv-sam3 interpreter and a checkpoint file (random weights: tests only)."""
    from spatialclaw_ros.perception.service import sam3_python

    py = sam3_python()
    ck = checkpoint or os.environ.get(
        "SPATIALCLAW_SAM3_CHECKPOINT",
        str(engines.model_dir(cfg.perception.engine_dir, "sam3") / "sam3.pt"))
    if random_weights and Path(py).exists():
        return ModelStatus("sam3", True, f"torch, {engines.RANDOM_WEIGHTS_LABEL}")
    if not Path(py).exists():
        return ModelStatus("sam3", False, missing=(
            f"SAM 3 is not available: its runtime interpreter {py} is missing (run `bash "
            f"scripts/setup_models.sh sam3`, ~5.5 GB) and it needs a checkpoint at {ck} (or "
            "SPATIALCLAW_SAM3_CHECKPOINT)"))
    if not Path(ck).is_file():
        return ModelStatus("sam3", False, missing=(
            f"SAM 3 checkpoint {ck} not found (never downloaded): put sam3.pt there or set "
            "SPATIALCLAW_SAM3_CHECKPOINT"))
    return ModelStatus("sam3", True, f"torch, {ck}")
