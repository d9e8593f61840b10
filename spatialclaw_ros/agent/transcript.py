"""Per-query transcript: a JSONL log written as the query runs, and a self-contained HTML page.

The JSONL has one event per line (messages, code, outputs, timings, token usage); images are
stored once as ``{"kind": "image", "id", "url"}`` events and referred to by id. The HTML page embeds
the images the model saw, so it can be mailed or attached to an issue as one file. Writing a
transcript never fails a query: errors become a warning and a note.
"""
from __future__ import annotations

import enum
import html
import io
import json
import logging
import os
import re
import time
import tokenize
import uuid
from datetime import datetime, timezone
from keyword import iskeyword
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

MAX_LOGGED_CHARS = 50_000   # per text field of one event (a cell that prints 100 MB stays readable)


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, enum.Enum):
        return _jsonable(obj.value)
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if obj is None or isinstance(obj, (bool, int, str)):
        return obj
    if isinstance(obj, float):
        return obj if obj == obj and abs(obj) != float("inf") else str(obj)
    if hasattr(obj, "tolist"):
        return _jsonable(obj.tolist())
    return repr(obj)


class Transcript:
    """Collects a query's events; ``close()`` writes the HTML page next to the JSONL."""

    def __init__(self, directory: str, *, query_id: str | None = None) -> None:
        self.query_id = query_id or (datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
                                     + "-" + uuid.uuid4().hex[:6])
        self.events: list[dict[str, Any]] = []
        self.images: dict[str, str] = {}
        self.image_titles: dict[str, str] = {}
        self.error = ""
        self._t0 = time.monotonic()
        self._fh: io.TextIOWrapper | None = None
        self.jsonl_path = ""
        self.html_path = ""
        try:
            d = Path(os.path.expanduser(directory or "~/.spatialclaw/transcripts"))
            d.mkdir(parents=True, exist_ok=True)
            self.jsonl_path = str(d / f"{self.query_id}.jsonl")
            self.html_path = str(d / f"{self.query_id}.html")
            self._fh = open(self.jsonl_path, "w", encoding="utf-8")  # noqa: SIM115 - kept open
        except OSError as exc:
            self.error = f"transcript not written: {exc} (set agent.transcript_dir to a writable folder)"
            log.warning("%s", self.error)

    def add(self, kind: str, **data: Any) -> dict[str, Any]:
        """Record one event (written to the JSONL at once); long outputs are capped visibly."""
        for key in ("stdout", "stderr", "error", "text"):
            v = data.get(key)
            if isinstance(v, str) and len(v) > MAX_LOGGED_CHARS:
                data[key] = (v[:MAX_LOGGED_CHARS] + f"\n[... {len(v) - MAX_LOGGED_CHARS} more "
                             "characters not logged]")
        ev = {"t": round(time.monotonic() - self._t0, 4), "kind": kind, **_jsonable(data)}
        self.events.append(ev)
        self._write(ev)
        return ev

    def image(self, url: str, title: str = "") -> str:
        """Store an image (data URL) once; returns its id."""
        for k, v in self.images.items():
            if v == url:
                return k
        img_id = f"img{len(self.images)}"
        self.images[img_id] = url
        self.image_titles[img_id] = title
        self._write({"t": round(time.monotonic() - self._t0, 4), "kind": "image", "id": img_id,
                     "title": title, "url": url})
        return img_id

    def message(self, role: str, text: str, image_urls: list[str] | None = None,
                titles: list[str] | None = None, **extra: Any) -> None:
        """Record a chat message with its images."""
        titles = titles or []
        ids = [self.image(u, titles[i] if i < len(titles) else "")
               for i, u in enumerate(image_urls or [])]
        self.add("message", role=role, text=text, images=ids, **extra)

    def _write(self, ev: dict[str, Any]) -> None:
        if self._fh is None:
            return
        try:
            self._fh.write(json.dumps(ev, ensure_ascii=False) + "\n")
            self._fh.flush()
        except (OSError, ValueError) as exc:
            self.error = f"transcript write failed: {exc}"
            log.warning("%s", self.error)
            self._fh = None

    def close(self, summary: dict[str, Any]) -> str:
        """Write the final summary and the HTML page; returns the HTML path ("" on failure)."""
        self.add("result", **summary)
        if self._fh is not None:
            try:
                self._fh.close()
            except OSError:
                pass
        if not self.html_path:
            return ""
        try:
            Path(self.html_path).write_text(render_html(self.events, self.images, self.query_id, self.image_titles),
                                            encoding="utf-8")
        except OSError as exc:
            self.error = f"transcript HTML not written: {exc}"
            log.warning("%s", self.error)
            return ""
        return self.html_path


