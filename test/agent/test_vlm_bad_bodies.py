"""A VLM (or a proxy) answering HTTP 200 with a body that is not a JSON completion, or cutting a
streamed reply off: VLM_ERROR showing the body's start, retried like a 5xx (issue 13, defect 7)."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator

import pytest

from spatialclaw_ros.config import Config
from spatialclaw_ros.errors import ErrorCode, VlmError
from spatialclaw_ros.vlm import Conversation, VlmClient

HTML = b"<!DOCTYPE html><html><head><title>Proxy login</title></head><body>sign in</body></html>"


class _Server:
    """/v1/models is fine; /v1/chat/completions answers what `mode` says, counting requests."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.chat_requests = 0
        outer = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a: object) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server API
                body = json.dumps({"object": "list", "data": [{"id": "m", "object": "model"}]})
                self._send(200, "application/json", body.encode())

            def do_POST(self) -> None:  # noqa: N802 - http.server API
                n = int(self.headers.get("content-length", 0))
                self.rfile.read(n)
                outer.chat_requests += 1
                if outer.mode == "html":
                    self._send(200, "text/html", HTML)
                elif outer.mode == "badjson":
                    self._send(200, "application/json", b'{"choices": [ {"mess')
                elif outer.mode == "cut":
                    chunk = {"id": "c", "object": "chat.completion.chunk", "created": 0,
                             "model": "m", "choices": [{"index": 0, "delta": {
                                 "role": "assistant", "content": "```python\nx = "},
                                 "finish_reason": None}]}
                    self.send_response(200)
                    self.send_header("content-type", "text/event-stream")
                    self.end_headers()
                    self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                    self.wfile.flush()
                    self.close_connection = True       # connection ends: no finish, no [DONE]

            def _send(self, code: int, ctype: str, body: bytes) -> None:
                self.send_response(code)
                self.send_header("content-type", ctype)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def make_server() -> Iterator:
    servers: list[_Server] = []

    def make(mode: str) -> _Server:
        s = _Server(mode)
        servers.append(s)
        return s

    yield make
    for s in servers:
        s.close()


def _client(url: str) -> VlmClient:
    cfg = Config()
    cfg.vlm.base_url, cfg.vlm.model, cfg.vlm.retries, cfg.vlm.timeout_s = url, "m", 2, 10.0
    return VlmClient(cfg.vlm, backoff_s=0.01, max_backoff_s=0.02)


@pytest.mark.parametrize("mode", ["html", "badjson"])
def test_http_200_that_is_not_json_is_a_vlm_error_showing_the_body(make_server, mode: str) -> None:
    srv = make_server(mode)
    conv = Conversation()
    conv.add_user("how far?")
    with _client(srv.base_url) as client, pytest.raises(VlmError) as ei:
        client.chat(conv)
    assert ei.value.code == ErrorCode.VLM_ERROR
    msg = ei.value.message
    assert "not an OpenAI JSON completion" in msg and "vlm.base_url" in msg
    assert ("<!DOCTYPE html>" in msg) if mode == "html" else ('{"choices"' in msg)
    assert srv.chat_requests == 3                 # retried like a 5xx: 1 + vlm.retries


def test_stream_cut_mid_reply_is_retried_then_reported(make_server) -> None:
    srv = make_server("cut")
    conv = Conversation()
    conv.add_user("how far?")
    deltas: list[str] = []
    with _client(srv.base_url) as client, pytest.raises(VlmError) as ei:
        client.chat(conv, stream=True, on_delta=deltas.append)
    assert ei.value.code == ErrorCode.VLM_ERROR
    assert "cut its streamed reply off" in ei.value.message
    assert srv.chat_requests == 3
    assert deltas                                   # it did stream before being cut
