"""Synthetic scenes with exact truth for the in-kernel tool tests."""
from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from tools_scene import OBJECTS, POSES, make_context, two_balls_scene

from spatialclaw_ros.tools import Toolbox, make_toolbox



@pytest.fixture(scope="module")
def scene() -> tuple[Any, list[dict[str, np.ndarray]]]:
    """(KernelContext, per-frame truth) of the two-balls scene, three keyframes 0.5 s apart."""
    return make_context(two_balls_scene(), POSES, objects=OBJECTS)


@pytest.fixture(scope="module")
def tb(scene: Any) -> Toolbox:
    """The toolbox over the two-balls scene."""
    return make_toolbox(scene[0])
