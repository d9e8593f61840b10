"""What a bag holds (label legend, encodings, what a query can do) and frames as the user means them."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from spatialclaw_ros.bags.legend import LegendError, parse_legend
from spatialclaw_ros.bags.reader import load_bag
from spatialclaw_ros.config import Config
from spatialclaw_ros.errors import NoFramesError
from spatialclaw_ros.sim.generate import SimOptions, generate_scene, sidecar_path
from spatialclaw_ros.sim.noise import DepthNoise

CFG = Config()


@pytest.mark.parametrize("text", [
    '{"version": 1, "objects": [{"id": 2, "name": "red mug", "class": "mug", "color": "red"}]}',
    '[{"instance_id": 2, "label": "red mug"}]',
    '{"2": "red mug"}',
    '{"labels": {"2": {"name": "red mug", "category": "mug"}}}',
])
def test_legend_layouts(text: str) -> None:
    objs = parse_legend(text)
    assert objs == [{"id": 2, "name": "red mug", "class": "mug", "color": "red"}]


def test_legend_errors_say_what_is_wrong() -> None:
    with pytest.raises(LegendError, match="not JSON"):
        parse_legend("red mug = 2")
    with pytest.raises(LegendError, match="id > 0 and a name"):
        parse_legend('[{"id": 0, "name": "background"}]')


@pytest.fixture(scope="module")
def driver_bag(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """RealSense topic names, sqlite3, JPEG colour, 16UC1 mm depth with noise, no sidecar."""
    d = tmp_path_factory.mktemp("styles")
    opts = SimOptions(seed=21, frames=7, fps=3.0, width=160, height=120, depth_encoding="16UC1",
                      topic_style="realsense", storage="sqlite3", color_format="jpeg",
                      noise=DepthNoise(0.003, 0.5, 2))
    g = generate_scene(opts, d, "rs")
    side = sidecar_path(g.bag)
    (d / "truth.json").write_text(side.read_text())
    side.unlink()                                  # what other recorders leave: no sidecar
    return g.bag


def test_reader_finds_the_legend_and_formats(driver_bag: Path) -> None:
    truth = json.loads((driver_bag.parent / "truth.json").read_text())
    r = load_bag(driver_bag, CFG, load_frames=False).report
    assert r.storage == "sqlite3"
    assert r.roles["color"] == "/camera/camera/color/image_raw/compressed"
    assert r.roles["depth"] == "/camera/camera/aligned_depth_to_color/image_raw"
    assert r.roles["labels"] == "/camera/camera/instance_labels"
    assert r.legend_topic == "/camera/camera/instance_labels/legend"
    assert [(o["id"], o["name"]) for o in r.objects] == \
        [(o["id"], o["name"]) for o in truth["objects"]]
    assert r.formats["color"].startswith("jpeg")
    assert r.formats["depth"].startswith("16UC1 (uint16 millimetres")


def test_info_reports_what_a_query_can_do(driver_bag: Path, capsys: pytest.CaptureFixture) -> None:
    from spatialclaw_ros.cli import main

    assert main(["info", "--bag", str(driver_bag), "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["capabilities"]["objects"].startswith("by label legend (")
    assert rep["capabilities"]["depth"].startswith("sensor 16UC1")
    assert rep["formats"]["color"].startswith("jpeg")
    assert len(rep["objects"]) == len(json.loads((driver_bag.parent / "truth.json").read_text())
                                      ["objects"])
    assert main(["info", "--bag", str(driver_bag)]) == 0
    out = capsys.readouterr().out
    assert "objects: by label legend" in out and "depth format: 16UC1" in out


def test_first_and_last_frames_are_keyframes(driver_bag: Path) -> None:
    cfg = Config()
    cfg.keyframes.min_interval_s = 1.0          # 3 Hz: most frames are skipped...
    cfg.keyframes.min_translation_m = 10.0
    cfg.keyframes.min_rotation_deg = 180.0
    data = load_bag(driver_bag, cfg)
    idx = [f.recording_index for f in data.frames]
    assert idx[0] == 0 and idx[-1] == 6             # ...but never the last one
    assert idx == sorted(idx) and len(idx) < 7
    assert data.report.recording_stamps_ns[6] == data.frames[-1].stamp_ns


def test_recording_frames_by_index(driver_bag: Path) -> None:
    data = load_bag(driver_bag, CFG, recording_frames=["last", 2, -2])
    assert [f.recording_index for f in data.frames] == [2, 5, 6]
    with pytest.raises(NoFramesError, match="7 colour frames"):
        load_bag(driver_bag, CFG, recording_frames=[7])


def test_query_cli_last_image_and_full_rate_path(driver_bag: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture) -> None:
    """--frames last gives the last recording frame; camera_travel sums the path over every TF sample."""
    from spatialclaw_ros.cli import main

    prog = tmp_path / "p.py"
    prog.write_text(
        "m = tools.Geometry.camera_travel(0, len(InputImages) - 1)\n"
        "ReturnAnswer(str([Metadata['recording_index'], Metadata['recording_count'],\n"
        "                  Metadata['objects_source'], m.path_source, round(m.path_m, 6),\n"
        "                  round(m.travel_m, 6), round(m.turn_deg, 4)]))\n")
    base = ["query", "--bag", str(driver_bag), "--question", "x", "--answer-type", "text",
            "--program", str(prog), "--set", f"agent.transcript_dir={tmp_path / 't'}"]
    assert main(base + ["--frames", "first,last"]) == 0
    rec, count, source, path_source, path_m, travel_m, turn = eval(capsys.readouterr().out.strip())
    assert rec == [0, 6] and count == 7 and source.startswith("label legend")
    assert path_source == "tf"
    # Ground truth: the dense TF path of the camera between the two stamps.
    data = load_bag(driver_bag, CFG, recording_frames=["first", "last"])
    tr = data.report.camera_track
    xyz = np.asarray(tr["xyz"])
    assert len(xyz) > 20                                       # 20 Hz TF over 2 s, not 2 keyframes
    dense = float(np.linalg.norm(np.diff(xyz, axis=0), axis=1).sum())
    assert path_m == pytest.approx(dense, abs=1e-5)
    assert path_m > travel_m                                   # a curved path
    assert turn > 0


def test_query_cli_with_no_legend_uses_the_sidecar(tmp_path: Path, driver_bag: Path,
                                                   capsys: pytest.CaptureFixture) -> None:
    """A sidecar is an optional extra: used only when the bag has no legend."""
    from spatialclaw_ros.cli import main

    opts = SimOptions(seed=22, frames=3, width=96, height=72, legend=False)
    g = generate_scene(opts, tmp_path, "nolegend")
    prog = tmp_path / "p.py"
    prog.write_text("ReturnAnswer(Metadata.get('objects_source', 'none'))\n")
    base = ["query", "--question", "x", "--answer-type", "text", "--program", str(prog),
            "--set", f"agent.transcript_dir={tmp_path / 't'}"]
    assert main(base + ["--bag", str(g.bag)]) == 0
    assert capsys.readouterr().out.strip().startswith("sidecar nolegend.scene.json")
    shutil.copytree(g.bag, tmp_path / "bare")
    assert main(base + ["--bag", str(tmp_path / "bare")]) == 0
    assert capsys.readouterr().out.strip() == "none"


def test_missing_depth_model_has_its_own_code_and_says_how(data_dir: Path, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture) -> None:
    """No depth, no DA3: MODEL_UNAVAILABLE naming build-engines, and available() tells the truth."""
    from spatialclaw_ros.cli import main

    prog = tmp_path / "p.py"
    prog.write_text("a = tools.Reconstruct.available()\n"
                    "print('AVAIL', a['da3'], a['sam3'], a['vlm_grounding'], any(a['depth']))\n"
                    "r = tools.Reconstruct.get(0)\n")
    rc = main(["query", "--bag", str(data_dir / "styles" / "no_depth"), "--question", "x",
               "--program", str(prog), "--json",
               "--set", f"agent.transcript_dir={tmp_path / 't'}",
               "--set", f"perception.engine_dir={tmp_path / 'engines'}"])
    res = json.loads(capsys.readouterr().out)
    assert rc == 1 and res["error"]["name"] == "MODEL_UNAVAILABLE" and res["error"]["code"] == 17
    assert "spatialclaw build-engines --model da3-small" in res["error"]["message"]
    assert "backend='sam3'" not in res["error"]["message"]       # no circle to another model
    events = [json.loads(x) for x in Path(res["transcript_path"]).with_suffix(".jsonl")
              .read_text().splitlines()]
    out = " ".join(str(e.get("stdout", "")) for e in events if e.get("kind") == "cell")
    assert "AVAIL False False False False" in out


def test_kernel_names_recording_frames(driver_bag: Path, tmp_path: Path,
                                       capsys: pytest.CaptureFixture) -> None:
    """tools.Time.recording_frame: 'the last image' and 'image k' of the recording."""
    from spatialclaw_ros.cli import main

    prog = tmp_path / "p.py"
    prog.write_text(
        "out = [tools.Time.recording_frame('last'), tools.Time.recording_frame(2),\n"
        "       tools.Time.recording_frame(-1)]\n"
        "try:\n"
        "    tools.Time.recording_frame(4)\n"
        "except LookupError as e:\n"
        "    out.append('nearest' in str(e))\n"
        "out.append('recording_frame' in tools.Time.table())\n"
        "ReturnAnswer(str(out))\n")
    assert main(["query", "--bag", str(driver_bag), "--question", "x", "--answer-type", "text",
                 "--program", str(prog), "--frames", "2,last",
                 "--set", f"agent.transcript_dir={tmp_path / 't'}"]) == 0
    assert capsys.readouterr().out.strip() == "[1, 0, 1, True, True]"
