"""A chat conversation in OpenAI message form, with the trimming a context budget needs."""
from __future__ import annotations

import base64
import copy
import io
from dataclasses import dataclass, field
from typing import Any

import numpy as np

IMAGE_DROPPED_NOTE = "[image removed to fit the context budget]"
OUTPUT_DROPPED_NOTE = "[older output shortened to fit the context budget]"


MAX_DECODE_PIXELS = 4096 * 4096   # encoded images (bytes) larger than this are refused, not decoded


def jpeg_data_url(image: np.ndarray | bytes, max_side: int = 640, quality: int = 85) -> str:
    """Encode an RGB uint8 array (or JPEG/PNG bytes) as a JPEG data URL, longest side <= max_side.

    Bytes are opened lazily: their header's size is checked against MAX_DECODE_PIXELS before any
    pixel is decoded (ValueError), and a JPEG that already fits is passed through undecoded.
    """
    from PIL import Image

    if isinstance(image, (bytes, bytearray)):
        import warnings

        with warnings.catch_warnings():       # the size is checked below, before decoding
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(bytes(image)))
        if img.size[0] * img.size[1] > MAX_DECODE_PIXELS:
            raise ValueError(f"image of {img.size[0]}x{img.size[1]} pixels refused (more than "
                             f"{MAX_DECODE_PIXELS}); it was not decoded")
        if img.format == "JPEG" and max(img.size) <= max_side:
            return "data:image/jpeg;base64," + base64.b64encode(bytes(image)).decode("ascii")
        img = img.convert("RGB")
    else:
        arr = np.asarray(image)
        if arr.ndim == 2:
            arr = np.repeat(arr[:, :, None], 3, axis=2)
        if arr.ndim != 3 or arr.shape[2] not in (3, 4):
            raise ValueError(f"image must be (H, W, 3) RGB, got shape {arr.shape}")
        if arr.dtype != np.uint8:
            arr = np.clip(arr, 0, 255).astype(np.uint8)
        img = Image.fromarray(np.ascontiguousarray(arr[:, :, :3]), "RGB")
    if max(img.size) > max_side > 0:
        scale = max_side / max(img.size)
        img = img.resize((max(1, round(img.size[0] * scale)), max(1, round(img.size[1] * scale))),
                         Image.BILINEAR)
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=quality)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


@dataclass
class Conversation:
    """The messages of one chat, in OpenAI form; the one place where a context budget trims them.

    Images are kept as ``image_url`` parts holding data URLs. ``drop_oldest_images`` and
    ``shorten_oldest_outputs`` replace old content with a short visible note, so the model knows
    something was there.
    """

    messages: list[dict[str, Any]] = field(default_factory=list)

    def add_system(self, text: str) -> None:
        """Append a system message."""
        self.messages.append({"role": "system", "content": text})

    def add_user(self, text: str, image_urls: list[str] | None = None) -> None:
        """Append a user message; images (data URLs) follow the text."""
        if not image_urls:
            self.messages.append({"role": "user", "content": text})
            return
        parts: list[dict[str, Any]] = [{"type": "text", "text": text}]
        parts += [{"type": "image_url", "image_url": {"url": u}} for u in image_urls]
        self.messages.append({"role": "user", "content": parts})

    def add_assistant(self, text: str | None, tool_calls: list[dict[str, Any]] | None = None) -> None:
        """Append the model's reply (text and/or OpenAI tool_calls)."""
        msg: dict[str, Any] = {"role": "assistant", "content": text or ""}
        if tool_calls:
            msg["tool_calls"] = tool_calls
        self.messages.append(msg)

    def add_tool_result(self, tool_call_id: str, text: str) -> None:
        """Append the result of one tool call (tool_call executor)."""
        self.messages.append({"role": "tool", "tool_call_id": tool_call_id, "content": text})

    def copy(self) -> "Conversation":
        """A deep copy (trimming one copy leaves the other intact)."""
        return Conversation(copy.deepcopy(self.messages))

    def image_count(self) -> int:
        """Number of images in the conversation."""
        return sum(1 for _, _, p in self._image_parts())

    def image_urls(self) -> list[str]:
        """Every image data URL, oldest first."""
        return [p["image_url"]["url"] for _, _, p in self._image_parts()]

    def _image_parts(self) -> list[tuple[int, int, dict[str, Any]]]:
        out = []
        for i, m in enumerate(self.messages):
            content = m.get("content")
            if isinstance(content, list):
                for j, p in enumerate(content):
                    if isinstance(p, dict) and p.get("type") == "image_url":
                        out.append((i, j, p))
        return out

    def drop_oldest_images(self, n: int = 1) -> int:
        """Replace the n oldest images with a text note; returns how many were dropped."""
        dropped = 0
        for i, j, _ in self._image_parts()[:max(0, n)]:
            self.messages[i]["content"][j] = {"type": "text", "text": IMAGE_DROPPED_NOTE}
            dropped += 1
        return dropped

    def shorten_oldest_outputs(self, keep_last: int = 2, max_chars: int = 400) -> int:
        """Cut user/tool texts older than the last ``keep_last`` ones to max_chars; returns the count."""
        idx = [i for i, m in enumerate(self.messages) if m["role"] in ("user", "tool")]
        shortened = 0
        for i in idx[1:max(1, len(idx) - keep_last)]:  # never the first (the question)
            m = self.messages[i]
            if isinstance(m["content"], str) and len(m["content"]) > max_chars:
                m["content"] = m["content"][:max_chars] + "\n" + OUTPUT_DROPPED_NOTE
                shortened += 1
            elif isinstance(m["content"], list):
                for p in m["content"]:
                    if p.get("type") == "text" and len(p["text"]) > max_chars:
                        p["text"] = p["text"][:max_chars] + "\n" + OUTPUT_DROPPED_NOTE
                        shortened += 1
        return shortened

    def trim_for_context(self) -> bool:
        """Make the conversation smaller by one notch (oldest image first); False if nothing left."""
        if self.drop_oldest_images(1):
            return True
        return self.shorten_oldest_outputs() > 0

    def text_chars(self) -> int:
        """Characters of text in the conversation (a rough size measure)."""
        n = 0
        for m in self.messages:
            c = m.get("content")
            if isinstance(c, str):
                n += len(c)
            elif isinstance(c, list):
                n += sum(len(p.get("text", "")) for p in c if isinstance(p, dict))
        return n
