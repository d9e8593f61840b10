"""Synthetic MuJoCo scenes written as rosbag2 MCAP bags with exact ground truth (`spatialclaw sim`).

MuJoCo picks its OpenGL backend when it is first imported, so the offscreen default (EGL, CPU Mesa
works) is set here, before anything in this package imports mujoco. Set MUJOCO_GL=osmesa to use
OSMesa instead.
"""
from __future__ import annotations

import os

os.environ.setdefault("MUJOCO_GL", "egl")
if os.environ["MUJOCO_GL"].lower() == "osmesa":
    os.environ.setdefault("PYOPENGL_PLATFORM", "osmesa")

# A colcon --symlink-install tree links only the modules that existed at build time: also look next
# to the real file, so modules added since need no rebuild.
_real = os.path.dirname(os.path.realpath(__file__))
if _real not in __path__:
    __path__.append(_real)
