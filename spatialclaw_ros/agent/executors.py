"""The four executors (SpatialClaw's ablations): code, tool_call, single_pass, no_tool.

Each takes a :class:`QueryRun` and returns an :class:`Outcome`; a given ``program`` runs through
:func:`run_program` instead. They share the answer check, so a value that does not fit the expected
type is never returned.
"""
from __future__ import annotations

import copy
import functools
import inspect
import json
import logging
from typing import Any, Callable

from spatialclaw_ros.agent import prompts
from spatialclaw_ros.agent.answers import (AnswerMismatch, CannotAnswer, parse_text_answer,
                                           said_cannot_answer)
from spatialclaw_ros.agent.feedback import cell_observation, field_of, truncate
from spatialclaw_ros.agent.loop import CellOutcome, Outcome, QueryRun, extract_code, unanswered_error
from spatialclaw_ros.agent.metadata import metadata_summary
from spatialclaw_ros.agent.types import Phase
from spatialclaw_ros.errors import CannotAnswerError, InvalidRequestError, SpatialClawError
from spatialclaw_ros.vlm.conversation import Conversation

log = logging.getLogger(__name__)



class StepBudgetError(SpatialClawError):
    """The step budget ran out without a valid answer."""

    def __init__(self, message: str) -> None:
        from spatialclaw_ros.errors import ErrorCode

        super().__init__(message, ErrorCode.STEP_BUDGET)


def _question_text(run: QueryRun) -> str:
    return prompts.question_block(run.request.question, metadata_summary(run.metadata),
                                  run.validator.spec.describe())


def _feedback(run: QueryRun, conv: Conversation, cell: CellOutcome, step: int,
              answer_error: str = "") -> tuple[str, list[str], list[str]]:
    """Text and images telling the model what the cell did (evicting old images if needed)."""
    if cell.result is None:
        text = (f"Step {step}/{run.max_steps}: the static check refused this code; nothing ran.\n"
                + "\n".join(f"- {p}" for p in cell.problems)
                + f"\n{run.max_steps - step} step(s) left.")
        return text, [], []
    obs, evict = cell_observation(cell.result, step=step, max_steps=run.max_steps,
                                  output_max_chars=run.cfg.agent.output_max_chars, budget=run.budget,
                                  in_conversation=conv.image_count(),
                                  answer_error=answer_error or cell.answer_error)
    if evict:
        conv.drop_oldest_images(evict)
    return obs.text, obs.image_urls, obs.image_titles


# -- code ----------------------------------------------------------------------------------------
def run_code(run: QueryRun) -> Outcome:
    """Planner, then one Python cell per step with feedback, until a valid ReturnAnswer."""
    api = prompts.kernel_api_markdown()
    question = _question_text(run)
    plan_conv = Conversation()
    run.say(plan_conv, "system", prompts.planner_prompt(api), phase="planning")
    run.say(plan_conv, "user", question, phase="planning")
    plan = run.chat(plan_conv, step=0, phase=Phase.PLANNING).text
    conv = Conversation()
    run.say(conv, "system", prompts.code_system_prompt(api, run.max_steps))
    urls, titles = run.input_images(run.initial_image_count())
    run.say(conv, "user", prompts.first_step_message(question, plan, len(urls), len(run.frames)),
            urls, titles, step=1)
    step = 0
    while step < run.max_steps:
        step += 1
        reply = run.chat(conv, step=step, phase=Phase.GENERATING, stream_progress=True)
        purpose, code = extract_code(reply.text)
        if reply.cut:
            run.say(conv, "user", prompts.CUT_MESSAGE + f"\n{run.max_steps - step} step(s) left.",
                    step=step)
            continue
        if not code:
            said = said_cannot_answer(reply.text)
            if said:                       # "Cannot answer: <reason>" in plain text is meant
                return _cannot(run, said, step)
            run.say(conv, "user", prompts.NO_CODE_MESSAGE + f"\n{run.max_steps - step} step(s) left.",
                    step=step)
            continue
        cell = run.run_cell(code, step)
        if cell.answer is not None:
            run.progress(step, Phase.ANSWERING, purpose=purpose, output=cell.answer.text)
            return Outcome(answer=cell.answer, steps_used=step)
        if cell.cannot_answer is not None:
            return _cannot(run, cell.cannot_answer, step)
        text, img_urls, img_titles = _feedback(run, conv, cell, step)
        run.progress(step, Phase.EXECUTING, purpose=purpose, code=code, output=text)
        run.say(conv, "user", text, img_urls, img_titles, step=step)
    return _fallback(run, conv, step)


