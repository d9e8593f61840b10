"""run_query end to end: scripted VLM server on loopback + the real sandboxed KernelPool."""
from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from spatialclaw_ros.agent.runner import run_query
from spatialclaw_ros.agent.types import AnswerType, Executor, Phase, QueryRequest, StepProgress
from spatialclaw_ros.config import Config
from spatialclaw_ros.errors import ErrorCode
from support.scripted_vlm import Reply, ScriptedVlmServer, closed_port
from support.synthetic import make_frames, square_centres

DIST_Q = "How far is the wall from the camera, in metres?"


def py(purpose: str, code: str) -> str:
    """A step reply: purpose text and one fenced python block."""
    return f"{purpose}\n```python\n{code}\n```"


def _texts(srv: ScriptedVlmServer) -> str:
    return "\n".join(r.text() for r in srv.requests)


def test_code_executor_full_loop(cfg: Config, server: ScriptedVlmServer, kernel_pool: Any,
                                 secret: str) -> None:
    """Plan, shown images, a reply without code, a refused import, an error, a rejected and a valid answer."""
    server.add(
        Reply("1. read the depth at the centre\n2. return it in metres"),
        py("Look at two frames.", "show(InputImages[0], 'first')\nshow(InputImages[1], 'second')\n"
                                  "show(InputImages[1], 'third')\nprint(Metadata['fixed_frame'])"),
        Reply("I think the wall is near."),                            # no code -> format error
        py("Try os.", "import subprocess"),                           # static check refuses
        py("Divide.", "x = 1 / 0"),                                   # runtime error
        py("Steal the key.", "env = np.lib._datasource.os.environ  # evades the static check\n"
                             "print('KEY', env.get('SPATIALCLAW_TEST_API_KEY'))\nprint('x' * 20000)\n"
                             "show(InputImages[2], 'fourth')"),
        py("Answer without unit.", "d = 2.0\nReturnAnswer(d)"),       # rejected: no unit
        py("Answer in cm.", "ReturnAnswer(d * 100, unit='cm')"),
    )
    server.max_images = 4                  # a request over budget would get vLLM's HTTP 400
    cfg.vlm.base_url = server.base_url
    cfg.vlm.max_images_per_step = 2
    cfg.vlm.max_images_per_query = 4
    cfg.agent.output_max_chars = 2000
    progress: list[StepProgress] = []
    res = run_query(QueryRequest(DIST_Q, answer_type=AnswerType.NUMBER), make_frames(3), cfg,
                    pool=kernel_pool, on_progress=progress.append)
    assert res.success, res.error_message
    assert res.answer.number == pytest.approx(2.0) and res.answer.unit == "m"
    assert not res.answer.is_fallback
    assert res.steps_used == 7 and len(server.requests) == 8
    # the planner call is text only; every request stays within the image budgets
    assert server.requests[0].images == [] and len(server.requests[0].messages) == 2
    assert all(len(r.images) <= 4 for r in server.requests)
    assert len(server.requests[1].images) == 2          # 4 per query - 2 per step = 2 input frames
    feedback2 = server.requests[2].messages[-1]
    assert sum(p["type"] == "image_url" for p in feedback2["content"]) == 2   # 3 shown, 2 per step
    assert "not attached" in feedback2["content"][0]["text"]
    feedback6 = server.requests[6].messages[-1]["content"]     # after one more show(): evict one
    assert "1 older image(s) removed" in feedback6[0]["text"] and len(server.requests[6].images) == 4
    sent = _texts(server)
    assert "Format error" in sent and "subprocess" in server.requests[4].messages[-1]["content"]
    assert "ZeroDivisionError" in sent
    assert "truncated" in sent and "agent.output_max_chars" in sent
    assert "give the unit" in sent
    # the API key is only in the Authorization header: the kernel never saw it
    assert secret not in sent and "KEY None" in sent
    assert all(r.headers.get("authorization") == f"Bearer {secret}" for r in server.requests)
    # result metadata
    assert res.sandbox_layers and res.frame_stamps_ns == [f.stamp_ns for f in make_frames(3)]
    assert res.timings.vlm_calls == 8 and res.timings.prompt_tokens > 0 and res.timings.total_s > 0
    assert server.requests[1].stream            # steps stream when progress is wanted...
    assert any(p.phase == Phase.GENERATING and p.code_excerpt for p in progress)  # ...live
    phases = {p.phase for p in progress}
    assert {Phase.PLANNING, Phase.GENERATING, Phase.EXECUTING, Phase.ANSWERING} <= phases
    # transcript: JSONL parses, HTML embeds images and the code
    html = Path(res.transcript_path).read_text()
    assert "data:image/jpeg;base64," in html and "1 / 0" in html and secret not in html
    assert "<link" not in html and "<script" not in html and 'src="http' not in html  # self-contained
    events = [json.loads(line) for line in Path(res.transcript_path).with_suffix(".jsonl")
              .read_text().splitlines()]
    kinds = {e["kind"] for e in events}
    assert {"query", "message", "cell", "image", "answer", "result"} <= kinds


