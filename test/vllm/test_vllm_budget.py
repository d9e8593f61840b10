"""Context and image budgets (spatialclaw_ros.vlm.budget): pure functions, main suite.

The error texts below are vLLM 0.32's, copied from a real server (docs/deployment.md,
test_vllm_protocol.py pins them against the server itself).
"""
from __future__ import annotations

import pytest

from spatialclaw_ros.vlm.budget import (
    CODE_DROPPED, IMAGE_DROPPED, OUTPUT_DROPPED, ContextBudget, budget_for_model, count_images,
    overflow_message, parse_limit_error, parse_models_list, trim_to_budget)

OVERFLOW = ("This model's maximum context length is 2048 tokens. However, your prompt contains at "
            "least 2049 input tokens, which exceeds this limit even without any output tokens. "
            "Please reduce the length of the input prompt. (parameter=input_tokens, value=2049)")
TOO_MANY_IMAGES = "At most 2 image(s) may be provided in one prompt. (parameter=image)"
MAX_TOKENS = ("max_tokens=5000 cannot be greater than max_model_len=2048. Please request fewer "
              "output tokens. (parameter=max_tokens, value=5000)")


def _img() -> dict:
    return {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,AAAA"}}


def _conversation(steps: int, output_chars: int = 2000) -> list[dict]:
    msgs: list[dict] = [{"role": "system", "content": "You write Python. " * 20},
                        {"role": "user", "content": [{"type": "text", "text": "How far is the mug?"},
                                                     _img(), _img()]}]
    for i in range(steps):
        msgs.append({"role": "assistant", "content": f"step {i}\n```python\nprint({i})\n```" + "#" * 300})
        msgs.append({"role": "user", "content": [{"type": "text", "text": f"out {i} " + "x" * output_chars},
                                                 _img()]})
    return msgs


def test_models_list_reads_vllm_max_model_len():
    payload = {"object": "list", "data": [
        {"id": "tiny-vlm", "object": "model", "root": "/m", "max_model_len": 2048},
        {"id": "other", "object": "model"}]}
    models = parse_models_list(payload)
    assert [(m.id, m.max_model_len, m.root) for m in models] == [
        ("tiny-vlm", 2048, "/m"), ("other", None, "")]
    with pytest.raises(ValueError, match="no 'data' list"):
        parse_models_list({"error": "nope"})


def test_budget_caps_the_reply_at_a_quarter_of_the_context_and_says_so():
    b = budget_for_model(8192, max_tokens=4096, max_images_per_query=16)
    assert (b.max_tokens, b.prompt_tokens) == (2048, 6144)
    assert "lowered to 2048" in b.notes[0]
    assert budget_for_model(None, max_tokens=512, max_images_per_query=4).max_model_len == 8192
    assert b.reply_tokens(10_000) == 2048 and b.reply_tokens(100) == 100


@pytest.mark.parametrize("param,message,expect", [
    ("input_tokens", OVERFLOW, ("input_tokens", 2049, 2048)),
    ("image", TOO_MANY_IMAGES, ("image", None, 2)),
    (None, TOO_MANY_IMAGES, ("image", None, 2)),
    ("max_tokens", MAX_TOKENS, ("max_tokens", 5000, 2048)),
    (None, "Failed to load image: cannot identify image file", ("", None, None)),
])
def test_parse_limit_error(param, message, expect):
    e = parse_limit_error(param, message)
    assert (e.param, e.value, e.limit) == expect


def test_trim_drops_oldest_images_first_and_tells_the_model():
    b = ContextBudget(max_model_len=100_000, max_tokens=1000, max_images_per_request=2)
    msgs = _conversation(3)
    res = trim_to_budget(msgs, b)
    assert count_images(res.messages) == 2 and res.images_dropped == 3
    # the newest two images survive, in the last two user messages
    assert count_images(res.messages[-1:]) == 1 and count_images(res.messages[-3:-2]) == 1
    assert "3 older image(s)" in res.messages[-1]["content"][-1]["text"]
    assert count_images(msgs) == 5   # the caller's list is untouched
    assert res.fits and res.outputs_dropped == 0


def test_trim_then_drops_old_outputs_then_old_replies_but_keeps_system_question_and_last():
    msgs = _conversation(6, output_chars=6000)
    b = ContextBudget(max_model_len=6000, max_tokens=1000, image_tokens=100)
    res = trim_to_budget(msgs, b)
    texts = [m["content"] if isinstance(m["content"], str) else m["content"][0]["text"]
             for m in res.messages]
    assert texts[0] == msgs[0]["content"] and texts[1] == "How far is the mug?"
    assert OUTPUT_DROPPED in texts and res.outputs_dropped >= 1
    assert res.messages[-1]["content"][0]["text"].startswith("out 5 ")   # the latest output stays
    assert res.fits and res.estimated_tokens <= b.prompt_tokens
    tight = trim_to_budget(msgs, ContextBudget(max_model_len=1500, max_tokens=200, image_tokens=100))
    assert tight.replies_dropped >= 1 and CODE_DROPPED in str(tight.messages)


def test_trim_reports_when_the_protected_part_alone_is_too_big():
    msgs = [{"role": "system", "content": "s" * 40_000}, {"role": "user", "content": "q"}]
    b = ContextBudget(max_model_len=2048, max_tokens=512)
    res = trim_to_budget(msgs, b)
    assert not res.fits and not res.changed
    msg = overflow_message(b, res, parse_limit_error("input_tokens", OVERFLOW))
    assert "2048-token context" in msg and "--max-model-len" in msg and "nothing is left" in msg


def test_fit_returns_the_same_list_when_it_fits():
    msgs = _conversation(1)
    b = ContextBudget(max_model_len=100_000, max_tokens=1000)
    assert b.fit(msgs).messages is msgs and not b.fit(msgs).changed


def test_absorbing_an_overflow_makes_the_next_fit_smaller():
    msgs = _conversation(4)
    b = ContextBudget(max_model_len=100_000, max_tokens=1000)
    assert not b.fit(msgs).changed
    sent_estimate = b.estimate(msgs)
    assert b.absorb_limit_error(msgs, parse_limit_error("input_tokens", OVERFLOW))
    assert b.max_model_len == 2048 and b.max_tokens == 512
    refit = b.fit(msgs)
    assert refit.changed and b.estimate(refit.messages) < sent_estimate


def test_absorbing_image_and_max_tokens_limits():
    b = ContextBudget(max_model_len=2048, max_tokens=1024, max_images_per_request=16)
    assert b.absorb_limit_error([], parse_limit_error("image", TOO_MANY_IMAGES))
    assert b.max_images_per_request == 2 and "at most 2 image(s)" in b.notes[-1]
    assert not b.absorb_limit_error([], parse_limit_error("image", TOO_MANY_IMAGES))  # nothing new
    assert b.absorb_limit_error([], parse_limit_error("max_tokens", MAX_TOKENS))
    assert b.max_tokens == 512
    assert not b.absorb_limit_error([], parse_limit_error(None, "Failed to load image"))


def test_calibration_from_usage_moves_the_estimate_toward_the_server():
    msgs = [{"role": "user", "content": "word " * 400}]
    b = ContextBudget(max_model_len=8192, max_tokens=512)
    before = b.estimate(msgs)
    b.calibrate(msgs, prompt_tokens=1000)   # the server counted more tokens than we guessed
    assert b.chars_per_token < 3.5 and before < b.estimate(msgs) < 1000 + 20
    b.calibrate_image(tokens_without=33, tokens_with=89, n_images=1)
    assert b.image_tokens == 56


def test_tool_calls_count_and_image_stubs_are_text():
    msgs = [{"role": "assistant", "content": "", "tool_calls": [
        {"id": "1", "type": "function", "function": {"name": "run_python", "arguments": "{\"code\": \"" + "x" * 700 + "\"}"}}]}]
    b = ContextBudget(max_model_len=8192, max_tokens=512)
    assert b.estimate(msgs) > 200
    res = trim_to_budget([{"role": "user", "content": [{"type": "text", "text": "q"}, _img()]}],
                         ContextBudget(max_model_len=8192, max_tokens=512, max_images_per_request=0))
    assert res.messages[0]["content"][1] == {"type": "text", "text": IMAGE_DROPPED}
