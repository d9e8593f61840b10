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
    c.vlm.max_tokens = 96
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


def test_code_executor_garbage_ends_in_the_step_budget_with_server_usage(cfg, frames, kernel_pool):
    progress: list[StepProgress] = []
    cfg.vlm.max_tokens = 160          # long enough that streamed pieces arrive over > 0.25 s
    res = run_query(QueryRequest("How far is the red box from the blue box, in metres?",
                                 answer_type=AnswerType.NUMBER, executor=Executor.CODE),
                    frames, cfg, pool=kernel_pool, on_progress=progress.append)
    # Garbage never calls ReturnAnswer: format errors, then the step budget, then the fallback.
    assert res.steps_used == 2
    assert (res.success and res.answer.is_fallback) or res.error_code == ErrorCode.STEP_BUDGET, \
        (res.error_code, res.error_message)
    replies = _assistant(_events(res))
    assert len(replies) == res.timings.vlm_calls == 4          # plan, 2 steps, fallback
    assert all(r["finish_reason"] in ("stop", "length") for r in replies)
    # usage is the server's own count, summed over the calls
    assert res.timings.prompt_tokens == sum(r["prompt_tokens"] for r in replies) > 10_000
    assert res.timings.completion_tokens == sum(r["completion_tokens"] for r in replies) > 0
    # streaming: step replies reached the caller piece by piece while being generated
    streamed = [p for p in progress if p.phase == Phase.GENERATING and p.code_excerpt]
    assert streamed and any(p.step >= 1 for p in streamed)


def test_images_go_as_data_urls_within_the_servers_image_limit(cfg, frames, kernel_pool, vllm_server):
    # The config allows 16 images a query; the server takes 2 a prompt: the first request is
    # refused (400, param=image), the client re-fits to the newest 2 and says so to the model.
    client = VlmClient(cfg.vlm)
    res = run_query(QueryRequest("Which object is closest to the camera?", answer_type=AnswerType.TEXT,
                                 executor=Executor.CODE, max_steps=1),
                    frames, cfg, pool=kernel_pool, vlm=client)
    assert res.error_code in (ErrorCode.NONE, ErrorCode.STEP_BUDGET), res.error_message
    assert client.budget.max_images_per_request == vllm_server.image_limit
    first_step = [e for e in _events(res) if e.get("kind") == "message" and e.get("role") == "user"
                  and e.get("step") == 1][0]
    assert len(first_step["images"]) > vllm_server.image_limit     # the loop offered more...
    assert any("trimmed" in n for n in res.notes)                   # ...and the client cut them
    assert all(url.startswith("data:image/jpeg;base64,") for url in
               [e["url"] for e in _events(res) if e.get("kind") == "image"])


def test_a_text_question_falls_back_to_a_marked_answer(cfg, frames, kernel_pool):
    cfg.vlm.extra_body = json.dumps({"ignore_eos": True})   # never an empty reply
    res = run_query(QueryRequest("What colour is the box on the left?", answer_type=AnswerType.TEXT,
                                 executor=Executor.CODE, max_steps=1),
                    frames, cfg, pool=kernel_pool)
    assert res.success, (res.error_code, res.error_message)
    assert res.answer.is_fallback
    assert any("fallback" in n for n in res.notes)


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


def test_tool_call_executor_on_vllms_tool_parser(cfg, frames, kernel_pool):
    # tool_choice "required": vLLM constrains the reply to tool calls; stopping at </tool_call>
    # makes the random model end one, which vLLM returns as structured tool_calls. Their arguments
    # ("[]" from random weights) are refused by the executor, fed back as role=tool results, and
    # the conversation (assistant tool_calls + tool messages) must be accepted by the server.
    cfg.vlm.extra_body = json.dumps({"stop": ["</tool_call>"]})
    cfg.vlm.max_tokens = 200
    res = run_query(QueryRequest("How far apart are the two boxes, in metres?",
                                 answer_type=AnswerType.NUMBER, executor=Executor.TOOL_CALL),
                    frames, cfg, pool=kernel_pool)
    assert res.error_code in (ErrorCode.NONE, ErrorCode.STEP_BUDGET), res.error_message
    events = _events(res)
    calls = [tc for r in _assistant(events) for tc in (r.get("tool_calls") or [])]
    assert calls, "vLLM returned no structured tool_calls"
    assert all(tc["id"] and tc["function"]["name"] for tc in calls)
    tool_msgs = [e for e in events if e.get("kind") == "message" and e.get("role") == "tool"]
    assert tool_msgs and res.timings.vlm_calls >= 3       # the server took the tool results back


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
