"""The cameras a query sees: names and topics from ``cameras.spec`` (or the one camera of ``topics.*``).

A ROS parameter cannot hold a list of mappings, so ``cameras.spec`` is a JSON string:
``[{"name": "head", "color": ..., "depth": ..., "camera_info": ..., "labels": ..., "image_model": ...}]``.
An empty spec means the single camera named ``"camera"`` built from ``topics.*`` — exactly the
single-camera behaviour. ``group_moments`` groups frames of different cameras taken at nearly the
same time ("at the same moment").
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Sequence

from spatialclaw_ros.config import Config, ConfigError

DEFAULT_CAMERA = "camera"
IMAGE_MODELS = ("auto", "rectified", "raw")
_KEYS = ("name", "color", "depth", "camera_info", "labels", "image_model")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


@dataclass(frozen=True)
class CameraSpec:
    """One camera: its name and topics ("" depth = a colour-only camera)."""

    name: str
    color: str
    depth: str = ""
    camera_info: str = ""
    labels: str = ""
    image_model: str = "auto"     # auto | rectified (use P) | raw (undistort with D, K)

    @property
    def has_depth(self) -> bool:
        """Whether the camera publishes a depth image."""
        return bool(self.depth)


def default_camera(cfg: Config) -> CameraSpec:
    """The single camera of ``topics.*`` (name "camera")."""
    t = cfg.topics
    return CameraSpec(DEFAULT_CAMERA, t.color, t.depth, t.camera_info, t.labels, t.image_model)


def camera_specs(cfg: Config) -> list[CameraSpec]:
    """The configured cameras (ConfigError naming the problem when ``cameras.spec`` is bad)."""
    raw = (cfg.cameras.spec or "").strip()
    if not raw:
        return [default_camera(cfg)]
    try:
        doc = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"parameter 'cameras.spec' is not valid JSON ({exc}); expected a list "
                          'like [{"name": "head", "color": "/head/color/image_raw", ...}]') from None
    if not isinstance(doc, list) or not doc:
        raise ConfigError("parameter 'cameras.spec' must be a non-empty JSON list of camera objects "
                          '(or "" for the one camera of topics.*)')
    out: list[CameraSpec] = []
    for k, item in enumerate(doc):
        out.append(_one(k, item))
    names = [c.name for c in out]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ConfigError(f"parameter 'cameras.spec': camera names must be unique, repeated: {dup}")
    return out


def _one(k: int, item: Any) -> CameraSpec:
    where = f"parameter 'cameras.spec' entry {k}"
    if not isinstance(item, dict):
        raise ConfigError(f"{where} must be an object with keys {', '.join(_KEYS)}")
    extra = sorted(set(item) - set(_KEYS))
    if extra:
        raise ConfigError(f"{where} has unknown keys {extra}; allowed: {', '.join(_KEYS)}")
    vals = {key: item.get(key, "") for key in _KEYS}
    for key, v in vals.items():
        if not isinstance(v, str):
            raise ConfigError(f"{where}: '{key}' must be a string, got {v!r}")
    if not _NAME.match(vals["name"]):
        raise ConfigError(f"{where}: 'name' must be an identifier (letters, digits, _), got "
                          f"{vals['name']!r}")
    if not vals["color"]:
        raise ConfigError(f"{where} ({vals['name']}): 'color' topic is required")
    model = vals["image_model"] or "auto"
    if model not in IMAGE_MODELS:
        raise ConfigError(f"{where} ({vals['name']}): 'image_model' must be one of "
                          f"{', '.join(IMAGE_MODELS)}, got {model!r}")
    return CameraSpec(vals["name"], vals["color"], vals["depth"], vals["camera_info"],
                      vals["labels"], model)


def specs_to_json(specs: Sequence[CameraSpec]) -> str:
    """The ``cameras.spec`` string for these cameras."""
    return json.dumps([{k: getattr(c, k) for k in _KEYS} for c in specs])


def group_moments(stamps_ns: Sequence[int], cameras: Sequence[str],
                  tolerance_ns: int) -> list[int]:
    """Moment index per frame: frames of different cameras within ``tolerance_ns`` share one.

    Frames are taken in stamp order; a frame joins the current moment when it is within the
    tolerance of the moment's first frame and its camera is not in the moment yet.
    """
    order = sorted(range(len(stamps_ns)), key=lambda i: (int(stamps_ns[i]), str(cameras[i])))
    out = [0] * len(stamps_ns)
    moment, first, seen = -1, 0, set()
    for i in order:
        s = int(stamps_ns[i])
        if moment < 0 or s - first > tolerance_ns or cameras[i] in seen:
            moment, first, seen = moment + 1, s, set()
        seen.add(cameras[i])
        out[i] = moment
    return out
