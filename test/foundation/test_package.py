"""The package, its interfaces and the config, as a user sees them after `make setup`."""
from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from spatialclaw_ros.agent.types import AnswerType, Executor
from spatialclaw_ros.config import Config, ConfigError, load_config
from spatialclaw_ros.errors import ErrorCode


def test_generated_interfaces_and_core_import_from_one_package() -> None:
    from spatialclaw_ros.action import SpatialQuery
    from spatialclaw_ros.msg import Answer, QueryError, StageTimings, StepProgress
    from spatialclaw_ros.srv import SpatialQuery as SpatialQuerySrv

    goal = SpatialQuery.Goal(question="how far?", answer_type="number", choices=["a", "b"])
    assert goal.question == "how far?" and list(goal.choices) == ["a", "b"]
    assert Answer().choice_index == -1
    assert SpatialQuerySrv.Request().max_steps == 0
    assert StepProgress.PHASE_EXECUTING == "executing"
    assert StageTimings().vlm_s == 0.0
    assert isinstance(SpatialQuery.Result().error, QueryError)


def test_error_codes_match_the_message_constants() -> None:
    from spatialclaw_ros.msg import QueryError

    for code in ErrorCode:
        assert getattr(QueryError, code.name) == int(code), code


def test_answer_and_phase_constants_match_the_core_enums() -> None:
    from spatialclaw_ros.msg import Answer

    for t in AnswerType:
        if t is not AnswerType.AUTO:
            assert getattr(Answer, f"TYPE_{t.name}") == t.value
    assert {e.value for e in Executor} == {"code", "tool_call", "single_pass", "no_tool"}


def test_package_xml_is_format3_apache_with_valid_maintainer(repo_root) -> None:
    from catkin_pkg.package import parse_package

    pkg = parse_package(str(repo_root / "package.xml"))  # validates the maintainer e-mail
    assert pkg.package_format == 3 and pkg.name == "spatialclaw_ros"
    assert [str(lic) for lic in pkg.licenses] == ["Apache-2.0"]
    root = ET.parse(repo_root / "package.xml").getroot()
    assert root.find("export/build_type").text == "ament_cmake"


def test_install_tree_has_launch_and_config_under_share(repo_root) -> None:
    from ament_index_python.packages import get_package_share_directory

    # install/ (Jazzy), install-kilted/ (make setup DISTRO=kilted) or a colcon workspace's
    share = Path(get_package_share_directory("spatialclaw_ros"))
    assert (share / "launch").is_dir() and (share / "config").is_dir()
    assert (share / "config" / "agent.yaml").exists()


def test_default_yaml_equals_the_dataclass_defaults() -> None:
    assert load_config().to_flat() == Config().to_flat()


def test_config_rejects_unknown_and_mistyped_parameters(tmp_path) -> None:
    with pytest.raises(ConfigError, match="unknown parameter 'vlm.nope'"):
        load_config(overrides={"vlm.nope": 1})
    with pytest.raises(ConfigError, match="'agent.max_steps' must be int"):
        load_config(overrides={"agent.max_steps": "many"})
    bad = tmp_path / "bad.yaml"
    bad.write_text("spatialclaw_agent: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)


def test_env_overrides_vlm_url_unless_flag_given(monkeypatch) -> None:
    monkeypatch.setenv("SPATIALCLAW_VLM_URL", "http://127.0.0.1:9/v1")
    assert load_config().vlm.base_url == "http://127.0.0.1:9/v1"
    assert load_config(overrides={"vlm.base_url": "http://x/v1"}).vlm.base_url == "http://x/v1"


def test_cli_lists_every_subcommand() -> None:
    out = subprocess.run([sys.executable, "-m", "spatialclaw_ros.cli", "--help"],
                         capture_output=True, text=True, check=True).stdout
    for name in ("query", "info", "agent", "play", "ask", "eval", "sim", "build-engines", "bench"):
        assert name in out


def test_unquoted_off_gets_a_hint_to_quote_it() -> None:
    with pytest.raises(ConfigError, match='quote the value'):
        load_config(overrides={"sandbox.mode": False})
    assert load_config(overrides={"sandbox.mode": "off"}).sandbox.mode == "off"