# -- HTML ----------------------------------------------------------------------------------------
_CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;background:#f4f5f7;color:#1d2330}
header{background:#1d2330;color:#fff;padding:16px 24px}header h1{margin:0 0 6px;font-size:18px}
header .q{font-size:16px;margin:4px 0 10px}main{max-width:1100px;margin:0 auto;padding:16px 24px}
.kv{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px;font-size:13px}.kv b{color:#9fb1d1;font-weight:500}
.ok{color:#34c77b}.bad{color:#ff6b6b}.card{background:#fff;border-radius:8px;box-shadow:0 1px 3px #0002;margin:14px 0;overflow:hidden}
.card h2{font-size:13px;margin:0;padding:8px 14px;background:#e9edf3;display:flex;justify-content:space-between;gap:10px}
.card h2 .meta{font-weight:400;color:#5a6577}.body{padding:10px 14px}
.role-system h2{background:#ede7f6}.role-user h2{background:#e3f2fd}.role-assistant h2{background:#e8f5e9}
.cell h2{background:#fff3e0}.answer h2{background:#d7f5e3}.rejected h2,.errorc h2{background:#fde2e2}
pre{background:#0f1420;color:#e6e9ef;padding:10px 12px;border-radius:6px;overflow:auto;font:12.5px/1.4 ui-monospace,Menlo,Consolas,monospace;white-space:pre-wrap;word-break:break-word}
pre.plain{max-height:420px;background:#f7f8fa;color:#1d2330;border:1px solid #e3e6eb}pre.err{background:#fff5f5;color:#9b1c1c;border:1px solid #f3c5c5}
.kw{color:#c792ea}.str{color:#c3e88d}.num{color:#f78c6c}.com{color:#7f8ba3;font-style:italic}.bi{color:#82aaff}
.imgs{display:flex;flex-wrap:wrap;gap:10px;margin-top:8px}.imgs figure{margin:0}.imgs img{max-width:320px;max-height:260px;min-width:160px;image-rendering:pixelated;border-radius:4px;border:1px solid #ccd}
.imgs figcaption{font-size:12px;color:#5a6577}details summary{cursor:pointer;color:#3a5a99}
.label{font-size:11px;text-transform:uppercase;letter-spacing:.05em;color:#5a6577;margin:8px 0 2px}
"""

_BUILTINS = {"ReturnAnswer", "show", "vlm", "InputImages", "Metadata", "tools", "print", "np",
             "len", "range", "float", "int", "list", "dict"}


def highlight_python(code: str) -> str:
    """HTML for Python source with keywords, strings, numbers and comments coloured."""
    out: list[str] = []
    lines = code.splitlines(keepends=True)
    pos_line, pos_col = 1, 0

    def emit_gap(row: int, col: int) -> None:
        nonlocal pos_line, pos_col
        while pos_line < row:
            out.append(html.escape(lines[pos_line - 1][pos_col:]))
            pos_line += 1
            pos_col = 0
        if pos_line <= len(lines):
            out.append(html.escape(lines[pos_line - 1][pos_col:col]))
        pos_col = col

    try:
        for tok in tokenize.generate_tokens(io.StringIO(code).readline):
            if tok.type in (tokenize.ENDMARKER,):
                break
            (sr, sc), (er, ec) = tok.start, tok.end
            if sr > len(lines):
                break
            emit_gap(sr, sc)
            text = tok.string
            cls = ""
            if tok.type == tokenize.NAME and iskeyword(text):
                cls = "kw"
            elif tok.type == tokenize.NAME and text in _BUILTINS:
                cls = "bi"
            elif tok.type == tokenize.STRING or getattr(tokenize, "FSTRING_START", -1) == tok.type:
                cls = "str"
            elif tok.type == tokenize.NUMBER:
                cls = "num"
            elif tok.type == tokenize.COMMENT:
                cls = "com"
            if tok.type in (tokenize.NEWLINE, tokenize.NL, tokenize.INDENT, tokenize.DEDENT):
                continue
            esc = html.escape(text)
            out.append(f'<span class="{cls}">{esc}</span>' if cls else esc)
            pos_line, pos_col = er, ec
        emit_gap(len(lines) + 1, 0)
        return "".join(out)
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return html.escape(code)


_FENCE = re.compile(r"```([A-Za-z0-9_+-]*)\n(.*?)(?:```|$)", re.DOTALL)


def _render_text(text: str) -> str:
    """Reply text with fenced code blocks highlighted."""
    parts: list[str] = []
    last = 0
    for m in _FENCE.finditer(text or ""):
        before = text[last:m.start()].strip()
        if before:
            parts.append(f'<pre class="plain">{html.escape(before)}</pre>')
        lang = m.group(1).lower()
        body = m.group(2)
        parts.append(f"<pre>{highlight_python(body) if lang in ('python', 'py', '') else html.escape(body)}</pre>")
        last = m.end()
    rest = (text or "")[last:].strip()
    if rest:
        parts.append(f'<pre class="plain">{html.escape(rest)}</pre>')
    return "".join(parts) or '<pre class="plain">(empty)</pre>'


def _imgs(ids: list[str], images: dict[str, str], titles: dict[str, str]) -> str:
    if not ids:
        return ""
    figs = "".join(
        f'<figure><img src="{images[i]}" alt="{html.escape(titles.get(i, i))}">'
        f"<figcaption>{html.escape(titles.get(i, '') or '(untitled)')}</figcaption></figure>"
        for i in ids if i in images)
    return f'<div class="imgs">{figs}</div>'


def render_html(events: list[dict[str, Any]], images: dict[str, str], query_id: str,
                titles: dict[str, str] | None = None) -> str:
    """The whole transcript as one self-contained HTML page."""
    titles = titles or {}
    start = next((e for e in events if e["kind"] == "query"), {})
    result = next((e for e in reversed(events) if e["kind"] == "result"), {})
    ok = result.get("success")
    ans = (result.get("answer") or {})
    err = result.get("error") or {}
    timings = result.get("timings") or {}
    head = [
        f"<h1>spatialclaw transcript <span style='font-weight:400;color:#9fb1d1'>{html.escape(query_id)}</span></h1>",
        f"<div class='q'>{html.escape(str(start.get('question', '')))}</div><div class='kv'>",
        f"<b>result</b><span class='{'ok' if ok else 'bad'}'>"
        + (html.escape(f"{ans.get('text', '')}" + ("  (fallback)" if ans.get("is_fallback") else ""))
           if ok else html.escape(f"{err.get('name', '')}: {err.get('message', '')}")) + "</span>",
        f"<b>executor</b><span>{html.escape(str(start.get('executor', '')))}</span>",
        f"<b>answer type</b><span>{html.escape(str(start.get('answer_type', '')))}"
        + (f" {html.escape(str(start.get('choices')))}" if start.get("choices") else "") + "</span>",
        f"<b>steps</b><span>{result.get('steps_used', '')}</span>",
        "<b>timings</b><span>" + html.escape(", ".join(
            f"{k}={v:.2f}" if isinstance(v, float) else f"{k}={v}" for k, v in timings.items())) + "</span>",
        f"<b>sandbox</b><span>{html.escape(', '.join(result.get('sandbox_layers', []) or []) or 'none')}</span>",
        f"<b>model</b><span>{html.escape(str(start.get('model', '')))}</span>",
    ]
    if result.get("notes"):
        head.append(f"<b>notes</b><span>{html.escape('; '.join(result['notes']))}</span>")
    head.append("</div>")
    body: list[str] = []
    last_reply = ""
    finished = {(e.get("step"), e.get("code")) for e in events if e.get("kind") == "cell"}
    for ev in events:
        k = ev.get("kind")
        if k == "cell_start":
            if (ev.get("step"), ev.get("code")) in finished:
                continue            # its "cell" event follows with the outputs
            ev = dict(ev, kind="cell", error="(no result recorded: the query ended while this cell ran)")
            k = "cell"
        if k == "message":
            role = ev.get("role", "")
            if role == "assistant":
                last_reply = ev.get("text", "") or ""
            meta = []
            if ev.get("step"):
                meta.append(f"step {ev['step']}")
            if ev.get("phase"):
                meta.append(str(ev["phase"]))
            if "duration_s" in ev:
                meta.append(f"{ev['duration_s']:.2f} s")
            if ev.get("completion_tokens") is not None and "prompt_tokens" in ev:
                meta.append(f"{ev['prompt_tokens']}+{ev['completion_tokens']} tokens")
            if ev.get("finish_reason") and ev["finish_reason"] != "stop":
                meta.append(f"finish: {ev['finish_reason']}")
            content = _render_text(ev.get("text", "")) if role == "assistant" else \
                f'<pre class="plain">{html.escape(ev.get("text", ""))}</pre>'
            if ev.get("tool_calls"):
                content += "".join(
                    f"<div class='label'>call {html.escape(tc.get('function', {}).get('name', ''))}</div>"
                    f"<pre class='plain'>{html.escape(tc.get('function', {}).get('arguments', ''))}</pre>"
                    for tc in ev["tool_calls"])
            if role == "system":
                content = f"<details><summary>system prompt ({len(ev.get('text', ''))} characters)</summary>{content}</details>"
            body.append(f"<section class='card role-{html.escape(role)}'><h2><span>{html.escape(role)}</span>"
                        f"<span class='meta'>{html.escape(' · '.join(meta))}</span></h2><div class='body'>"
                        f"{content}{_imgs(ev.get('images', []), images, titles)}</div></section>")
        elif k == "cell":
            code = ev.get("code", "")
            code_html = f"<pre>{highlight_python(code)}</pre>"
            if code.strip() and code.strip() in last_reply:
                out = [f"<details><summary>code (as in the reply above)</summary>{code_html}</details>"]
            else:
                out = [f"<div class='label'>code</div>{code_html}"]
            if ev.get("problems"):
                out.append("<div class='label'>static check</div><pre class='err'>"
                           + html.escape("\n".join(ev["problems"])) + "</pre>")
            for key in ("stdout", "stderr"):
                if ev.get(key):
                    out.append(f"<div class='label'>{key}</div><pre class='plain'>{html.escape(ev[key])}</pre>")
            if ev.get("error"):
                out.append(f"<div class='label'>error</div><pre class='err'>{html.escape(ev['error'])}</pre>")
            if ev.get("variables"):
                out.append(f"<div class='label'>variables</div><pre class='plain'>{html.escape(ev['variables'])}</pre>")
            flags = [f for f in ("timed_out", "crashed", "canceled", "protocol_violation") if ev.get(f)]
            meta = f"{ev.get('duration_s', 0.0):.2f} s" + (f" · {', '.join(flags)}" if flags else "")
            body.append(f"<section class='card cell'><h2><span>kernel · step {ev.get('step', '')}</span>"
                        f"<span class='meta'>{html.escape(meta)}</span></h2><div class='body'>{''.join(out)}"
                        f"{_imgs(ev.get('images', []), images, titles)}</div></section>")
        elif k in ("answer", "rejected", "error", "note"):
            cls = {"answer": "answer", "rejected": "rejected", "error": "errorc", "note": "role-system"}[k]
            text = ev.get("text") or ev.get("message") or json.dumps(ev.get("answer", ""))
            body.append(f"<section class='card {cls}'><h2><span>{html.escape(k)}</span></h2>"
                        f"<div class='body'><pre class='plain'>{html.escape(str(text))}</pre></div></section>")
    return ("<!doctype html><html><head><meta charset='utf-8'>"
            f"<title>spatialclaw {html.escape(query_id)}</title><style>{_CSS}</style></head><body>"
            f"<header>{''.join(head)}</header><main>{''.join(body)}</main></body></html>")
