"""Answer values: overflowing, huge and non-finite answers are rejected with a reason the model can
act on, in the kernel (ReturnAnswer) and again in the parent (the validator), never INTERNAL."""
from __future__ import annotations

import math

import pytest
from channel_helpers import PRELUDE, cfg, make_frames, pool  # noqa: F401

from spatialclaw_ros.agent.answers import AnswerMismatch, AnswerSpec, AnswerValidator
from spatialclaw_ros.agent.runner import run_query
from spatialclaw_ros.agent.types import AnswerType, QueryRequest
from spatialclaw_ros.config import Config
from spatialclaw_ros.errors import ErrorCode
from spatialclaw_ros.kernel import KernelPool

probe = pytest.mark.probe(category="answers")


def _program(cfg: Config, pool: KernelPool, program: str, answer_type: AnswerType = AnswerType.AUTO):
    return run_query(QueryRequest("How far is the mug, in metres?", answer_type=answer_type),
                     make_frames(), cfg, program=program, pool=pool)


@probe
def test_return_answer_10_pow_400_is_rejected_with_a_reason(cfg: Config, pool: KernelPool) -> None:
    res = _program(cfg, pool, "ReturnAnswer(10**400, unit='m')")
    assert not res.success and res.error_code == ErrorCode.INVALID_REQUEST, res.error_message
    assert "was rejected" in res.error_message and "too large for a float" in res.error_message
    assert "401 digits" in res.error_message and "Traceback" not in res.error_message


@probe
def test_huge_text_answer_is_refused_in_the_kernel(pool: KernelPool) -> None:
    with pool.acquire(make_frames(), {}) as k:
        r = k.run_cell("ReturnAnswer('A' * 10**8)", timeout_s=60)
        assert not r.ok and r.answer is None and not r.crashed and not r.protocol_violation
        assert "AnswerTooLarge" in r.error and "100000000 characters long" in r.error
        assert "out of memory" not in r.error
        assert k.run_cell("print('still here')", timeout_s=30).stdout.strip() == "still here"


@probe
@pytest.mark.parametrize("expr", ["float('nan')", "float('inf')", "[1.0, float('nan'), 2.0]",
                                  "np.float32('nan')"])
def test_non_finite_answers_are_refused_in_the_kernel(pool: KernelPool, expr: str) -> None:
    with pool.acquire(make_frames(), {}) as k:
        r = k.run_cell(f"ReturnAnswer({expr}, unit='m')", timeout_s=60)
        assert not r.ok and r.answer is None
        assert "not finite" in r.error and "check the mask or depth" in r.error


@probe
@pytest.mark.parametrize("value, reason", [
    ("float('nan')", "must be finite"),
    ("10**400", "too large for a float"),
    ("'A' * 100000", "characters long"),
])
def test_forged_answers_are_rejected_by_the_parent(cfg: Config, pool: KernelPool, value: str,
                                                   reason: str) -> None:
    """The kernel's own checks bypassed: a forged result carries the value to the validator."""
    answer_type = AnswerType.TEXT if value.startswith("'") else AnswerType.NUMBER
    res = _program(cfg, pool, PRELUDE + f"result(answer={{'value': {value}, 'unit': 'm'}})",
                   answer_type)
    assert not res.success and res.error_code == ErrorCode.INVALID_REQUEST, res.error_message
    assert reason in res.error_message


@probe
@pytest.mark.parametrize("raw, answer_type, reason", [
    ({"value": 10**400, "unit": "m"}, AnswerType.NUMBER, "too large for a float"),
    ({"value": 10**400}, AnswerType.COUNT, "too large for a float"),
    ({"value": [1, 10**400, 2], "frame": "odom"}, AnswerType.POINT, "too large for a float"),
    ({"value": math.inf, "unit": "m"}, AnswerType.NUMBER, "must be finite"),
    ({"value": 1e308, "unit": "km"}, AnswerType.NUMBER, "out of range"),
    ({"value": 1.0, "unit": "m", "uncertainty": math.nan}, AnswerType.NUMBER, "must be finite"),
    ({"value": 1.0, "unit": "m", "stamp_ns": 2**70}, AnswerType.NUMBER, "stamp_ns"),
    ({"value": 1.0, "unit": "m", "geometry": {"p": [math.nan, 0, 0]}}, AnswerType.NUMBER, "finite"),
    ({"value": "x" * 5000}, AnswerType.TEXT, "characters long"),
    ({"value": {"deep": [[[[1]]]]}}, AnswerType.NUMBER, "must be a number"),
])
def test_validator_rejects_bad_values_with_a_reason(raw: dict, answer_type: AnswerType,
                                                     reason: str) -> None:
    v = AnswerValidator(AnswerSpec(answer_type=answer_type, question="How far, in metres?",
                                   fixed_frame="odom"))
    with pytest.raises(AnswerMismatch, match=reason):
        v.validate(raw)
