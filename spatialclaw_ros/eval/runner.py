"""Run a question set through the real offline pipeline (load_bag -> run_query) and score it."""
from __future__ import annotations

import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

from spatialclaw_ros.agent.types import Executor
from spatialclaw_ros.config import Config
from spatialclaw_ros.errors import ErrorCode
from spatialclaw_ros.eval.scenes import EvalItem, objects_metadata, program_path
from spatialclaw_ros.eval.scoring import Score, score_answer

MAX_PARALLEL = 16


@dataclass
class ItemResult:
    """The outcome of one question."""

    qid: str
    scene: str
    kind: str
    answer_type: str
    question: str
    ground_truth: Any
    unit: str
    predicted: Any
    score: float
    metric: str
    success: bool
    answer_text: str = ""
    error: str = ""
    transcript_path: str = ""
    duration_s: float = 0.0
    steps_used: int = 0
    notes: list[str] = field(default_factory=list)
    cannot_answer: bool = False          # ended with CANNOT_ANSWER (not a wrong answer)
    error_code: str = ""                 # error name when not answered


@dataclass
class GroupSummary:
    """Mean score of a group of questions."""

    name: str
    n: int
    mean_score: float
    answered: int
    cannot_answer: int = 0               # said "cannot answer" (scored 0, counted apart from wrong)
    wrong: int = 0                       # answered with a score below 1


