"""What a real vLLM OpenAI server does at the protocol level (plain openai client, tiny model).

These pin the server behaviour our client relies on: error ``param`` values, usage figures,
``finish_reason``, stream chunk shapes and the hermes tool parser. They never assert on the text,
which is garbage from random weights.
"""
from __future__ import annotations

import json

import openai
import pytest

from spatialclaw_ros.vlm.budget import (
    budget_for_model, parse_limit_error, parse_models_list)

from vllm_frames import image_part, synthetic_rgb

pytestmark = pytest.mark.vllm_integration


def _user(*parts: dict | str) -> list[dict]:
    content = [{"type": "text", "text": p} if isinstance(p, str) else p for p in parts]
    return [{"role": "user", "content": content}]


def _repeats_for(oai, server, tokens: int) -> int:
    """How many repeats of WORD make a prompt of about ``tokens`` tokens (measured on the server)."""
    def count(n: int) -> int:
        r = oai.chat.completions.create(model=server.model, messages=_user(WORD * n), max_tokens=1)
        return r.usage.prompt_tokens
    small, big = count(100), count(300)
    per = (big - small) / 200
    return max(1, int((tokens - small) / per) + 100)


WORD = "spatial "


def _error_body(exc: openai.APIStatusError) -> dict:
    body = exc.body if isinstance(exc.body, dict) else {}
    return body.get("error", body)


def test_models_list_reports_max_model_len(oai, vllm_server):
    models = parse_models_list(oai.models.list())
    assert [m.id for m in models] == [vllm_server.model]
    assert models[0].max_model_len == vllm_server.max_model_len
    budget = budget_for_model(models[0].max_model_len, max_tokens=20000, max_images_per_query=16)
    assert budget.max_model_len == vllm_server.max_model_len
    assert budget.max_tokens == vllm_server.max_model_len // 4   # capped at a quarter
    assert budget.prompt_tokens == vllm_server.max_model_len - budget.max_tokens


def test_text_chat_reports_usage(oai, vllm_server):
    r = oai.chat.completions.create(model=vllm_server.model, messages=_user("Say hello."),
                                    max_tokens=8, temperature=0)
    assert r.usage.prompt_tokens > 0
    assert 0 < r.usage.completion_tokens <= 8
    assert r.choices[0].finish_reason in ("stop", "length")
    assert isinstance(r.choices[0].message.content, str)


def test_image_data_url_costs_tokens(oai, vllm_server):
    text_only = oai.chat.completions.create(
        model=vllm_server.model, messages=_user("Describe."), max_tokens=1)
    one = oai.chat.completions.create(
        model=vllm_server.model, messages=_user(image_part(synthetic_rgb()), "Describe."),
        max_tokens=1)
    two = oai.chat.completions.create(
        model=vllm_server.model,
        messages=_user(image_part(synthetic_rgb()), image_part(synthetic_rgb(64, 48, 1)), "Describe."),
        max_tokens=1)
    per_image = one.usage.prompt_tokens - text_only.usage.prompt_tokens
    # 640x480 is resized (multiples of 28) under the processor's max_pixels=50176 to 252x168:
    # 9x6 merged patches = 54 image tokens, plus the vision start/end markers.
    assert per_image == 56
    assert two.usage.prompt_tokens > one.usage.prompt_tokens


def test_too_many_images_is_param_image(oai, vllm_server):
    imgs = [image_part(synthetic_rgb(64, 48, i)) for i in range(vllm_server.image_limit + 1)]
    with pytest.raises(openai.BadRequestError) as ei:
        oai.chat.completions.create(model=vllm_server.model, messages=_user(*imgs, "x"),
                                    max_tokens=4)
    err = _error_body(ei.value)
    lim = parse_limit_error(err.get("param"), err.get("message", ""))
    assert lim.param == "image"
    assert lim.limit == vllm_server.image_limit


def test_bad_image_is_a_400(oai, vllm_server):
    bad = {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}
    with pytest.raises(openai.BadRequestError) as ei:
        oai.chat.completions.create(model=vllm_server.model, messages=_user(bad, "x"), max_tokens=4)
    assert "image" in _error_body(ei.value).get("message", "").lower()


@pytest.mark.parametrize("stream", [False, True])
def test_context_overflow_is_param_input_tokens(oai, vllm_server, stream):
    long_text = WORD * _repeats_for(oai, vllm_server, vllm_server.max_model_len + 500)
    with pytest.raises(openai.BadRequestError) as ei:
        oai.chat.completions.create(model=vllm_server.model, messages=_user(long_text),
                                    max_tokens=4, stream=stream)
    err = _error_body(ei.value)
    lim = parse_limit_error(err.get("param"), err.get("message", ""))
    assert lim.param == "input_tokens"
    assert lim.limit == vllm_server.max_model_len
    assert lim.value is not None and lim.value > vllm_server.max_model_len


