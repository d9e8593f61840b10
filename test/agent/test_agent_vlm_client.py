"""VlmClient through the real openai package against the scripted loopback server."""
from __future__ import annotations

import threading

import numpy as np
import pytest

from spatialclaw_ros.config import Config
from spatialclaw_ros.errors import QueryCanceledError, VlmError, VlmUnreachableError
from spatialclaw_ros.vlm import Conversation, VlmClient, VlmRequestError, jpeg_data_url
from support.scripted_vlm import Reply, ScriptedVlmServer, closed_port


def _conv(images: int = 0) -> Conversation:
    c = Conversation()
    c.add_system("sys")
    img = np.zeros((8, 8, 3), np.uint8)
    c.add_user("q", [jpeg_data_url(img) for _ in range(images)])
    return c


def test_chat_resolves_model_sends_key_and_counts_usage(cfg: Config, server: ScriptedVlmServer,
                                                       secret: str) -> None:
    server.add(Reply("hello", prompt_tokens=11, completion_tokens=3))
    cfg.vlm.base_url = server.base_url
    client = VlmClient(cfg.vlm)
    reply = client.chat(_conv(1))
    assert reply.text == "hello" and not reply.cut
    req = server.requests[0]
    assert req.body["model"] == "scripted-vlm"           # "" -> first model of /v1/models
    assert client.max_model_len == server.max_model_len
    assert req.headers["authorization"] == f"Bearer {secret}"
    assert req.body["max_tokens"] == cfg.vlm.max_tokens and req.body["temperature"] == cfg.vlm.temperature
    assert len(req.images) == 1 and req.images[0][:2] == b"\xff\xd8"   # a JPEG
    assert (client.usage.calls, client.usage.prompt_tokens, client.usage.completion_tokens) == (1, 11, 3)


def test_retries_5xx_and_429_then_succeeds(cfg: Config, server: ScriptedVlmServer) -> None:
    server.add(Reply.http(500, "boom"), Reply.http(429, "slow down"), Reply("ok"))
    cfg.vlm.base_url = server.base_url
    cfg.vlm.model = "scripted-vlm"
    cfg.vlm.retries = 2
    reply = VlmClient(cfg.vlm, backoff_s=0.01).chat(_conv())
    assert reply.text == "ok"
    assert len(server.requests) == 3


def test_gives_up_after_retries_with_the_server_message(cfg: Config, server: ScriptedVlmServer) -> None:
    server.add(Reply.http(503, "engine dead"), Reply.http(503, "engine dead"))
    cfg.vlm.base_url = server.base_url
    cfg.vlm.model = "scripted-vlm"
    with pytest.raises(VlmRequestError, match="engine dead") as ei:
        VlmClient(cfg.vlm, backoff_s=0.01).chat(_conv())
    assert ei.value.status == 503 and len(server.requests) == 2


def test_4xx_is_not_retried_and_an_unknown_model_names_the_setting(cfg: Config) -> None:
    with ScriptedVlmServer([Reply.http(404, "The model `nope` does not exist.")]) as srv:
        cfg.vlm.base_url = srv.base_url
        cfg.vlm.model = "nope"
        with pytest.raises(VlmRequestError, match=r"vlm.model") as ei:
            VlmClient(cfg.vlm, backoff_s=0.01).chat(_conv())
        assert ei.value.status == 404 and len(srv.requests) <= 1   # never retried
    with ScriptedVlmServer([Reply.http(400, "bad request body"), Reply("unused")]) as srv:
        cfg.vlm.base_url = srv.base_url
        cfg.vlm.model = "scripted-vlm"
        with pytest.raises(VlmRequestError, match="bad request body") as ei:
            VlmClient(cfg.vlm, backoff_s=0.01).chat(_conv())
        assert ei.value.status == 400 and len(srv.requests) == 1


def test_context_overflow_is_refitted_and_retried(cfg: Config, server: ScriptedVlmServer) -> None:
    server.add(Reply.http(400, "maximum context length ... (parameter=input_tokens, value=9000)",
                          param="input_tokens"), Reply("fits now"))
    cfg.vlm.base_url = server.base_url
    cfg.vlm.model = "scripted-vlm"
    conv = _conv(3)
    reply = VlmClient(cfg.vlm).chat(conv)
    assert reply.text == "fits now" and len(server.requests) == 2     # re-fitted and retried once
    assert len(server.requests[1].images) <= len(server.requests[0].images) == 3
    assert conv.image_count() == 3          # the caller's conversation is untouched


