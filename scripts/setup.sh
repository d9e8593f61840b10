#!/usr/bin/env bash
# One-command set-up on a machine with Python 3.11 and no ROS 2: a .venv with the pinned ROS 2
# wheels, a colcon build of our interfaces (and tf2_msgs) against them, and the project itself.
# Idempotent: a second run checks stamps and takes seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VENV=${VENV:-$ROOT/.venv}
PY=${PYTHON:-python3}
# One set-up at a time per checkout (pip into one venv twice at once corrupts it).
mkdir -p "$ROOT/build"
exec 9>"$ROOT/build/.setup.lock"
flock 9
step() { printf '\033[1m[setup %s] %s\033[0m\n' "$(date +%H:%M:%S)" "$*"; }

if [ -n "${ROS_DISTRO:-}" ]; then
  echo "note: ROS_DISTRO=$ROS_DISTRO is sourced; this script builds a wheel-based venv anyway." >&2
  echo "      On an apt ROS install you can instead use colcon in a workspace (README, 'apt ROS 2')." >&2
fi

"$PY" - <<'PYV' || { echo "error: Python 3.10+ is required (3.11 recommended)" >&2; exit 1; }
import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)
PYV

# System packages: a compiler and CMake for the interface build; EGL/Mesa so MuJoCo renders the
# synthetic scenes offscreen on the CPU (without them `spatialclaw sim` falls back to its ray caster).
if command -v dpkg >/dev/null 2>&1; then
  need=()
  for p in cmake g++ make libegl1 libegl-mesa0 libgl1-mesa-dri libopengl0; do
    dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
  done
  "$PY" -c "import ensurepip" >/dev/null 2>&1 || need+=("python3-venv")
  if [ ${#need[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      step "installing system packages: ${need[*]}"
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
    else
      echo "error: missing system packages: ${need[*]}" >&2
      echo "       install them with: sudo apt-get install -y ${need[*]}" >&2
      exit 1
    fi
  fi
fi

stamp_ok() { [ -f "$1" ] && [ "$(cat "$1")" = "$2" ]; }
hash_of() { cat "$@" | sha256sum | cut -c1-16; }

if [ ! -x "$VENV/bin/python" ]; then
  step "creating $VENV"
  "$PY" -m venv "$VENV"
fi
VPY=$VENV/bin/python
REQ_HASH=$(hash_of requirements/*.txt setup.py)
if ! stamp_ok "$VENV/.spatialclaw-reqs" "$REQ_HASH"; then
  step "installing pinned ROS 2 wheels, build tools and Python dependencies (a few minutes on first run)"
  "$VPY" -m pip install -q --upgrade "pip>=24" setuptools wheel 2>&1 | grep -v "is ignored: it is neither" || true
  "$VPY" -m pip install -q -r requirements/ros-wheels.txt -r requirements/core.txt -r requirements/dev.txt \
    2>&1 | grep -v "is ignored: it is neither" || true
  "$VPY" -c "import rclpy, numpy, scipy, rosbags, openai, cv2" >/dev/null
  echo "$REQ_HASH" > "$VENV/.spatialclaw-reqs"
else
  step "python dependencies up to date"
fi

# The wheels' exported CMake targets hard-code the paths of the machine that built them.
SITE=$("$VPY" -c "import sysconfig;print(sysconfig.get_paths()['purelib'])")
PYINC=$("$VPY" -c "import sysconfig;print(sysconfig.get_paths()['include'])")
NPINC=$("$VPY" -c "import numpy;print(numpy.get_include())")
if grep -rlq /opt/python/cp311-cp311 "$VENV/share" --include=*.cmake 2>/dev/null; then
  step "fixing hard-coded include paths in the wheels' CMake files"
  grep -rl /opt/python/cp311-cp311 "$VENV/share" --include=*.cmake | xargs sed -i \
    -e "s#/opt/python/cp311-cp311/include/python3.11#$PYINC#g" \
    -e "s#/opt/python/cp311-cp311/lib/python3.11/site-packages/numpy/_core/include#$NPINC#g"
fi

IFACE_HASH=$( (cat package.xml CMakeLists.txt msg/*.msg srv/*.srv action/*.action third_party/tf2_msgs/msg/*.msg; find config launch scripts -maxdepth 1 -type f 2>/dev/null | sort || true) | sha256sum | cut -c1-16)
if ! stamp_ok "$ROOT/install/.spatialclaw-ifaces" "$IFACE_HASH"; then
  step "building interfaces with colcon (spatialclaw_ros, tf2_msgs; about 40 s)"
  # CMake refuses include paths inside the source tree, and .venv lives in the repo: build from a
  # workspace whose src/ links back to the repo instead.
  mkdir -p "$ROOT/build/ws/src" "$ROOT/log"
  ln -sfn "$ROOT" "$ROOT/build/ws/src/spatialclaw_ros"
  ln -sfn "$ROOT/third_party/tf2_msgs" "$ROOT/build/ws/src/tf2_msgs"
  (
    export AMENT_PREFIX_PATH=$VENV CMAKE_PREFIX_PATH=$VENV PATH=$VENV/bin:$PATH
    export PYTHONWARNINGS=ignore
    "$VENV/bin/colcon" --log-base "$ROOT/log" build --symlink-install \
      --paths "$ROOT/build/ws/src/spatialclaw_ros" "$ROOT/build/ws/src/tf2_msgs" \
      --build-base "$ROOT/build" --install-base "$ROOT/install" \
      --event-handlers console_start_end+ \
      --cmake-args -DPython3_EXECUTABLE="$VPY" -DBUILD_TESTING=OFF
  ) > "$ROOT/log/colcon-build.txt" 2>&1 || { tail -40 "$ROOT/log/colcon-build.txt"; echo "error: colcon build failed; full log: log/colcon-build.txt" >&2; exit 1; }
  grep -E '^(Starting|Finished|Failed)' "$ROOT/log/colcon-build.txt" | sed 's/^/  /' 
  echo "$IFACE_HASH" > "$ROOT/install/.spatialclaw-ifaces"
else
  step "interfaces up to date"
fi

# Make the colcon install tree part of the venv: its site-packages on sys.path, its libraries on
# LD_LIBRARY_PATH (set before ros_wheels_bootstrapper.pth re-executes Python with the library path;
# .pth files run in name order). Nothing to source, no sys.path edits in user code.
step "linking the install tree into the venv"
PYVER=$("$VPY" -c "import sys;print(f'{sys.version_info[0]}.{sys.version_info[1]}')")
{
  for pkg in spatialclaw_ros tf2_msgs; do echo "$ROOT/install/$pkg/lib/python$PYVER/site-packages"; done
  echo "import os; _l=[p for p in ('$ROOT/install/spatialclaw_ros/lib', '$ROOT/install/tf2_msgs/lib') if p not in os.environ.get('LD_LIBRARY_PATH', '').split(os.pathsep)]; _l and os.environ.__setitem__('LD_LIBRARY_PATH', os.pathsep.join(_l + [p for p in os.environ.get('LD_LIBRARY_PATH', '').split(os.pathsep) if p])); os.environ.setdefault('AMENT_PREFIX_PATH', os.pathsep.join(['$ROOT/install/spatialclaw_ros', '$ROOT/install/tf2_msgs', '$VENV']))"
} > "$SITE/_spatialclaw_ros_ws.pth"

# The project itself: editable, so the `spatialclaw` command runs the sources. Its package directory
# and the install tree's (generated msg/srv/action) merge through pkgutil.extend_path in
# spatialclaw_ros/__init__.py.
if ! "$VPY" -c "import importlib.metadata as m; m.version('spatialclaw_ros')" >/dev/null 2>&1 \
   || ! stamp_ok "$VENV/.spatialclaw-editable" "$REQ_HASH"; then
  step "installing spatialclaw_ros (editable)"
  "$VPY" -m pip install -q --no-deps --no-build-isolation --config-settings editable_mode=compat -e . 2>&1 | grep -v "is ignored: it is neither" || true
  echo "$REQ_HASH" > "$VENV/.spatialclaw-editable"
fi

step "checking the environment"
"$VPY" -c "import rclpy; from spatialclaw_ros.action import SpatialQuery; from spatialclaw_ros.srv import SpatialQuery as S; from tf2_msgs.msg import TFMessage; import spatialclaw_ros.config; print('  ok: rclpy, spatialclaw_ros.action/srv/msg, tf2_msgs, core')"
step "done. Activate with: . $VENV/bin/activate"
