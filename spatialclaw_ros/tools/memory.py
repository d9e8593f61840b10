"""tools.Memory: search what the robot saw minutes or hours ago, and load those keyframes into the query."""
from __future__ import annotations

from typing import Any

import numpy as np

from spatialclaw_ros.frames.types import CameraModel
from spatialclaw_ros.tools.base import Tool
from spatialclaw_ros.tools.context import KernelContext

NS = 1_000_000_000


class MemoryTool(Tool):
    """The robot's long-term memory: keyframes kept on disk over hours, searched by time, place and content.

    Results are references (dicts): `id`, `stamp_ns`, `t_s` (absolute seconds), `ago_s` (seconds
    before the memory's latest stamp), `position` [x, y, z] of the camera and `yaw_deg` in `frame`,
    `correction` (the map correction used, or None), `tags` (object names seen). `load(refs)` appends
    the keyframes to InputImages (after the live ones, so not sorted by time) and returns their indices:
    every tool then works on them as on live keyframes. Only available when the query has a memory
    (`Metadata['memory']` is set); otherwise each call raises an error that says so.
    """

    doc_name = "Memory"

    def __init__(self, ctx: KernelContext) -> None:
        self._ctx = ctx

    def _call(self, name: str, payload: dict) -> Any:
        if self._ctx.call_parent is None or not self._ctx.metadata.get("memory"):
            raise RuntimeError("this query has no memory (Metadata['memory'] is empty): answer from InputImages")
        return self._ctx.call_parent(name, payload)

    def info(self) -> dict:
        """Keyframe count, first/last stamps, span, answer `frame` and `correction`, robot position, object names.

        Example: `m = tools.Memory.info(); print(m['span_s'], m['frame'], m['objects'])`
        """
        return dict(self._call("memory.info", {}))

    def ago_s(self, minutes: float = 0.0, seconds: float = 0.0) -> float:
        """Absolute time (s) that lies `minutes` + `seconds` before the memory's latest stamp.

        Example: `t = tools.Memory.ago_s(minutes=10)  # "10 minutes ago"`
        """
        latest = int(self.info()["latest_ns"])
        return (latest - int(round((float(minutes) * 60.0 + float(seconds)) * 1e9))) / 1e9

    def search(self, start_s: float | None = None, end_s: float | None = None, near: Any = None,
               radius_m: float = 2.0, here: bool = False, tags: list[str] | None = None, text: str | None = None,
               limit: int = 16, order: str = "time") -> list[dict]:
        """Keyframe refs matching all criteria: time range (absolute s), near a point [x, y(, z)] or `here`
        (the robot's latest position) within radius_m in the memory frame, object `tags` (names), free `text`.

        order: "time" (oldest first), "newest", or "distance" (with near/here; each ref gets `distance_m`).
        Example: `refs = tools.Memory.search(tags=["red mug"], order="newest", limit=1)`
        """
        payload: dict[str, Any] = {"limit": int(limit), "order": str(order)}
        if start_s is not None:
            payload["start_ns"] = int(round(float(start_s) * 1e9))
        if end_s is not None:
            payload["end_ns"] = int(round(float(end_s) * 1e9))
        if here:
            pos = self.info().get("robot_position")
            if pos is None:
                raise ValueError("the memory has no robot position yet; pass near=[x, y] instead")
            near = pos
        if near is not None:
            payload["near"] = [float(v) for v in np.asarray(near, float).ravel()]
            payload["radius_m"] = float(radius_m)
        if tags is not None:
            payload["tags"] = [str(t) for t in ([tags] if isinstance(tags, str) else tags)]
        if text is not None:
            payload["text"] = str(text)
        return list(self._call("memory.search", payload)["refs"])

    def last_seen(self, name: str, before_s: float | None = None) -> dict | None:
        """The newest keyframe ref that shows the named object (at or before `before_s`), or None.

        Example: `r = tools.Memory.last_seen("keys"); i = tools.Memory.load([r])[0]`
        """
        refs = self.search(end_s=before_s, tags=[name], order="newest", limit=1)
        return refs[0] if refs else None

    def load(self, refs: list) -> list[int]:
        """Bring keyframes (refs or ids) into this query; returns their InputImages indices (same order).

        Example: `idx = tools.Memory.load(refs[:4]); seg = tools.SAM3.segment(idx[0], text="mug")`
        """
        ids = [int(r["id"]) if isinstance(r, dict) else int(r) for r in (refs if isinstance(refs, list) else [refs])]
        reply = self._call("memory.load", {"ids": ids, "have": len(self._ctx.images)})
        ctx = self._ctx
        for f in reply.get("frames") or []:
            c = f["camera"]
            ctx.images.append(f["rgb"])
            ctx.depths.append(f.get("depth"))
            ctx.labels.append(f.get("labels"))
            ctx.cameras.append(CameraModel(width=int(c["width"]), height=int(c["height"]),
                                           K=np.asarray(c["K"], float).reshape(3, 3),
                                           D=np.asarray(c.get("D", []), float),
                                           distortion_model=c.get("distortion_model", "plumb_bob"),
                                           frame_id=c.get("frame_id", "")))
            T, Tb = f.get("T_fixed_camera"), f.get("T_fixed_base")
            ctx.poses.append(None if T is None else np.asarray(T, float).reshape(4, 4))
            ctx.base_poses.append(None if Tb is None else np.asarray(Tb, float).reshape(4, 4))
            ctx.stamps_ns.append(int(f["stamp_ns"]))
            md = ctx.metadata
            for key, val in (("stamps_ns", int(f["stamp_ns"])), ("has_depth", f.get("depth") is not None),
                             ("has_labels", f.get("labels") is not None), ("has_pose", T is not None),
                             ("camera_frame_ids", c.get("frame_id", ""))):
                if isinstance(md.get(key), list):
                    md[key].append(val)
            if isinstance(md.get("has_base_pose"), list):
                md["has_base_pose"].append(Tb is not None)
            if isinstance(md.get("times_s"), list) and ctx.stamps_ns:
                md["times_s"].append(round((int(f["stamp_ns"]) - int(ctx.stamps_ns[0])) * 1e-9, 3))
            if isinstance(md.get("cameras"), list):
                K = np.asarray(c["K"], float).reshape(3, 3)
                md["cameras"].append({"frame_id": c.get("frame_id", ""), "width": int(c["width"]),
                                      "height": int(c["height"]), "fx": float(K[0, 0]), "fy": float(K[1, 1]),
                                      "cx": float(K[0, 2]), "cy": float(K[1, 2]), "K": K.tolist(),
                                      "distortion_model": c.get("distortion_model", "plumb_bob")})
            md["num_frames"] = len(ctx.images)
        return [int(i) for i in reply["indices"]]

    def motion(self, start_s: float, end_s: float) -> dict:
        """Robot motion between two absolute times from the stored trajectory: `path_length_m`,
        `total_turn_deg`, `net_displacement_m`, `start`/`end` poses, `frame`, `correction`.

        Example: `tools.Memory.motion(t0, t1)['path_length_m']`
        """
        return dict(self._call("memory.motion", {"start_ns": int(round(float(start_s) * 1e9)),
                                                 "end_ns": int(round(float(end_s) * 1e9))}))

    def pose_at(self, t_s: float) -> dict:
        """Where the robot base was at absolute time t_s: `position` [x, y, z], `yaw_deg`, `frame`, `correction`.

        Example: `tools.Memory.pose_at(tools.Memory.ago_s(minutes=1))["position"]`
        """
        return dict(self._call("memory.pose_at", {"stamp_ns": int(round(float(t_s) * 1e9))}))