def test_step_exhaustion_asks_once_for_a_fallback(cfg: Config, server: ScriptedVlmServer,
                                                  kernel_pool: Any) -> None:
    server.add(Reply("plan"), py("Measure.", "d = float(InputImages[0].shape[0]) / 24"),
               py("Still thinking.", "print(d)"),
               Reply('Best guess: {"value": 2.0, "unit": "m"}'))
    cfg.vlm.base_url = server.base_url
    res = run_query(QueryRequest(DIST_Q, answer_type=AnswerType.NUMBER, max_steps=2), make_frames(1),
                    cfg, pool=kernel_pool)
    assert res.success and res.answer.is_fallback and res.answer.number == 2.0
    assert res.steps_used == 2 and len(server.requests) == 4
    assert "no steps left" in server.requests[-1].messages[-1]["content"]
    assert any("fallback" in n for n in res.notes)


def test_fallback_that_does_not_parse_is_a_step_budget_error(cfg: Config, server: ScriptedVlmServer,
                                                             kernel_pool: Any) -> None:
    server.add(Reply("plan"), Reply("no code"), Reply("I do not know."))
    cfg.vlm.base_url = server.base_url
    res = run_query(QueryRequest(DIST_Q, answer_type=AnswerType.NUMBER, max_steps=1), make_frames(1),
                    cfg, pool=kernel_pool)
    assert not res.success and res.error_code == ErrorCode.STEP_BUDGET and res.answer is None


def test_cut_reply_is_not_run(cfg: Config, server: ScriptedVlmServer, kernel_pool: Any) -> None:
    server.add(Reply("plan"), Reply("```python\nReturnAnswer(2.0, unit='m')\n```", finish_reason="length"),
               py("Again.", "ReturnAnswer(2.0, unit='m')"))
    cfg.vlm.base_url = server.base_url
    res = run_query(QueryRequest(DIST_Q), make_frames(1), cfg, pool=kernel_pool)
    assert res.success and res.steps_used == 2
    assert "cut off" in server.requests[2].messages[-1]["content"]


def test_http_500_is_retried_within_a_query(cfg: Config, server: ScriptedVlmServer,
                                            kernel_pool: Any) -> None:
    server.add(Reply("plan"), Reply.http(500, "transient"),
               py("Answer.", "ReturnAnswer(True)"))
    cfg.vlm.base_url = server.base_url
    res = run_query(QueryRequest("Is there a wall?", answer_type=AnswerType.BOOLEAN), make_frames(1),
                    cfg, pool=kernel_pool)
    assert res.success and res.answer.boolean is True and len(server.requests) == 3


def test_cell_timeout_is_reported_and_the_next_cell_runs(cfg: Config, server: ScriptedVlmServer,
                                                         kernel_pool: Any) -> None:
    server.add(Reply("plan"), py("Keep.", "keep = 41"), py("Loop.", "while True:\n    pass"),
               py("Answer.", "ReturnAnswer(keep + 1)"))
    cfg.vlm.base_url = server.base_url
    cfg.agent.cell_timeout_s = 1.0
    res = run_query(QueryRequest("How many squares?", answer_type=AnswerType.COUNT), make_frames(1),
                    cfg, pool=kernel_pool)
    assert res.success and res.answer.count == 42
    fb = server.requests[3].messages[-1]["content"]
    assert "timed out" in fb and "restarted" in fb


