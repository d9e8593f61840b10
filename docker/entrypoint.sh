#!/usr/bin/env bash
# Container entry point: the ROS environment, the workspace overlay and the venv, then the command.
set -eo pipefail
# shellcheck disable=SC1090
source "/opt/ros/${ROS_DISTRO}/setup.bash"
# shellcheck disable=SC1091
source /ws/install/setup.bash
if [ -d /opt/spatialclaw-venv ]; then
  export PATH=/opt/spatialclaw-venv/bin:$PATH
fi
# SPATIALCLAW_PARAMS: a parameter file to use instead of the installed config/agent.yaml
# (compose mounts docker/agent.rtx.yaml or docker/agent.orin.yaml there).
# SPATIALCLAW_VLM_URL / SPATIALCLAW_VLM_MODEL: the VLM endpoint and served model name; they are
# passed as launch arguments because the launch file's arguments override the parameter file.
if [ "${1:-}" = "ros2" ] && [ "${2:-}" = "launch" ]; then
  extra=()
  [ -n "${SPATIALCLAW_PARAMS:-}" ] && extra+=("params_file:=${SPATIALCLAW_PARAMS}")
  [ -n "${SPATIALCLAW_VLM_URL:-}" ] && extra+=("vlm_url:=${SPATIALCLAW_VLM_URL}")
  [ -n "${SPATIALCLAW_VLM_MODEL:-}" ] && extra+=("vlm_model:=${SPATIALCLAW_VLM_MODEL}")
  exec "$@" "${extra[@]}"
fi
exec "$@"
