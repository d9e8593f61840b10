"""The instance-label legend: which object each label value in the label images is.

Recorders publish it once (std_msgs/String, JSON, transient_local) next to the label images, e.g.
``/camera/instance_labels/legend``. ``parse_legend`` accepts the layouts seen in practice:

- ``{"objects": [{"id": 3, "name": "red mug", "class": "mug", "color": "red"}, ...]}``
- a bare list of such objects (``"label"``/``"instance_id"``/``"value"`` for the id,
  ``"label"``/``"category"`` for the name, ``"colour"`` for the colour are read too)
- ``{"3": "red mug", ...}`` or ``{"3": {"name": ..., "class": ...}, ...}``
"""
from __future__ import annotations

import json
from typing import Any

_ID_KEYS = ("id", "instance_id", "label_id", "value", "label")
_NAME_KEYS = ("name", "label", "instance_name", "category", "class")
_CLASS_KEYS = ("class", "category", "cls", "type")
_COLOR_KEYS = ("color", "colour")


class LegendError(ValueError):
    """The legend message is not JSON in a layout we can read."""


def _int(v: Any) -> int | None:
    if isinstance(v, bool):
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return int(f) if f == int(f) else None


def _entry(obj: dict[str, Any], fallback_id: Any = None) -> dict[str, Any] | None:
    oid = next((_int(obj[k]) for k in _ID_KEYS if k in obj and _int(obj[k]) is not None), None)
    if oid is None:
        oid = _int(fallback_id)
    name = next((str(obj[k]) for k in _NAME_KEYS if isinstance(obj.get(k), str) and obj[k].strip()), "")
    if oid is None or oid <= 0 or not name:
        return None
    cls = next((str(obj[k]) for k in _CLASS_KEYS if isinstance(obj.get(k), str)), "")
    color = next((str(obj[k]) for k in _COLOR_KEYS if isinstance(obj.get(k), str)), "")
    if not cls:
        cls = name.split()[-1]
    if not color and len(name.split()) > 1:
        color = name.split()[0]
    return {"id": oid, "name": name.strip(), "class": cls.strip(), "color": color.strip()}


def parse_legend(text: str) -> list[dict[str, Any]]:
    """Objects (id, name, class, color) of a legend message, sorted by id; LegendError if unreadable."""
    try:
        data = json.loads(text)
    except (TypeError, json.JSONDecodeError) as exc:
        raise LegendError(f"the legend is not JSON: {exc}") from None
    items: list[tuple[Any, Any]] = []
    if isinstance(data, dict):
        inner = next((data[k] for k in ("objects", "instances", "labels", "legend")
                      if isinstance(data.get(k), (list, dict))), None)
        if inner is None:
            inner = {k: v for k, v in data.items() if _int(k) is not None}
        data = inner
    if isinstance(data, dict):
        items = [(k, v) for k, v in data.items()]
    elif isinstance(data, list):
        items = [(None, v) for v in data]
    else:
        raise LegendError(f"the legend is a JSON {type(data).__name__}; expected objects")
    out: dict[int, dict[str, Any]] = {}
    for key, v in items:
        e = _entry({"name": v} if isinstance(v, str) else v, key) if isinstance(v, (str, dict)) else None
        if e is not None:
            out[e["id"]] = e
    if items and not out:
        raise LegendError("the legend has entries but none with an id > 0 and a name")
    return [out[k] for k in sorted(out)]
