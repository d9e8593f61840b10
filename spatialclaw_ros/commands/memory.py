"""`spatialclaw memory sim|info|eval`: a long simulated run into a memory, what a memory holds, its questions.

- `sim DIR --minutes 10`: the synthetic room (objects move, leave, appear; the robot loops and
  revisits) recorded at a low rate into a memory directory, with `--restarts N` closes and reopens
  of the store on the way; writes DIR/questions.json (exact answers, reference programs).
- `record DIR --bag BAG`: the frames of a rosbag (e.g. a `spatialclaw sim` scene) offered to a memory
  as the node would (novelty gate, disk budget); a `<bag>.scene.json` sidecar gives the object legend.
- `info DIR`: keyframes, span, disk, frame and correction, objects.
- `eval DIR`: every question of DIR/questions.json through the real loop (reference programs in the
  sandboxed kernel, or the VLM with --vlm), scored with MRA / exact match.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from spatialclaw_ros.config import Config


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Flags of `spatialclaw memory`."""
    p.add_argument("action", choices=["sim", "record", "info", "eval"])
    p.add_argument("--bag", metavar="BAG", help="record: the rosbag whose frames go into the memory")
    p.add_argument("dir", metavar="DIR", help="memory directory")
    p.add_argument("--minutes", type=float, default=10.0, help="sim: simulated minutes (>= 8 for every question)")
    p.add_argument("--rate", type=float, default=1.0, help="sim: camera frames per second offered to the memory")
    p.add_argument("--restarts", type=int, default=2, help="sim: close and reopen the store this many times")
    p.add_argument("--vlm", action="store_true", help="eval: ask the VLM instead of running reference programs")
    p.add_argument("--json", action="store_true", help="print JSON")


def run(args: argparse.Namespace, cfg: Config) -> int:
    """Dispatch the action."""
    d = Path(args.dir).expanduser()
    if args.action == "sim":
        return _sim(d, args, cfg)
    if args.action == "record":
        return _record(d, args, cfg)
    from spatialclaw_ros.memory.retrieve import MemoryNotFoundError, MemoryReader

    try:
        reader = MemoryReader(d)
    except MemoryNotFoundError as exc:
        print(f"spatialclaw memory: {exc}", file=sys.stderr)
        return 2
    info = reader.info()
    reader.close()
    if args.action == "info":
        info["disk_mb"] = round(sum(p.stat().st_size for p in d.rglob("*") if p.is_file()) / 2**20, 3)
        print(json.dumps(info, indent=2) if args.json else "\n".join(f"{k}: {v}" for k, v in info.items()))
        return 0
    return _eval(d, args, cfg)


def _sim(d: Path, args: argparse.Namespace, cfg: Config) -> int:
    from spatialclaw_ros.eval.memory_set import build_questions
    from spatialclaw_ros.memory.store import MemoryStore
    from spatialclaw_ros.memory.synth import SynthWorld, record

    if args.minutes <= 0 or args.rate <= 0 or args.restarts < 0:
        print("spatialclaw memory sim: --minutes and --rate must be > 0, --restarts >= 0", file=sys.stderr)
        return 2
    world = SynthWorld()
    end = args.minutes * 60.0
    cuts = [end * k / (args.restarts + 1) for k in range(args.restarts + 2)]
    for a, b in zip(cuts[:-1], cuts[1:]):
        with MemoryStore(d, cfg.memory, fixed_frame=world.fixed_frame, objects=world.objects_metadata()) as st:
            n = record(st, world, a, b, rate_hz=args.rate)
            s = st.stats()
        print(f"recorded {a:.0f}-{b:.0f} s: +{n} keyframes, {s.keyframes} kept, {s.disk_bytes / 2**20:.1f} MB "
              f"(budget {cfg.memory.max_disk_mb} MB)", file=sys.stderr)
    qs = build_questions(world, end, rate_hz=args.rate)
    (d / "questions.json").write_text(json.dumps(
        [{"qid": q.qid, "kind": q.kind, **q.question, "program": q.program} for q in qs], indent=2))
    print(f"{len(qs)} questions with exact answers in {d / 'questions.json'}")
    return 0


def _record(d: Path, args: argparse.Namespace, cfg: Config) -> int:
    from spatialclaw_ros.bags.reader import load_bag
    from spatialclaw_ros.errors import SpatialClawError
    from spatialclaw_ros.eval.scenes import sidecar_objects
    from spatialclaw_ros.memory.store import MemoryStore

    if not args.bag:
        print("spatialclaw memory record: --bag BAG is required", file=sys.stderr)
        return 2
    try:
        data = load_bag(args.bag, cfg, select_keyframes=False)
    except SpatialClawError as exc:
        print(f"spatialclaw memory record: {exc.message}", file=sys.stderr)
        return 1
    try:
        objects = sidecar_objects(args.bag) or None
    except (OSError, ValueError):
        objects = None
    added = 0
    with MemoryStore(d, cfg.memory, fixed_frame=data.fixed_frame or cfg.fixed_frame, objects=objects) as st:
        for f in data.frames:
            if f.T_fixed_base is not None:
                st.add_pose(int(f.stamp_ns), f.T_fixed_base)
            if st.add_frame(f) is not None:
                added += 1
        s = st.stats()
    print(f"{len(data.frames)} frames offered, {added} keyframes added; memory: {s.keyframes} keyframes, "
          f"{s.disk_bytes / 2**20:.2f} MB")
    return 0


def _eval(d: Path, args: argparse.Namespace, cfg: Config) -> int:
    from spatialclaw_ros.eval.memory_set import MemoryQuestion, run_memory_question

    qfile = d / "questions.json"
    if not qfile.is_file():
        print(f"spatialclaw memory eval: no {qfile}; make one with `spatialclaw memory sim`", file=sys.stderr)
        return 2
    rows = []
    for q in json.loads(qfile.read_text()):
        question = {k: v for k, v in q.items() if k not in ("qid", "kind", "program")}
        mq = MemoryQuestion(q["qid"], q["kind"], question, "" if args.vlm else q["program"])
        res, score = run_memory_question(mq, str(d), cfg, use_program=not args.vlm)
        rows.append({"qid": mq.qid, "kind": mq.kind, "metric": score.metric, "score": score.score,
                     "predicted": score.predicted, "truth": score.ground_truth,
                     "error": res.error_message if not res.success else ""})
        if not args.json:
            print(f"{mq.qid:24s} {mq.kind:12s} {score.metric:9s} {score.score:.2f}  pred={score.predicted} "
                  f"truth={score.ground_truth}" + (f"  ({res.error_message[:120]})" if not res.success else ""))
    metric = [r["score"] for r in rows if r["metric"] in ("mra", "point_mra")]
    exact = [r["score"] for r in rows if r["metric"] == "exact"]
    summary = {"questions": len(rows), "mra_metric": sum(metric) / len(metric) if metric else None,
               "exact": sum(exact) / len(exact) if exact else None}
    print(json.dumps({"rows": rows, "summary": summary}, indent=2, default=str) if args.json
          else f"metric MRA {summary['mra_metric']}, exact {summary['exact']}")
    return 0
