"""SAM 3: the client-side BPE tokenizer, and one slow smoke test of the torch runtime (random weights).

Tokenizer tests need the CLIP vocabulary from the MIT open-clip-torch wheel (in .venv-models: marker
`models`). The smoke test needs .venv-sam3 (marker `sam3`; ~5.5 GB install, ~5 GB RAM, minutes on 2 cores).
"""
from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from spatialclaw_ros.bags.reader import load_bag
from spatialclaw_ros.config import Config
from spatialclaw_ros.perception import engines
from spatialclaw_ros.perception.bpe import ClipBpeTokenizer
from spatialclaw_ros.perception.handlers import perception_handlers
from spatialclaw_ros.perception.service import _FIND_VOCAB, REPO_ROOT, PerceptionService, models_python, sam3_python

# Ids from sam3 0.1.4's own tokenizer (sam3.model.tokenizer_ve.SimpleTokenizer, context 32).
GOLDEN = {"a chair": [49406, 320, 4269, 49407], "the red mug": [49406, 518, 736, 9722, 49407],
          "Laptop's left edge!!": [49406, 10464, 568, 1823, 5461, 748, 49407],
          "3 cups & 2 plates": [49406, 274, 11463, 261, 273, 11485, 49407],
          "  multiple   spaces\tand TABS ": [49406, 6470, 9006, 537, 29163, 49407]}


def _vocab(python: str) -> Path:
    out = subprocess.run([python, "-c", _FIND_VOCAB], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return Path(out.stdout.strip())


@pytest.mark.models
def test_tokenizer_matches_sam3_ids() -> None:
    tok = ClipBpeTokenizer(_vocab(models_python()))
    ids = tok(list(GOLDEN))
    assert ids.shape == (len(GOLDEN), 32) and ids.dtype == np.int64
    for row, want in zip(ids, GOLDEN.values()):
        assert row[:len(want)].tolist() == want and not row[len(want):].any()
    long = tok("word " * 100)[0]
    assert long[0] == tok.sot and long[-1] == tok.eot and (long != 0).all()     # truncated, <end> kept


def test_tokenizer_rejects_a_wrong_vocabulary(tmp_path: Path) -> None:
    import gzip
    bad = tmp_path / "v.txt.gz"
    bad.write_bytes(gzip.compress(b"header\na b\n"))
    with pytest.raises(ValueError, match="not the CLIP BPE vocabulary"):
        ClipBpeTokenizer(bad)


@pytest.mark.sam3
@pytest.mark.slow
def test_sam3_torch_smoke_text_and_box_reuse_one_encoding() -> None:
    assert Path(sam3_python()).exists(), "run `bash scripts/setup_models.sh sam3` first"
    frames = load_bag(REPO_ROOT / "test" / "data" / "sim_a", Config(), max_frames=2).frames
    cfg = Config()
    svc = PerceptionService(cfg, sam3_random_weights=True, sam3_confidence=0.0, threads=2, timeout_s=900)
    try:
        seg = perception_handlers(frames, cfg, svc)["perception.segment"]
        r1 = seg({"frame_index": 0, "text": "a chair", "backend": "sam3"})
        h, w = frames[0].rgb.shape[:2]
        assert r1["masks"].dtype == bool and r1["masks"].shape[1:] == (h, w) and len(r1["masks"]) > 0
        assert r1["scores"].shape == (len(r1["masks"]),) and r1["boxes"].shape == (len(r1["masks"]), 4)
        assert np.isfinite(r1["scores"]).all()
        assert any(engines.RANDOM_WEIGHTS_LABEL in n for n in r1["notes"])
        assert r1["timings_ms"]["encode_ms"] > 0
        r2 = seg({"frame_index": 0, "box": [40, 30, 200, 180]})
        assert r2["timings_ms"]["encoding_reused"] == 1.0 and r2["timings_ms"]["encode_ms"] == 0.0
        assert r2["masks"].shape[1:] == (h, w)
    finally:
        svc.close()
