#!/usr/bin/env bash
# Makes .venv-models: the heavy perception tool chain (torch CPU build, depth-anything-3, onnx,
# onnxruntime) kept apart from the node's .venv. Used by `spatialclaw build-engines` (export step),
# the torch backend and the `models` tests. Idempotent: a second run checks a stamp and takes a second.
# No model weights are downloaded; tests build random-weight models from the configs the packages ship.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
# `setup_models.sh` makes .venv-models (DA3 export chain); `setup_models.sh sam3` makes .venv-sam3 (optional
# SAM 3 torch runtime, ~5.5 GB).
WHAT=${1:-da3}
case "$WHAT" in
  da3) VENV=${MODELS_VENV:-$ROOT/.venv-models}; REQ=requirements/models.txt ;;
  sam3) VENV=${SAM3_VENV:-$ROOT/.venv-sam3}; REQ=requirements/models-sam3.txt ;;
  *) echo "usage: $0 [da3|sam3]" >&2; exit 2 ;;
esac
PY=${PYTHON:-python3}
mkdir -p "$ROOT/build"
exec 8>"$ROOT/build/.setup-models-${1:-da3}.lock"
flock 8
step() { printf '[setup-models %s] %s\n' "$(date +%H:%M:%S)" "$*"; }

REQ_HASH=$(cat "$REQ" | sha256sum | cut -c1-16)
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
step "installing $REQ (several GB, several minutes on first run)"
LOG=$ROOT/build/setup-models-$WHAT.log
set +o pipefail
"$VPY" -m pip install --progress-bar off -r "$REQ" 2>&1 | tee "$LOG" \
  | { grep --line-buffered -E '^(Collecting|Successfully|ERROR|error)' || true; } \
  | sed -u -E 's/^Collecting /  collecting /'
rc=${PIPESTATUS[0]}
set -o pipefail
if [ "$rc" -ne 0 ]; then
  tail -n 30 "$LOG" >&2
  echo "error: pip install -r $REQ failed (exit $rc); full log: $LOG" >&2
  exit 1
fi
step "checking the imports"
if [ "$WHAT" = sam3 ]; then
  "$VPY" -c "import torch, torchvision, sam3, psutil, os, importlib.util as u; print('  torch', torch.__version__, 'torchvision', torchvision.__version__); assert os.path.exists(os.path.join(u.find_spec('open_clip').submodule_search_locations[0], 'bpe_simple_vocab_16e6.txt.gz'))"
  echo "$REQ_HASH" > "$VENV/.spatialclaw-models-reqs"
  step "done: $VENV"
  exit 0
fi
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