def test_point_answer_from_depth_matches_ground_truth(cfg: Config, server: ScriptedVlmServer,
                                                      kernel_pool: Any) -> None:
    code = ("img = InputImages[0]\nmask = (img[:, :, 0] > 150) & (img[:, :, 2] < 100)\n"
            "v, u = np.nonzero(mask)\nK = np.array(Metadata['cameras'][0]['K'])\nz = 2.0\n"
            "p = [(u.mean() - K[0, 2]) * z / K[0, 0], (v.mean() - K[1, 2]) * z / K[1, 1], z]\n"
            "ReturnAnswer(p, unit='m', frame=Metadata['camera_frame_ids'][0], "
            "stamp_ns=Metadata['stamps_ns'][0])")
    server.add(Reply("plan"), py("Find the red square.", code))
    cfg.vlm.base_url = server.base_url
    res = run_query(QueryRequest("Where is the red square?", answer_type=AnswerType.POINT),
                    make_frames(2), cfg, pool=kernel_pool)
    assert res.success, res.error_message
    assert res.answer.frame_id == "odom"
    assert res.answer.point == pytest.approx(square_centres()["red"], abs=1e-6)


def test_cancel_during_a_slow_reply(cfg: Config, server: ScriptedVlmServer, kernel_pool: Any) -> None:
    cancel = threading.Event()

    def slow(req: Any) -> Reply:
        cancel.set()
        return Reply("too late", delay_s=30.0)

    server.add(Reply("plan"), slow)
    cfg.vlm.base_url = server.base_url
    res = run_query(QueryRequest(DIST_Q), make_frames(1), cfg, pool=kernel_pool, cancel=cancel)
    assert not res.success and res.error_code == ErrorCode.CANCELED
    assert Path(res.transcript_path).exists() and res.sandbox_layers