@dataclass
class EvalReport:
    """All results, summaries per kind, per answer type and overall, and how the run was made."""

    items: list[ItemResult]
    by_kind: list[GroupSummary]
    by_answer_type: list[GroupSummary]
    overall: GroupSummary
    mode: str                       # "programs DIR" or "vlm MODEL @ URL (executor)"
    wall_s: float
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly dict."""
        return {"mode": self.mode, "wall_s": round(self.wall_s, 3), "notes": self.notes,
                "overall": asdict(self.overall),
                "by_kind": [asdict(g) for g in self.by_kind],
                "by_answer_type": [asdict(g) for g in self.by_answer_type],
                "items": [asdict(i) for i in self.items]}


def summarise(items: list[ItemResult], key: Callable[[ItemResult], str]) -> list[GroupSummary]:
    """Mean score per group, groups in first-seen order."""
    groups: dict[str, list[ItemResult]] = {}
    for it in items:
        groups.setdefault(key(it), []).append(it)
    return [_group(k, v) for k, v in groups.items()]


def _group(name: str, v: list[ItemResult]) -> GroupSummary:
    return GroupSummary(name, len(v), sum(i.score for i in v) / len(v), sum(i.success for i in v),
                        cannot_answer=sum(i.cannot_answer for i in v),
                        wrong=sum(i.success and i.score < 1.0 for i in v))


class ProgressBar:
    """A one-line progress bar on stderr (one line per item when stderr is not a terminal)."""

    def __init__(self, total: int, stream: Any = None, enabled: bool = True) -> None:
        self.total, self.done, self.sum = total, 0, 0.0
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._lock = threading.Lock()

    def update(self, item: ItemResult) -> None:
        """Count one finished item."""
        with self._lock:
            self.done += 1
            self.sum += item.score
            if not self.enabled:
                return
            width = 28
            fill = int(width * self.done / max(1, self.total))
            bar = "#" * fill + "." * (width - fill)
            text = (f"[{bar}] {self.done}/{self.total} mean={self.sum / self.done:.3f} "
                    f"{item.qid} {item.score:.2f}")
            if self.tty:
                self.stream.write("\r" + text[:120].ljust(120))
                if self.done == self.total:
                    self.stream.write("\n")
            else:
                self.stream.write(text + "\n")
            self.stream.flush()


def run_eval(items: list[EvalItem], cfg: Config, *, programs_dir: str | Path | None = None,
             executor: Executor | None = None, parallel: int = 1, progress: bool = True,
             stream: Any = None) -> EvalReport:
    """Answer every item (programs from ``programs_dir``, else the VLM) and score the answers."""
    from spatialclaw_ros.agent.runner import run_query
    from spatialclaw_ros.bags.multicam import load_query_bag
    from spatialclaw_ros.kernel import KernelPool

    if not items:
        raise ValueError("the question set is empty (check the paths and --only/--kind filters)")
    parallel = max(1, min(int(parallel), MAX_PARALLEL))
    t0 = time.monotonic()
    notes: list[str] = []

    # Each bag is read once; its frames are shared read-only by the questions about it.
    from spatialclaw_ros.offline import offline_metadata, perception_for

    frames_of: dict[Path, Any] = {}
    meta_of: dict[Path, dict[str, Any]] = {}
    load_errors: dict[Path, str] = {}
    for bag in sorted({it.bag for it in items}):
        try:
            data = load_query_bag(bag, cfg)     # several cameras: every camera's frames
            frames_of[bag] = data.frames
            meta_of[bag] = offline_metadata(data.report, bag, cfg)
        except Exception as exc:  # noqa: BLE001 - reported per question
            load_errors[bag] = f"{type(exc).__name__}: {exc}"

    pool = KernelPool(cfg.sandbox, size=parallel)
    bar = ProgressBar(len(items), stream, enabled=progress)

    def one(item: EvalItem) -> ItemResult:
        t = time.monotonic()
        base = dict(qid=item.qid, scene=item.scene.get("name", ""), kind=item.kind,
                    answer_type=item.answer_type, question=item.question["question"],
                    ground_truth=item.question["answer"], unit=item.question.get("unit", ""))
        program = None
        if programs_dir is not None:
            path = program_path(Path(programs_dir), item.qid)
            if not path.exists():
                return ItemResult(**base, predicted=None, score=0.0, metric="none", success=False,
                                  error=f"no program for {item.qid} at {path}")
            program = path.read_text()
        if item.bag in load_errors:
            return ItemResult(**base, predicted=None, score=0.0, metric="none", success=False,
                              error=f"bag {item.bag}: {load_errors[item.bag]}")
        request = item.request()
        if executor is not None:
            request.executor = executor
        # Metadata['objects'] come from the bag's label legend; a bag without one falls back to the
        # question set's scene objects (what tools.SAM3's labels backend matches).
        extra = dict(meta_of[item.bag])
        if not extra.get("objects") and item.scene.get("objects"):
            extra["objects"] = objects_metadata(item.scene)
        with perception_for(frames_of[item.bag], cfg) as handlers:
            result = run_query(request, frames_of[item.bag], cfg, program=program, pool=pool,
                               extra_metadata=extra, handlers=handlers)
        answer = result.answer.to_dict() if result.success and result.answer else None
        s: Score = score_answer(item.question, answer)
        return ItemResult(**base, predicted=s.predicted, score=s.score, metric=s.metric,
                          success=bool(result.success), answer_text=answer["text"] if answer else "",
                          error="" if result.success else f"{result.error_code.name}: "
                                                          f"{result.error_message}",
                          transcript_path=result.transcript_path,
                          duration_s=round(time.monotonic() - t, 3), steps_used=result.steps_used,
                          notes=s.notes + list(result.notes),
                          cannot_answer=result.error_code == ErrorCode.CANNOT_ANSWER,
                          error_code="" if result.success else result.error_code.name)

    results: dict[str, ItemResult] = {}
    try:
        with ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="eval") as ex:
            futures = {ex.submit(one, it): it for it in items}
            for fut in as_completed(futures):
                it = futures[fut]
                try:
                    r = fut.result()
                except Exception as exc:  # noqa: BLE001 - one question never stops the set
                    r = ItemResult(qid=it.qid, scene=it.scene.get("name", ""), kind=it.kind,
                                   answer_type=it.answer_type, question=it.question["question"],
                                   ground_truth=it.question["answer"],
                                   unit=it.question.get("unit", ""), predicted=None, score=0.0,
                                   metric="none", success=False,
                                   error=f"internal: {type(exc).__name__}: {exc}")
                results[it.qid] = r
                bar.update(r)
    finally:
        closer = getattr(pool, "close", None)
        if closer:
            closer()
    ordered = [results[it.qid] for it in items]
    mode = (f"programs {programs_dir}" if programs_dir is not None else
            f"vlm {cfg.vlm.model or '(first listed)'} @ {cfg.vlm.base_url} "
            f"({(executor.value if executor else cfg.agent.executor)})")
    overall = _group("overall", ordered)
    return EvalReport(items=ordered, by_kind=summarise(ordered, lambda i: i.kind),
                      by_answer_type=summarise(ordered, lambda i: i.answer_type), overall=overall,
                      mode=mode, wall_s=time.monotonic() - t0, notes=notes)


def format_table(report: EvalReport) -> str:
    """Plain-text tables: per question kind, per answer type, overall."""
    lines = []
    for title, groups in (("question kind", report.by_kind), ("answer type", report.by_answer_type)):
        lines.append(f"{title:<20} {'n':>4} {'answered':>9} {'score':>7} {'wrong':>6} {'cannot':>7}")
        for g in groups:
            lines.append(f"{g.name:<20} {g.n:>4} {g.answered:>9} {g.mean_score:>7.3f} {g.wrong:>6} "
                         f"{g.cannot_answer:>7}")
        lines.append("")
    o = report.overall
    lines.append(f"{'overall':<20} {o.n:>4} {o.answered:>9} {o.mean_score:>7.3f} {o.wrong:>6} "
                 f"{o.cannot_answer:>7}")
    lines.append("(numbers: MRA over thresholds 0.50..0.95; points: MRA of error / distance from the "
                 "first camera; choices, counts, booleans: exact match; wrong = answered with a score "
                 "below 1; cannot = ended with CANNOT_ANSWER, scored 0 and counted apart)")
    return "\n".join(lines)