def _fallback(run: QueryRun, conv: Conversation, steps: int) -> Outcome:
    """Step budget exhausted: ask once for the best answer from the transcript."""
    hint = run.validator.spec.describe()
    run.say(conv, "user", prompts.fallback_message(hint), phase="fallback")
    reply = run.chat(conv, step=steps, phase=Phase.ANSWERING)
    try:
        answer = parse_text_answer(reply.text, run.validator, is_fallback=True)
    except CannotAnswer as exc:
        return _cannot(run, exc.reason, steps, note=f"said when the {run.max_steps} steps ran out")
    except AnswerMismatch as exc:
        run.transcript.add("rejected", text=f"fallback answer rejected: {exc}")
        return Outcome(error=unanswered_error(run, StepBudgetError(
            f"no valid answer within {run.max_steps} steps, and the fallback answer was rejected: "
            f"{exc}")), steps_used=steps)
    run.transcript.add("answer", text=answer.text + " (fallback)", answer=answer.to_dict())
    return Outcome(answer=answer, steps_used=steps,
                   notes=[f"fallback: no ReturnAnswer within {run.max_steps} steps; best answer "
                          "from the transcript"])


def _cannot(run: QueryRun, reason: str, steps: int, note: str = "") -> Outcome:
    """End the query with CANNOT_ANSWER and the model's reason (never a made-up value)."""
    run.progress(steps, Phase.ANSWERING, output=f"cannot answer: {reason}")
    return Outcome(error=CannotAnswerError(f"cannot answer: {reason}" + (f" ({note})" if note else "")),
                   steps_used=steps, notes=[f"cannot answer ({note})"] if note else [])


# -- single_pass ---------------------------------------------------------------------------------
def run_single_pass(run: QueryRun) -> Outcome:
    """One program, no feedback; one retry when it fails (no code, refused, error, bad answer)."""
    api = prompts.kernel_api_markdown()
    conv = Conversation()
    run.say(conv, "system", prompts.single_pass_system_prompt(api))
    urls, titles = run.input_images(run.initial_image_count())
    run.say(conv, "user", _question_text(run) + "\nWrite the whole program now.", urls, titles, step=1)
    last_error = ""
    for attempt in (1, 2):
        reply = run.chat(conv, step=attempt, phase=Phase.GENERATING)
        _, code = extract_code(reply.text)
        if reply.cut or not code:
            last_error = prompts.CUT_MESSAGE if reply.cut else prompts.NO_CODE_MESSAGE
        else:
            cell = run.run_cell(code, attempt)
            if cell.answer is not None:
                return Outcome(answer=cell.answer, steps_used=attempt)
            if cell.cannot_answer is not None:
                return _cannot(run, cell.cannot_answer, attempt)
            last_error = _failure_text(run, cell)
        if attempt == 1:
            run.say(conv, "user", "The program failed:\n" + last_error
                    + "\nWrite the corrected complete program (last try).", step=2)
    return Outcome(error=unanswered_error(run, StepBudgetError(
        f"single_pass: no valid answer after 2 programs: {last_error[:600]}")), steps_used=2)


def _failure_text(run: QueryRun, cell: CellOutcome) -> str:
    if cell.result is None:
        return "static check: " + "; ".join(cell.problems)
    if cell.answer_error:
        return cell.answer_error
    err = field_of(cell.result, "error", "") or ""
    if field_of(cell.result, "timed_out"):
        err = "timed out. " + err
    tail = truncate(field_of(cell.result, "stdout", "") or "", 1500, "stdout")
    return (err or prompts.NO_ANSWER_SINGLE_PASS) + (f"\n[stdout]\n{tail}" if tail else "")


