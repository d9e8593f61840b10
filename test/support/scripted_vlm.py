"""A scripted OpenAI-compatible chat server on loopback, for tests that go through the real client.

It answers ``POST /v1/chat/completions`` with the next scripted :class:`Reply` and records every
request it received, so tests can assert on what the client actually sent (messages, images,
headers, tools). ``GET /v1/models`` lists one model with ``max_model_len`` (as vLLM does).

Usage::

    from support.scripted_vlm import Reply, ScriptedVlmServer   # test/ is on sys.path (conftest)

    with ScriptedVlmServer([Reply("plan: look at frame 0"),
                            Reply.http(500, "boom"),
                            Reply("```python\\nReturnAnswer(1.0, unit='m')\\n```", delay_s=0.2),
                            Reply(tool_calls=[{"name": "run_python", "arguments": {"code": "x=1"}}])]) as srv:
        cfg.vlm.base_url = srv.base_url          # http://127.0.0.1:<port>/v1
        ...
        assert len(srv.requests) == 4
        assert srv.requests[0].images == []      # decoded image bytes of each request
        srv.requests[1].headers["authorization"]

A reply may also be a callable ``fn(request: RecordedRequest) -> Reply`` (e.g. to echo). When the
script runs out, the server answers ``default`` if given, else HTTP 500 ``script exhausted`` (and
``srv.exhausted`` becomes True) so a test that makes too many calls fails visibly.
``max_images=N`` answers HTTP 400 (vLLM's message, ``param: image``) to a request with more than N
images, without using a scripted reply. ``stream=True`` requests get server-sent events (role chunk, content deltas, finish chunk, an
optional usage chunk with ``stream_options.include_usage``, then ``[DONE]``).
"""
from __future__ import annotations

import base64
import json
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Iterable, Union

__all__ = ["Reply", "RecordedRequest", "ScriptedVlmServer", "closed_port"]


@dataclass
class Reply:
    """One scripted answer: text and/or tool calls, or an HTTP error; optionally delayed."""

    text: str | None = None
    tool_calls: list[dict[str, Any]] | None = None  # [{"name": str, "arguments": dict | str, "id"?: str}]
    status: int = 200
    error: dict[str, Any] | None = None              # error body for status != 200
    delay_s: float = 0.0                              # sleep before answering (slow server)
    finish_reason: str | None = None                  # default: "tool_calls" with tool calls else "stop"
    prompt_tokens: int | None = None                  # default: a count derived from the request size
    completion_tokens: int | None = None              # default: words in the text

    @classmethod
    def http(cls, status: int, message: str, *, param: str | None = None,
             delay_s: float = 0.0) -> "Reply":
        """An HTTP error with vLLM's body shape ``{"error": {message, type, param, code}}``."""
        kind = {400: "BadRequestError", 404: "NotFoundError", 429: "RateLimitError"}.get(
            status, "InternalServerError")
        return cls(status=status, delay_s=delay_s,
                   error={"message": message, "type": kind, "param": param, "code": status})


ScriptItem = Union[Reply, str, Callable[["RecordedRequest"], Reply]]


