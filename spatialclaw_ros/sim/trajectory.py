"""The robot's smooth path in odom and the camera mount (REP-103/105 frames), as 4x4 transforms.

Frames: ``odom`` -> ``base_link`` (the path, dynamic /tf) -> ``camera_link`` (x forward, y left,
z up; static) -> ``camera_color_optical_frame`` (x right, y down, z forward; static).
A MuJoCo camera looks along its -z with +y up: ``R_odom_mjcam = R_odom_optical @ diag(1, -1, -1)``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from transforms3d.euler import euler2mat

FIXED_FRAME = "odom"
BASE_FRAME = "base_link"
CAMERA_LINK = "camera_link"
OPTICAL_FRAME = "camera_color_optical_frame"

# camera_link -> optical frame: z_opt = x_link, x_opt = -y_link, y_opt = -z_link (REP-103).
R_LINK_OPTICAL = np.array([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])
# optical frame -> MuJoCo camera frame (flip y and z).
R_OPTICAL_MJCAM = np.diag([1.0, -1.0, -1.0])


def make_T(R: np.ndarray, t: np.ndarray | tuple[float, float, float]) -> np.ndarray:
    """A 4x4 homogeneous transform from a rotation and a translation."""
    T = np.eye(4)
    T[:3, :3] = R
    T[:3, 3] = t
    return T


@dataclass(frozen=True)
class CameraMount:
    """Where the camera sits on the robot: base_link -> camera_link."""

    xyz: tuple[float, float, float] = (0.10, 0.0, 1.10)
    pitch_deg: float = 20.0           # positive looks down (REP-103: rotation about +y)

    def T_base_link(self) -> np.ndarray:
        """base_link -> camera_link."""
        return make_T(euler2mat(0.0, math.radians(self.pitch_deg), 0.0, "sxyz"), self.xyz)

    @staticmethod
    def T_link_optical() -> np.ndarray:
        """camera_link -> camera_color_optical_frame."""
        return make_T(R_LINK_OPTICAL, (0.0, 0.0, 0.0))

    def T_base_optical(self) -> np.ndarray:
        """base_link -> optical frame."""
        return self.T_base_link() @ self.T_link_optical()


@dataclass(frozen=True)
class BasePath:
    """A smooth planar path of base_link: eased progress s(t) along a gentle curve, yaw sweeping."""

    start_xy: tuple[float, float]
    end_xy: tuple[float, float]
    bulge_m: float                    # sideways bow of the curve at mid-path
    yaw_start_deg: float
    yaw_end_deg: float
    duration_s: float

    def progress(self, t: float) -> float:
        """Eased progress in [0, 1] (smoothstep: zero velocity at both ends)."""
        u = min(max(t / self.duration_s, 0.0), 1.0) if self.duration_s > 0 else 1.0
        return u * u * (3.0 - 2.0 * u)

    def pose(self, t: float) -> tuple[float, float, float]:
        """(x, y, yaw_rad) of base_link in odom at time t seconds from the start."""
        s = self.progress(t)
        p0, p1 = np.array(self.start_xy), np.array(self.end_xy)
        d = p1 - p0
        n = np.array([d[1], -d[0]]) / (np.linalg.norm(d) or 1.0)
        p = p0 + s * d + n * self.bulge_m * math.sin(math.pi * s)
        yaw = math.radians(self.yaw_start_deg + s * (self.yaw_end_deg - self.yaw_start_deg))
        return float(p[0]), float(p[1]), yaw

    def T_odom_base(self, t: float) -> np.ndarray:
        """odom -> base_link at time t."""
        x, y, yaw = self.pose(t)
        return make_T(euler2mat(0.0, 0.0, yaw, "sxyz"), (x, y, 0.0))


def sample_path(rng: np.random.Generator, duration_s: float) -> BasePath:
    """A path in front of the furniture that keeps the scene in view."""
    y0 = rng.uniform(-1.0, -0.6)
    y1 = rng.uniform(0.6, 1.0)
    x0 = rng.uniform(-0.3, 0.0)
    x1 = rng.uniform(-0.1, 0.2)
    return BasePath(start_xy=(round(x0, 4), round(y0, 4)), end_xy=(round(x1, 4), round(y1, 4)),
                    bulge_m=round(float(rng.uniform(-0.25, 0.25)), 4),
                    yaw_start_deg=round(float(rng.uniform(18, 30)), 3),
                    yaw_end_deg=round(float(rng.uniform(-30, -18)), 3), duration_s=duration_s)


def mujoco_camera_pose(T_odom_optical: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Position and wxyz quaternion of the MuJoCo camera body for an optical-frame pose in odom."""
    from transforms3d.quaternions import mat2quat

    R = T_odom_optical[:3, :3] @ R_OPTICAL_MJCAM
    return T_odom_optical[:3, 3].copy(), mat2quat(R)


def intrinsics(width: int, height: int, fovy_deg: float) -> np.ndarray:
    """K of MuJoCo's pinhole (square pixels, vertical fov), pixel centres at integer coordinates."""
    f = (height / 2.0) / math.tan(math.radians(fovy_deg) / 2.0)
    return np.array([[f, 0.0, (width - 1) / 2.0], [0.0, f, (height - 1) / 2.0], [0.0, 0.0, 1.0]])
