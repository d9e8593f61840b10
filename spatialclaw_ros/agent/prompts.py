"""Every prompt the agent sends, in one place, built from the kernel API's own docstrings."""
from __future__ import annotations

import functools
import logging

log = logging.getLogger(__name__)

MINIMAL_API_MARKER = "[minimal kernel API text: spatialclaw_ros.tools.docs is not available]"

# The kernel built-ins, documented here when tools/docs.py cannot be imported (it documents them too).
_MINIMAL_API = f"""# Kernel API
{MINIMAL_API_MARKER}

## Built-ins
- `InputImages`: list of the query's keyframes, (H, W, 3) uint8 RGB, read-only; index i is frame i.
- `Metadata`: dict: question, stamps_ns, camera_frame_ids, fixed_frame, cameras (K, size), answer_type, choices.
- `show(img, title=None)`: show an (H, W, 3) uint8 image to yourself; you see it in the next feedback.
- `vlm(prompt, images=None) -> str`: ask the vision-language model a side question about images.
- `ReturnAnswer(value, unit=None, frame=None, stamp_ns=None, uncertainty=None)`: return the final answer.
"""


@functools.lru_cache(maxsize=1)
def kernel_api_markdown() -> str:
    """The kernel API page generated from the tools' docstrings (tools/docs.py), or a minimal text.

    Rendered once per process (it reads source files; the docstrings do not change while running).
    """
    try:
        from spatialclaw_ros.tools.docs import render_kernel_api_markdown
    except ImportError:
        log.warning("spatialclaw_ros.tools.docs not importable: using the minimal kernel API text")
        return _MINIMAL_API
    return render_kernel_api_markdown()


ANSWER_RULES = """## Answers
- Call `ReturnAnswer(value, unit=..., frame=..., stamp_ns=..., uncertainty=...)` exactly once, when you are sure.
- Numbers: give the unit (`unit="m"`); lengths in metres unless the question asks for another unit.
- Points and vectors: 3 finite numbers `[x, y, z]` in metres, `frame=Metadata["fixed_frame"]`.
- Choices: one of the options exactly as written (or its 0-based index). Booleans: True/False.
  Counts: a non-negative integer. Text: a short phrase.
- A value that does not fit the expected type is rejected and you are told why; fix it and call again.
"""


def code_system_prompt(api: str, max_steps: int) -> str:
    """System prompt of the code executor (one Python cell per step, with feedback)."""
    return f"""You answer spatial questions about what a robot's cameras saw by writing Python that runs in a
stateful sandboxed kernel. Variables persist between steps. numpy (np), scipy and cv2 are imported.
There is no network and no file access outside a scratch directory.

Each reply is one step: first one or two sentences saying the purpose of the step, then exactly one
fenced ```python block. Only the last python block of a reply runs. You then see its stdout/stderr,
errors, new variables and the images you passed to show(). Check intermediate results (print shapes,
values; show() masks and overlays) before answering. You have at most {max_steps} steps.

{ANSWER_RULES}
{api}"""


def planner_prompt(api: str) -> str:
    """System prompt of the planner call (text only, no images)."""
    return f"""You plan how to answer a spatial question about a robot's camera frames with the Python kernel API
below. You do not see the images now. Write a short numbered plan (at most 8 lines): which frames,
which tools, which quantities to compute and how to check them, and how to call ReturnAnswer. No code.

{api}"""


def question_block(question: str, metadata_text: str, answer_hint: str) -> str:
    """The question, the query's metadata and how to return the answer."""
    return (f"Question: {question}\n\nMetadata:\n{metadata_text}\n\n"
            f"Return the answer with: {answer_hint}")


def first_step_message(question_text: str, plan: str, n_images: int, n_frames: int) -> str:
    """The user message opening the step loop."""
    seen = (f"The first {n_images} of {n_frames} keyframes are attached (InputImages[0..{n_images - 1}])."
            if n_images < n_frames else f"All {n_frames} keyframes are attached (InputImages order).")
    if n_images == 0:
        seen = f"No images are attached; use show(InputImages[i]) to look at one of the {n_frames} keyframes."
    plan_text = f"\n\nPlan:\n{plan.strip()}" if plan.strip() else ""
    return f"{question_text}{plan_text}\n\n{seen}\nWrite step 1."


def tool_call_system_prompt(api: str, max_steps: int) -> str:
    """System prompt of the tool_call executor (JSON function calls)."""
    return f"""You answer spatial questions about what a robot's cameras saw by calling functions. Each function
runs in a stateful Python kernel; results can be stored in named variables (`assign_to`) and reused
by later calls (pass the variable name as a string argument prefixed with `$`, e.g. "$rec0").
`run_python` runs any Python code in the same kernel. Finish with `return_answer`. You have at most
{max_steps} rounds of calls.

{ANSWER_RULES}
{api}"""


def single_pass_system_prompt(api: str) -> str:
    """System prompt of the single_pass executor (one program, no feedback)."""
    return f"""You answer a spatial question about what a robot's cameras saw by writing ONE complete Python
program for a sandboxed kernel. You will not see its output: the program must compute the answer and
end by calling ReturnAnswer(...). Reply with one fenced ```python block.

{ANSWER_RULES}
{api}"""


NO_TOOL_SYSTEM_PROMPT = """You answer spatial questions about what a robot's cameras saw, from the images alone.
Think briefly, then end your reply with one JSON object on its own line:
{"value": <answer>, "unit": "<unit or empty>", "frame": "<frame for points/vectors or empty>"}"""


def fallback_message(answer_hint: str) -> str:
    """Asked once when the step budget is exhausted."""
    return ("You have no steps left. From everything above, give your best answer now. Reply with one "
            'JSON object only: {"value": <answer>, "unit": "<unit or empty>", "frame": "<frame or empty>"}'
            f"\n(The answer must fit: {answer_hint}.) If the frames cannot answer the question (e.g. "
            'no depth for a measurement), reply {"value": null, "reason": "<why>"} instead of guessing.')


NO_CODE_MESSAGE = ("Format error: your reply has no ```python code block. Reply with one sentence of "
                   "purpose and one fenced ```python block (call ReturnAnswer(...) when you know the answer).")

CUT_MESSAGE = ("Your reply was cut off at the token limit and was not run. Write a shorter step: one "
               "sentence of purpose and a compact ```python block.")

NO_ANSWER_SINGLE_PASS = "The program ended without calling ReturnAnswer(...)."
