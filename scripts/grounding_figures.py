"""Figures for VLM grounding (docs/performance.md, issue 14): box -> mask IoU and answers with backend "vlm".

Usage: `.venv/bin/python scripts/grounding_figures.py [--iou-only] [--out build/grounding.json] [SCENE ...]`
(scenes relative to test/data: sim_a, sim_b, styles/jpeg_mcap, sim_a_noisy, styles/rs_sqlite_mm,
styles/long_slow by default). IoU: oracle boxes (the tight box of each label mask with >= 150 px)
through `tools.grounding.box_to_mask`, against the label mask. Answers: the reference programs
with `perception.segment_backend=vlm`, the boxes coming over HTTP from the grounding oracle
(test/support/grounding_oracle.py) behind the scripted OpenAI server. Correctness only, no timing.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "test" / "data"
SCENES = ("sim_a", "sim_b", "styles/jpeg_mcap", "sim_a_noisy", "styles/rs_sqlite_mm", "styles/long_slow")


def iou_figures(name: str) -> dict[str, Any]:
    """Oracle-box IoU of box_to_mask against the label masks of one scene."""
    from spatialclaw_ros.bags.reader import load_bag
    from spatialclaw_ros.config import Config
    from spatialclaw_ros.tools.grounding import box_to_mask

    ious = []
    for f in load_bag(DATA / name, Config()).frames:
        if f.labels is None or f.depth is None:
            continue
        for k in np.unique(f.labels):
            m = f.labels == k
            if k == 0 or m.sum() < 150:
                continue
            r, c = np.flatnonzero(m.any(1)), np.flatnonzero(m.any(0))
            pm, _ = box_to_mask(f.depth, f.camera.K, [c[0], r[0], c[-1], r[-1]])
            ious.append(float((pm & m).sum() / max(1, (pm | m).sum())))
    return {"boxes": len(ious), "mean_iou": float(np.mean(ious)), "median_iou": float(np.median(ious))}


def answer_figures(name: str) -> dict[str, Any]:
    """Reference programs with segment_backend=vlm and the oracle answering boxes over HTTP."""
    sys.path.insert(0, str(ROOT / "test"))
    from support.grounding_oracle import GroundingOracle
    from support.scripted_vlm import ScriptedVlmServer

    from spatialclaw_ros.bags.reader import load_bag
    from spatialclaw_ros.config import Config, load_config
    from spatialclaw_ros.eval.runner import run_eval
    from spatialclaw_ros.eval.scenes import load_items
    from spatialclaw_ros.sim.generate import load_scene

    if name.startswith("styles/"):
        side = DATA / "styles" / "truth" / (name.split("/", 1)[1] + ".scene.json")
        items, programs = load_items([side]), DATA / "styles" / "programs"
    else:
        side = DATA / (name + ".scene.json")
        items, programs = load_items([DATA / name]), DATA / "programs"
    cfg = load_config()
    cfg.perception.segment_backend = "vlm"
    cfg.agent.transcript_dir = tempfile.mkdtemp(prefix="grounding-figures-")
    cfg.perception.engine_dir = tempfile.mkdtemp(prefix="no-engines-")
    oracle = GroundingOracle(load_bag(items[0].bag, Config()).frames, load_scene(side)["objects"])
    with ScriptedVlmServer(default=oracle) as srv:
        cfg.vlm.base_url = srv.base_url
        rep = run_eval(items, cfg, programs_dir=programs, parallel=2, progress=False)
    metric = [i for i in rep.items if i.answer_type in ("number", "point")]
    other = [i for i in rep.items if i.answer_type not in ("number", "point")]
    return {"metric_mra": float(np.mean([i.score for i in metric])) if metric else None,
            "metric_questions": len(metric),
            "exact": sum(i.score >= 0.999 for i in other), "other_questions": len(other),
            "boxes_asked": oracle.calls,
            "below_1": [[i.qid, i.kind, round(i.score, 3)] for i in rep.items if i.score < 0.999]}


def main() -> int:
    """Print the figures per scene and write them as JSON."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("scenes", nargs="*", default=list(SCENES))
    p.add_argument("--iou-only", action="store_true", help="skip the answers (the slower part)")
    p.add_argument("--out", default=str(ROOT / "build" / "grounding.json"))
    args = p.parse_args()
    sys.path.insert(0, str(ROOT))
    out: dict[str, Any] = {}
    for name in args.scenes:
        out[name] = iou_figures(name)
        if not args.iou_only:
            out[name].update(answer_figures(name))
        print(name, json.dumps(out[name]), flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
