"""Error codes shared by the core, the CLI and the ROS layer (mirrors msg/QueryError.msg)."""
from __future__ import annotations

import enum


class ErrorCode(enum.IntEnum):
    """Why a query produced no answer; values equal the QueryError.msg constants."""

    NONE = 0
    INVALID_REQUEST = 1
    NO_FRAMES = 2
    NO_TRANSFORM = 3
    NO_CAMERA_INFO = 4
    NO_VALID_DEPTH = 5
    VLM_UNREACHABLE = 6
    VLM_ERROR = 7
    KERNEL_DIED = 8
    TIMEOUT = 9
    CANCELED = 10
    STEP_BUDGET = 11
    PERCEPTION_ERROR = 12
    BUSY = 13
    SANDBOX_UNAVAILABLE = 14
    INTERNAL = 15
    CANNOT_ANSWER = 16
    MODEL_UNAVAILABLE = 17
    NODE_GONE = 18


class SpatialClawError(Exception):
    """An error with a code a caller can act on and a message that says what to do."""

    code: ErrorCode = ErrorCode.INTERNAL

    def __init__(self, message: str, code: ErrorCode | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code

    @property
    def message(self) -> str:
        """The human-readable message."""
        return str(self.args[0]) if self.args else ""


class InvalidRequestError(SpatialClawError):
    """The request is malformed (empty question, unknown answer type, bad time window...)."""

    code = ErrorCode.INVALID_REQUEST


class NoFramesError(SpatialClawError):
    """No camera frames are available for the query."""

    code = ErrorCode.NO_FRAMES


class NoTransformError(SpatialClawError):
    """A transform needed by the query is missing."""

    code = ErrorCode.NO_TRANSFORM


class NoCameraInfoError(SpatialClawError):
    """Images arrived without a matching CameraInfo."""

    code = ErrorCode.NO_CAMERA_INFO


class NoValidDepthError(SpatialClawError):
    """Depth is invalid (NaN or zero) everywhere it is needed."""

    code = ErrorCode.NO_VALID_DEPTH


class VlmUnreachableError(SpatialClawError):
    """The VLM endpoint cannot be reached."""

    code = ErrorCode.VLM_UNREACHABLE


class VlmError(SpatialClawError):
    """The VLM endpoint answered with an error."""

    code = ErrorCode.VLM_ERROR


class KernelDiedError(SpatialClawError):
    """The sandboxed kernel died and could not be restored."""

    code = ErrorCode.KERNEL_DIED


class KernelProtocolError(KernelDiedError):
    """The kernel broke the channel protocol (model code wrote to the channel): the parent killed
    it and the query ends. The message starts with "protocol violation by the kernel: "."""


class QueryTimeoutError(SpatialClawError):
    """The query ran past its timeout."""

    code = ErrorCode.TIMEOUT


class QueryCanceledError(SpatialClawError):
    """The caller canceled the query."""

    code = ErrorCode.CANCELED


class PerceptionError(SpatialClawError):
    """A perception model failed or is not available."""

    code = ErrorCode.PERCEPTION_ERROR


class SandboxUnavailableError(SpatialClawError):
    """`sandbox: strict` was asked for and an isolation layer is missing."""

    code = ErrorCode.SANDBOX_UNAVAILABLE


class CannotAnswerError(SpatialClawError):
    """The agent concluded that the frames cannot answer the question (ReturnAnswer(None, reason=...))."""

    code = ErrorCode.CANNOT_ANSWER


class ModelUnavailableError(PerceptionError):
    """A perception model the query needs is not set up (no engine, checkpoint or runtime)."""

    code = ErrorCode.MODEL_UNAVAILABLE
