"""What an offline query (CLI `query`, `eval`) hands the agent besides frames: bag metadata, perception.

``offline_metadata`` turns a bag report into kernel Metadata (objects from the bag's label legend,
recording frames, the full-rate camera track, which models are set up); ``perception_for`` makes
the perception handlers exactly as the node does (the service starts models on first use).
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from spatialclaw_ros.config import Config


def offline_metadata(report: Any, bag: str | Path, cfg: Config) -> dict[str, Any]:
    """Metadata the kernel gets from the bag: objects (legend, else a sidecar), recording frames, perception.

    ``objects`` come from the bag's instance-label legend topic; a simulation sidecar
    ``<bag>.scene.json`` is read only when the bag has no legend. ``recording_stamps_ns`` lists
    every colour frame of the recording (Metadata['recording_index'] maps keyframes into it);
    ``camera_track`` is the full-rate TF camera path between the first and last keyframe;
    ``perception`` says which models are set up (and what is missing).
    """
    from spatialclaw_ros.perception.status import da3_status, sam3_status

    out: dict[str, Any] = {}
    if getattr(report, "objects", None):
        out["objects"] = [dict(o) for o in report.objects]
        out["objects_source"] = f"label legend {report.legend_topic}"
    else:
        side = _scene_metadata(str(bag))
        if side:
            out.update(side)
            out["objects_source"] = "sidecar " + str(Path(bag).name) + ".scene.json"
    stamps = list(getattr(report, "recording_stamps_ns", []) or [])
    if stamps:
        out["recording_stamps_ns"] = stamps
        out["recording_count"] = len(stamps)
    track = getattr(report, "camera_track", None)
    if track:
        out["camera_track"] = track
    cams = getattr(report, "cameras", None)          # bags/multicam.py: several cameras
    if cams:
        out["camera_mounts"] = {c["name"]: c.get("mount_frame", "") for c in cams}
        out["camera_topics"] = {c["name"]: {k: c.get(k, "") for k in ("color", "depth", "camera_info")}
                                for c in cams}
    if cfg.perception.segment_backend in ("labels", "sam3", "vlm"):
        out["segment_backend"] = cfg.perception.segment_backend   # what tools.SAM3 "auto" uses
    da3, sam3 = da3_status(cfg), sam3_status(cfg)
    out["perception"] = {"da3": da3.available, "sam3": sam3.available,
                         "missing": {m.name: m.missing for m in (da3, sam3) if not m.available}}
    return out


class perception_for:  # noqa: N801 - used as a context manager, reads like a function
    """Perception handlers for an offline query, made exactly as the node makes them.

    The PerceptionService starts its model workers on first use (DA3 per perception.runtime and
    engine_dir, SAM 3 from .venv-sam3), so a query that never calls them costs nothing.
    """

    def __init__(self, frames: list, cfg: Config) -> None:
        self.frames, self.cfg, self.service = frames, cfg, None

    def __enter__(self) -> dict[str, Any]:
        from spatialclaw_ros.perception.handlers import perception_handlers
        from spatialclaw_ros.perception.service import PerceptionService

        self.service = PerceptionService(self.cfg)
        return perception_handlers(self.frames, self.cfg, self.service)

    def __exit__(self, *exc: object) -> None:
        if self.service is not None:
            self.service.close()


def _scene_metadata(bag: str) -> dict[str, Any] | None:
    """Metadata['objects'] from a simulation sidecar ``<bag>.scene.json`` when there is one.

    Only used when the bag has no instance-label legend topic (an optional extra).
    """
    try:
        from spatialclaw_ros.eval.scenes import objects_metadata
        from spatialclaw_ros.sim.generate import load_scene, sidecar_path
    except ModuleNotFoundError:
        return None
    side = sidecar_path(Path(bag).expanduser())
    if not side.is_file():
        return None
    try:
        scene = load_scene(side)
    except (OSError, ValueError) as exc:
        print(f"spatialclaw: note: ignoring the scene sidecar {side}: {exc}", file=sys.stderr)
        return None
    print(f"spatialclaw: object names from {side}", file=sys.stderr)
    return {"objects": objects_metadata(scene)}