def test_finish_reason_length_is_a_cut_reply(cfg: Config, server: ScriptedVlmServer) -> None:
    server.add(Reply("```python\nx = [1, 2,", finish_reason="length"))
    cfg.vlm.base_url = server.base_url
    cfg.vlm.model = "scripted-vlm"
    assert VlmClient(cfg.vlm).chat(_conv()).cut


def test_streaming_delivers_deltas_usage_and_tool_calls(cfg: Config, server: ScriptedVlmServer) -> None:
    text = "a fairly long streamed reply that arrives in several pieces"
    server.add(Reply(text, completion_tokens=9),
               Reply(tool_calls=[{"name": "run_python", "arguments": {"code": "x = 1"}}]))
    cfg.vlm.base_url = server.base_url
    cfg.vlm.model = "scripted-vlm"
    client = VlmClient(cfg.vlm)
    pieces: list[str] = []
    reply = client.chat(_conv(), stream=True, on_delta=pieces.append)
    assert server.requests[0].stream and len(pieces) > 1 and "".join(pieces) == text
    assert reply.text == text and reply.completion_tokens == 9
    reply2 = client.chat(_conv(), stream=True)
    assert reply2.tool_calls[0]["function"]["name"] == "run_python"
    assert reply2.finish_reason == "tool_calls"


def test_dead_endpoint_says_what_to_start(cfg: Config) -> None:
    cfg.vlm.base_url = f"http://127.0.0.1:{closed_port()}/v1"
    cfg.vlm.retries = 1
    with pytest.raises(VlmUnreachableError) as ei:
        VlmClient(cfg.vlm, backoff_s=0.01).chat(_conv())
    msg = ei.value.message
    assert cfg.vlm.base_url in msg and "vllm serve" in msg and "SPATIALCLAW_VLM_URL" in msg


def test_per_call_timeout_is_retried_then_reported(cfg: Config, server: ScriptedVlmServer) -> None:
    server.add(Reply("late", delay_s=2.0), Reply("late", delay_s=2.0))
    cfg.vlm.base_url = server.base_url
    cfg.vlm.model = "scripted-vlm"
    cfg.vlm.timeout_s = 0.3
    with pytest.raises(VlmError, match="did not answer within"):
        VlmClient(cfg.vlm, backoff_s=0.01).chat(_conv())
    assert len(server.requests) == 2


def test_cancel_abandons_a_slow_call(cfg: Config, server: ScriptedVlmServer) -> None:
    cancel = threading.Event()

    def arrive(req: object) -> Reply:
        cancel.set()                      # cancel once the request is in flight
        return Reply("too late", delay_s=30.0)

    server.add(arrive)
    cfg.vlm.base_url = server.base_url
    cfg.vlm.model = "scripted-vlm"
    with pytest.raises(QueryCanceledError):
        VlmClient(cfg.vlm).chat(_conv(), cancel=cancel)
    assert len(server.requests) == 1


def test_conversation_trimming_keeps_a_visible_note() -> None:
    conv = _conv(2)
    conv.add_assistant("step")
    conv.add_user("x" * 5000)
    conv.add_assistant("step")
    conv.add_user("recent")
    assert conv.drop_oldest_images(1) == 1 and conv.image_count() == 1
    assert conv.shorten_oldest_outputs(keep_last=1, max_chars=100) == 1
    assert "shortened" in conv.messages[3]["content"] and conv.messages[-1]["content"] == "recent"


def test_scripted_server_records_and_reports_exhaustion(cfg: Config) -> None:
    with ScriptedVlmServer([lambda req: Reply(f"echo {len(req.messages)}")]) as srv:
        cfg.vlm.base_url = srv.base_url
        cfg.vlm.retries = 0
        client = VlmClient(cfg.vlm)
        assert client.chat(_conv()).text == "echo 2"
        with pytest.raises(VlmRequestError, match="script exhausted"):
            client.chat(_conv())
        assert srv.exhausted and len(srv.requests) == 2
        assert any(r.path.endswith("/models") for r in srv.all_requests)


def test_scripted_server_enforces_an_image_limit_like_vllm(cfg: Config) -> None:
    with ScriptedVlmServer([Reply("ok")], max_images=1) as srv:
        cfg.vlm.base_url = srv.base_url
        cfg.vlm.model = "scripted-vlm"
        reply = VlmClient(cfg.vlm).chat(_conv(2))    # the client learns the limit and leaves one out
        assert reply.text == "ok" and srv.remaining == 0
        assert [len(r.images) for r in srv.requests] == [2, 1]
