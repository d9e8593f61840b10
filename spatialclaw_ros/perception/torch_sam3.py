"""SAM 3 image model on torch (the optional .venv-sam3 runtime), with CPU compatibility shims.

The sam3 package assumes CUDA in several places; on a CPU-only host these shims make the image
model build and run (the video predictor stays CUDA-only: across keyframes, each frame is prompted
and masks are associated by 3D overlap in the kernel tools):
- PositionEmbeddingSine precomputes its cache on "cuda": force the lazy path (precompute_resolution=None);
- TransformerDecoder._get_coords is called with device="cuda": map it to the CPU;
- geometry_encoders pins memory (needs an accelerator): make pin_memory a no-op without CUDA;
- random-weight builds only (TESTS ONLY): two text-encoder parameters are created with torch.empty and
  only ever filled from a checkpoint; give them small random values so the model is finite.
One image encoding is kept per frame and reused for every prompt on that frame.
"""
from __future__ import annotations

import collections
import time
from typing import Any

import numpy as np

from spatialclaw_ros.errors import PerceptionError

RESOLUTION = 1008   # fixed: the ViT's RoPE table is 72x72 patches


def apply_cpu_shims() -> None:
    """Patch the hard-coded CUDA uses of the sam3 image model (idempotent; no-op with CUDA)."""
    import torch
    if torch.cuda.is_available():
        return
    import sam3.model.decoder as dec
    import sam3.model.position_encoding as pe
    if getattr(pe.PositionEmbeddingSine.__init__, "_spatialclaw", False):
        return
    orig_init = pe.PositionEmbeddingSine.__init__

    def init(self: Any, *a: Any, **k: Any) -> None:
        k["precompute_resolution"] = None
        orig_init(self, *a, **k)
    init._spatialclaw = True  # type: ignore[attr-defined]
    pe.PositionEmbeddingSine.__init__ = init
    orig_coords = dec.TransformerDecoder._get_coords
    dec.TransformerDecoder._get_coords = staticmethod(
        lambda h, w, device: orig_coords(h, w, "cpu" if str(device).startswith("cuda") else device))
    torch.Tensor.pin_memory = lambda self, *a, **k: self  # type: ignore[assignment]


class TorchSam3Backend:
    """SAM 3 image model: encode a frame once, then answer text and box prompts on it."""

    name = "torch"

    def __init__(self, bpe_path: str, checkpoint: str = "", random_weights: bool = False,
                 confidence: float = 0.5, cache_frames: int = 4, threads: int = 0) -> None:
        import torch
        if threads:
            torch.set_num_threads(threads)
        if not checkpoint and not random_weights:
            raise PerceptionError("SAM 3 needs a local checkpoint (sam3.pt; never downloaded); "
                                  "--random-weights is for tests only")
        apply_cpu_shims()
        from sam3.model.sam3_image_processor import Sam3Processor
        from sam3.model_builder import build_sam3_image_model
        self._torch = torch
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        torch.manual_seed(0)
        self.model = build_sam3_image_model(bpe_path=bpe_path, device=self.device, eval_mode=True,
                                            checkpoint_path=checkpoint or None, load_from_HF=False)
        if random_weights:
            for n, p in self.model.named_parameters():
                if n.endswith(("positional_embedding", "text_projection")):
                    torch.nn.init.normal_(p, std=0.02)
        self.random_weights = random_weights
        self.proc = Sam3Processor(self.model, resolution=RESOLUTION, device=self.device,
                                  confidence_threshold=confidence)
        self._states: collections.OrderedDict[str, dict] = collections.OrderedDict()
        self._cache_frames = cache_frames

    def _state(self, key: str, image: np.ndarray) -> tuple[dict, float]:
        if key in self._states:
            self._states.move_to_end(key)
            st = self._states[key]
            self.proc.reset_all_prompts(st)
            return st, 0.0
        t0 = time.perf_counter()
        from PIL import Image  # sam3 reads (H, W) from a PIL image; its ndarray path expects CHW and HWC at once
        st = self.proc.set_image(Image.fromarray(np.ascontiguousarray(image)))
        self._states[key] = st
        while len(self._states) > self._cache_frames:
            self._states.popitem(last=False)
        return st, (time.perf_counter() - t0) * 1000

    def segment(self, key: str, image: np.ndarray, text: str | None, box: list[float] | None,
                points: Any = None) -> tuple[dict[str, np.ndarray], dict[str, float]]:
        """Masks (N, H, W) bool, scores (N,), boxes (N, 4) xyxy px for one prompt; and timings."""
        if points is not None:
            raise PerceptionError("SAM 3 point prompts need the interactive predictor, which this runtime does not "
                                  "load; give a box around the point instead")
        st, encode_ms = self._state(key, image)
        t0 = time.perf_counter()
        h, w = image.shape[:2]
        if text:
            st = self.proc.set_text_prompt(prompt=text, state=st)
        if box is not None:
            u0, v0, u1, v1 = (float(b) for b in box)
            st = self.proc.add_geometric_prompt(
                box=[(u0 + u1) / 2 / w, (v0 + v1) / 2 / h, (u1 - u0) / w, (v1 - v0) / h], label=True, state=st)
        masks = st["masks"].detach().to("cpu").numpy().astype(bool).reshape(-1, h, w)
        scores = st["scores"].detach().float().to("cpu").numpy().reshape(-1)
        boxes = st["boxes"].detach().float().to("cpu").numpy().reshape(-1, 4)
        return ({"masks": masks, "scores": scores.astype(np.float32), "boxes": boxes.astype(np.float32)},
                {"encode_ms": encode_ms, "prompt_ms": (time.perf_counter() - t0) * 1000,
                 "encoding_reused": float(encode_ms == 0.0)})
