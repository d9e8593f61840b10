"""Questions over a long synthetic run with exact answers, their reference programs, and scoring through the real loop.

Kinds (after ReMEmbR's NaVQA, plus metric ones): spatial (where was X at t; where was X last seen),
temporal (how long ago was X last seen), metric (distance between X and Y as last seen; how far
the robot travelled between t0 and t1) and descriptive (how many objects were on the table at t).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from spatialclaw_ros.memory.synth import NS, T0_NS, TABLE_TOP, SynthWorld

T0_S = T0_NS / NS

_WHERE_AT = '''
t = {t_abs}
refs = tools.Memory.search(start_s=t - 60, end_s=t + 60, tags=["{name}"], limit=500)
refs.sort(key=lambda r: abs(r["t_s"] - t))
i = tools.Memory.load(refs[:1])[0]
p = tools.Geometry.centroid(tools.Geometry.mask_points(i, tools.SAM3.segment(i, text="{name}").mask(0)))
ReturnAnswer(p.tolist(), unit="m", frame=p.frame, stamp_ns=p.stamp_ns)
'''

_WHERE_LAST = '''
r = tools.Memory.last_seen("{name}")
i = tools.Memory.load([r])[0]
p = tools.Geometry.centroid(tools.Geometry.mask_points(i, tools.SAM3.segment(i, text="{name}").mask(0)))
ReturnAnswer(p.tolist(), unit="m", frame=p.frame, stamp_ns=p.stamp_ns)
'''

_AGO_LAST = '''
r = tools.Memory.last_seen("{name}")
ReturnAnswer(r["ago_s"], unit="s")
'''

_DIST_LAST = '''
def where(name):
    i = tools.Memory.load([tools.Memory.last_seen(name)])[0]
    return tools.Geometry.centroid(tools.Geometry.mask_points(i, tools.SAM3.segment(i, text=name).mask(0)))
a, b = where("{a}"), where("{b}")
ReturnAnswer(float(np.linalg.norm(np.asarray(a.tolist()) - np.asarray(b.tolist()))), unit="m")
'''

_TRAVEL = '''
ReturnAnswer(tools.Memory.motion({t0_abs}, {t1_abs})["path_length_m"], unit="m")
'''

_ON_TABLE = '''
t = {t_abs}
refs = tools.Memory.search(start_s=t - 30, end_s=t + 30, tags=["table"], limit=500)
idx = tools.Memory.load(sorted(refs, key=lambda r: abs(r["t_s"] - t))[:6])
names = [o["name"] for o in Metadata["objects"] if o["name"] != "table"]
on = set()
for i in idx:
    tab = tools.Geometry.mask_points(i, tools.SAM3.segment(i, text="table").mask(0))
    lo, hi = tab.points.min(axis=0), tab.points.max(axis=0)
    for n in names:
        seg = tools.SAM3.segment(i, text=n)
        if not len(seg):
            continue
        c = np.asarray(tools.Geometry.centroid(tools.Geometry.mask_points(i, seg.mask(0))).tolist())
        if lo[0] - 0.05 <= c[0] <= hi[0] + 0.05 and lo[1] - 0.05 <= c[1] <= hi[1] + 0.05 and c[2] > hi[2] - 0.01:
            on.add(n)
print(sorted(on))
ReturnAnswer(len(on))
'''


@dataclass
class MemoryQuestion:
    """One question with its exact answer and reference program."""

    qid: str
    kind: str
    question: dict[str, Any]
    program: str


def _last_visible(world: SynthWorld, name: str, end_s: float, rate_hz: float) -> float:
    t = math.ceil(end_s * rate_hz - 1e-9) / rate_hz - 1.0 / rate_hz
    while t >= 0:
        if world.visible(t, name):
            return t
        t -= 1.0 / rate_hz
    raise ValueError(f"{name} is never visible before {end_s} s")


def build_questions(world: SynthWorld, end_s: float, *, rate_hz: float = 1.0,
                    pose_hz: float = 5.0) -> list[MemoryQuestion]:
    """The question set for a run of [0, end_s) recorded with synth.record(rate_hz, pose_hz)."""
    cam0 = world.camera_pose(0.0)[:3, 3]
    latest_s = (math.ceil(end_s * pose_hz - 1e-9) - 1) / pose_hz

    def point_q(text: str, gt: np.ndarray) -> dict[str, Any]:
        return {"question": text, "answer_type": "point", "answer": [float(v) for v in gt],
                "scale_m": float(np.linalg.norm(gt - cam0)), "evidence": {"frame": world.fixed_frame}}

    qs: list[MemoryQuestion] = []
    mug = world.object("red mug")
    qs.append(MemoryQuestion("where_mug_t60", "spatial", point_q(
        f"Where was the red mug at time {T0_S + 60:.1f} s?", mug.center_at(60.0)),
        _WHERE_AT.format(t_abs=T0_S + 60.0, name="red mug")))
    qs.append(MemoryQuestion("travel_30_90", "metric", {
        "question": f"How far did the robot travel between {T0_S + 30:.1f} s and {T0_S + 90:.1f} s?",
        "answer_type": "number", "unit": "m", "answer": world.path_length(30.0, 90.0)},
        _TRAVEL.format(t0_abs=T0_S + 30.0, t1_abs=T0_S + 90.0)))
    on_table = [o.name for o in world.objects if o.name != "table" and (c := o.center_at(60.0)) is not None
                and abs(c[2] - o.size[2] / 2 - TABLE_TOP) < 0.01]
    qs.append(MemoryQuestion("on_table_t60", "descriptive", {
        "question": f"How many objects were on the table at time {T0_S + 60:.1f} s?", "answer_type": "count",
        "answer": len(on_table)}, _ON_TABLE.format(t_abs=T0_S + 60.0)))
    if end_s > 480:
        book = world.object("green book")
        seen = _last_visible(world, "green book", 420.0, rate_hz)
        qs.append(MemoryQuestion("book_last_seen_ago", "temporal", {
            "question": "How many seconds before the latest moment in memory was the green book last seen?",
            "answer_type": "number", "unit": "s", "answer": latest_s - seen}, _AGO_LAST.format(name="green book")))
        qs.append(MemoryQuestion("book_last_seen_where", "spatial", point_q(
            "Where was the green book when it was last seen?", book.center_at(seen)),
            _WHERE_LAST.format(name="green book")))
        ball = world.object("blue ball")
        gt = float(np.linalg.norm(mug.center_at(end_s - 1) - ball.center_at(end_s - 1)))
        qs.append(MemoryQuestion("dist_mug_ball_last", "metric", {
            "question": "How far apart were the red mug and the blue ball, as last seen?", "answer_type": "number",
            "unit": "m", "answer": gt}, _DIST_LAST.format(a="red mug", b="blue ball")))
        late = end_s - 10.0
        on_late = [o.name for o in world.objects if o.name != "table" and (c := o.center_at(late)) is not None
                   and abs(c[2] - o.size[2] / 2 - TABLE_TOP) < 0.01]
        qs.append(MemoryQuestion("on_table_late", "descriptive", {
            "question": f"How many objects were on the table at time {T0_S + late:.1f} s?", "answer_type": "count",
            "answer": len(on_late)}, _ON_TABLE.format(t_abs=T0_S + late)))
    return qs


def run_memory_question(q: MemoryQuestion, memory_dir: str, cfg: Any, *, use_program: bool = True) -> tuple[Any, Any]:
    """Run the reference program (or, use_program=False, the VLM) through the real loop (sandboxed kernel,
    memory.* handlers); returns (QueryResult, Score)."""
    from spatialclaw_ros.agent.runner import run_query
    from spatialclaw_ros.agent.types import AnswerType, QueryRequest
    from spatialclaw_ros.eval.scoring import score_answer
    from spatialclaw_ros.memory.query import memory_frames_and_handlers

    request = QueryRequest(question=q.question["question"], answer_type=AnswerType(q.question["answer_type"]))
    frames, handlers, extra, reader = memory_frames_and_handlers(memory_dir, max_frames=1)
    try:
        result = run_query(request, frames, cfg, program=q.program if use_program else None, handlers=handlers,
                           extra_metadata=extra)
    finally:
        reader.close()
    answer = result.answer.to_dict() if result.success and result.answer is not None else None
    return result, score_answer(q.question, answer)
