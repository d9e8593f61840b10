"""Sandboxed subprocess kernel: pre-warmed pool, shared-memory frames, static check, OS sandbox.

Public API (docs/CONTRACTS.md): ``KernelPool``, ``KernelSession``, ``CellResult``,
``VariableSummary``, ``ShownImage``, ``check_code``, ``detect_sandbox_layers``, ``shared_empty``.
"""
from __future__ import annotations

import os as _os

# A colcon --symlink-install tree holds symlinks to the sources that existed at build time: look
# for the kernel's modules next to the real file as well, so new modules need no rebuild.
_real = _os.path.dirname(_os.path.realpath(__file__))
if _real not in __path__:
    __path__.append(_real)

from spatialclaw_ros.kernel.check import check_code
from spatialclaw_ros.kernel.pool import KernelPool
from spatialclaw_ros.kernel.sandbox import ALL_LAYERS, detect_sandbox_layers
from spatialclaw_ros.kernel.session import KernelSession
from spatialclaw_ros.kernel.shm import shared_empty
from spatialclaw_ros.kernel.types import CellResult, ShownImage, VariableSummary

__all__ = ["ALL_LAYERS", "CellResult", "KernelPool", "KernelSession", "ShownImage",
           "VariableSummary", "check_code", "detect_sandbox_layers", "shared_empty"]
