"""Compatibility shims for the torch tool chain in .venv-models (never imported by the node's runtime).

PyPI's torchvision is built against CUDA; beside the CPU build of torch it fails at import with
``operator torchvision::nms does not exist`` (raised by ``torchvision/_meta_registrations.py``).
Depth Anything 3 only needs ``torchvision.transforms``, so on such a host we register an empty
``torchvision._meta_registrations`` and import again. SAM 3 needs the real C++ ops: install torch
and torchvision as a matched pair for it (docs/perception.md).
"""
from __future__ import annotations

import sys
import types


def prepare_torchvision() -> str:
    """Make ``import torchvision`` work for DA3; returns "native", "shimmed" or "absent"."""
    try:
        import torchvision  # noqa: F401
        return "native"
    except ImportError:
        return "absent"
    except RuntimeError as exc:
        if "torchvision::" not in str(exc):
            raise
    for name in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
        del sys.modules[name]
    sys.modules["torchvision._meta_registrations"] = types.ModuleType("torchvision._meta_registrations")
    import torchvision  # noqa: F401,F811
    return "shimmed"


def cpu_bf16_autocast() -> None:
    """Let DA3's forward autocast in bf16 on a CPU-only host instead of its slow fp16 default."""
    import torch
    if not torch.cuda.is_available():
        torch.cuda.is_bf16_supported = lambda *a, **k: True  # type: ignore[assignment]
