"""The real agent loop (run_query) and VlmClient against a real vLLM server (tiny random Qwen2-VL).

Frames come from the committed simulation bag test/data/sim_a (8 frames, 320x240). The model's
text is garbage, so these tests check what the loop does with a real server: data-URL images
within --limit-mm-per-prompt, usage taken from the server's replies, cut and code-less replies as
format errors, then the step budget and a fallback, streaming progress, the tool_call executor on
vLLM's hermes parser, the server's limits handled, and a server that goes away mid-query. Where a
test needs a well-formed reply it constrains the output with vLLM's ``structured_outputs`` regex
through ``vlm.extra_body`` (the model still "writes" it, token by token, through the real server).
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Iterator

import pytest

from spatialclaw_ros.agent.runner import run_query
from spatialclaw_ros.agent.types import AnswerType, Executor, Phase, QueryRequest, StepProgress
from spatialclaw_ros.config import Config
from spatialclaw_ros.errors import ErrorCode, VlmError
from spatialclaw_ros.vlm.client import VlmClient, VlmRequestError
from spatialclaw_ros.vlm.conversation import Conversation, jpeg_data_url

from vllm_frames import synthetic_rgb
from vllm_proxy import CuttableProxy

pytestmark = pytest.mark.vllm_integration

REPO = Path(__file__).resolve().parents[2]
BAG = REPO / "test" / "data" / "sim_a"


@pytest.fixture(scope="module")
def frames() -> list[Any]:
    """The 8 keyframes of the sim_a fixture bag."""
    from spatialclaw_ros.bags.reader import load_bag

    data = load_bag(BAG, Config())
    assert len(data.frames) >= 3, "the fixture bag should hold at least 3 frames"
    return data.frames


@pytest.fixture(scope="module")
def kernel_pool() -> Iterator[Any]:
    """A real kernel pool for this module."""
    from spatialclaw_ros.kernel import KernelPool

    pool = KernelPool(Config().sandbox)
    yield pool
    pool.close()


@pytest.fixture
def cfg(vllm_server, tmp_path: Path) -> Config:
    """The node's config pointed at the test server, with short replies and few steps."""
    c = Config()
    c.vlm.base_url = vllm_server.base_url
    c.vlm.model = ""                  # the first model /v1/models lists
    c.vlm.api_key_env = ""
    c.vlm.temperature = 0.0
    c.vlm.max_tokens = 48
    c.vlm.retries = 1
    c.vlm.timeout_s = 120.0
    c.agent.max_steps = 2
    c.agent.query_timeout_s = 400.0
    c.agent.cell_timeout_s = 30.0
    c.agent.transcript_dir = str(tmp_path / "transcripts")
    return c


def _events(result) -> list[dict]:
    path = Path(result.transcript_path).with_suffix(".jsonl")
    return [json.loads(line) for line in path.read_text().splitlines()]


def _assistant(events: list[dict]) -> list[dict]:
    return [e for e in events if e.get("kind") == "message" and e.get("role") == "assistant"]


def test_garbage_is_format_errors_then_the_step_budget_then_a_marked_fallback(
        cfg, frames, kernel_pool, vllm_server):
    progress: list[StepProgress] = []
    cfg.vlm.max_tokens = 100          # long enough that streamed pieces arrive over > 0.25 s
    cfg.vlm.extra_body = json.dumps({"ignore_eos": True})   # every reply runs to max_tokens: cut
    client = VlmClient(cfg.vlm)       # the node's config allows 16 images; the server takes 2
    res = run_query(QueryRequest("What colour is the box on the left?", answer_type=AnswerType.TEXT,
                                 executor=Executor.CODE),
                    frames, cfg, pool=kernel_pool, on_progress=progress.append, vlm=client)
    events = _events(res)
    # cut replies are format errors (no cell runs), the 2 steps run out, the fallback is marked
    assert res.success, (res.error_code, res.error_message)
    assert res.answer.is_fallback and res.steps_used == 2
    assert any("fallback" in n for n in res.notes)
    assert not [e for e in events if e.get("kind") == "cell"]
    replies = _assistant(events)
    assert len(replies) == res.timings.vlm_calls == 4          # plan, 2 steps, fallback
    assert all(r["finish_reason"] == "length" for r in replies)
    # usage is the server's own count, summed over the calls
    assert res.timings.prompt_tokens == sum(r["prompt_tokens"] for r in replies) > 10_000
    assert res.timings.completion_tokens == sum(r["completion_tokens"] for r in replies) == 4 * 100
    # images: data URLs; the loop offered all 8 frames, the client re-fitted to the server's 2
    first_step = [e for e in events if e.get("kind") == "message" and e.get("role") == "user"
                  and e.get("step") == 1][0]
    assert len(first_step["images"]) > vllm_server.image_limit
    assert client.budget.max_images_per_request == vllm_server.image_limit
    assert any("trimmed" in n for n in res.notes)
    assert all(e["url"].startswith("data:image/jpeg;base64,") for e in events
               if e.get("kind") == "image")
    # streaming: step replies reached the caller piece by piece while being generated
    streamed = [p for p in progress if p.phase == Phase.GENERATING and p.code_excerpt]
    assert streamed and all(p.step >= 1 for p in streamed)


def test_a_constrained_reply_runs_in_the_kernel_and_answers(cfg, frames, kernel_pool):
    # vLLM writes exactly this cell (regex-constrained decoding); the real kernel runs it.
    cell = r"Count the frames\.\n```python\nReturnAnswer\(len\(InputImages\)\)\n```"
    cfg.vlm.extra_body = json.dumps({"structured_outputs": {"regex": cell}})
    cfg.vlm.max_images_per_query = 2           # within the server's limit: no re-fit needed
    res = run_query(QueryRequest("How many frames are there?", answer_type=AnswerType.COUNT,
                                 executor=Executor.CODE, max_steps=2),
                    frames, cfg, pool=kernel_pool)
    assert res.success, (res.error_code, res.error_message, res.notes)
    assert res.answer.count == len(frames) and not res.answer.is_fallback
    assert res.steps_used == 1 and res.timings.vlm_calls == 2   # plan + one step
    assert res.timings.kernel_s > 0


