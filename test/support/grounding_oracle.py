"""An oracle "VLM" that answers grounding prompts with the true boxes of the label images.

Used as a ``ScriptedVlmServer(default=GroundingOracle(...))`` reply: for each request it decodes
the image the client sent, finds the frame it is (nearest RGB at low resolution), reads the object
name from the grounding prompt ("Locate every <name> in the image. ..."), and answers Qwen2.5-VL
style JSON ``[{"bbox_2d": [x0, y0, x1, y1], "label": name}]`` in pixels of the image it received
(or 0..1000 normalised with ``coords="norm1000"``, as Qwen2-VL does). Boxes are the tight boxes of
each matching instance's label mask, so what is measured downstream is the box -> mask step.
"""
from __future__ import annotations

import io
import json
import re
import threading
from typing import Any

import numpy as np

from support.scripted_vlm import RecordedRequest, Reply

_PROMPT = re.compile(r"Locate every (.+?) in the image\.")


class GroundingOracle:
    """Callable reply: true boxes for grounding prompts; ``calls`` counts them."""

    def __init__(self, frames: list[Any], objects: list[dict[str, Any]], *,
                 coords: str = "pixels", min_px: int = 20) -> None:
        self.frames = frames
        self.objects = objects
        self.coords = coords
        self.min_px = min_px
        self.calls = 0
        self._lock = threading.Lock()
        self._thumbs = [self._thumb(f.rgb) for f in frames]

    @staticmethod
    def _thumb(rgb: np.ndarray) -> np.ndarray:
        from PIL import Image

        return np.asarray(Image.fromarray(rgb).resize((32, 24)), dtype=np.float32)

    def _ids(self, text: str) -> list[int]:
        words = set(re.split(r"[^a-z0-9]+", text.lower())) - {"", "the", "a", "an"}
        out = []
        for o in self.objects:
            vocab = set(re.split(r"[^a-z0-9]+", f"{o['name']} {o.get('class', '')} "
                                                f"{o.get('color', '')}".lower()))
            if o["name"].lower() == text.lower().strip() or (words and words <= vocab):
                out.append(int(o["id"]))
        return out

    def __call__(self, req: RecordedRequest) -> Reply:
        from PIL import Image

        m = _PROMPT.search(req.text())
        if m is None or not req.images:
            return Reply("[]")
        img = Image.open(io.BytesIO(req.images[-1])).convert("RGB")
        sw, sh = img.size
        thumb = np.asarray(img.resize((32, 24)), dtype=np.float32)
        k = int(np.argmin([np.abs(t - thumb).mean() for t in self._thumbs]))
        f = self.frames[k]
        h, w = f.labels.shape
        out = []
        for oid in self._ids(m.group(1)):
            mask = f.labels == oid
            if mask.sum() < self.min_px:
                continue
            rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
            x0, y0, x1, y1 = cols[0] * sw / w, rows[0] * sh / h, cols[-1] * sw / w, rows[-1] * sh / h
            if self.coords == "norm1000":
                x0, x1, y0, y1 = x0 / sw * 1000, x1 / sw * 1000, y0 / sh * 1000, y1 / sh * 1000
            out.append({"bbox_2d": [round(float(v), 1) for v in (x0, y0, x1, y1)],
                        "label": m.group(1)})
        with self._lock:
            self.calls += 1
        return Reply("```json\n" + json.dumps(out) + "\n```")
