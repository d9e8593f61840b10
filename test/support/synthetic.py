"""Small synthetic RGB-D frames with known geometry, for tests that need no bag.

``make_frames(n)`` gives n 64x48 frames of a fronto-parallel wall at ``depth_m`` metres with a red
and a blue square on it; the camera moves along +x of the fixed frame by ``step_m`` per frame.
The ground truth (square centres in the fixed frame) is returned by ``square_centres()``.
"""
from __future__ import annotations

import numpy as np

from spatialclaw_ros.frames.types import CameraModel, Frame

W, H = 64, 48
FX = FY = 50.0
CX, CY = (W - 1) / 2.0, (H - 1) / 2.0
RED_UV = (16, 24)     # (u, v) centre of the red square in frame 0
BLUE_UV = (48, 24)


def camera() -> CameraModel:
    """The pinhole model of the synthetic camera."""
    K = np.array([[FX, 0.0, CX], [0.0, FY, CY], [0.0, 0.0, 1.0]])
    return CameraModel(width=W, height=H, K=K, frame_id="camera_color_optical_frame")


def make_frames(n: int = 2, *, depth_m: float = 2.0, step_m: float = 0.1,
                fixed_frame: str = "odom", t0_ns: int = 1_000_000_000,
                dt_ns: int = 500_000_000) -> list[Frame]:
    """n frames of a wall at depth_m with two coloured squares; camera translates along +x."""
    frames = []
    for i in range(n):
        rgb = np.full((H, W, 3), 200, np.uint8)
        shift = int(round(step_m * i * FX / depth_m))
        for (u, v), colour in ((RED_UV, (220, 30, 30)), (BLUE_UV, (30, 30, 220))):
            u0 = u - shift
            rgb[max(0, v - 4):v + 4, max(0, u0 - 4):max(0, u0 + 4)] = colour
        depth = np.full((H, W), depth_m, np.float32)
        depth[0, 0] = np.nan  # one invalid pixel, as real sensors have
        T = np.eye(4)
        T[0, 3] = step_m * i
        frames.append(Frame(stamp_ns=t0_ns + i * dt_ns, rgb=rgb, camera=camera(), depth=depth,
                            fixed_frame=fixed_frame, T_fixed_camera=T, source="synthetic"))
    return frames


def square_centres(depth_m: float = 2.0) -> dict[str, tuple[float, float, float]]:
    """Ground-truth centres of the squares in the fixed frame (camera 0 at the origin)."""
    out = {}
    for name, (u, v) in (("red", RED_UV), ("blue", BLUE_UV)):
        u_c, v_c = u - 0.5, v - 0.5   # the square covers u-4..u+3
        out[name] = ((u_c - CX) * depth_m / FX, (v_c - CY) * depth_m / FY, depth_m)
    return out
