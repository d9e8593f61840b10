"""Offscreen MuJoCo rendering of RGB, metric depth and instance labels from an optical-frame pose."""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from spatialclaw_ros.sim.scene import CAMERA_BODY, CAMERA_NAME
from spatialclaw_ros.sim.trajectory import mujoco_camera_pose

GL_HELP = ("MuJoCo could not open an offscreen OpenGL context. On Debian/Ubuntu install the EGL "
           "stack (apt-get install -y libegl1 libegl-mesa0 libgl1-mesa-dri) and use MUJOCO_GL=egl "
           "(the default here), or install libosmesa6 and set MUJOCO_GL=osmesa.")


def _import_mujoco() -> Any:
    import mujoco  # MUJOCO_GL was defaulted to egl by spatialclaw_ros.sim

    return mujoco


def _gl_backend() -> str:
    from mujoco.rendering.classic import gl_context

    return str(getattr(gl_context, "_MUJOCO_GL", os.environ.get("MUJOCO_GL", "")))


@dataclass
class RenderedView:
    """One rendered view: RGB, depth along the optical axis (m, NaN where nothing), labels."""

    rgb: np.ndarray       # (H, W, 3) uint8
    depth: np.ndarray     # (H, W) float32 metres, z in the optical frame
    labels: np.ndarray    # (H, W) uint16 object ids, 0 = none (floor, walls, background)


class SceneRenderer:
    """Renders one compiled model from given camera poses (CPU offscreen GL: EGL or OSMesa)."""

    def __init__(self, model: Any, data: Any, width: int, height: int,
                 geom_to_label: np.ndarray) -> None:
        mujoco = _import_mujoco()
        self._mj = mujoco
        self.model, self.data = model, data
        try:
            self._renderer = mujoco.Renderer(model, height=height, width=width)
        except Exception as exc:  # noqa: BLE001 - GL failures come as many types
            backend = _gl_backend()
            hint = ""
            if backend not in ("egl", "osmesa"):
                hint = (f" mujoco was imported with MUJOCO_GL={backend!r} before spatialclaw_ros.sim "
                        "set it: import spatialclaw_ros.sim first or export MUJOCO_GL=egl.")
            raise RuntimeError(f"{GL_HELP}{hint} ({type(exc).__name__}: {exc})") from exc
        self._geom_to_label = geom_to_label
        self._mocap = int(model.body_mocapid[mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY,
                                                                 CAMERA_BODY)])
        self._cam = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_CAMERA, CAMERA_NAME)
        self.far_m = float(model.vis.map.zfar * model.stat.extent)

    def close(self) -> None:
        """Release the GL context."""
        self._renderer.close()

    def render(self, T_odom_optical: np.ndarray) -> RenderedView:
        """Render RGB, metric z-depth and labels with the optical frame at ``T_odom_optical``."""
        mj = self._mj
        pos, quat = mujoco_camera_pose(T_odom_optical)
        self.data.mocap_pos[self._mocap] = pos
        self.data.mocap_quat[self._mocap] = quat
        mj.mj_forward(self.model, self.data)
        r = self._renderer
        r.disable_depth_rendering()
        r.disable_segmentation_rendering()
        r.update_scene(self.data, camera=self._cam)
        rgb = r.render().copy()
        # MuJoCo's Renderer turns the (reversed-Z) depth buffer into metric distance along the
        # camera axis using znear/zfar * extent; pixels that hit nothing read as the far plane.
        r.enable_depth_rendering()
        r.update_scene(self.data, camera=self._cam)
        depth = r.render().astype(np.float32).copy()
        r.disable_depth_rendering()
        r.enable_segmentation_rendering()
        r.update_scene(self.data, camera=self._cam)
        seg = r.render().copy()
        r.disable_segmentation_rendering()
        objid, objtype = seg[..., 0], seg[..., 1]
        is_geom = (objtype == int(mj.mjtObj.mjOBJ_GEOM)) & (objid >= 0)
        labels = np.zeros(objid.shape, np.uint16)
        labels[is_geom] = self._geom_to_label[objid[is_geom]]
        depth[(depth >= self.far_m * 0.999) | ~np.isfinite(depth)] = np.nan
        return RenderedView(rgb=rgb, depth=depth, labels=labels)
