"""config.py + param_specs.py: one validation for node and CLI; the YAML keys a namespaced node keeps."""
from __future__ import annotations

from pathlib import Path

import pytest

from spatialclaw_ros.config import DEFAULT_CONFIG, Config, ConfigError, load_config
from spatialclaw_ros.param_specs import SPECS


def test_every_config_key_has_a_spec_and_the_defaults_are_valid() -> None:
    assert set(SPECS) == set(Config().to_flat())
    Config.from_flat(Config().to_flat())          # defaults pass their own validation
    assert load_config(DEFAULT_CONFIG).to_flat() == Config().to_flat()


def test_the_shipped_yaml_is_keyed_for_any_node_name_and_namespace() -> None:
    import yaml

    doc = yaml.safe_load(DEFAULT_CONFIG.read_text())
    assert list(doc) == ["/**"] and "ros__parameters" in doc["/**"]
    topics = doc["/**"]["ros__parameters"]["topics"]
    assert not topics["color"].startswith("/") and not topics["camera_info"].startswith("/")


@pytest.mark.parametrize("key", ["/**", "spatialclaw_agent", "/robot1/spatialclaw_agent"])
def test_cli_reads_old_new_and_namespaced_yaml_keys(tmp_path: Path, key: str) -> None:
    p = tmp_path / "p.yaml"
    p.write_text(f"{key}:\n  ros__parameters:\n    fixed_frame: map\n"
                 "    agent:\n      query_timeout_s: 600\n")
    cfg = load_config(p)
    assert cfg.fixed_frame == "map"
    assert cfg.agent.query_timeout_s == 600.0 and isinstance(cfg.agent.query_timeout_s, float)


@pytest.mark.parametrize("key,value,words", [
    ("sandbox.mode", "bogus", ["sandbox.mode", "auto, strict, off", "'bogus'"]),
    ("keyframes.max_query_frames", 0, ["keyframes.max_query_frames", "from 1 to 1024"]),
    ("agent.max_steps", -5, ["agent.max_steps", "from 1 to 1000"]),
    ("agent.executor", "magic", ["agent.executor", "code, tool_call, single_pass, no_tool"]),
    ("vlm.temperature", float("nan"), ["vlm.temperature", "finite"]),
    ("agent.max_steps", "7", ["agent.max_steps", "must be int"]),
])
def test_bad_values_are_config_errors_naming_the_parameter_and_allowed_values(
        key: str, value: object, words: list[str]) -> None:
    with pytest.raises(ConfigError) as ei:
        load_config(DEFAULT_CONFIG, {key: value})
    for w in words:
        assert w in str(ei.value), str(ei.value)


def test_frame_age_thresholds_must_be_ordered() -> None:
    with pytest.raises(ConfigError, match="frame_error_age_s"):
        Config.from_flat({"diagnostics.frame_warn_age_s": 5.0,
                          "diagnostics.frame_error_age_s": 1.0})


def test_cli_config_error_is_not_a_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    from spatialclaw_ros.cli import main

    rc = main(["info", "--bag", "/nonexistent/bag", "--set", "sandbox.mode=bogus"])
    err = capsys.readouterr().err
    assert rc == 2 and "configuration error" in err and "auto, strict, off" in err
    assert "Traceback" not in err


def test_ros_args_are_split_off_for_rclpy() -> None:
    from spatialclaw_ros.cli import split_ros_args
    from spatialclaw_ros.commands.agent import with_default_remaps

    ours, ros = split_ros_args(["agent", "--set", "a=1", "--", "--ros-args", "-r", "__ns:=/r1",
                                "-p", "x:=1", "--params-file", "f.yaml"])
    assert ours == ["agent", "--set", "a=1"]
    assert ros == ["--ros-args", "-r", "__ns:=/r1", "-p", "x:=1", "--params-file", "f.yaml"]
    assert split_ros_args(["agent", "--ros-args", "-p", "x:=1", "--", "--set", "a=1"]) == (
        ["agent", "--set", "a=1"], ["--ros-args", "-p", "x:=1"])
    remapped = with_default_remaps(["--ros-args", "-r", "color:=/rs/color"])
    assert remapped[:3] == ["--ros-args", "-r", "color:=/rs/color"]
    assert "color:=camera/color/image_raw" not in remapped
    assert "camera_info:=camera/color/camera_info" in remapped
    assert with_default_remaps([])[0] == "--ros-args"
