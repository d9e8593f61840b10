"""`spatialclaw build-engines`: checkpoint -> ONNX (in .venv-models) -> TensorRT engine (on the target GPU).

The node never builds during a query; it refuses a missing or stale engine with this command.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys

from spatialclaw_ros.config import Config
from spatialclaw_ros.errors import PerceptionError
from spatialclaw_ros.perception import da3 as da3c
from spatialclaw_ros.perception import engines
from spatialclaw_ros.perception.service import REPO_ROOT, models_python


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Flags of build-engines (its --model names the perception model, replacing the shared VLM --model)."""
    # The shared --model (the VLM's served name) means nothing here; the CLI uses --model for
    # the perception model, so this parser resolves the clash in favour of the definition below.
    for container in (p, *p._action_groups):
        container.conflict_handler = "resolve"
    p.add_argument("--model", "--da3-model", dest="da3_model", choices=[*da3c.MULTIVIEW_MODELS, da3c.METRIC_MODEL],
                   default=None,
                   help="DA3 preset to export (default: perception.da3_model); da3metric-large is the metric "
                        "fallback of Reconstruct (depth + sky, single view, run per frame): when "
                        "ENGINE_DIR/da3metric-large holds an export, the service uses it where TF and sensor "
                        "depth cannot fix the scale")
    p.add_argument("--checkpoint", metavar="DIR",
                   help="local DA3 checkpoint directory (config.json + model.safetensors); never downloaded")
    p.add_argument("--random-weights", action="store_true",
                   help="FOR TESTS ONLY: export a random-weight model built from the package's config "
                        "(not a real model; labelled in the manifest and in every log line)")
    p.add_argument("--precision", choices=("fp16", "fp32"), default="fp16", help="TensorRT precision (default fp16)")
    p.add_argument("--views", type=int, default=None,
                   help="views per multi-view call (default: keyframes.max_query_frames; "
                        "da3metric-large: always 1)")
    p.add_argument("--image-size", default="480x640", metavar="HxW",
                   help="camera image size the export is shaped for (default 480x640)")
    p.add_argument("--process-res", type=int, default=504,
                   help="longest side of the network input, a multiple of 14 (default 504)")
    p.add_argument("--engine-dir", default=None, help="output directory (default: perception.engine_dir)")
    p.add_argument("--onnx-only", action="store_true",
                   help="stop after the ONNX export (hosts without TensorRT or a GPU: onnxruntime runtime)")
    p.add_argument("--force", action="store_true", help="export again even when the manifest matches")


def _log(msg: str) -> None:
    print(f"[build-engines] {msg}", flush=True)


def run(args: argparse.Namespace, cfg: Config) -> int:
    """Export (when needed) and build the engine; returns the exit code."""
    model = args.da3_model or cfg.perception.da3_model
    if model not in da3c.MULTIVIEW_MODELS and model != da3c.METRIC_MODEL:
        raise PerceptionError(f"DA3 model {model!r} cannot be exported for Reconstruct; choose one of "
                              f"{[*da3c.MULTIVIEW_MODELS, da3c.METRIC_MODEL]}")
    if bool(args.checkpoint) == bool(args.random_weights):
        _log("give --checkpoint DIR (a local checkpoint) or, for tests only, --random-weights")
        return 2
    try:
        h, w = (int(v) for v in args.image_size.lower().split("x"))
        ph, pw = da3c.processed_size(h, w, args.process_res)
    except ValueError as exc:
        _log(f"bad --image-size/--process-res: {exc}")
        return 2
    views = args.views or cfg.keyframes.max_query_frames
    if model == da3c.METRIC_MODEL:
        if args.views not in (None, da3c.METRIC_VIEWS):
            _log(f"{model} is exported single-view (its views do not interact; the service runs it per frame): "
                 f"drop --views or give --views {da3c.METRIC_VIEWS}")
            return 2
        views = da3c.METRIC_VIEWS
    if views < 1:
        _log("--views must be at least 1")
        return 2
    out = engines.model_dir(args.engine_dir or cfg.perception.engine_dir, model)
    if args.random_weights:
        _log(f"{engines.RANDOM_WEIGHTS_LABEL}: --random-weights exports a meaningless model for tests")
    if args.checkpoint and not os.path.isdir(os.path.expanduser(args.checkpoint)):
        raise PerceptionError(f"checkpoint {args.checkpoint} is not a directory (expected config.json + "
                              "model.safetensors from DepthAnything3.save_pretrained)")
    man = _current_manifest(out, args, views, ph, pw)
    if man is None:
        py = models_python()
        if not os.path.exists(py):
            raise PerceptionError(f"{py} not found: the export tool chain lives in .venv-models; run "
                                  "`make setup-models` (scripts/setup_models.sh) first")
        cmd = [py, "-m", "spatialclaw_ros.perception.export_da3", "--model", model, "--out", str(out),
               "--views", str(views), "--height", str(ph), "--width", str(pw), "--process-res", str(args.process_res)]
        cmd += ["--random-weights"] if args.random_weights else ["--checkpoint", args.checkpoint]
        _log(f"exporting {model} to ONNX for (1, {views}, 3, {ph}, {pw}) in .venv-models")
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
                   HF_HUB_OFFLINE="1")
        r = subprocess.run(cmd, env=env, cwd=str(REPO_ROOT))
        if r.returncode != 0:
            raise PerceptionError(f"ONNX export of {model} failed (exit code {r.returncode}); see the output above")
        man = engines.ModelManifest.load(out)
    else:
        _log(f"ONNX export of {model} is up to date ({out / man.onnx})")
    if args.onnx_only:
        _log(f"done (ONNX only): {out}; use perception.runtime=onnxruntime")
        return 0
    engines.build_engine(out, man, args.precision, log=_log)
    _log(f"done: {out}")
    return 0


def _current_manifest(out: "os.PathLike[str]", args: argparse.Namespace, views: int, ph: int,
                      pw: int) -> engines.ModelManifest | None:
    """The existing manifest when it matches this request and its ONNX is intact; else None."""
    if args.force:
        return None
    try:
        man = engines.ModelManifest.load(out)
        engines.check_onnx(out, man)
    except PerceptionError:
        return None
    if man.input_shapes.get(da3c.INPUT_NAME) != [1, views, 3, ph, pw]:
        return None
    if man.random_weights != bool(args.random_weights):
        return None
    if args.checkpoint and man.checkpoint != os.path.realpath(os.path.expanduser(args.checkpoint)):
        return None
    return man


if __name__ == "__main__":  # pragma: no cover
    from spatialclaw_ros.cli import main
    sys.exit(main(["build-engines", *sys.argv[1:]]))