# -- no_tool -------------------------------------------------------------------------------------
def run_no_tool(run: QueryRun) -> Outcome:
    """Answer from the images alone, parsed into the typed answer (one retry on a bad answer)."""
    conv = Conversation()
    run.say(conv, "system", prompts.NO_TOOL_SYSTEM_PROMPT)
    n = min(len(run.frames), max(0, run.cfg.vlm.max_images_per_query))
    urls, titles = run.input_images(n)
    run.say(conv, "user", prompts.question_block(run.request.question, metadata_summary(run.metadata),
                                                 run.validator.spec.describe().replace("ReturnAnswer", "")),
            urls, titles, step=1)
    error = ""
    for attempt in (1, 2):
        reply = run.chat(conv, step=attempt, phase=Phase.ANSWERING)
        try:
            answer = parse_text_answer(reply.text, run.validator)
            run.transcript.add("answer", text=answer.text, answer=answer.to_dict())
            return Outcome(answer=answer, steps_used=attempt)
        except CannotAnswer as exc:
            return _cannot(run, exc.reason, attempt)
        except AnswerMismatch as exc:
            error = str(exc)
            run.transcript.add("rejected", text=error)
            if attempt == 1:
                run.say(conv, "user", f"That answer was rejected: {error}\nAnswer again with one JSON "
                        'object {"value": ..., "unit": ..., "frame": ...}.', step=2)
    return Outcome(error=StepBudgetError(f"no_tool: no valid answer after 2 replies: {error}"),
                   steps_used=2)


# -- given program -------------------------------------------------------------------------------
def run_program(run: QueryRun, program: str) -> Outcome:
    """Run a given program (no VLM unless it calls vlm()); it must call ReturnAnswer."""
    if not program.strip():
        return Outcome(error=InvalidRequestError("the program is empty"))
    cell = run.run_cell(program, 1)
    if cell.answer is not None:
        return Outcome(answer=cell.answer, steps_used=1)
    if cell.cannot_answer is not None:
        return _cannot(run, cell.cannot_answer, 1)
    return Outcome(error=unanswered_error(run, InvalidRequestError(
        "the program gave no valid answer: " + _failure_text(run, cell)[:1500])), steps_used=1)


# -- tool_call -----------------------------------------------------------------------------------
def _tool_methods() -> list[tuple[str, str, Callable[..., Any]]]:
    """(family, method, function) for every public method of every tool family."""
    try:
        from spatialclaw_ros.tools.registry import tool_classes
    except ImportError:
        return []
    out = []
    for family, cls in tool_classes().items():
        for name, fn in inspect.getmembers(cls, predicate=inspect.isfunction):
            if not name.startswith("_"):
                out.append((family, name, fn))
    return out


def tool_schemas() -> list[dict[str, Any]]:
    """OpenAI function schemas: run_python, return_answer, and one per documented tool method."""
    return copy.deepcopy(_tool_schemas())


@functools.lru_cache(maxsize=1)
def _tool_schemas() -> list[dict[str, Any]]:
    schemas: list[dict[str, Any]] = [
        _fn("run_python", "Run Python code in the kernel (same namespace as the other functions); "
            "returns stdout, errors and new variables.",
            {"code": {"type": "string", "description": "Python source"}}, ["code"]),
        _fn("return_answer", "Return the final answer (same as ReturnAnswer in the kernel).",
            {"value": {"description": "the answer: number, [x, y, z], choice text, true/false, "
                       "count or text; or a \"$variable\" name"},
             "unit": {"type": "string"}, "frame": {"type": "string"},
             "stamp_ns": {"type": "integer"}, "uncertainty": {"type": "number"},
             "reason": {"type": "string", "description": "with value null: why the frames cannot "
                        "answer the question"}}, ["value"]),
    ]
    for family, method, fn in _tool_methods():
        sig = inspect.signature(fn)
        props: dict[str, Any] = {}
        required = []
        for pname, p in sig.parameters.items():
            if pname == "self" or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                continue
            ann = p.annotation if p.annotation is not inspect.Parameter.empty else "any"
            desc = f"{ann}" + ("" if p.default is inspect.Parameter.empty else f", default {p.default!r}")
            props[pname] = {"description": desc + '; a "$name" string refers to a kernel variable'}
            if p.default is inspect.Parameter.empty:
                required.append(pname)
        props["assign_to"] = {"type": "string",
                              "description": "kernel variable to store the result in"}
        doc = (inspect.getdoc(fn) or "").split("\n")[0]
        schemas.append(_fn(f"{family}_{method}", f"tools.{family}.{method}{sig}: {doc}"[:1000]
                           .replace("(self, ", "(").replace("(self)", "()"), props, required))
    return schemas


def _fn(name: str, desc: str, props: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {"type": "function", "function": {"name": name, "description": desc, "parameters": {
        "type": "object", "properties": props, "required": required}}}


def _literal(v: Any) -> str:
    """Python source for a JSON value; "$name" strings become variable references."""
    if isinstance(v, str) and v.startswith("$") and v[1:].isidentifier():
        return v[1:]
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_literal(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k!r}: {_literal(x)}" for k, x in v.items()) + "}"
    return repr(v)


