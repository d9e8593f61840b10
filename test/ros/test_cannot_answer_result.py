"""CANNOT_ANSWER and MODEL_UNAVAILABLE reach the action result with their reason (issue 14)."""
from __future__ import annotations

import pytest

from spatialclaw_ros.action import SpatialQuery
from spatialclaw_ros.agent.types import QueryResult
from spatialclaw_ros.errors import ErrorCode
from spatialclaw_ros.msg import QueryError
from spatialclaw_ros.ros import conversions as conv


@pytest.mark.parametrize("code, text", [
    (ErrorCode.CANNOT_ANSWER, "cannot answer: needs a depth model"),
    (ErrorCode.MODEL_UNAVAILABLE, "Depth Anything 3 is not set up: run `spatialclaw build-engines`"),
])
def test_new_codes_round_trip_through_the_action_result(code: ErrorCode, text: str) -> None:
    res = QueryResult(success=False, error_code=code, error_message=text, steps_used=2)
    msg = conv.fill_result(SpatialQuery.Result(), res, "odom")
    assert not msg.success and msg.error.code == int(code) and msg.error.name == code.name
    assert msg.error.message == text
    assert getattr(QueryError, code.name) == int(code)
    back = conv.result_from_msg(msg)
    assert back.error_code is code and back.error_message == text and back.answer is None
