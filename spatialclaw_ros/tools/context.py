"""What the kernel child hands the in-kernel tools: the query's frames and a line to the parent."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from spatialclaw_ros.frames.types import CameraModel

# call_parent(name, payload) -> reply. Used for tools that need the GPU (perception service) or the
# VLM; the parent answers over the kernel channel. Arrays in payloads/replies travel through
# shared memory, never pickled through the pipe.
ParentCall = Callable[[str, dict], Any]


@dataclass
class KernelContext:
    """The query's keyframes, as read-only numpy views over shared memory, and its metadata."""

    images: list[np.ndarray]                  # (H, W, 3) uint8 RGB
    depths: list[np.ndarray | None]           # (H, W) float32 metres, NaN invalid
    labels: list[np.ndarray | None]           # (H, W) int32 instance ids (simulation)
    cameras: list[CameraModel]
    poses: list[np.ndarray | None]            # T_fixed_camera, 4x4, or None
    stamps_ns: list[int]
    fixed_frame: str
    metadata: dict[str, Any] = field(default_factory=dict)
    call_parent: ParentCall | None = None
    scratch_dir: str = ""
    # Added for tools.Geometry's robot frame (REP-103 base: x forward, y left, z up): the base frame id
    # and T_fixed_base (4x4) looked up at each keyframe's stamp, or None. Empty: no robot frame known.
    base_frame: str = ""
    base_poses: list[np.ndarray | None] = field(default_factory=list)
