"""A self-contained HTML report of an eval run (inline CSS, thumbnails as data URIs)."""
from __future__ import annotations

import base64
import html
import json
import os
from pathlib import Path
from typing import Any

from spatialclaw_ros.eval.runner import EvalReport, GroupSummary

_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1200px}
h1{font-size:22px;margin:0 0 4px} h2{font-size:17px;margin:22px 0 6px}
.meta{color:#666;margin-bottom:12px}
table{border-collapse:collapse;width:100%;margin:6px 0 14px}
th,td{border-bottom:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f4f4f4} td.num{text-align:right;font-variant-numeric:tabular-nums}
.bar{display:inline-block;height:10px;background:#3a7;vertical-align:middle;margin-right:6px}
.s1{background:#e9f7ef}.s0{background:#fdecea}.sp{background:#fff8e1}
.scenes{display:flex;gap:12px;flex-wrap:wrap}.scenes figure{margin:0}
.scenes img{width:240px;border:1px solid #ccc}.err{color:#b00;font-size:12px}
code{font-size:12px}
"""


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_fmt(x) for x in v) + "]"
    return "—" if v is None else str(v)


def _group_table(title: str, groups: list[GroupSummary], overall: GroupSummary) -> str:
    rows = "".join(
        f"<tr><td>{html.escape(g.name)}</td><td class=num>{g.n}</td><td class=num>{g.answered}</td>"
        f"<td class=num><span class=bar style='width:{int(80 * g.mean_score)}px'></span>"
        f"{g.mean_score:.3f}</td><td class=num>{g.wrong}</td><td class=num>{g.cannot_answer}</td>"
        "</tr>" for g in groups + [overall])
    return (f"<h2>By {html.escape(title)}</h2><table><tr><th>{html.escape(title)}</th><th>n</th>"
            f"<th>answered</th><th>score</th><th>wrong</th><th>cannot answer</th></tr>{rows}</table>")


def _thumb(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return f"data:image/png;base64,{data}"


def render_html(report: EvalReport, out_path: str | Path, *,
                thumbnails: dict[str, Path] | None = None) -> Path:
    """Write the report to ``out_path``; transcript links are relative to it where possible."""
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    parts = [f"<!doctype html><html><head><meta charset=utf-8><title>spatialclaw eval</title>"
             f"<style>{_CSS}</style></head><body>",
             "<h1>spatialclaw eval</h1>",
             f"<div class=meta>{html.escape(report.mode)} · {report.overall.n} questions · "
             f"score {report.overall.mean_score:.3f} · {report.wall_s:.1f} s</div>"]
    for n in report.notes:
        parts.append(f"<div class=err>{html.escape(n)}</div>")
    if thumbnails:
        figs = "".join(f"<figure><img src='{_thumb(p)}' alt='{html.escape(k)}'>"
                       f"<figcaption>{html.escape(k)}</figcaption></figure>"
                       for k, p in thumbnails.items() if p.exists())
        parts.append(f"<h2>Scenes (first frame)</h2><div class=scenes>{figs}</div>")
    parts.append(_group_table("question kind", report.by_kind, report.overall))
    parts.append(_group_table("answer type", report.by_answer_type, report.overall))
    parts.append("<h2>Questions</h2><table><tr><th>id</th><th>kind</th><th>question</th>"
                 "<th>ground truth</th><th>answer</th><th>score</th><th>transcript</th></tr>")
    for it in report.items:
        cls = "s1" if it.score >= 0.999 else "s0" if it.score <= 0.0 else "sp"
        link = "—"
        if it.transcript_path:
            tp = Path(it.transcript_path)
            try:
                href = os.path.relpath(tp, out_path.parent)
            except ValueError:
                href = tp.as_uri() if tp.is_absolute() else str(tp)
            link = f"<a href='{html.escape(href)}'>steps: {it.steps_used}</a>"
        err = f"<div class=err>{html.escape(it.error)}</div>" if it.error else ""
        unit = f" {html.escape(it.unit)}" if it.unit else ""
        parts.append(
            f"<tr class={cls}><td><code>{html.escape(it.qid)}</code></td><td>{html.escape(it.kind)}</td>"
            f"<td>{html.escape(it.question)}</td><td>{html.escape(_fmt(it.ground_truth))}{unit}</td>"
            f"<td>{html.escape(_fmt(it.predicted))}{err}</td><td class=num>{it.score:.2f}</td>"
            f"<td>{link}</td></tr>")
    parts.append("</table><h2>Scoring</h2><p>Numbers: Mean Relative Accuracy, the mean over "
                 "thresholds 0.50, 0.55, …, 0.95 of |pred − gt| / |gt| &lt; 1 − threshold. Points: "
                 "the same on ‖pred − gt‖ / (distance from the first camera position to the true "
                 "point). Choices, counts and yes/no: exact match.</p>")
    parts.append(f"<script type='application/json' id=report>"
                 f"{html.escape(json.dumps(report.to_dict(), default=str))}</script></body></html>")
    out_path.write_text("".join(parts))
    return out_path


def scene_thumbnails(items: list[Any], out_dir: Path, width: int = 240) -> dict[str, Path]:
    """A PNG of each scene's first colour frame (read from its bag) for the report."""
    import cv2

    from spatialclaw_ros.sim.readback import read_sim_bag

    out: dict[str, Path] = {}
    for it in items:
        name = it.scene.get("name", "")
        if name in out:
            continue
        try:
            rgb = read_sim_bag(it.bag).rgb
        except Exception:  # noqa: BLE001 - a thumbnail is decoration
            continue
        if not rgb:
            continue
        img = rgb[min(rgb)]
        h = int(img.shape[0] * width / img.shape[1])
        small = cv2.resize(img, (width, h), interpolation=cv2.INTER_AREA)
        p = out_dir / f"thumb_{name}.png"
        p.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(p), cv2.cvtColor(small, cv2.COLOR_RGB2BGR))
        out[name] = p
    return out
