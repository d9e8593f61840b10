"""tools.Reconstruct(backend="da3") in the real sandboxed kernel, answered by our handlers and service."""
from __future__ import annotations

from pathlib import Path

import pytest
from perception_fixtures import DA3_SCALE, NH, NW, VIEWS, da3_scene, install_contract_model

from spatialclaw_ros.config import Config, SandboxConfig
from spatialclaw_ros.kernel import KernelPool
from spatialclaw_ros.perception.handlers import perception_handlers
from spatialclaw_ros.perception.service import PerceptionService

CELL = """
recs = tools.Reconstruct.run([0, 1, 2], backend="da3")
print("depth", [round(float(r.depth.mean()), 4) for r in recs])
print("frames", sorted({r.frame for r in recs}), "backend", recs[0].backend)
print("random", any("RANDOM WEIGHTS" in n for n in recs[0].notes))
"""


def test_reconstruct_tool_through_kernel_handlers_and_service(engine_dir: Path) -> None:
    frames, _, extr, true_depth = da3_scene()
    install_contract_model(engine_dir, "da3-small", VIEWS, NH, NW, true_depth / DA3_SCALE, extr)
    cfg = Config()
    svc = PerceptionService(cfg, runtime="onnxruntime", engine_dir=str(engine_dir), threads=1, timeout_s=60)
    pool = KernelPool(SandboxConfig(mode="auto", memory_mb=2048, cpu_s=120), size=1)
    try:
        with pool.acquire(frames, {"fixed_frame": "odom"}, handlers=perception_handlers(frames, cfg, svc)) as k:
            res = k.run_cell(CELL, timeout_s=120)
        assert res.ok, res.error
        assert "depth [1.0, 1.5, 2.0]" in res.stdout
        assert "frames ['odom'] backend da3" in res.stdout and "random True" in res.stdout
        assert [c["name"] for c in res.parent_calls] == ["perception.reconstruct"]
    finally:
        pool.close()
        svc.close()


if __name__ == "__main__":  # pragma: no cover
    pytest.main([__file__])
