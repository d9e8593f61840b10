#!/usr/bin/env bash
# One-command set-up on a machine with Python 3.11 and no ROS 2: a .venv with the pinned ROS 2
# wheels, a colcon build of our interfaces (and tf2_msgs, composition_interfaces) against them,
# launch/launch_ros/ros2cli from third_party/<distro>/, and the project itself.
# Idempotent: a second run checks stamps and takes seconds.
# Distribution: SPATIALCLAW_ROS_DISTRO=jazzy (default; .venv, build/, install/) or kilted
# (.venv-kilted, build-kilted/, install-kilted/). `make setup DISTRO=kilted` sets it. ROS_DISTRO is
# not used: a sourced apt ROS sets it for its own install.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
DISTRO=${SPATIALCLAW_ROS_DISTRO:-jazzy}
case "$DISTRO" in
  jazzy) SFX="" ;;
  kilted) SFX="-kilted" ;;
  *) echo "error: SPATIALCLAW_ROS_DISTRO=$DISTRO is not supported; use jazzy (default) or kilted" >&2; exit 1 ;;
esac
VENV=${VENV:-$ROOT/.venv$SFX}
case "$VENV" in /*) ;; *) VENV=$ROOT/$VENV ;; esac
BUILD=$ROOT/build$SFX
INSTALL=$ROOT/install$SFX
LOG=$ROOT/log$SFX
TP=$ROOT/third_party/$DISTRO
PY=${PYTHON:-python3}
# One set-up at a time per checkout (pip into one venv twice at once corrupts it).
mkdir -p "$ROOT/build"
exec 9>"$ROOT/build/.setup.lock"
flock 9
step() { printf '\033[1m[setup %s] %s\033[0m\n' "$(date +%H:%M:%S)" "$*"; }

if [ -n "${ROS_DISTRO:-}" ]; then
  echo "note: ROS_DISTRO=$ROS_DISTRO is sourced; this script builds a wheel-based $DISTRO venv anyway." >&2
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

# A venv made for another distribution is rebuilt (its wheels and our build differ in ABI).
if [ -f "$VENV/.spatialclaw-distro" ] && [ "$(cat "$VENV/.spatialclaw-distro")" != "$DISTRO" ]; then
  step "$VENV was built for $(cat "$VENV/.spatialclaw-distro"), not $DISTRO: recreating it"
  rm -rf "$VENV" "$INSTALL/.spatialclaw-ifaces"
elif [ -x "$VENV/bin/python" ] && [ ! -f "$VENV/.spatialclaw-distro" ] \
     && [ "$DISTRO" = jazzy ] && "$VENV/bin/python" -m pip show ros-rclpy 2>/dev/null | grep -q '^Version: 9\.'; then
  step "$VENV holds Kilted wheels from an earlier set-up (Jazzy is now the default): recreating it"
  rm -rf "$VENV" "$INSTALL/.spatialclaw-ifaces"
fi
if [ ! -x "$VENV/bin/python" ]; then
  step "creating $VENV ($DISTRO)"
  "$PY" -m venv "$VENV"
fi
echo "$DISTRO" > "$VENV/.spatialclaw-distro"
VPY=$VENV/bin/python
REQ_HASH=$(hash_of requirements/*.txt setup.py)
if ! stamp_ok "$VENV/.spatialclaw-reqs" "$REQ_HASH"; then
  step "installing pinned ROS 2 $DISTRO wheels, build tools and Python dependencies (a few minutes on first run)"
  "$VPY" -m pip install -q --upgrade "pip>=24" setuptools wheel 2>&1 | grep -v "is ignored: it is neither" || true
  "$VPY" -m pip install -q -r "requirements/ros-wheels-$DISTRO.txt" -r requirements/ros-tools.txt \
    -r requirements/core.txt -r requirements/dev.txt 2>&1 | grep -v "is ignored: it is neither" || true
  "$VPY" -c "import rclpy, numpy, scipy, rosbags, openai, cv2" >/dev/null
  echo "$REQ_HASH" > "$VENV/.spatialclaw-reqs"
else
  step "python dependencies up to date"
fi

# launch, launch_ros, ros2cli and its verbs, rosidl_runtime_py: pure Python, not on PyPI; installed
# unchanged from third_party/<distro>/ into the venv itself (a --target tree breaks the verbs' entry
# points). Their data files (ament index markers) land in $VENV/share, which is on AMENT_PREFIX_PATH.
TOOLS_HASH=$( (echo "$DISTRO"; cat "$TP/UPSTREAM.txt") | sha256sum | cut -c1-16)
TOOL_PKGS=(rosidl_runtime_py launch/launch launch/launch_xml launch/launch_yaml launch_ros/launch_ros
           launch_ros/ros2launch ros2cli/ros2cli ros2cli/ros2pkg ros2cli/ros2node ros2cli/ros2topic
           ros2cli/ros2param ros2cli/ros2service ros2cli/ros2action ros2cli/ros2interface ros2cli/ros2run)
if ! stamp_ok "$VENV/.spatialclaw-tools" "$TOOLS_HASH"; then
  step "installing launch, launch_ros and ros2cli ($DISTRO, third_party/$DISTRO) into the venv"
  # pip builds in a temporary copy, but a setup.py build also writes build/ and *.egg-info next to
  # the sources: build from a scratch copy so third_party stays as upstream ships it.
  rm -rf "$BUILD/tools-src" && mkdir -p "$BUILD/tools-src"
  args=()
  for p in "${TOOL_PKGS[@]}"; do cp -r "$TP/$p" "$BUILD/tools-src/"; args+=("$BUILD/tools-src/$(basename "$p")"); done
  "$VPY" -m pip install -q --no-deps --no-build-isolation "${args[@]}" 2>&1 \
    | grep -vE "is ignored: it is neither|DEPRECATION|setup.py install|pip 25|easy_install" || true
  "$VPY" -c "import launch, ros2cli, rosidl_runtime_py" >/dev/null
  echo "$TOOLS_HASH" > "$VENV/.spatialclaw-tools"
else
  step "launch / ros2cli up to date"
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

IFACE_HASH=$( (echo "$DISTRO $VENV"; cat package.xml CMakeLists.txt msg/*.msg srv/*.srv action/*.action third_party/tf2_msgs/msg/*.msg "$TP"/rcl_interfaces/composition_interfaces/srv/*.srv; find config launch scripts -maxdepth 1 -type f 2>/dev/null | sort || true) | sha256sum | cut -c1-16)
if ! stamp_ok "$INSTALL/.spatialclaw-ifaces" "$IFACE_HASH"; then
  step "building interfaces with colcon (spatialclaw_ros, tf2_msgs, composition_interfaces; about 60 s)"
  # CMake refuses include paths inside the source tree, and .venv lives in the repo: build from a
  # workspace whose src/ links back to the repo instead.
  mkdir -p "$BUILD/ws/src" "$LOG"
  ln -sfn "$ROOT" "$BUILD/ws/src/spatialclaw_ros"
  ln -sfn "$ROOT/third_party/tf2_msgs" "$BUILD/ws/src/tf2_msgs"
  ln -sfn "$TP/rcl_interfaces/composition_interfaces" "$BUILD/ws/src/composition_interfaces"
  (
    export AMENT_PREFIX_PATH=$VENV CMAKE_PREFIX_PATH=$VENV PATH=$VENV/bin:$PATH
    export PYTHONWARNINGS=ignore
    "$VENV/bin/colcon" --log-base "$LOG" build --symlink-install \
      --paths "$BUILD/ws/src/spatialclaw_ros" "$BUILD/ws/src/tf2_msgs" "$BUILD/ws/src/composition_interfaces" \
      --build-base "$BUILD" --install-base "$INSTALL" \
      --event-handlers console_start_end+ \
      --cmake-args -DPython3_EXECUTABLE="$VPY" -DBUILD_TESTING=OFF
  ) > "$LOG/colcon-build.txt" 2>&1 || { tail -40 "$LOG/colcon-build.txt"; echo "error: colcon build failed; full log: $LOG/colcon-build.txt" >&2; exit 1; }
  grep -E '^(Starting|Finished|Failed)' "$LOG/colcon-build.txt" | sed 's/^/  /'
  echo "$IFACE_HASH" > "$INSTALL/.spatialclaw-ifaces"
else
  step "interfaces up to date"
fi

# Make the colcon install tree part of the venv: its site-packages on sys.path, its libraries on
# LD_LIBRARY_PATH (set before ros_wheels_bootstrapper.pth re-executes Python with the library path;
# .pth files run in name order). Nothing to source, no sys.path edits in user code.
step "linking the install tree into the venv"
PYVER=$("$VPY" -c "import sys;print(f'{sys.version_info[0]}.{sys.version_info[1]}')")
WS_PKGS=(spatialclaw_ros tf2_msgs composition_interfaces)
{
  for pkg in "${WS_PKGS[@]}"; do echo "$INSTALL/$pkg/lib/python$PYVER/site-packages"; done
  echo "import os; _l=[p for p in ('$INSTALL/spatialclaw_ros/lib', '$INSTALL/tf2_msgs/lib', '$INSTALL/composition_interfaces/lib') if p not in os.environ.get('LD_LIBRARY_PATH', '').split(os.pathsep)]; _l and os.environ.__setitem__('LD_LIBRARY_PATH', os.pathsep.join(_l + [p for p in os.environ.get('LD_LIBRARY_PATH', '').split(os.pathsep) if p])); os.environ.setdefault('AMENT_PREFIX_PATH', os.pathsep.join(['$INSTALL/spatialclaw_ros', '$INSTALL/tf2_msgs', '$INSTALL/composition_interfaces', '$VENV']))"
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
"$VPY" -c "import rclpy; from spatialclaw_ros.action import SpatialQuery; from spatialclaw_ros.srv import SpatialQuery as S; from tf2_msgs.msg import TFMessage; import spatialclaw_ros.config; from composition_interfaces.srv import LoadNode; import launch_ros, ros2cli; print('  ok: rclpy, spatialclaw_ros.action/srv/msg, tf2_msgs, composition_interfaces, launch_ros, ros2cli, core')"
"$VENV/bin/ros2" pkg prefix spatialclaw_ros >/dev/null || { echo "error: 'ros2 pkg prefix spatialclaw_ros' failed in $VENV" >&2; exit 1; }
step "done ($DISTRO). Activate with: . $VENV/bin/activate"
