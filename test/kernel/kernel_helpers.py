"""Helpers shared by the kernel tests (a uniquely named module: test dirs are not packages)."""
from __future__ import annotations

import os
import socket
import threading

import numpy as np

from spatialclaw_ros.frames.types import CameraModel, Frame


def make_frames(n: int = 2, h: int = 48, w: int = 64) -> list[Frame]:
    """n small RGB-D frames with labels and poses; pixel values encode the frame index."""
    K = np.array([[50.0, 0, w / 2], [0, 50.0, h / 2], [0, 0, 1]])
    cam = CameraModel(width=w, height=h, K=K, frame_id="camera_color_optical_frame")
    frames = []
    for i in range(n):
        rgb = np.full((h, w, 3), 10 * i, np.uint8)
        rgb[0, 0] = (1, 2, 3)
        depth = np.full((h, w), 1.0 + i, np.float32)
        depth[0, 0] = np.nan
        labels = np.zeros((h, w), np.int32)
        labels[10:20, 10:20] = 7
        T = np.eye(4)
        T[0, 3] = 0.5 * i
        frames.append(Frame(stamp_ns=1_000_000_000 + i * 100_000_000, rgb=rgb, camera=cam,
                            depth=depth, labels=labels, fixed_frame="odom", T_fixed_camera=T))
    return frames


class Listener:
    """A TCP server on 127.0.0.1 that counts the connections it accepts."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self._stop = False
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self) -> None:
        while not self._stop:
            try:
                c, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            self.accepted += 1
            c.close()

    def close(self) -> None:
        self._stop = True
        self._t.join(2)
        self.sock.close()


def children_of(pid: int) -> list[int]:
    """Live process ids whose process group is pid (the kernel's group)."""
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            if int(fields[2]) == pid and fields[0] != "Z":
                out.append(int(name))
        except (OSError, IndexError, ValueError):
            pass
    return out
