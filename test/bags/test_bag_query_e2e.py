"""`spatialclaw query --program` end to end: bag -> frames -> sandboxed kernel -> JSON result."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from bag_synth import NS, T0_NS, BagSpec, frame_stamp

from spatialclaw_ros.bags.reader import load_bag
from spatialclaw_ros.cli import main
from spatialclaw_ros.config import Config
from spatialclaw_ros.frames.buffer import spread_indices

# The red channel of frame i is i (test/bags/bag_synth.py), so the program can prove which frames
# reached the kernel, in which order.
PROGRAM = """
idx = [int(img[0, 0, 0]) for img in InputImages]
print("indices", idx)
ReturnAnswer(float(idx[-1] * 100 + len(idx)))
"""


def run_query(bag: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], *extra: str,
              program: str = PROGRAM) -> tuple[int, dict, str]:
    prog = tmp_path / "prog.py"
    prog.write_text(program)
    rc = main(["query", "--bag", str(bag), "--question", "Which frame is last?", "--program",
               str(prog), "--answer-type", "number", "--json",
               "--set", f"agent.transcript_dir={tmp_path / 'transcripts'}", *extra])
    cap = capsys.readouterr()
    return rc, json.loads(cap.out), cap.err


def test_program_answer_and_frames(mcap_bag: Path, tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    rc, doc, err = run_query(mcap_bag, tmp_path, capsys)
    assert rc == 0, doc
    cfg = Config()
    keyframes = load_bag(mcap_bag, cfg).frames
    expect = [keyframes[i].stamp_ns for i in spread_indices(len(keyframes),
                                                            cfg.keyframes.max_query_frames)]
    assert doc["frame_stamps_ns"] == expect
    last = round(((expect[-1] - T0_NS) / NS - 0.2537) * 10)
    assert doc["success"] is True and doc["error"]["name"] == "NONE"
    assert doc["answer"]["answer_type"] == "number"
    assert doc["answer"]["number"] == pytest.approx(last * 100 + len(expect))
    assert doc["steps_used"] == 1
    assert Path(doc["transcript_path"]).exists()
    assert "[step 1/" in err


def test_program_at_one_stamp(mcap_bag: Path, tmp_path: Path,
                              capsys: pytest.CaptureFixture[str]) -> None:
    # seconds from the first colour frame, 20 ms past frame 13
    at = (frame_stamp(13, BagSpec()) - frame_stamp(0, BagSpec())) / NS + 0.02
    rc, doc, _ = run_query(mcap_bag, tmp_path, capsys, "--at", f"{at:.4f}")
    assert rc == 0, doc
    assert doc["frame_stamps_ns"] == [frame_stamp(13, BagSpec())]
    assert doc["answer"]["number"] == pytest.approx(13 * 100 + 1)


def test_program_error_is_reported(mcap_bag: Path, tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    rc, doc, _ = run_query(mcap_bag, tmp_path, capsys, program="x = 1 / 0\n")
    assert rc == 1
    assert doc["success"] is False and doc["answer"] is None
    assert "ZeroDivisionError" in doc["error"]["message"]


def test_sim_fixture_program_within_a_centimetre(data_dir: Path, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    """A committed MuJoCo bag and its program: object names come from the scene sidecar."""
    scene = json.loads((data_dir / "sim_a.scene.json").read_text())
    q = next(q for q in scene["questions"] if q["kind"] == "distance_closest")
    program = (data_dir / "programs" / "sim_a" / f"{q['id'].split('/')[1]}.py").read_text()
    rc, doc, err = run_query(data_dir / "sim_a", tmp_path, capsys, program=program)
    assert rc == 0, doc
    assert "object names from" in err
    assert doc["answer"]["number"] == pytest.approx(q["answer"], abs=0.01)
    assert doc["answer"]["unit"] == "m"
