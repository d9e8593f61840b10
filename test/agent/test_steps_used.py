"""steps_used counts the steps a query reached when it ends in TIMEOUT or VLM_ERROR (issue 13, defect 9)."""
from __future__ import annotations

from typing import Any

from spatialclaw_ros.agent.runner import run_query
from spatialclaw_ros.agent.types import QueryRequest
from spatialclaw_ros.config import Config
from spatialclaw_ros.errors import ErrorCode
from support.scripted_vlm import Reply, ScriptedVlmServer
from support.synthetic import make_frames

Q = "how far apart are the red and the blue square?"


def test_timeout_after_two_steps_reports_them(cfg: Config, server: ScriptedVlmServer,
                                              kernel_pool: Any) -> None:
    server.add(Reply("Plan: look, then measure."))                # step 0: the planner
    server.add(Reply("I look first.\n```python\nx = 1\nprint(x)\n```"))
    server.add(Reply("plan", delay_s=30.0))
    cfg.vlm.base_url = server.base_url
    res = run_query(QueryRequest(Q, timeout_s=8.0), make_frames(1), cfg, pool=kernel_pool)
    assert res.error_code == ErrorCode.TIMEOUT, res.error_message
    assert res.steps_used == 2


def test_vlm_error_mid_query_reports_the_steps(cfg: Config, server: ScriptedVlmServer,
                                               kernel_pool: Any) -> None:
    server.add(Reply("Plan: look, then measure."))                # step 0: the planner
    server.add(Reply("I look first.\n```python\nx = 1\nprint(x)\n```"))
    server.add(Reply.http(400, "bad request from the proxy"))
    cfg.vlm.base_url = server.base_url
    res = run_query(QueryRequest(Q), make_frames(1), cfg, pool=kernel_pool)
    assert res.error_code == ErrorCode.VLM_ERROR, res.error_message
    assert res.steps_used == 2
