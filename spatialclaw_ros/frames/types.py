"""What a camera frame is, once it has left ROS: arrays, intrinsics, stamp and pose."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class CameraModel:
    """Pinhole intrinsics of one camera (sensor_msgs/CameraInfo, REP-104)."""

    width: int
    height: int
    K: np.ndarray                     # (3, 3) float64
    D: np.ndarray = field(default_factory=lambda: np.zeros(0))  # distortion coefficients
    distortion_model: str = "plumb_bob"
    frame_id: str = ""                # optical frame: x right, y down, z forward (REP-103)

    @property
    def fx(self) -> float:
        """Focal length in pixels along x."""
        return float(self.K[0, 0])

    @property
    def fy(self) -> float:
        """Focal length in pixels along y."""
        return float(self.K[1, 1])

    @property
    def cx(self) -> float:
        """Principal point x in pixels."""
        return float(self.K[0, 2])

    @property
    def cy(self) -> float:
        """Principal point y in pixels."""
        return float(self.K[1, 2])


@dataclass
class Frame:
    """One synchronised camera frame with the camera pose looked up at its stamp.

    Arrays follow one convention whatever the source: ``rgb`` is (H, W, 3) uint8 RGB; ``depth`` is
    (H, W) float32 metres with NaN for invalid pixels (16UC1 millimetres are converted on ingest);
    ``labels`` is (H, W) int32 instance ids (simulation only, 0 = background).
    ``T_fixed_camera`` maps points in the camera optical frame to the fixed frame (4x4), or is None
    when TF had no transform at the stamp. ``T_fixed_base`` maps points in the robot base frame
    (``base_frame``, REP-103: x forward, y left, z up) to the fixed frame (4x4) at the same stamp,
    or is None when no base frame is known or TF had no transform for it (not an error: only
    robot-frame tools need it).
    """

    stamp_ns: int
    rgb: np.ndarray
    camera: CameraModel
    depth: np.ndarray | None = None
    labels: np.ndarray | None = None
    fixed_frame: str = ""
    T_fixed_camera: np.ndarray | None = None
    source: str = ""                  # e.g. topic name or bag path
    T_fixed_base: np.ndarray | None = None
    recording_index: int = -1         # index among the recording's colour frames (bags); -1 unknown
    camera_name: str = "camera"       # which configured/discovered camera took it (cameras.spec)

    @property
    def stamp_s(self) -> float:
        """Stamp in seconds."""
        return self.stamp_ns * 1e-9

    @property
    def nbytes(self) -> int:
        """Memory held by the frame's arrays."""
        n = self.rgb.nbytes
        for a in (self.depth, self.labels):
            if a is not None:
                n += a.nbytes
        return n
