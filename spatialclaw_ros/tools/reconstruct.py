"""tools.Reconstruct: metric depth, intrinsics, camera pose and point maps per keyframe."""
from __future__ import annotations

from typing import Any

import numpy as np

from spatialclaw_ros.errors import NoValidDepthError, PerceptionError
from spatialclaw_ros.tools.base import Tool
from spatialclaw_ros.tools.context import KernelContext
from spatialclaw_ros.tools.results import Reconstruction

BACKENDS = ("auto", "sensor", "da3")


def check_frame_index(ctx: KernelContext, i: Any) -> int:
    """Return i as an int keyframe index, or raise an IndexError that says the valid range."""
    n = len(ctx.images)
    if isinstance(i, bool) or not isinstance(i, (int, np.integer)):
        raise TypeError(f"frame index must be an int in 0..{n - 1}, got {type(i).__name__} {i!r}")
    i = int(i)
    if i < 0:
        i += n
    if not 0 <= i < n:
        raise IndexError(f"frame index {i} out of range: this query has {n} keyframes (0..{n - 1})")
    return i


def transform_points(T: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Apply a 4x4 transform to (..., 3) points."""
    return pts @ T[:3, :3].T + T[:3, 3]


def perception_status(ctx: KernelContext) -> dict[str, Any]:
    """{"da3": bool, "sam3": bool, "missing": {model: what to do}} from Metadata['perception'].

    Without that entry (a caller that does not say), a line to the parent counts as available.
    """
    perc = ctx.metadata.get("perception") if isinstance(ctx.metadata, dict) else None
    line = ctx.call_parent is not None
    if not isinstance(perc, dict):
        return {"da3": line, "sam3": line, "missing": {}}
    return {"da3": line and bool(perc.get("da3")), "sam3": line and bool(perc.get("sam3")),
            "missing": dict(perc.get("missing") or {})}


class ReconstructTool(Tool):
    """Per-keyframe metric depth (metres), intrinsics K, camera pose and point maps.

    Backends: "sensor" uses the camera's depth image + CameraInfo + TF (exact where the sensor is);
    "da3" asks Depth Anything 3 in the perception service (for cameras without depth; its scale may be
    estimated: read `.notes`). "auto" (default) picks "sensor" when the frame has depth, else "da3".
    Results are cached, so calling again is free. Every result states `frame`, `units` ("m") and `backend`.
    Pixel (u, v) = (column, row); depth[v, u]; camera optical frame axes: x right, y down, z forward.
    """

    doc_name = "Reconstruct"

    def __init__(self, ctx: KernelContext) -> None:
        self._ctx = ctx
        self._cache: dict[tuple[int, str], Reconstruction] = {}

    def get(self, frame_index: int, backend: str = "auto") -> Reconstruction:
        """Reconstruct one keyframe; returns Reconstruction(depth (H,W) m, K, T_fixed_camera, points (H,W,3) in .frame, valid).

        Without a camera pose, `points` are in the camera optical frame and `.frame` says so.
        Example: `r = tools.Reconstruct.get(0); z = r.depth[80, 120]  # metres at pixel (u=120, v=80)`
        """
        i = check_frame_index(self._ctx, frame_index)
        name = self._resolve_backend(i, backend)
        key = (i, name)
        if key not in self._cache:
            if name == "sensor":
                self._cache[key] = self._sensor(i)
            else:
                self._run_da3([i])
        return self._cache[key]

    def run(self, frame_indices: list[int] | None = None, backend: str = "auto") -> list[Reconstruction]:
        """Reconstruct several keyframes (default: all) in one call; da3 sees them together (consistent scale).

        Example: `recs = tools.Reconstruct.run(); print(recs[0].frame, recs[0].backend)`
        """
        idx = list(range(len(self._ctx.images))) if frame_indices is None else \
            [check_frame_index(self._ctx, i) for i in frame_indices]
        todo_da3 = [i for i in idx if self._resolve_backend(i, backend) == "da3"
                    and (i, "da3") not in self._cache]
        if todo_da3:
            self._run_da3(todo_da3)
        return [self.get(i, backend) for i in idx]

    def available(self) -> dict[str, Any]:
        """Which frames have depth, pose and labels, and which perception models are set up.

        "da3" / "sam3": the model is set up in the perception service (False: "missing" says what
        to install); "vlm_grounding": tools.SAM3 backend="vlm" can find objects (needs depth).
        Example: `print(tools.Reconstruct.available())`
        """
        c = self._ctx
        perc = perception_status(c)
        return {
            "n_frames": len(c.images),
            "depth": [d is not None for d in c.depths],
            "pose": [p is not None for p in c.poses],
            "labels": [lab is not None for lab in c.labels],
            "fixed_frame": c.fixed_frame,
            "perception_service": c.call_parent is not None and (perc["da3"] or perc["sam3"]),
            "da3": perc["da3"],
            "sam3": perc["sam3"],
            "vlm_grounding": c.call_parent is not None and any(d is not None for d in c.depths),
            "missing": dict(perc["missing"]),
        }

    # -- backends ---------------------------------------------------------------------------------

    def _resolve_backend(self, i: int, backend: str) -> str:
        if backend not in BACKENDS:
            raise ValueError(f"unknown backend {backend!r}; use one of {BACKENDS}")
        if backend == "auto":
            return "sensor" if self._ctx.depths[i] is not None else "da3"
        return backend

    def _sensor(self, i: int) -> Reconstruction:
        c = self._ctx
        depth = c.depths[i]
        if depth is None:
            perc = perception_status(c)
            hint = ("use backend='da3' to estimate depth with Depth Anything 3" if perc["da3"] else
                    "and no depth model is set up (" + perc["missing"].get("da3", "Depth Anything 3 "
                    "is not available") + "): metric questions about it cannot be answered; end "
                    "with ReturnAnswer(None, reason='needs a depth model') if nothing else answers")
            raise NoValidDepthError(
                f"frame {i} has no depth image in this query (the camera or bag has no depth topic); "
                + hint)
        depth = np.asarray(depth, dtype=np.float32)
        cam = c.cameras[i]
        if depth.shape != (cam.height, cam.width) and cam.height and cam.width:
            raise ValueError(f"frame {i}: depth is {depth.shape[1]}x{depth.shape[0]} but CameraInfo says "
                             f"{cam.width}x{cam.height}; depth must be aligned to the colour image")
        valid = np.isfinite(depth) & (depth > 0)
        if not valid.any():
            raise NoValidDepthError(
                f"frame {i}: depth is NaN or zero at every pixel (no valid depth); try another frame "
                f"(tools.Reconstruct.available()) or backend='da3'")
        return self._build(i, depth, valid, np.asarray(cam.K, float), c.poses[i], "sensor", [])

    def _run_da3(self, idx: list[int]) -> None:
        c = self._ctx
        if c.call_parent is None:
            raise PerceptionError("backend 'da3' needs the perception service, which this kernel has no "
                                  "line to; use backend='sensor' on frames with depth")
        reply = c.call_parent("perception.reconstruct", {"frame_indices": list(idx), "backend": "da3"})
        if not isinstance(reply, dict) or "depth" not in reply:
            raise PerceptionError(f"perception.reconstruct returned an unexpected reply: {type(reply).__name__}")
        depths = reply["depth"]
        if len(depths) != len(idx):
            raise PerceptionError(f"perception.reconstruct returned {len(depths)} depth maps for {len(idx)} frames")
        poses = reply.get("T_fixed_camera") or [None] * len(idx)
        Ks = reply.get("K")
        notes = [str(n) for n in reply.get("notes", [])]
        world = str(reply.get("frame") or c.fixed_frame)        # the frame the da3 poses are in
        if "residual_m" in reply and reply["residual_m"] is not None:
            notes.append(f"pose residual {float(reply['residual_m']):.3f} m")
        for k, i in enumerate(idx):
            depth = np.asarray(depths[k], dtype=np.float32)
            valid = np.isfinite(depth) & (depth > 0)
            if Ks is None:
                K = np.asarray(c.cameras[i].K, float)
            else:
                Ka = np.asarray(Ks, float)
                K = Ka[k] if Ka.ndim == 3 else Ka
            T = poses[k] if k < len(poses) else None
            T = None if T is None else np.asarray(T, float)
            frame_notes = list(notes)
            if T is not None and world != c.fixed_frame:
                if c.poses[i] is not None:                   # TF knows better where the camera was
                    T = c.poses[i]
                else:
                    frame_notes.append(f"Depth Anything 3 poses are in {world!r}, not the fixed frame "
                                       f"{c.fixed_frame!r} (no TF): points are in {world!r}")
            if T is None and c.poses[i] is not None:
                T = c.poses[i]
            self._cache[(i, "da3")] = self._build(i, depth, valid, K, T, "da3", frame_notes,
                                                  world=world if T is not None and c.poses[i] is None else "")

    def _build(self, i: int, depth: np.ndarray, valid: np.ndarray, K: np.ndarray,
               T: np.ndarray | None, backend: str, notes: list[str], world: str = "") -> Reconstruction:
        c = self._ctx
        cam_frame = c.cameras[i].frame_id or "camera"
        d = np.where(valid, depth, np.nan).astype(np.float32)
        if T is not None:
            T = np.asarray(T, dtype=np.float64)
            frame = world or c.fixed_frame
        else:
            frame = cam_frame
            notes = notes + [f"no camera pose at this stamp: points are in the camera frame {cam_frame!r}, "
                             f"not in {c.fixed_frame!r}"]
        return Reconstruction(
            frame_index=i, stamp_ns=int(c.stamps_ns[i]), depth=d, valid=valid, K=K, T_fixed_camera=T, frame=frame,
            camera_frame=cam_frame, backend=backend, notes=notes)
