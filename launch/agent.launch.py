"""Launch the spatialclaw_agent node with config/agent.yaml and the common settings as arguments.

    ros2 launch spatialclaw_ros agent.launch.py
    ros2 launch spatialclaw_ros agent.launch.py namespace:=robot1 vlm_url:=http://gpu-box:8000/v1 \
        color:=/robot1/rs/color/image_raw use_sim_time:=true

Parameters come from `params_file` (default: the installed config/agent.yaml, keyed `/**` so that a
namespace keeps it). The parameter arguments below (`vlm_url`, `fixed_frame`, ...) and `use_sim_time`
override their parameter only when given: an empty argument keeps the file's value, so a custom
`params_file` is never silently replaced by the installed YAML's defaults.

The camera topics are the node's relative names `color`, `depth`, `camera_info` (and `labels`),
resolved in the node's namespace; the arguments of the same names remap them, as image_pipeline's
launch files do. Their defaults are the RealSense driver's topics. The logic is kept plain (no
conditions or event handlers) so it can be read without launch installed; the tables are importable.
"""
from __future__ import annotations

import os

# launch argument -> node parameter it overrides when given (the params file's value otherwise)
LAUNCH_PARAMETER_ARGS: dict[str, str] = {
    "labels_topic": "topics.labels",
    "fixed_frame": "fixed_frame",
    "vlm_url": "vlm.base_url",
    "vlm_model": "vlm.model",
}
# launch argument -> (node's relative topic name it remaps, default target: the RealSense driver's)
LAUNCH_REMAP_ARGS: dict[str, tuple[str, str]] = {
    "color": ("color", "/camera/color/image_raw"),
    "depth": ("depth", "/camera/aligned_depth_to_color/image_raw"),
    "camera_info": ("camera_info", "/camera/color/camera_info"),
    "labels": ("labels", "labels"),
}
PACKAGE = "spatialclaw_ros"
NODE_NAME = "spatialclaw_agent"


def yaml_defaults(params_file: str) -> dict[str, str]:
    """The parameter arguments' values in a parameter YAML (`/**` or node-name keys; dotted names)."""
    import yaml

    with open(params_file, encoding="utf-8") as f:
        doc = yaml.safe_load(f) or {}
    params: dict = {}
    for key in ("/**", NODE_NAME, f"/{NODE_NAME}"):   # later keys win, as rcl applies them
        params.update((doc.get(key) or {}).get("ros__parameters", {}) or {})
    flat: dict[str, object] = {}

    def walk(d: dict, prefix: str) -> None:
        for k, v in d.items():
            if isinstance(v, dict):
                walk(v, f"{prefix}{k}.")
            else:
                flat[f"{prefix}{k}"] = v

    walk(params, "")
    return {arg: str(flat.get(param, "")) for arg, param in LAUNCH_PARAMETER_ARGS.items()}


def parameter_overrides(values: dict[str, str]) -> dict[str, str]:
    """Node parameter overrides for the parameter arguments that were given (non-empty)."""
    return {LAUNCH_PARAMETER_ARGS[arg]: v for arg, v in values.items()
            if arg in LAUNCH_PARAMETER_ARGS and v != ""}


def remappings(values: dict[str, str]) -> list[tuple[str, str]]:
    """(from, to) remap rules for the camera topics; an empty argument keeps its default."""
    return [(name, values.get(arg) or default) for arg, (name, default) in LAUNCH_REMAP_ARGS.items()]


def generate_launch_description():  # noqa: ANN201 - launch.LaunchDescription
    """The node, its YAML and the launch arguments."""
    from ament_index_python.packages import get_package_share_directory
    from launch import LaunchDescription
    from launch.actions import DeclareLaunchArgument, OpaqueFunction
    from launch.substitutions import LaunchConfiguration
    from launch_ros.actions import Node

    default_params = os.path.join(get_package_share_directory(PACKAGE), "config", "agent.yaml")
    defaults = yaml_defaults(default_params)
    args = [
        DeclareLaunchArgument("namespace", default_value="", description="node namespace"),
        DeclareLaunchArgument("params_file", default_value=default_params,
                              description="parameter YAML (config/agent.yaml, keyed /**)"),
        DeclareLaunchArgument("use_sim_time", default_value="",
                              description="true: use /clock (bag replay, simulation); "
                                          "empty: keep params_file (false if unset)"),
    ] + [DeclareLaunchArgument(arg, default_value=default,
                               description=f"remaps the node's relative topic '{name}'")
         for arg, (name, default) in LAUNCH_REMAP_ARGS.items()
         ] + [DeclareLaunchArgument(arg, default_value="",
                                    description=f"overrides parameter {param} "
                                                f"(installed YAML: {defaults[arg]!r}; empty: keep params_file)")
              for arg, param in LAUNCH_PARAMETER_ARGS.items()]

    def make_node(context, *_a, **_k):  # noqa: ANN001, ANN202 - launch's OpaqueFunction signature
        given = {arg: LaunchConfiguration(arg).perform(context) for arg in LAUNCH_PARAMETER_ARGS}
        overrides: dict[str, object] = dict(parameter_overrides(given))
        sim = LaunchConfiguration("use_sim_time").perform(context).strip().lower()
        if sim:
            if sim not in ("true", "false"):
                raise ValueError(f"use_sim_time:={sim!r}: use true or false")
            overrides["use_sim_time"] = sim == "true"
        remaps = remappings({arg: LaunchConfiguration(arg).perform(context) for arg in LAUNCH_REMAP_ARGS})
        parameters: list[object] = [LaunchConfiguration("params_file").perform(context)]
        if overrides:
            parameters.append(overrides)
        return [Node(
            package=PACKAGE, executable="spatialclaw_agent", name=NODE_NAME,
            namespace=LaunchConfiguration("namespace"), output="screen", emulate_tty=True,
            parameters=parameters,
            remappings=remaps,   # add ("/tf", "tf"), ("/tf_static", "tf_static") for namespaced TF
        )]

    return LaunchDescription([*args, OpaqueFunction(function=make_node)])
