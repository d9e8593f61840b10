"""The honest negative: ReturnAnswer(None, reason=...) ends a query with CANNOT_ANSWER and the reason."""
from __future__ import annotations

from typing import Any

import pytest

from spatialclaw_ros.agent.answers import (AnswerMismatch, AnswerSpec, AnswerValidator, CannotAnswer,
                                           parse_text_answer)
from spatialclaw_ros.agent.runner import run_query
from spatialclaw_ros.agent.types import AnswerType, QueryRequest
from spatialclaw_ros.config import Config
from spatialclaw_ros.errors import ErrorCode
from support.scripted_vlm import Reply, ScriptedVlmServer
from support.synthetic import make_frames

Q = "How tall is the mug, in metres?"


def _validator() -> AnswerValidator:
    return AnswerValidator(AnswerSpec(answer_type=AnswerType.NUMBER, question=Q))


def test_none_with_a_reason_is_a_typed_cannot_answer() -> None:
    with pytest.raises(CannotAnswer) as exc:
        _validator().validate({"value": None, "reason": "needs a depth model"})
    assert exc.value.reason == "needs a depth model"
    with pytest.raises(AnswerMismatch, match="reason="):      # None alone is not an answer
        _validator().validate({"value": None})
    with pytest.raises(AnswerMismatch, match="reason="):
        _validator().validate({"value": None, "reason": "   "})


def test_text_replies_can_say_cannot_answer() -> None:
    with pytest.raises(CannotAnswer, match="no depth"):
        parse_text_answer('{"value": null, "reason": "no depth"}', _validator())
    with pytest.raises(CannotAnswer, match="the mug is never seen"):
        parse_text_answer("I looked everywhere.\nCannot answer: the mug is never seen", _validator())
    assert parse_text_answer('{"value": 0.1, "unit": "m"}', _validator()).number == pytest.approx(0.1)


def test_program_cannot_answer_has_its_own_code(cfg: Config, kernel_pool: Any) -> None:
    prog = "ReturnAnswer(None, reason='needs a depth model')"
    res = run_query(QueryRequest(Q, answer_type=AnswerType.NUMBER), make_frames(1), cfg,
                    program=prog, pool=kernel_pool)
    assert not res.success and res.answer is None
    assert res.error_code == ErrorCode.CANNOT_ANSWER
    assert res.error_message == "cannot answer: needs a depth model"
    d = res.to_dict()
    assert d["error"]["name"] == "CANNOT_ANSWER" and d["error"]["code"] == 16


def py(code: str) -> str:
    return f"Step.\n```python\n{code}\n```"


def test_model_says_cannot_answer_in_a_step(cfg: Config, server: ScriptedVlmServer,
                                            kernel_pool: Any) -> None:
    server.add(Reply("plan"), py("print(tools.Reconstruct.available())"),
               py("ReturnAnswer(None, reason='no depth and no depth model')"))
    cfg.vlm.base_url = server.base_url
    res = run_query(QueryRequest(Q, answer_type=AnswerType.NUMBER), make_frames(1), cfg,
                    pool=kernel_pool)
    assert res.error_code == ErrorCode.CANNOT_ANSWER and res.steps_used == 2
    assert "no depth and no depth model" in res.error_message


def test_fallback_keeps_cannot_answer(cfg: Config, server: ScriptedVlmServer,
                                      kernel_pool: Any) -> None:
    server.add(Reply("plan"), py("print(1)"),
               Reply('{"value": null, "reason": "the frames show no mug"}'))
    cfg.vlm.base_url = server.base_url
    res = run_query(QueryRequest(Q, answer_type=AnswerType.NUMBER, max_steps=1), make_frames(1),
                    cfg, pool=kernel_pool)
    assert res.error_code == ErrorCode.CANNOT_ANSWER and res.answer is None
    assert "the frames show no mug" in res.error_message and "steps ran out" in res.error_message
    assert "null" in server.requests[-1].messages[-1]["content"]      # the option was offered


def test_fallback_number_is_marked_as_a_fallback(cfg: Config, server: ScriptedVlmServer,
                                                 kernel_pool: Any) -> None:
    server.add(Reply("plan"), py("print(1)"), Reply('{"value": 0.12, "unit": "m"}'))
    cfg.vlm.base_url = server.base_url
    res = run_query(QueryRequest(Q, answer_type=AnswerType.NUMBER, max_steps=1), make_frames(1),
                    cfg, pool=kernel_pool)
    assert res.success and res.answer.is_fallback
    assert any("fallback" in n for n in res.notes)


def test_plain_text_cannot_answer_ends_the_query(cfg: Config, server: ScriptedVlmServer,
                                                 kernel_pool: Any) -> None:
    server.add(Reply("plan"), Reply("There is no depth and no depth model.\n"
                                    "Cannot answer: needs a depth model"))
    cfg.vlm.base_url = server.base_url
    res = run_query(QueryRequest(Q, answer_type=AnswerType.NUMBER), make_frames(1), cfg,
                    pool=kernel_pool)
    assert res.error_code == ErrorCode.CANNOT_ANSWER and res.steps_used == 1
    assert res.error_message == "cannot answer: needs a depth model"
