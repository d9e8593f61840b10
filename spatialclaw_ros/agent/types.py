"""What crosses the agent's boundary: requests, answers, progress and results."""
from __future__ import annotations

import enum
import math
from dataclasses import asdict, dataclass, field
from typing import Any

from spatialclaw_ros.errors import ErrorCode


class AnswerType(str, enum.Enum):
    """Expected type of an answer (Answer.msg TYPE_* plus AUTO)."""

    AUTO = "auto"
    NUMBER = "number"
    POINT = "point"
    VECTOR = "vector"
    CHOICE = "choice"
    BOOLEAN = "boolean"
    COUNT = "count"
    TEXT = "text"


class Executor(str, enum.Enum):
    """How the agent answers (the SpatialClaw ablations)."""

    CODE = "code"                # one Python cell per step, with feedback (default)
    TOOL_CALL = "tool_call"      # JSON function calls to the same tools
    SINGLE_PASS = "single_pass"  # one program, no feedback
    NO_TOOL = "no_tool"          # answer from the images alone


class Phase(str, enum.Enum):
    """Phase of a running query (StepProgress.msg PHASE_*)."""

    QUEUED = "queued"
    PLANNING = "planning"
    GENERATING = "generating"
    CHECKING = "checking"
    EXECUTING = "executing"
    ANSWERING = "answering"


@dataclass
class QueryRequest:
    """One spatial question and how to answer it (SpatialQuery goal / request)."""

    question: str
    start_ns: int = 0                  # 0: unbounded
    end_ns: int = 0                    # 0: unbounded
    fixed_frame: str = ""              # "": the configured fixed frame
    answer_type: AnswerType = AnswerType.AUTO
    choices: list[str] = field(default_factory=list)
    max_steps: int = 0                 # 0: configured default
    executor: Executor | None = None   # None: configured default
    timeout_s: float = 0.0             # 0: configured default
    cameras: list[str] = field(default_factory=list)   # camera names to use; empty: every camera
    frames: str = ""                   # frames by index ("last,12,-2", as `query --frames`); "": default
                                       # window. Bags: recording frames; the node: frames buffered in the window


@dataclass
class Answer:
    """A validated, typed answer (Answer.msg)."""

    answer_type: AnswerType
    text: str
    number: float | None = None
    unit: str = ""
    point: tuple[float, float, float] | None = None
    vector: tuple[float, float, float] | None = None
    frame_id: str = ""
    stamp_ns: int = 0
    choice_index: int = -1
    choice: str = ""
    boolean: bool | None = None
    count: int | None = None
    uncertainty: float = math.nan
    is_fallback: bool = False
    geometry: dict[str, Any] = field(default_factory=dict)  # extra geometry for markers

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly dict."""
        d = asdict(self)
        d["answer_type"] = self.answer_type.value
        if math.isnan(self.uncertainty):
            d["uncertainty"] = None
        return d


@dataclass
class StageTimings:
    """Seconds per stage of one query, plus VLM usage (StageTimings.msg)."""

    vlm_s: float = 0.0
    perception_s: float = 0.0
    kernel_s: float = 0.0
    total_s: float = 0.0
    vlm_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0


@dataclass
class StepProgress:
    """Feedback for one step (StepProgress.msg)."""

    step: int
    max_steps: int
    phase: Phase
    purpose: str = ""
    code_excerpt: str = ""
    output_excerpt: str = ""
    elapsed_s: float = 0.0


@dataclass
class QueryResult:
    """Outcome of one query (SpatialQuery result / response)."""

    success: bool
    answer: Answer | None = None
    error_code: ErrorCode = ErrorCode.NONE
    error_message: str = ""
    steps_used: int = 0
    frame_stamps_ns: list[int] = field(default_factory=list)
    transcript_path: str = ""
    timings: StageTimings = field(default_factory=StageTimings)
    sandbox_layers: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # e.g. "scale estimated", "restored 3 cells"
    frame_cameras: list[str] = field(default_factory=list)  # camera of each frame_stamps_ns entry

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly dict (what `spatialclaw query --json` prints)."""
        return {
            "success": self.success,
            "answer": self.answer.to_dict() if self.answer else None,
            "error": {"code": int(self.error_code), "name": self.error_code.name,
                      "message": self.error_message},
            "steps_used": self.steps_used,
            "frame_stamps_ns": list(self.frame_stamps_ns),
            "transcript_path": self.transcript_path,
            "timings": asdict(self.timings),
            "sandbox_layers": list(self.sandbox_layers),
            "notes": list(self.notes),
            "frame_cameras": list(self.frame_cameras),
        }
