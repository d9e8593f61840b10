"""`spatialclaw info` and `spatialclaw query` argument handling and errors (no VLM, no kernel)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from bag_synth import BagSpec, write_bag

from spatialclaw_ros.cli import main

DEAD_VLM = "http://127.0.0.1:9/v1"     # loopback discard port: nothing listens


def test_info_text(mcap_bag: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", "--bag", str(mcap_bag)]) == 0
    out = capsys.readouterr().out
    assert "(mcap)" in out
    assert "/camera/color/image_raw" in out and "[color]" in out and "10.00 Hz" in out
    assert "odom -> base_link (dynamic, 51 samples" in out
    assert "base_link -> camera_link (static)" in out
    assert "camera frame: camera_color_optical_frame; fixed frame: odom" in out
    assert "frames: 20 matched colour frames, stamps 1700000000.254 .. 1700000002.154 s" in out
    assert "missing for queries: nothing" in out


def test_info_json_and_missing(bag_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bag = write_bag(bag_dir / "cli_notf", BagSpec(tf=False, depth=None, n_frames=3))
    assert main(["info", "--bag", str(bag), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["roles"]["depth"] == "" and doc["tf_tree"] == []
    assert any("Depth Anything 3 only" in m for m in doc["missing"])
    assert any("positions only in the camera frame" in m for m in doc["missing"])
    assert main(["info", "--bag", str(bag)]) == 0
    out = capsys.readouterr().out
    assert "(no /tf or /tf_static)" in out and "missing for queries:\n  - " in out


def test_info_unreadable_bag(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = tmp_path / "x.mcap"
    p.write_bytes(b"\0" * 100)
    assert main(["info", "--bag", str(p)]) == 1
    assert capsys.readouterr().out.startswith("error NO_FRAMES: cannot read bag")


@pytest.mark.parametrize("argv, match", [
    (["--question", "q"], "--bag BAG is required"),
    (["--bag", "{bag}", "--question", "  "], "must not be empty"),
    (["--bag", "{bag}/nope", "--question", "q"], "does not exist"),
    (["--bag", "{bag}", "--question", "q", "--start", "5", "--end", "2"], "before --start"),
    (["--bag", "{bag}", "--question", "q", "--answer-type", "choice"], "at least two options"),
    (["--bag", "{bag}", "--question", "q", "--program", "{bag}/missing.py"], "does not exist"),
    (["--bag", "{bag}", "--question", "q", "--max-steps", "0"], "max-steps"),
])
def test_query_bad_arguments_exit_2(argv, match, mcap_bag: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    argv = [a.replace("{bag}", str(mcap_bag)) for a in argv]
    assert main(["query", *argv]) == 2
    assert match in capsys.readouterr().err


def test_query_without_program_or_vlm_says_what_is_missing(
        mcap_bag: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["query", "--bag", str(mcap_bag), "--question", "how far?", "--vlm-url", DEAD_VLM,
               "--json"])
    assert rc == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["success"] is False and doc["answer"] is None
    assert doc["error"]["name"] == "VLM_UNREACHABLE"
    assert "--program FILE" in doc["error"]["message"] and DEAD_VLM in doc["error"]["message"]
    rc = main(["query", "--bag", str(mcap_bag), "--question", "how far?", "--vlm-url", DEAD_VLM])
    assert rc == 1
    assert capsys.readouterr().out.startswith("error VLM_UNREACHABLE: no --program given")


def test_query_unreachable_fixed_frame(mcap_bag: Path, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    prog = tmp_path / "p.py"
    prog.write_text("ReturnAnswer(1.0)\n")
    rc = main(["query", "--bag", str(mcap_bag), "--question", "q", "--program", str(prog),
               "--fixed-frame", "map", "--json"])
    assert rc == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["error"]["name"] == "NO_TRANSFORM"
    assert "'map'" in doc["error"]["message"] and "TF roots in the bag: odom" in \
        doc["error"]["message"]


def test_query_window_outside_bag(mcap_bag: Path, tmp_path: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    prog = tmp_path / "p.py"
    prog.write_text("ReturnAnswer(1.0)\n")
    rc = main(["query", "--bag", str(mcap_bag), "--question", "q", "--program", str(prog),
               "--start", "50", "--end", "60"])
    assert rc == 1
    assert "error NO_FRAMES: no frames in the window" in capsys.readouterr().out


def test_stamps_absolute_inside_the_bag_else_relative_to_first_frame() -> None:
    from spatialclaw_ros.commands.query import _to_ns
    first, last = 1_700_000_000 * 10**9, 1_700_000_010 * 10**9
    assert _to_ns(1_700_000_002.5, first, last) == 1_700_000_002_500_000_000
    assert _to_ns(2.5, first, last) == first + 2_500_000_000
    assert _to_ns(2.5, 0, 10 * 10**9) == 2_500_000_000          # sim time from 0: absolute


def test_query_bag_without_camera_info(bag_dir: Path, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    bag = write_bag(bag_dir / "cli_noinfo", BagSpec(camera_info=False, n_frames=3))
    prog = tmp_path / "p.py"
    prog.write_text("ReturnAnswer(1.0)\n")
    rc = main(["query", "--bag", str(bag), "--question", "q", "--program", str(prog), "--json"])
    assert rc == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["error"]["name"] == "NO_CAMERA_INFO"
    assert "/camera/color/camera_info" in doc["error"]["message"]