def test_max_tokens_over_context_is_param_max_tokens(oai, vllm_server):
    with pytest.raises(openai.BadRequestError) as ei:
        oai.chat.completions.create(model=vllm_server.model, messages=_user("x"),
                                    max_tokens=vllm_server.max_model_len + 1)
    err = _error_body(ei.value)
    lim = parse_limit_error(err.get("param"), err.get("message", ""))
    assert lim.param == "max_tokens"
    assert lim.value == vllm_server.max_model_len + 1 and lim.limit == vllm_server.max_model_len


def test_prompt_plus_max_tokens_over_context_is_clamped_200(oai, vllm_server):
    # Not an error in vLLM 0.32: the reply is cut where the context ends (finish_reason length).
    prompt = WORD * _repeats_for(oai, vllm_server, vllm_server.max_model_len - 60)
    r = oai.chat.completions.create(model=vllm_server.model, messages=_user(prompt),
                                    max_tokens=1000, temperature=0, extra_body={"ignore_eos": True})
    assert r.usage.prompt_tokens + 1000 > vllm_server.max_model_len   # the request did overrun
    assert r.choices[0].finish_reason == "length"
    assert r.usage.prompt_tokens + r.usage.completion_tokens <= vllm_server.max_model_len
    assert r.usage.completion_tokens < 1000


def test_unknown_model_is_404(oai, vllm_server):
    with pytest.raises(openai.NotFoundError) as ei:
        oai.chat.completions.create(model="nope", messages=_user("x"), max_tokens=4)
    assert vllm_server.model in _error_body(ei.value).get("message", "")


def test_stream_chunks_and_usage(oai, vllm_server):
    stream = oai.chat.completions.create(
        model=vllm_server.model, messages=_user(image_part(synthetic_rgb()), "Go."),
        max_tokens=12, temperature=0, stream=True, stream_options={"include_usage": True},
        extra_body={"ignore_eos": True})
    chunks = list(stream)
    deltas = [c for c in chunks if c.choices and c.choices[0].delta.content]
    finals = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert len(deltas) >= 2
    assert finals == ["length"]
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 12


TOOLS = [{"type": "function", "function": {
    "name": "measure", "description": "Distance between two objects in metres.",
    "parameters": {"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "string"}},
                   "required": ["a", "b"]}}}]
# Random weights never write a tool call by themselves: constrain the output to a hermes call.
HERMES_CALL = r'<tool_call>\n\{"name": "measure", "arguments": \{"a": "mug", "b": "laptop"\}\}\n</tool_call>'


def test_hermes_tool_parser_turns_a_tool_call_into_structured_calls(oai, vllm_server):
    r = oai.chat.completions.create(
        model=vllm_server.model, messages=_user("Measure."), tools=TOOLS, tool_choice="auto",
        max_tokens=64, temperature=0, extra_body={"structured_outputs": {"regex": HERMES_CALL}})
    assert r.choices[0].finish_reason == "tool_calls"
    calls = r.choices[0].message.tool_calls
    assert [c.function.name for c in calls] == ["measure"]
    assert json.loads(calls[0].function.arguments) == {"a": "mug", "b": "laptop"}
    assert calls[0].id


def test_hermes_tool_parser_streams_tool_call_deltas(oai, vllm_server):
    stream = oai.chat.completions.create(
        model=vllm_server.model, messages=_user("Measure."), tools=TOOLS, tool_choice="auto",
        max_tokens=64, temperature=0, stream=True,
        extra_body={"structured_outputs": {"regex": HERMES_CALL}})
    name, args, finish = "", "", None
    for chunk in stream:
        for choice in chunk.choices:
            for tc in choice.delta.tool_calls or []:
                name += tc.function.name or ""
                args += tc.function.arguments or ""
            finish = choice.finish_reason or finish
    assert name == "measure" and json.loads(args) == {"a": "mug", "b": "laptop"}
    assert finish == "tool_calls"


def test_tool_choice_required_without_a_stop_runs_to_length(oai, vllm_server):
    # vLLM 0.32 serves "required" with its own grammar (a user regex is ignored); random weights
    # repeat <tool_call> blocks until max_tokens, and a cut reply carries no parsed tool_calls.
    r = oai.chat.completions.create(model=vllm_server.model, messages=_user("Measure."),
                                    tools=TOOLS, tool_choice="required", max_tokens=48,
                                    temperature=0)
    assert r.choices[0].finish_reason == "length"
    assert not r.choices[0].message.tool_calls
    assert "<tool_call>" in (r.choices[0].message.content or "")