def test_tool_call_executor_on_vllms_hermes_parser(cfg, frames, kernel_pool):
    # vlm.tool_choice "auto" (the default) goes through --tool-call-parser hermes ("required" is
    # served by vLLM 0.32 with its own grammar, bypassing the parser; random weights never close
    # a call: see test_vllm_protocol). Constrain the reply to one hermes call.
    assert cfg.vlm.tool_choice == "auto"
    call = r'<tool_call>\n\{"name": "return_answer", "arguments": \{"value": 3\}\}\n</tool_call>'
    cfg.vlm.extra_body = json.dumps({"structured_outputs": {"regex": call}})
    cfg.vlm.max_images_per_query = 2
    cfg.vlm.max_tokens = 120          # the call is ~70 tokens of the tiny tokenizer
    res = run_query(QueryRequest("How many boxes are on the table?", answer_type=AnswerType.COUNT,
                                 executor=Executor.TOOL_CALL),
                    frames, cfg, pool=kernel_pool)
    assert res.success, (res.error_code, res.error_message, res.notes)
    assert res.answer.count == 3 and res.steps_used == 1
    calls = [tc for r in _assistant(_events(res)) for tc in (r.get("tool_calls") or [])]
    assert [tc["function"]["name"] for tc in calls] == ["return_answer"]
    assert json.loads(calls[0]["function"]["arguments"]) == {"value": 3} and calls[0]["id"]


def test_context_overflow_drops_oldest_images_and_outputs_then_fits(cfg, vllm_server):
    client = VlmClient(cfg.vlm)
    conv = Conversation()
    conv.add_system("You write Python to answer spatial questions.")
    conv.add_user("How far is the mug from the laptop?", [jpeg_data_url(synthetic_rgb(seed=1))])
    for i in range(8):        # each output is ~10k characters; together far beyond the context
        conv.add_assistant(f"Step {i}.\n```python\nprint(data[{i}])\n```")
        conv.add_user(f"[stdout]\n" + " ".join(f"value_{i}_{j}=0.{j:04d}" for j in range(600)),
                      [jpeg_data_url(synthetic_rgb(seed=10 + i))])
    before = json.dumps(conv.messages)
    reply = client.chat(conv)
    assert reply.trimmed >= 1
    assert reply.prompt_tokens + client.budget.max_tokens <= vllm_server.max_model_len
    assert json.dumps(conv.messages) == before          # the caller's conversation is untouched


def test_overflow_that_cannot_fit_is_a_clear_error(cfg):
    client = VlmClient(cfg.vlm)
    conv = Conversation()
    conv.add_system("rules " + "spatial reasoning " * 16000)    # the system prompt alone is too big
    conv.add_user("How far?")
    with pytest.raises(VlmRequestError) as ei:
        client.chat(conv)
    assert ei.value.param == "input_tokens"
    assert "--max-model-len" in ei.value.message and "32768-token context" in ei.value.message


def test_max_tokens_over_the_limit_is_capped_from_max_model_len(cfg, vllm_server):
    cfg.vlm.max_tokens = 10 * vllm_server.max_model_len
    client = VlmClient(cfg.vlm)
    conv = Conversation()
    conv.add_user("Say something.")
    reply = client.chat(conv, max_tokens=3)        # a request within the cap goes as asked
    assert reply.completion_tokens <= 3
    assert client.max_model_len == vllm_server.max_model_len
    assert client.budget.max_tokens == vllm_server.max_model_len // 4
    assert any("lowered" in n for n in client.budget.notes)


def test_bad_image_is_a_clear_vlm_error(cfg):
    conv = Conversation()
    conv.add_user("What is this?", ["data:image/png;base64,AAAA"])
    with pytest.raises(VlmRequestError) as ei:
        VlmClient(cfg.vlm).chat(conv)
    assert ei.value.status == 400 and "image" in ei.value.message.lower()


def test_unknown_model_lists_the_served_models(cfg, frames, kernel_pool, vllm_server):
    cfg.vlm.model = "no-such-model"
    res = run_query(QueryRequest("How far?", answer_type=AnswerType.NUMBER, executor=Executor.NO_TOOL),
                    frames, cfg, pool=kernel_pool)
    assert not res.success and res.error_code == ErrorCode.VLM_ERROR
    assert vllm_server.model in res.error_message and "vlm.model" in res.error_message


def test_server_going_away_mid_query_is_an_unreachable_result(cfg, frames, kernel_pool, vllm_server):
    proxy = CuttableProxy(vllm_server.port)
    cfg.vlm.base_url = proxy.base_url

    def cut_after_the_plan(p: StepProgress) -> None:
        if p.step == 1 and p.phase == Phase.GENERATING:
            proxy.cut()

    try:
        res = run_query(QueryRequest("How far is the red box from the camera?",
                                     answer_type=AnswerType.NUMBER, executor=Executor.CODE),
                        frames, cfg, pool=kernel_pool, on_progress=cut_after_the_plan)
    finally:
        proxy.cut()
    assert not res.success and res.error_code == ErrorCode.VLM_UNREACHABLE, res.error_message
    assert re.search(r"cannot reach the VLM endpoint", res.error_message)
    assert res.timings.vlm_calls == 1                  # the plan went through before the cut
