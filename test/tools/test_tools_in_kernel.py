"""The tools inside the real sandboxed kernel: read-only shared-memory frames, parent calls, results."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from tools_scene import OBJECTS, POSES, make_context, two_balls_scene

from spatialclaw_ros.config import SandboxConfig
from spatialclaw_ros.frames.types import Frame
from spatialclaw_ros.kernel import KernelPool


@pytest.fixture(scope="module")
def pool() -> Iterator[KernelPool]:
    """One warm sandboxed kernel."""
    p = KernelPool(SandboxConfig(mode="auto", memory_mb=2048, cpu_s=120), size=1)
    yield p
    p.close()


CELL = """
seg = tools.SAM3.segment(0, text="ball")
red = tools.Geometry.mask_points(0, seg.mask(seg.labels.index("red_ball")))
blue = tools.Geometry.mask_points(0, seg.mask(seg.labels.index("blue_ball")))
c = tools.Geometry.closest_points(red, blue)
sam = tools.SAM3.segment(1, text="red ball", backend="sam3")
moved = tools.Geometry.camera_travel(0, 2)
show(tools.Draw.masks(0, seg), title="balls")
try:
    InputImages[0][0, 0, 0] = 1
    wrote = True
except ValueError:
    wrote = False
print("wrote", wrote, "sam", len(sam), sam.scores.tolist())
ReturnAnswer(c.distance_m, unit="m")
"""


def test_tools_run_in_the_sandboxed_kernel(pool):
    ctx, truth = make_context(two_balls_scene(), POSES, objects=OBJECTS)
    frames = [Frame(stamp_ns=ctx.stamps_ns[i], rgb=ctx.images[i], camera=ctx.cameras[i], depth=ctx.depths[i],
                    labels=ctx.labels[i], fixed_frame="odom", T_fixed_camera=ctx.poses[i]) for i in range(3)]
    seen: list[dict[str, Any]] = []

    def segment(payload: dict[str, Any]) -> dict[str, Any]:
        seen.append(payload)
        m = truth[payload["frame_index"]]["labels"] == 2
        return {"masks": m[None], "scores": np.array([0.75]), "boxes": np.array([[0.0, 0.0, 1.0, 1.0]])}

    with pool.acquire(frames, {"objects": OBJECTS, "fixed_frame": "odom"},
                      handlers={"perception.segment": segment}) as k:
        res = k.run_cell(CELL, timeout_s=60)
    assert res.ok, res.error
    assert "wrote False" in res.stdout and "sam 1 [0.75]" in res.stdout
    assert seen and seen[0]["frame_index"] == 1 and seen[0]["text"] == "red ball"
    assert res.answer is not None and res.answer["unit"] == "m"
    assert abs(res.answer["value"] - 0.2) < 0.01
    assert len(res.images) == 1
    names = {v.name: v for v in res.variables}
    assert "Closest(distance_m=" in names["c"].repr and "CameraMotion(0->2" in names["moved"].repr