def _live_children() -> set[int]:
    """Pids of this process's children that are running (zombies excluded)."""
    me, out = os.getpid(), set()
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                fields = Path(f"/proc/{name}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == me and fields[0] != "Z":
                out.add(int(name))
    return out


def test_cancel_during_a_running_cell_kills_the_kernel(cfg: Config, server: ScriptedVlmServer) -> None:
    cancel = threading.Event()
    server.add(Reply("plan"), py("Spin.", "while True:\n    pass"))
    cfg.vlm.base_url = server.base_url
    cfg.agent.cell_timeout_s = 60.0
    cfg.sandbox.pool_size = 0           # a one-off pool: the only new child is this query's kernel
    before = _live_children()
    running: set[int] = set()

    def on_progress(p: StepProgress) -> None:
        if p.phase == Phase.EXECUTING and not cancel.is_set():
            running.update(_live_children() - before)
            cancel.set()

    res = run_query(QueryRequest(DIST_Q), make_frames(1), cfg, cancel=cancel, on_progress=on_progress)
    assert res.error_code == ErrorCode.CANCELED and res.steps_used == 0
    assert running and not (running & _live_children())


def test_query_timeout(cfg: Config, server: ScriptedVlmServer, kernel_pool: Any) -> None:
    server.add(Reply("plan", delay_s=10.0))
    cfg.vlm.base_url = server.base_url
    res = run_query(QueryRequest(DIST_Q, timeout_s=1.0), make_frames(1), cfg, pool=kernel_pool)
    assert res.error_code == ErrorCode.TIMEOUT and "timeout_s" in res.error_message


def test_dead_endpoint_is_vlm_unreachable(cfg: Config, kernel_pool: Any) -> None:
    cfg.vlm.base_url = f"http://127.0.0.1:{closed_port()}/v1"
    cfg.vlm.retries = 0
    res = run_query(QueryRequest(DIST_Q), make_frames(1), cfg, pool=kernel_pool)
    assert res.error_code == ErrorCode.VLM_UNREACHABLE
    assert "vllm serve" in res.error_message and "SPATIALCLAW_VLM_URL" in res.error_message
    assert res.transcript_path and Path(res.transcript_path).exists()


@pytest.mark.parametrize("req,code", [
    (QueryRequest(""), ErrorCode.INVALID_REQUEST),
    (QueryRequest("which side?", answer_type=AnswerType.CHOICE), ErrorCode.INVALID_REQUEST),
    (QueryRequest("q", executor="telepathy"), ErrorCode.INVALID_REQUEST),  # type: ignore[arg-type]
])
def test_invalid_requests_make_no_calls(cfg: Config, server: ScriptedVlmServer, req: QueryRequest,
                                        code: ErrorCode) -> None:
    cfg.vlm.base_url = server.base_url
    res = run_query(req, make_frames(1), cfg)
    assert res.error_code == code and res.error_message and server.all_requests == []


def test_no_frames(cfg: Config, server: ScriptedVlmServer) -> None:
    cfg.vlm.base_url = server.base_url
    res = run_query(QueryRequest(DIST_Q), [], cfg)
    assert res.error_code == ErrorCode.NO_FRAMES and server.all_requests == []


def test_tool_call_executor(cfg: Config, server: ScriptedVlmServer, kernel_pool: Any) -> None:
    server.add(
        Reply(tool_calls=[{"name": "run_python", "arguments": {"code": "d = float(2.0)\nprint(d)"}}]),
        Reply(tool_calls=[{"name": "no_such_tool", "arguments": {}}]),
        Reply(tool_calls=[{"name": "return_answer", "arguments": {"value": "$d", "unit": "m"}}]))
    cfg.vlm.base_url = server.base_url
    res = run_query(QueryRequest(DIST_Q, executor=Executor.TOOL_CALL), make_frames(1), cfg,
                    pool=kernel_pool)
    assert res.success, res.error_message
    assert res.answer.number == 2.0 and res.steps_used == 3
    first = server.requests[0]
    names = {t["function"]["name"] for t in first.tools}
    assert {"run_python", "return_answer"} <= names
    assert any(n.startswith("Reconstruct_") for n in names)      # one function per tool method
    assert first.body.get("tool_choice") == "auto"  # cfg.vlm.tool_choice default
    tool_msgs = [m for m in server.requests[1].messages if m["role"] == "tool"]
    assert "2.0" in tool_msgs[-1]["content"]
    assert "unknown function" in server.requests[2].messages[-1]["content"]


def test_single_pass_retries_once(cfg: Config, server: ScriptedVlmServer, kernel_pool: Any) -> None:
    server.add(py("Program.", "x = undefined_name"), py("Fixed.", "ReturnAnswer('red', unit=None)"))
    cfg.vlm.base_url = server.base_url
    res = run_query(QueryRequest("Which colour is left?", answer_type=AnswerType.CHOICE,
                                 choices=["red", "blue"], executor=Executor.SINGLE_PASS),
                    make_frames(1), cfg, pool=kernel_pool)
    assert res.success and res.answer.choice == "red" and res.steps_used == 2
    assert "NameError" in server.requests[1].messages[-1]["content"]
    assert len(server.requests[0].images) >= 1      # single pass sees the frames


def test_single_pass_gives_up_after_the_retry(cfg: Config, server: ScriptedVlmServer,
                                              kernel_pool: Any) -> None:
    server.add(py("P.", "print(1)"), py("P.", "print(2)"))
    cfg.vlm.base_url = server.base_url
    res = run_query(QueryRequest(DIST_Q, executor=Executor.SINGLE_PASS), make_frames(1), cfg,
                    pool=kernel_pool)
    assert res.error_code == ErrorCode.STEP_BUDGET and len(server.requests) == 2


def test_no_tool_executor_uses_no_kernel(cfg: Config, server: ScriptedVlmServer) -> None:
    server.add(Reply("Hmm, about 200 cm."), Reply('{"value": 200, "unit": "cm"}'))
    cfg.vlm.base_url = server.base_url
    cfg.vlm.max_images_per_query = 2
    res = run_query(QueryRequest("How wide is the wall in metres?", answer_type=AnswerType.NUMBER,
                                 executor=Executor.NO_TOOL), make_frames(3), cfg)
    assert res.success and res.answer.number == 2.0 and res.answer.unit == "m"
    assert res.sandbox_layers == [] and res.steps_used == 1
    assert len(server.requests) == 1 and len(server.requests[0].images) == 2


def test_given_program_needs_no_vlm(cfg: Config, kernel_pool: Any) -> None:
    cfg.vlm.base_url = f"http://127.0.0.1:{closed_port()}/v1"
    program = "d = float(np.nanmedian(InputImages[0][..., 0]))\nReturnAnswer(3, unit=None)"
    res = run_query(QueryRequest("How many squares?", answer_type=AnswerType.COUNT), make_frames(1),
                    cfg, program=program, pool=kernel_pool)
    assert res.success and res.answer.count == 3 and res.timings.vlm_calls == 0
    bad = run_query(QueryRequest("How many squares?", answer_type=AnswerType.COUNT), make_frames(1),
                    cfg, program="ReturnAnswer(-2)", pool=kernel_pool)
    assert bad.error_code == ErrorCode.INVALID_REQUEST and "count" in bad.error_message


def test_program_side_query_goes_through_the_parent(cfg: Config, server: ScriptedVlmServer,
                                                    kernel_pool: Any, secret: str) -> None:
    server.add(Reply("blue"))
    cfg.vlm.base_url = server.base_url
    program = "c = vlm('Which colour is on the right?', [InputImages[0]])\nReturnAnswer(c.strip())"
    res = run_query(QueryRequest("Which colour is on the right?", answer_type=AnswerType.CHOICE,
                                 choices=["red", "blue"]), make_frames(1), cfg, program=program,
                    pool=kernel_pool)
    assert res.success and res.answer.choice == "blue"
    assert res.timings.vlm_calls == 1 and len(server.requests[0].images) == 1
    assert server.requests[0].headers["authorization"] == f"Bearer {secret}"


def test_one_off_pool_when_none_given(cfg: Config) -> None:
    res = run_query(QueryRequest("Is there a wall?", answer_type=AnswerType.BOOLEAN), make_frames(1),
                    cfg, program="ReturnAnswer('yes')")
    assert res.success and res.answer.boolean is True and res.sandbox_layers


def test_extra_handlers_serve_tools_and_count_as_perception(cfg: Config, kernel_pool: Any) -> None:
    calls: list[dict] = []

    def segment(payload: dict) -> dict:
        time.sleep(0.02)
        calls.append(payload)
        masks = np.zeros((1, 48, 64), bool)
        masks[0, 20:28, 12:20] = True
        return {"masks": masks, "scores": np.array([0.9]), "boxes": np.array([[12.0, 20.0, 20.0, 28.0]])}

    program = "seg = tools.SAM3.segment(0, text='red square')\nReturnAnswer(int(seg.masks[0].sum()))"
    res = run_query(QueryRequest("How many red pixels?", answer_type=AnswerType.COUNT), make_frames(1),
                    cfg, program=program, pool=kernel_pool, handlers={"perception.segment": segment})
    assert res.success, (res.error_message, res.notes)   # notes say if the kernel had no tools
    assert res.answer.count == 64 and calls[0]["text"] == "red square"
    assert res.timings.perception_s >= 0.02


def test_dead_pool_is_kernel_died(cfg: Config, server: ScriptedVlmServer) -> None:
    from spatialclaw_ros.kernel import KernelPool

    pool = KernelPool(cfg.sandbox, size=0)
    pool.close()
    cfg.vlm.base_url = server.base_url
    res = run_query(QueryRequest(DIST_Q), make_frames(1), cfg, pool=pool)
    assert res.error_code == ErrorCode.KERNEL_DIED and "closed" in res.error_message
    assert server.all_requests == []


def test_system_prompt_is_the_kernel_api_docs(cfg: Config, server: ScriptedVlmServer,
                                              kernel_pool: Any) -> None:
    from spatialclaw_ros.agent.prompts import MINIMAL_API_MARKER
    from spatialclaw_ros.tools.docs import render_kernel_api_markdown

    server.add(Reply("plan"), py("Answer.", "ReturnAnswer('wall')"))
    cfg.vlm.base_url = server.base_url
    res = run_query(QueryRequest("What is in front?", answer_type=AnswerType.TEXT), make_frames(1), cfg,
                    pool=kernel_pool)
    assert res.success and res.answer.text == "wall"
    api = render_kernel_api_markdown()
    planner, step = server.requests[0].messages[0]["content"], server.requests[1].messages[0]["content"]
    assert api in planner and api in step and MINIMAL_API_MARKER not in step


def test_frames_without_pose_answer_in_the_camera_frame(cfg: Config, kernel_pool: Any) -> None:
    frames = make_frames(1)
    frames[0].T_fixed_camera = None
    program = "ReturnAnswer([0.1, 0.0, 2.0], unit='m', frame=Metadata['fixed_frame'])"
    res = run_query(QueryRequest("Where is the red square?", answer_type=AnswerType.POINT), frames, cfg,
                    program=program, pool=kernel_pool)
    assert res.success, res.error_message
    assert res.answer.frame_id == "camera_color_optical_frame"
    assert any("no camera pose" in n for n in res.notes)
