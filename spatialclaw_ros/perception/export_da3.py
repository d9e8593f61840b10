"""Export a DA3 checkpoint to ONNX and write the model manifest (runs in .venv-models).

    .venv-models/bin/python -m spatialclaw_ros.perception.export_da3 --model da3-small \
        --checkpoint DIR --out ENGINE_DIR/da3-small --views 8 --height 378 --width 504

``--random-weights`` (TESTS ONLY) builds a random-weight model from the config the
depth-anything-3 package ships, saves it as a checkpoint and exports it through the same loading
path as a real checkpoint; the manifest, the checkpoint folder and every log line say so.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from spatialclaw_ros.perception import da3 as da3c
from spatialclaw_ros.perception import engines


def main(argv: list[str] | None = None) -> int:
    """Export; prints the manifest as JSON on the last line of stdout."""
    p = argparse.ArgumentParser(prog="export_da3", description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True, choices=sorted(da3c.MODELS))
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--checkpoint", help="local checkpoint dir (config.json + model.safetensors)")
    src.add_argument("--random-weights", action="store_true",
                     help="TESTS ONLY: random weights from the package's config, not a real model")
    p.add_argument("--out", required=True, help="model directory (ENGINE_DIR/MODEL)")
    p.add_argument("--views", type=int, required=True)
    p.add_argument("--height", type=int, required=True)
    p.add_argument("--width", type=int, required=True)
    p.add_argument("--process-res", type=int, default=504)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    from spatialclaw_ros.perception.torch_backends import (
        RANDOM_CHECKPOINT_NOTE,
        RANDOM_MARKER,
        export_da3_onnx,
        make_random_checkpoint,
    )
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    if a.views < 1:
        p.error("--views must be at least 1")
    if a.random_weights:
        print(f"[export] {engines.RANDOM_WEIGHTS_LABEL}: building a random-weight {a.model}", file=sys.stderr)
        ck = make_random_checkpoint(a.model, out / "checkpoint-random-weights-TESTS-ONLY", seed=a.seed)
        checkpoint = f"{RANDOM_CHECKPOINT_NOTE} {ck}"
    else:
        ck = Path(a.checkpoint).expanduser().resolve()
        checkpoint = str(ck)
        if (ck / RANDOM_MARKER).exists():       # a checkpoint that --random-weights made: keep the label
            a.random_weights = True
            print(f"[export] {engines.RANDOM_WEIGHTS_LABEL}: {ck} holds {RANDOM_MARKER}", file=sys.stderr)
    t0 = time.time()
    onnx_path = out / engines.ONNX_FILE
    tmp = out / (engines.ONNX_FILE + ".tmp")
    metric = a.model == da3c.METRIC_MODEL
    if metric and a.views != da3c.METRIC_VIEWS:
        p.error(f"{a.model} is exported single-view (--views {da3c.METRIC_VIEWS}); the service runs it per frame")
    versions = export_da3_onnx(ck, tmp, a.views, a.height, a.width, metric=metric)
    tmp.replace(onnx_path)
    print(f"[export] {a.model}: ONNX {onnx_path} ({onnx_path.stat().st_size / 1e6:.1f} MB) in {time.time() - t0:.1f} s",
          file=sys.stderr)
    old = []
    man = engines.ModelManifest(
        model=a.model, family="da3metric" if metric else "da3", onnx=engines.ONNX_FILE,
        onnx_sha256=engines.sha256_file(onnx_path),
        input_shapes={da3c.INPUT_NAME: [1, a.views, 3, a.height, a.width]}, checkpoint=checkpoint,
        random_weights=bool(a.random_weights), metric=bool(da3c.MODELS[a.model]["metric"]),
        process_res=a.process_res, exported_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        export_versions=versions, engines=old)
    man.save(out)
    for stale in out.glob("*.engine"):          # engines of an older export can never match its new hash
        stale.unlink()
    print(json.dumps({"manifest": str(out / engines.MANIFEST), "random_weights": man.random_weights}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