def tool_call_code(name: str, args: dict[str, Any], default_var: str,
                   methods: dict[str, tuple[str, str]]) -> str:
    """The Python a function call runs in the kernel (ValueError for an unknown function)."""
    bad = [k for k in args if not isinstance(k, str) or not k.isidentifier()]
    if bad:
        raise ValueError(f"argument names must be Python identifiers, got {bad!r}")
    if name == "run_python":
        code = args.get("code")
        if not isinstance(code, str) or not code.strip():
            raise ValueError("run_python needs a non-empty 'code' string")
        return code
    if name == "return_answer":
        kwargs = ", ".join(f"{k}={_literal(v)}" for k, v in args.items()
                           if k in ("value", "unit", "frame", "stamp_ns", "uncertainty", "reason"))
        return f"ReturnAnswer({kwargs})"
    if name not in methods:
        raise ValueError(f"unknown function {name!r}; available: run_python, return_answer, "
                         + ", ".join(sorted(methods)))
    family, method = methods[name]
    var = args.get("assign_to") or default_var
    if not isinstance(var, str) or not var.isidentifier():
        raise ValueError(f"assign_to must be a Python identifier, got {var!r}")
    kwargs = ", ".join(f"{k}={_literal(v)}" for k, v in args.items() if k != "assign_to")
    return f"{var} = tools.{family}.{method}({kwargs})\nprint({var!r}, '=', repr({var})[:1500])"


def run_tool_call(run: QueryRun) -> Outcome:
    """JSON function calls (OpenAI tools API) to the same tools, executed in the same kernel."""
    api = prompts.kernel_api_markdown()
    schemas = tool_schemas()
    methods = {f"{fam}_{m}": (fam, m) for fam, m, _ in _tool_methods()}
    conv = Conversation()
    run.say(conv, "system", prompts.tool_call_system_prompt(api, run.max_steps))
    urls, titles = run.input_images(run.initial_image_count())
    run.say(conv, "user", _question_text(run), urls, titles, step=1)
    step = 0
    while step < run.max_steps:
        step += 1
        reply = run.chat(conv, step=step, phase=Phase.GENERATING, tools=schemas,
                         tool_choice=run.cfg.vlm.tool_choice)
        if not reply.tool_calls:
            msg = prompts.CUT_MESSAGE if reply.cut else (
                "Call one of the functions (run_python, return_answer, ...); plain text is not run.")
            run.say(conv, "user", f"{msg}\n{run.max_steps - step} step(s) left.", step=step)
            continue
        pending_images: tuple[list[str], list[str]] = ([], [])
        for i, tc in enumerate(reply.tool_calls):
            fn = tc.get("function", {})
            name = fn.get("name", "")
            try:
                args = json.loads(fn.get("arguments") or "{}")
                if not isinstance(args, dict):
                    raise ValueError("arguments must be a JSON object")
                code = tool_call_code(name, args, f"r{step}_{i}", methods)
            except (ValueError, json.JSONDecodeError) as exc:
                conv.add_tool_result(tc.get("id", ""), f"error: {exc}")
                run.transcript.message("tool", f"{name}: error: {exc}", step=step)
                continue
            cell = run.run_cell(code, step)
            if cell.answer is not None:
                return Outcome(answer=cell.answer, steps_used=step)
            if cell.cannot_answer is not None:
                return _cannot(run, cell.cannot_answer, step)
            text, img_urls, img_titles = _feedback(run, conv, cell, step)
            conv.add_tool_result(tc.get("id", ""), text)
            run.transcript.message("tool", f"{name}:\n{text}", step=step)
            pending_images[0].extend(img_urls)
            pending_images[1].extend(img_titles)
        if pending_images[0]:
            cap = max(0, min(run.cfg.vlm.max_images_per_step, run.cfg.vlm.max_images_per_query))
            img_urls, img_titles = pending_images[0][:cap], pending_images[1][:cap]
            evict = conv.image_count() + len(img_urls) - run.cfg.vlm.max_images_per_query
            if evict > 0:
                conv.drop_oldest_images(evict)
            run.say(conv, "user", "Images shown by the calls above:", img_urls, img_titles, step=step)
    return _fallback(run, conv, step)


EXECUTORS: dict[str, Callable[[QueryRun], Outcome]] = {
    "code": run_code,
    "tool_call": run_tool_call,
    "single_pass": run_single_pass,
    "no_tool": run_no_tool,
}
