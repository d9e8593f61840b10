"""A small client for planners: ask a SpatialQuery node a question, in nav2_simple_commander style.

Blocking::

    client = SpatialQueryClient(node)
    result = client.ask("distance between the mug and the laptop", answer_type="number",
                        timeout_s=60.0)
    if result.success:
        print(result.answer.number, result.answer.unit)
    else:
        print(result.error_code.name, result.error_message)

Non-blocking::

    client.start("where is the mug?", answer_type="point")
    while not client.is_done():          # e.g. in the planner's own loop
        progress = client.feedback()     # latest StepProgress or None
        ...
    result = client.result()
    client.cancel()                      # at any time: stops the query and frees its kernel

The node passed in is either spun by an executor elsewhere (the client then waits on events), or not
spun at all (the client spins it itself while it waits). No busy-waits either way.
"""
from __future__ import annotations

import contextlib
import enum
import threading
import time
from typing import Any, Callable, Iterator, Sequence

from action_msgs.msg import GoalStatus
from rclpy.action import ActionClient
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.task import Future

from spatialclaw_ros.action import SpatialQuery
from spatialclaw_ros.agent.types import AnswerType, QueryResult, StepProgress
from spatialclaw_ros.errors import ErrorCode
from spatialclaw_ros.ros import conversions as conv

BACKSTOP_S = 30.0                   # extra wait beyond timeout_s before the client gives up
DEFAULT_WAIT_S = 900.0              # client-side limit when timeout_s is 0 (the node's default)
GONE_AFTER_S = 2.0                  # the action server unseen this long while waiting: NODE_GONE
LIVENESS_PERIOD_S = 0.25            # how often a waiting client checks that the server is there
DEFAULT_ACTION = "spatial_query"   # relative: resolved in the client node's namespace


class TaskStatus(enum.Enum):
    """Where the client's current query stands."""

    IDLE = "idle"
    PENDING = "pending"        # goal sent, not yet accepted
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"          # finished with an error code (see the result)
    CANCELED = "canceled"
    REJECTED = "rejected"