@dataclass
class RecordedRequest:
    """What one HTTP request carried."""

    method: str
    path: str
    headers: dict[str, str]           # lower-cased names
    body: dict[str, Any]
    raw: bytes
    received_at: float = field(default_factory=time.monotonic)

    @property
    def messages(self) -> list[dict[str, Any]]:
        """The chat messages sent."""
        return list(self.body.get("messages") or [])

    @property
    def stream(self) -> bool:
        """Whether SSE streaming was asked for."""
        return bool(self.body.get("stream"))

    @property
    def tools(self) -> list[dict[str, Any]]:
        """The ``tools`` array (function schemas), if any."""
        return list(self.body.get("tools") or [])

    @property
    def image_urls(self) -> list[str]:
        """Every ``image_url`` URL in the messages, in order."""
        out: list[str] = []
        for m in self.messages:
            content = m.get("content")
            if isinstance(content, list):
                for part in content:
                    if isinstance(part, dict) and part.get("type") == "image_url":
                        url = part.get("image_url")
                        out.append(url.get("url", "") if isinstance(url, dict) else str(url))
        return out

    @property
    def images(self) -> list[bytes]:
        """Decoded bytes of every base64 data-URL image in the messages."""
        out = []
        for url in self.image_urls:
            if url.startswith("data:") and ";base64," in url:
                out.append(base64.b64decode(url.split(";base64,", 1)[1]))
        return out

    def text(self) -> str:
        """All text of the messages joined (to grep for secrets or phrases)."""
        parts: list[str] = []
        for m in self.messages:
            content = m.get("content")
            if isinstance(content, str):
                parts.append(content)
            elif isinstance(content, list):
                parts.extend(p.get("text", "") for p in content
                             if isinstance(p, dict) and p.get("type") == "text")
            for tc in m.get("tool_calls") or []:
                parts.append(json.dumps(tc))
        return "\n".join(parts)


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then closed), for connection-refused tests."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class ScriptedVlmServer:
    """OpenAI-compatible server on 127.0.0.1 replaying scripted replies; records all requests."""

    def __init__(self, replies: Iterable[ScriptItem] = (), *, model: str = "scripted-vlm",
                 max_model_len: int = 32768, default: ScriptItem | None = None,
                 max_images: int | None = None) -> None:
        self.model = model
        self.max_model_len = max_model_len
        self.max_images = max_images   # like vLLM's --limit-mm-per-prompt: more images -> HTTP 400
        self.default = default
        self.requests: list[RecordedRequest] = []     # chat completion requests only
        self.all_requests: list[RecordedRequest] = []  # every request, /v1/models included
        self.exhausted = False
        self._script: list[ScriptItem] = list(replies)
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> "ScriptedVlmServer":
        """Listen on a free loopback port and serve in a background thread."""
        server = self

        class Handler(_Handler):
            owner = server

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), name="scripted-vlm",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and free the port."""
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> "ScriptedVlmServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The port it listens on."""
        assert self._httpd is not None, "server not started"
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>/v1`` (what cfg.vlm.base_url takes)."""
        return f"http://127.0.0.1:{self.port}/v1"

    # -- script --------------------------------------------------------------------------------
    def add(self, *replies: ScriptItem) -> None:
        """Append replies to the script."""
        with self._lock:
            self._script.extend(replies)

    @property
    def remaining(self) -> int:
        """Scripted replies not yet used."""
        with self._lock:
            return len(self._script)

    def _next(self, req: RecordedRequest) -> Reply:
        with self._lock:
            self.requests.append(req)
            item = self._script.pop(0) if self._script else None
            if item is None:
                if self.default is None:
                    self.exhausted = True
                    return Reply.http(500, "scripted-vlm: script exhausted")
                item = self.default
        if callable(item) and not isinstance(item, Reply):
            item = item(req)
        if isinstance(item, str):
            item = Reply(item)
        return item


class _Handler(BaseHTTPRequestHandler):
    owner: ScriptedVlmServer
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True   # headers and body go in separate writes: avoid 40 ms stalls

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        """Keep test output quiet."""

    def _record(self) -> RecordedRequest:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else {}
        except json.JSONDecodeError:
            body = {"_invalid_json": raw.decode("utf-8", "replace")}
        req = RecordedRequest(method=self.command, path=self.path,
                              headers={k.lower(): v for k, v in self.headers.items()},
                              body=body if isinstance(body, dict) else {"_body": body}, raw=raw)
        self.owner.all_requests.append(req)
        return req

    def _send_json(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        """Serve /v1/models and /health."""
        self._record()
        path = self.path.split("?")[0].rstrip("/")
        if path.endswith("/models"):
            self._send_json(200, {"object": "list", "data": [{
                "id": self.owner.model, "object": "model", "created": 0, "owned_by": "scripted",
                "max_model_len": self.owner.max_model_len}]})
        elif path.endswith("/health"):
            self._send_json(200, {})
        else:
            self._send_json(404, {"error": {"message": f"no route {self.path}", "type": "NotFound",
                                            "param": None, "code": 404}})

    def do_POST(self) -> None:  # noqa: N802 - stdlib name
        """Serve /v1/chat/completions from the script."""
        req = self._record()
        if not self.path.split("?")[0].rstrip("/").endswith("/chat/completions"):
            self._send_json(404, {"error": {"message": f"no route {self.path}", "type": "NotFound",
                                            "param": None, "code": 404}})
            return
        limit = self.owner.max_images
        if limit is not None and len(req.image_urls) > limit:
            self.owner.requests.append(req)
            self._send_json(400, {"error": {
                "message": f"At most {limit} image(s) may be provided in one prompt. (parameter=image)",
                "type": "BadRequestError", "param": "image", "code": 400}})
            return
        reply = self.owner._next(req)
        if reply.delay_s > 0:
            time.sleep(reply.delay_s)
        try:
            if reply.status != 200:
                self._send_json(reply.status, {"error": reply.error or {
                    "message": f"HTTP {reply.status}", "type": "Error", "param": None,
                    "code": reply.status}})
            elif req.stream:
                self._send_stream(req, reply)
            else:
                self._send_json(200, self._completion(req, reply))
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client hung up (cancellation): nothing to do

    # -- bodies --------------------------------------------------------------------------------
    def _usage(self, req: RecordedRequest, reply: Reply) -> dict[str, int]:
        prompt = reply.prompt_tokens
        if prompt is None:
            prompt = max(1, len(req.text().split()) + 64 * len(req.image_urls))
        completion = reply.completion_tokens
        if completion is None:
            completion = len((reply.text or "").split()) + 8 * len(reply.tool_calls or [])
        return {"prompt_tokens": prompt, "completion_tokens": completion,
                "total_tokens": prompt + completion}

    @staticmethod
    def _tool_calls(reply: Reply) -> list[dict[str, Any]] | None:
        if not reply.tool_calls:
            return None
        out = []
        for i, tc in enumerate(reply.tool_calls):
            args = tc.get("arguments", {})
            out.append({"id": tc.get("id", f"call_{i}_{uuid.uuid4().hex[:8]}"), "type": "function",
                        "function": {"name": tc["name"],
                                     "arguments": args if isinstance(args, str) else json.dumps(args)}})
        return out

    def _finish(self, reply: Reply) -> str:
        if reply.finish_reason:
            return reply.finish_reason
        return "tool_calls" if reply.tool_calls else "stop"

    def _completion(self, req: RecordedRequest, reply: Reply) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": reply.text}
        tcs = self._tool_calls(reply)
        if tcs:
            message["tool_calls"] = tcs
        return {"id": f"chatcmpl-{uuid.uuid4().hex[:12]}", "object": "chat.completion",
                "created": int(time.time()), "model": req.body.get("model") or self.owner.model,
                "choices": [{"index": 0, "message": message, "finish_reason": self._finish(reply)}],
                "usage": self._usage(req, reply)}

    def _send_stream(self, req: RecordedRequest, reply: Reply) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("cache-control", "no-cache")
        self.send_header("connection", "close")
        self.end_headers()
        self.close_connection = True
        cid = f"chatcmpl-{uuid.uuid4().hex[:12]}"
        model = req.body.get("model") or self.owner.model

        def chunk(delta: dict[str, Any], finish: str | None = None,
                  usage: dict[str, int] | None = None) -> None:
            payload: dict[str, Any] = {"id": cid, "object": "chat.completion.chunk",
                                       "created": int(time.time()), "model": model,
                                       "choices": [] if usage else
                                       [{"index": 0, "delta": delta, "finish_reason": finish}]}
            if usage:
                payload["usage"] = usage
            self.wfile.write(b"data: " + json.dumps(payload).encode() + b"\n\n")
            self.wfile.flush()

        chunk({"role": "assistant", "content": ""})
        text = reply.text or ""
        step = 16
        for i in range(0, len(text), step):
            chunk({"content": text[i:i + step]})
        tcs = self._tool_calls(reply)
        for i, tc in enumerate(tcs or []):
            chunk({"tool_calls": [{"index": i, "id": tc["id"], "type": "function",
                                   "function": tc["function"]}]})
        chunk({}, finish=self._finish(reply))
        opts = req.body.get("stream_options") or {}
        if opts.get("include_usage"):
            chunk({}, usage=self._usage(req, reply))
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()
