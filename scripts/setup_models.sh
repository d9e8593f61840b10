#!/usr/bin/env bash
# Makes .venv-models: the heavy perception tool chain (torch CPU build, depth-anything-3, onnx,
# onnxruntime) kept apart from the node's .venv. Used by `spatialclaw build-engines` (export step),
# the torch backend and the `models` tests. Idempotent: a second run checks a stamp and takes a second.
# No model weights are downloaded; tests build random-weight models from the configs the packages ship.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VENV=${MODELS_VENV:-$ROOT/.venv-models}
PY=${PYTHON:-python3}
mkdir -p "$ROOT/build"
exec 8>"$ROOT/build/.setup-models.lock"
flock 8
step() { printf '[setup-models %s] %s\n' "$(date +%H:%M:%S)" "$*"; }

REQ_HASH=$(cat requirements/models.txt | sha256sum | cut -c1-16)
if [ -x "$VENV/bin/python" ] && [ -f "$VENV/.spatialclaw-models-reqs" ] \
   && [ "$(cat "$VENV/.spatialclaw-models-reqs")" = "$REQ_HASH" ]; then
  step "$VENV is up to date"
  exit 0
fi
if [ ! -x "$VENV/bin/python" ]; then
  step "creating $VENV"
  "$PY" -m venv "$VENV"
fi
VPY=$VENV/bin/python
step "upgrading pip"
"$VPY" -m pip install -q --upgrade "pip>=24" setuptools wheel
step "installing requirements/models.txt (torch CPU build from the local wheel folder, depth-anything-3, onnx, onnxruntime; ~3 GB, several minutes on first run)"
"$VPY" -m pip install --progress-bar off -r requirements/models.txt 2>&1 \
  | grep -E '^(Collecting|Successfully|ERROR|error)' | sed -E 's/^Collecting /  collecting /' || true
step "checking the imports"
PYTHONPATH="$ROOT" "$VPY" - <<'PYCHK'
from spatialclaw_ros.perception import torch_compat
torch_compat.prepare_torchvision()
import numpy, torch, onnx, onnxruntime
import depth_anything_3.api  # noqa: F401
print(f"  torch {torch.__version__}, numpy {numpy.__version__}, onnx {onnx.__version__}, onnxruntime {onnxruntime.__version__}")
assert numpy.__version__.startswith("1."), "depth-anything-3 needs numpy<2"
PYCHK
echo "$REQ_HASH" > "$VENV/.spatialclaw-models-reqs"
step "done: $VENV"
