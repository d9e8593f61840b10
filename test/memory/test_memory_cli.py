"""`spatialclaw query --memory DIR` (program path: the real kernel, no VLM) and a segment through `--bag`."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from spatialclaw_ros.cli import main
from spatialclaw_ros.config import MemoryConfig
from spatialclaw_ros.memory.store import MemoryStore
from spatialclaw_ros.memory.synth import NS, T0_NS, SynthWorld, record


@pytest.fixture(scope="module")
def memory_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """70 s recorded, with a map -> odom correction."""
    world = SynthWorld()
    d = tmp_path_factory.mktemp("cli") / "memory"
    with MemoryStore(d, MemoryConfig(segment_max_s=30.0), objects=world.objects_metadata()) as st:
        record(st, world, 0.0, 70.0)
        T = np.eye(4)
        T[:3, 3] = [1.0, 0.0, 0.0]
        st.add_correction(T0_NS + 60 * NS, "map", "odom", T)
    return d


def test_query_memory_with_a_program(memory_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    prog = tmp_path / "p.py"
    prog.write_text("m = tools.Memory.motion(%r, %r)\nReturnAnswer(m['path_length_m'], unit='m')\n"
                    % ((T0_NS + 5 * NS) / NS, (T0_NS + 65 * NS) / NS))
    rc = main(["query", "--memory", str(memory_dir), "--question", "how far did the robot drive?",
               "--program", str(prog), "--json", "--max-frames", "2"])
    out = capsys.readouterr()
    assert rc == 0, out
    doc = json.loads(out.out)
    assert doc["answer"]["number"] == pytest.approx(SynthWorld().path_length(5, 65), rel=1e-3)
    assert any("re-expressed in map" in n for n in doc["notes"])
    assert "2 frames to start" in out.err


def test_query_memory_window_and_errors(memory_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    prog = tmp_path / "p.py"
    prog.write_text("ReturnAnswer(Metadata['num_frames'])\n")
    rc = main(["query", "--memory", str(memory_dir), "--question", "q", "--program", str(prog),
               "--start", "0", "--end", "10", "--json", "--answer-type", "count"])
    doc = json.loads(capsys.readouterr().out)
    assert rc == 0 and 1 <= doc["answer"]["count"] <= 6
    assert all(T0_NS <= s <= T0_NS + 10 * NS for s in doc["frame_stamps_ns"])
    assert main(["query", "--memory", str(tmp_path / "nope"), "--question", "q", "--program", str(prog)]) == 2
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["query", "--memory", str(empty), "--question", "q", "--program", str(prog)]) == 2


def test_a_memory_segment_answers_through_query_bag(memory_dir: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    seg = sorted((memory_dir / "segments").iterdir())[0]
    prog = tmp_path / "p.py"
    prog.write_text("ReturnAnswer(float(np.nanmedian(tools.Reconstruct.get(0).depth)), unit='m')\n")
    rc = main(["query", "--bag", str(seg), "--question", "median depth?", "--program", str(prog), "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert rc == 0 and 0.5 < doc["answer"]["number"] < 8.0


def test_memory_sim_info_and_eval_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    d = tmp_path / "simmem"
    assert main(["memory", "sim", str(d), "--minutes", "2", "--restarts", "1"]) == 0
    qs = json.loads((d / "questions.json").read_text())
    assert {q["qid"] for q in qs} == {"where_mug_t60", "travel_30_90", "on_table_t60"}
    capsys.readouterr()
    assert main(["memory", "info", str(d), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["keyframes"] > 10 and info["frame"] == "odom" and "red mug" in info["objects"]
    assert main(["memory", "eval", str(d), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["summary"]["exact"] == 1.0 and doc["summary"]["mra_metric"] >= 0.97, doc
    assert main(["memory", "info", str(tmp_path / "none")]) == 2


def test_memory_record_a_sim_bag_then_ask_over_it(data_dir: Path, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    d = tmp_path / "bagmem"
    assert main(["memory", "record", str(d), "--bag", str(data_dir / "sim_a"),
                 "--set", "memory.min_interval_s=0.0", "--set", "memory.min_translation_m=0.05"]) == 0
    capsys.readouterr()
    prog = tmp_path / "p.py"
    prog.write_text("r = tools.Memory.last_seen('green mug')\n"
                    "i = tools.Memory.load([r])[0]\n"
                    "p = tools.Geometry.centroid(tools.Geometry.mask_points(i, tools.SAM3.segment(i, text='green mug').mask(0)))\n"
                    "ReturnAnswer(p.tolist(), frame=p.frame)\n")
    rc = main(["query", "--memory", str(d), "--question", "where was the green mug?", "--program", str(prog),
               "--json", "--answer-type", "point"])
    doc = json.loads(capsys.readouterr().out)
    assert rc == 0, doc
    scene = json.loads((data_dir / "sim_a.scene.json").read_text())
    mug = next(o for o in scene["objects"] if o["name"] == "green mug")
    assert np.linalg.norm(np.subtract(doc["answer"]["point"], mug["centroid"])) < 0.06
