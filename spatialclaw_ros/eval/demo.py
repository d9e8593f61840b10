"""`spatialclaw query --demo`: answer a question about the bundled simulated scene, next to the truth.

With a reachable VLM (VLM_URL, SPATIALCLAW_VLM_URL, --vlm-url or vlm.base_url) the agent answers;
otherwise the bundled example program does, and the demo says so.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from spatialclaw_ros.config import Config

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
DEMO_BAG = DATA_DIR / "demo_scene"
DEMO_PROGRAMS = DATA_DIR / "programs"
DEMO_KINDS = ("distance_closest", "camera_travel")   # preferred question kinds, in order


def vlm_reachable(base_url: str, timeout_s: float = 2.0) -> tuple[bool, str]:
    """Whether an OpenAI-compatible server answers at ``base_url`` (GET /models), and why not."""
    if not base_url:
        return False, "no endpoint configured"
    url = base_url.rstrip("/") + "/models"
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as resp:
            resp.read(1)
        return True, "ok"
    except urllib.error.HTTPError:
        return True, "answered with an HTTP error (reachable)"
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return False, str(getattr(exc, "reason", exc))


def pick_question(scene: dict[str, Any], text: str | None) -> dict[str, Any] | None:
    """The scene question to ask: the one matching ``text``, else the first of a preferred kind."""
    qs = scene.get("questions", [])
    if text:
        for q in qs:
            if q["question"].strip().lower() == text.strip().lower():
                return q
        return None
    for kind in DEMO_KINDS:
        for q in qs:
            if q.get("kind") == kind:
                return q
    return qs[0] if qs else None


def run_demo(args: argparse.Namespace, cfg: Config) -> int:
    """Replay the bundled scene bag, answer one question, print the answer and the ground truth."""
    from spatialclaw_ros.agent.types import AnswerType, QueryRequest
    from spatialclaw_ros.bags.reader import load_bag
    from spatialclaw_ros.eval.scenes import objects_metadata, program_path
    from spatialclaw_ros.eval.scoring import score_answer
    from spatialclaw_ros.sim.generate import load_scene

    as_json = bool(getattr(args, "json", False))
    say = (lambda *a: print(*a, file=sys.stderr)) if as_json else print  # noqa: E731
    env_url = os.environ.get("VLM_URL")
    if env_url and not getattr(args, "vlm_url", None):
        cfg.vlm.base_url = env_url
    if not DEMO_BAG.exists():
        print(f"spatialclaw query --demo: the bundled scene {DEMO_BAG} is missing; regenerate it with "
              "`spatialclaw sim --preset demo --out spatialclaw_ros/data`", file=sys.stderr)
        return 3
    scene = load_scene(DEMO_BAG)
    text = getattr(args, "question", None)
    q = pick_question(scene, text)
    program_file = getattr(args, "program", None)
    ok, why = vlm_reachable(cfg.vlm.base_url)
    if q is None:
        if not ok and not program_file:
            print(f"spatialclaw query --demo: {text!r} is not one of the demo scene's questions and "
                  f"no VLM is reachable at {cfg.vlm.base_url} ({why}); ask one of:\n  "
                  + "\n  ".join(x["question"] for x in scene["questions"]), file=sys.stderr)
            return 2
        q = {"id": "demo/free", "question": text, "answer_type": "auto", "answer": None,
             "choices": [], "unit": ""}
    if program_file:
        program = Path(program_file).read_text()
        mode = f"program {program_file}"
    elif ok:
        program = None
        mode = f"VLM {cfg.vlm.model or '(first listed model)'} at {cfg.vlm.base_url}"
    else:
        path = program_path(DEMO_PROGRAMS, q["id"])
        if not path.exists():
            print(f"spatialclaw query --demo: no VLM reachable at {cfg.vlm.base_url} ({why}) and no "
                  f"bundled program for {q['id']}", file=sys.stderr)
            return 2
        program = path.read_text()
        mode = (f"bundled example program {path.relative_to(DATA_DIR.parent.parent)} (no VLM reachable at "
                f"{cfg.vlm.base_url}: {why}; set VLM_URL or --vlm-url to let the model answer)")
    say(f"scene:     {DEMO_BAG} ({len(scene['objects'])} objects, "
        f"{scene['options']['frames']} frames, simulated RGB-D)")
    say(f"question:  {q['question']}")
    say(f"answering: {mode}")
    frames = load_bag(DEMO_BAG, cfg).frames
    answer_type = AnswerType(q["answer_type"]) if q["answer_type"] != "auto" else AnswerType.AUTO
    request = QueryRequest(question=q["question"], answer_type=answer_type,
                           choices=list(q.get("choices") or []))
    from spatialclaw_ros.agent.runner import run_query
    from spatialclaw_ros.kernel import KernelPool

    pool = KernelPool(cfg.sandbox, size=1)
    try:
        result = run_query(request, frames, cfg, program=program,
                           pool=pool, extra_metadata={"objects": objects_metadata(scene)})
    finally:
        pool.close()
    answer = result.answer.to_dict() if result.success and result.answer else None
    score = score_answer(q, answer) if q.get("answer") is not None else None
    if as_json:
        print(json.dumps({"question": q, "mode": mode, "result": result.to_dict(),
                          "ground_truth": q.get("answer"),
                          "score": None if score is None else score.score}, indent=1, default=str))
    else:
        unit = f" {q.get('unit')}" if q.get("unit") else ""
        if answer:
            print(f"answer:       {answer['text']}")
        else:
            print(f"no answer:    {result.error_code.name}: {result.error_message}")
        if q.get("answer") is not None:
            print(f"ground truth: {q['answer']}{unit}")
        if score is not None:
            print(f"score:        {score.score:.2f} ({score.metric})")
        if result.transcript_path:
            print(f"transcript:   {result.transcript_path}")
    return 0 if result.success else 1
