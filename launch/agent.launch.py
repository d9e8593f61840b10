"""Launch the spatialclaw_agent node with config/agent.yaml and the common settings as arguments.

    ros2 launch spatialclaw_ros agent.launch.py
    ros2 launch spatialclaw_ros agent.launch.py namespace:=robot1 vlm_url:=http://gpu-box:8000/v1 \
        color_topic:=/rs/color/image_raw use_sim_time:=true

Every parameter comes from `params_file` (default: the installed config/agent.yaml); an argument
below overrides its parameter only when given (an empty argument keeps the file's value, so a
custom `params_file` is never silently replaced by the installed YAML's defaults). Remap further topics with `remappings:="[('/tf','/robot/tf')]"`-style
edits of this file, or use the topic parameters. The logic is kept plain (no conditions or event
handlers) so it can be read without launch installed; the argument -> parameter table is importable.
"""
from __future__ import annotations

import os

# launch argument -> node parameter it overrides (the YAML's value is the default)
LAUNCH_PARAMETER_ARGS: dict[str, str] = {
    "color_topic": "topics.color",
    "depth_topic": "topics.depth",
    "camera_info_topic": "topics.camera_info",
    "labels_topic": "topics.labels",
    "fixed_frame": "fixed_frame",
    "vlm_url": "vlm.base_url",
    "vlm_model": "vlm.model",
}
PACKAGE = "spatialclaw_ros"
NODE_NAME = "spatialclaw_agent"


def yaml_defaults(params_file: str) -> dict[str, str]:
    """The launch arguments' defaults, read from the parameter YAML (dotted names flattened)."""
    import yaml

    with open(params_file, encoding="utf-8") as f:
        doc = yaml.safe_load(f) or {}
    params = (doc.get("/**") or doc.get(NODE_NAME) or {}).get("ros__parameters", {})
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
    """Node parameter overrides for the launch arguments that were given (non-empty)."""
    return {LAUNCH_PARAMETER_ARGS[arg]: v for arg, v in values.items()
            if arg in LAUNCH_PARAMETER_ARGS and v != ""}


def generate_launch_description():  # noqa: ANN201 - launch.LaunchDescription
    """The node, its YAML and the launch arguments."""
    from ament_index_python.packages import get_package_share_directory
    from launch import LaunchDescription
    from launch.actions import DeclareLaunchArgument, OpaqueFunction
    from launch.substitutions import LaunchConfiguration
    from launch_ros.actions import Node
    from launch_ros.parameter_descriptions import ParameterValue

    default_params = os.path.join(get_package_share_directory(PACKAGE), "config", "agent.yaml")
    defaults = yaml_defaults(default_params)
    args = [
        DeclareLaunchArgument("namespace", default_value="", description="node namespace"),
        DeclareLaunchArgument("params_file", default_value=default_params,
                              description="parameter YAML (config/agent.yaml)"),
        DeclareLaunchArgument("use_sim_time", default_value="false",
                              description="use /clock (bag replay, simulation)"),
    ] + [DeclareLaunchArgument(arg, default_value="",
                               description=f"overrides parameter {param} "
                                           f"(installed YAML: {defaults[arg]!r}; empty: keep params_file)")
         for arg, param in LAUNCH_PARAMETER_ARGS.items()]

    def make_node(context, *_a, **_k):  # noqa: ANN001, ANN202 - launch's OpaqueFunction signature
        given = {arg: LaunchConfiguration(arg).perform(context) for arg in LAUNCH_PARAMETER_ARGS}
        overrides: dict[str, object] = dict(parameter_overrides(given))
        overrides["use_sim_time"] = ParameterValue(LaunchConfiguration("use_sim_time"), value_type=bool)
        return [Node(
            package=PACKAGE, executable="spatialclaw_agent", name=NODE_NAME,
            namespace=LaunchConfiguration("namespace"), output="screen", emulate_tty=True,
            parameters=[LaunchConfiguration("params_file"), overrides],
            remappings=[],   # e.g. ("/tf", "tf"), ("/tf_static", "tf_static") for namespaced TF
        )]

    return LaunchDescription([*args, OpaqueFunction(function=make_node)])