class SpatialQueryClient:
    """Send SpatialQuery goals to a `spatialclaw_agent` node and wait for typed results."""

    def __init__(self, node: Node, action_name: str = DEFAULT_ACTION) -> None:
        """`action_name`: the agent's action (default: `spatial_query` in this node's namespace)."""
        self.node = node
        self.action_name = action_name
        self._client = ActionClient(node, SpatialQuery, action_name)
        self._lock = threading.Lock()
        self._status = TaskStatus.IDLE
        self._goal_handle: Any = None
        self._result: QueryResult | None = None
        self._feedback: StepProgress | None = None
        self._done = threading.Event()
        self._on_feedback: Callable[[StepProgress], None] | None = None
        self._own_executor: SingleThreadedExecutor | None = None

    # ---- blocking ----------------------------------------------------------------------------
    def ask(self, question: str, *, answer_type: str | AnswerType = "auto",
            choices: Sequence[str] = (), start_ns: int = 0, end_ns: int = 0,
            fixed_frame: str = "", max_steps: int = 0, executor: str = "",
            timeout_s: float = 0.0, server_timeout_s: float = 10.0,
            on_feedback: Callable[[StepProgress], None] | None = None,
            max_wait_s: float = DEFAULT_WAIT_S, cameras: Sequence[str] = (),
            frames: str = "") -> QueryResult:
        """Ask and wait for the answer (TIMEOUT from the node after `timeout_s` > 0; if the node
        stays silent BACKSTOP_S longer, the client cancels and returns TIMEOUT itself). With
        `timeout_s` 0 (the node's agent.query_timeout_s) the client waits at most `max_wait_s`.
        A node that goes away (killed, restarted) gives NODE_GONE within a few seconds of DDS
        noticing (the shipped DDS profile's lease is 3 s). `frames` names frames by index as
        `spatialclaw query --frames` ("last", "0,-1", "12"): frame k is the k-th frame the node
        buffered in the window, oldest first ("" = frames spread over the window)."""
        if not self.start(question, answer_type=answer_type, choices=choices, start_ns=start_ns,
                          end_ns=end_ns, fixed_frame=fixed_frame, max_steps=max_steps,
                          executor=executor, timeout_s=timeout_s,
                          server_timeout_s=server_timeout_s, on_feedback=on_feedback,
                          cameras=cameras, frames=frames):
            return self._result or conv.error_result(ErrorCode.INTERNAL, "goal not sent")
        # The node enforces timeout_s itself (and says so in the result); ours is only a backstop
        # for a node that went silent, with room for a kernel start on a loaded machine.
        wait = max_wait_s if timeout_s <= 0 else timeout_s + BACKSTOP_S
        if self.wait(wait):
            return self.result() or conv.error_result(ErrorCode.INTERNAL, "no result")
        self.cancel(wait_s=5.0)
        return conv.error_result(ErrorCode.TIMEOUT,
                                 f"no result within {timeout_s:.1f} s; the query was canceled")

    # ---- non-blocking ------------------------------------------------------------------------
    def start(self, question: str, *, answer_type: str | AnswerType = "auto",
              choices: Sequence[str] = (), start_ns: int = 0, end_ns: int = 0,
              fixed_frame: str = "", max_steps: int = 0, executor: str = "",
              timeout_s: float = 0.0, server_timeout_s: float = 10.0,
              on_feedback: Callable[[StepProgress], None] | None = None,
              cameras: Sequence[str] = (), frames: str = "") -> bool:
        """Send a goal and wait until it is accepted; False if no server or rejected.

        ``cameras``: camera names to use (the node's cameras.spec); empty = every camera.
        ``frames``: frames by index ("last,12,-2"); empty = the default window."""
        with self._lock:
            if self._status in (TaskStatus.PENDING, TaskStatus.RUNNING):
                raise RuntimeError("a query is already running on this client: wait for it, "
                                   "cancel it, or make another SpatialQueryClient")
            self._status = TaskStatus.PENDING
            self._result, self._feedback, self._goal_handle = None, None, None
            self._done.clear()
            self._on_feedback = on_feedback
        if not self._wait_server(server_timeout_s):
            self._set_done(TaskStatus.FAILED, conv.error_result(
                ErrorCode.NODE_GONE, f"no SpatialQuery action server at "
                f"'{self.action_name}' after {server_timeout_s:.0f} s: "
                "is spatialclaw_agent running (in this ROS_DOMAIN_ID / namespace)?"))
            return False
        at = answer_type.value if isinstance(answer_type, AnswerType) else str(answer_type)
        goal = SpatialQuery.Goal(
            question=question, start=conv.ns_to_time(start_ns), end=conv.ns_to_time(end_ns),
            fixed_frame=fixed_frame, answer_type=at, choices=list(choices),
            max_steps=int(max_steps), executor=executor, timeout_s=float(timeout_s),
            frames=str(frames or ""))
        if cameras:                       # issue 16 field: absent from older interface builds
            goal.cameras = [str(c) for c in cameras]
        send = self._client.send_goal_async(goal, feedback_callback=self._feedback_cb)
        if not self._wait_future(send, server_timeout_s):
            self._set_done(TaskStatus.FAILED, conv.error_result(
                ErrorCode.NODE_GONE, "the action server did not answer the goal request (the "
                "node is gone or hung)"))
            return False
        handle = send.result()
        if handle is None or not handle.accepted:
            self._set_done(TaskStatus.REJECTED, conv.error_result(
                ErrorCode.BUSY, "the node rejected the goal"))
            return False
        with self._lock:
            self._goal_handle = handle
            self._status = TaskStatus.RUNNING
        handle.get_result_async().add_done_callback(self._result_cb)
        return True

    def is_done(self) -> bool:
        """True once the current query has a result (or none was started)."""
        if self._status in (TaskStatus.PENDING, TaskStatus.RUNNING) and not self._spun_elsewhere():
            with self._spinning() as ex:
                ex.spin_once(timeout_sec=0.0)
        return self._done.is_set() or self._status is TaskStatus.IDLE

    def wait(self, timeout_s: float | None = None) -> bool:
        """Block until the result is in (True) or `timeout_s` passes (False). If the action server
        disappears meanwhile, the result is NODE_GONE (True)."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        next_check = time.monotonic() + LIVENESS_PERIOD_S
        gone_since: float | None = None
        elsewhere = self._spun_elsewhere()
        with contextlib.ExitStack() as stack:
            ex = None if elsewhere else stack.enter_context(self._spinning())
            while not self._done.is_set():
                now = time.monotonic()
                left = None if deadline is None else deadline - now
                if left is not None and left <= 0:
                    return False
                step = LIVENESS_PERIOD_S if left is None else min(LIVENESS_PERIOD_S, left)
                if ex is None:
                    self._done.wait(step)
                else:
                    ex.spin_once(timeout_sec=min(0.1, step))
                if self._done.is_set() or time.monotonic() < next_check:
                    continue
                next_check = time.monotonic() + LIVENESS_PERIOD_S
                if self._server_present():
                    gone_since = None
                    continue
                gone_since = gone_since or time.monotonic()
                if time.monotonic() - gone_since >= GONE_AFTER_S:
                    self._set_done(TaskStatus.FAILED, conv.error_result(
                        ErrorCode.NODE_GONE,
                        f"the SpatialQuery action server '{self.action_name}' went away while "
                        "the query was running (the node died or restarted): no result will "
                        "come; restart spatialclaw_agent and ask again"))
        return True

    def _server_present(self) -> bool:
        """The action server is still in the ROS graph (its node alive, as DDS sees it)."""
        try:
            return bool(self._client.server_is_ready())
        except Exception:  # noqa: BLE001 - a context shut down: treat as gone
            return False

    def status(self) -> TaskStatus:
        """The current query's status."""
        return self._status

    def feedback(self) -> StepProgress | None:
        """The latest progress of the current query."""
        with self._lock:
            return self._feedback

    def result(self) -> QueryResult | None:
        """The result once done, else None."""
        with self._lock:
            return self._result

    def cancel(self, wait_s: float = 2.0) -> bool:
        """Ask the node to cancel the current query; True if the cancel was accepted."""
        with self._lock:
            handle = self._goal_handle
        if handle is None or self._done.is_set():
            return False
        fut = handle.cancel_goal_async()
        if not self._wait_future(fut, wait_s):
            return False
        resp = fut.result()
        return bool(resp is not None and resp.goals_canceling)

    # ---- internals ---------------------------------------------------------------------------
    def _spun_elsewhere(self) -> bool:
        ex = self.node.executor
        return ex is not None and ex is not self._own_executor

    @contextlib.contextmanager
    def _spinning(self) -> Iterator[SingleThreadedExecutor]:
        """A private executor (in the node's context) that this client spins while it waits."""
        if self._own_executor is None:
            self._own_executor = SingleThreadedExecutor(context=self.node.context)
            self._own_executor.add_node(self.node)
        yield self._own_executor

    def _wait_server(self, timeout_s: float) -> bool:
        if self._spun_elsewhere():
            return self._client.wait_for_server(timeout_sec=timeout_s)
        deadline = time.monotonic() + timeout_s
        with self._spinning() as ex:
            while not self._client.server_is_ready():
                if time.monotonic() >= deadline:
                    return False
                ex.spin_once(timeout_sec=0.1)
        return True

    def _wait_future(self, fut: Future, timeout_s: float) -> bool:
        if self._spun_elsewhere():
            ev = threading.Event()
            fut.add_done_callback(lambda _f: ev.set())
            return ev.wait(timeout_s)
        with self._spinning() as ex:
            ex.spin_until_future_complete(fut, timeout_sec=timeout_s)
        return fut.done()

    def _feedback_cb(self, msg: Any) -> None:
        p = conv.progress_from_msg(msg.feedback.progress)
        with self._lock:
            self._feedback = p
            cb = self._on_feedback
        if cb is not None:
            cb(p)

    def _result_cb(self, fut: Future) -> None:
        wrapped = fut.result()
        if wrapped is None:
            self._set_done(TaskStatus.FAILED, conv.error_result(
                ErrorCode.INTERNAL, "the result request failed"))
            return
        result = conv.result_from_msg(wrapped.result)
        status = {GoalStatus.STATUS_SUCCEEDED: TaskStatus.SUCCEEDED,
                  GoalStatus.STATUS_CANCELED: TaskStatus.CANCELED}.get(
                      wrapped.status, TaskStatus.FAILED)
        if status is TaskStatus.CANCELED and result.error_code == ErrorCode.NONE:
            result.error_code, result.error_message = ErrorCode.CANCELED, "canceled"
        self._set_done(status, result)

    def _set_done(self, status: TaskStatus, result: QueryResult) -> None:
        with self._lock:
            self._status, self._result = status, result
        self._done.set()

    def destroy(self) -> None:
        """Destroy the underlying action client (and the private executor, if one was made)."""
        if self._own_executor is not None:
            self._own_executor.remove_node(self.node)
            self._own_executor.shutdown(timeout_sec=0.0)
            self._own_executor = None
        self._client.destroy()
