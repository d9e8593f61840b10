"""`spatialclaw eval`: run a question set through the offline pipeline and score it (MRA, exact match)."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from spatialclaw_ros.config import Config


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Register `spatialclaw eval` flags."""
    p.add_argument("sets", nargs="+", metavar="SET",
                   help="question sets: <bag>.scene.json sidecars, bag directories, or folders of them")
    p.add_argument("--programs", metavar="DIR",
                   help="answer with the program DIR/<scene>/<qNN>.py per question instead of the VLM")
    p.add_argument("--write-programs", metavar="DIR",
                   help="write the reference program of every question to DIR and exit")
    p.add_argument("--executor", choices=["code", "tool_call", "single_pass", "no_tool"],
                   help="agent executor for VLM runs (default: agent.executor)")
    p.add_argument("--parallel", "-j", type=int, default=1, metavar="N",
                   help="questions answered at once (1..16; each holds one kernel)")
    p.add_argument("--only", action="append", default=[], metavar="ID",
                   help="question id or prefix (e.g. sim_a/ or sim_a/q03); repeatable")
    p.add_argument("--kind", action="append", default=[], help="question kind filter; repeatable")
    p.add_argument("--limit", type=int, default=0, help="at most N questions")
    p.add_argument("--out", metavar="DIR",
                   help="write results.json, report.html and transcripts/ here")
    p.add_argument("--json", action="store_true", help="print the results as JSON on stdout")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    p.add_argument("--force", action="store_true", help="overwrite programs with --write-programs")


def run(args: argparse.Namespace, cfg: Config) -> int:
    """Run the set, print the tables, write the outputs; 0 when every question got an answer."""
    from spatialclaw_ros.agent.types import Executor
    from spatialclaw_ros.eval.scenes import load_items

    try:
        items = load_items(args.sets, only=args.only, kinds=args.kind, limit=args.limit)
    except (FileNotFoundError, ValueError, KeyError, json.JSONDecodeError) as exc:
        print(f"spatialclaw eval: cannot load the question set: {exc}", file=sys.stderr)
        return 2
    if not items:
        print("spatialclaw eval: no questions match (check --only/--kind)", file=sys.stderr)
        return 2
    if args.write_programs:
        from spatialclaw_ros.eval.programs import write_programs

        try:
            paths = write_programs(items, args.write_programs, overwrite=args.force)
        except (FileExistsError, ValueError) as exc:
            print(f"spatialclaw eval: {exc}", file=sys.stderr)
            return 2
        print(f"wrote {len(paths)} programs under {args.write_programs}")
        return 0
    if args.programs and not Path(args.programs).is_dir():
        print(f"spatialclaw eval: --programs {args.programs} is not a directory", file=sys.stderr)
        return 2
    if not args.programs:
        from spatialclaw_ros.eval.demo import vlm_reachable

        ok, why = vlm_reachable(cfg.vlm.base_url)
        if not ok:
            print(f"spatialclaw eval: the VLM at {cfg.vlm.base_url} is not reachable ({why}). Start "
                  "vLLM, pass --vlm-url URL, or answer with --programs DIR", file=sys.stderr)
            return 2
    out = Path(args.out) if args.out else None
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        cfg.agent.transcript_dir = str((out / "transcripts").resolve())

    from spatialclaw_ros.eval.runner import format_table, run_eval

    report = run_eval(items, cfg, programs_dir=args.programs,
                      executor=Executor(args.executor) if args.executor else None,
                      parallel=args.parallel, progress=not args.no_progress)
    if args.json:
        print(json.dumps(report.to_dict(), indent=1, default=str))
    else:
        print(format_table(report))
        for it in report.items:
            if it.error:
                print(f"  {it.qid}: {it.error[:300]}", file=sys.stderr)
        for n in report.notes:
            print(f"note: {n}", file=sys.stderr)
    if out is not None:
        from spatialclaw_ros.eval.report import render_html, scene_thumbnails

        (out / "results.json").write_text(json.dumps(report.to_dict(), indent=1, default=str) + "\n")
        html_path = render_html(report, out / "report.html",
                                thumbnails=scene_thumbnails(items, out / "thumbs"))
        print(f"wrote {out / 'results.json'} and {html_path}", file=sys.stderr)
    return 0 if all(i.success for i in report.items) else 1
