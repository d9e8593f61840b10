#!/usr/bin/env bash
# .venv-numpy1: the ROS-free core with the numpy 1.x stack of Ubuntu 24.04 (numpy 1.26.4, scipy
# 1.11.4) and requirements/apt.txt, as a `--system-site-packages` venv over apt ROS 2 gets it. No ROS
# here: it proves the core imports and passes its tests with numpy 1 (make test-numpy1).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${NUMPY1_VENV:-$PWD/.venv-numpy1}
PY=${PYTHON:-python3}
HASH=$(cat requirements/apt.txt "$0" | sha256sum | cut -c1-16)
if [ -f "$VENV/.spatialclaw-reqs" ] && [ "$(cat "$VENV/.spatialclaw-reqs")" = "$HASH" ]; then
  echo "[setup-numpy1] $VENV up to date"; exit 0
fi
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade "pip>=24" setuptools wheel 2>&1 | grep -v "is ignored: it is neither" || true
"$VENV/bin/python" -m pip install -q numpy==1.26.4 scipy==1.11.4 -r requirements/apt.txt \
  "pytest>=8" "pytest-timeout>=2.3" "jupyter_client>=8.6" "ipykernel>=6.29" \
  mujoco==4.0.0 2>&1 | grep -v "is ignored: it is neither" || true
"$VENV/bin/python" -m pip install -q --no-deps --no-build-isolation -e . 2>&1 | grep -vE "is ignored: it is neither|editable|setuptools|^\s*$|\*\*\*|!!" || true
"$VENV/bin/python" -c "import numpy, cv2, scipy, mujoco; assert numpy.__version__ == '1.26.4', numpy.__version__; print('[setup-numpy1] numpy', numpy.__version__, 'opencv', cv2.__version__, 'scipy', scipy.__version__)"
echo "$HASH" > "$VENV/.spatialclaw-reqs"
