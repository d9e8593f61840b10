"""The `spatialclaw_agent` node: live frames and TF in, the SpatialQuery action and service out.

A thin rclpy layer over the ROS-free core: subscriptions feed `ros.ingest.Ingest` (the core's TF
and frame buffers), goals become `QueryRequest`s run by `agent.runner.run_query` on a kernel from the
node's `KernelPool`, results go back as SpatialQuery results, RViz markers and diagnostics.

Threading: the action, service and timers run on a MultiThreadedExecutor with enough threads for
every query that may run or wait at once, so that feedback, cancel requests and new goals keep
flowing while a query blocks its own thread (the action and the service each have a reentrant
callback group). The camera and TF subscriptions live on a helper node, `<name>_ingest`, spun by
its own SingleThreadedExecutor thread (ordered ingest, and far less CPU per message).
"""
from __future__ import annotations

import os
import signal
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.action import ActionServer, CancelResponse, GoalResponse
from rclpy.action.server import ServerGoalHandle
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup, ReentrantCallbackGroup
from rclpy.executors import (
    ExternalShutdownException,
    MultiThreadedExecutor,
    SingleThreadedExecutor,
)
from rcl_interfaces.msg import (
    FloatingPointRange,
    IntegerRange,
    ParameterDescriptor,
    SetParametersResult,
)
from rclpy.clock import Clock, ClockType, JumpThreshold
from rclpy.duration import Duration
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.signals import SignalHandlerOptions
from rclpy.qos import (
    DurabilityPolicy,
    HistoryPolicy,
    QoSProfile,
    ReliabilityPolicy,
    qos_profile_sensor_data,
)
from sensor_msgs.msg import CameraInfo, CompressedImage, Image
from tf2_msgs.msg import TFMessage
from visualization_msgs.msg import MarkerArray

from spatialclaw_ros.action import SpatialQuery as SpatialQueryAction
from spatialclaw_ros.agent.types import Phase, QueryRequest, QueryResult, StepProgress
from spatialclaw_ros.config import NODE_NAME, Config, ConfigError
from spatialclaw_ros.errors import ErrorCode, SpatialClawError
from spatialclaw_ros.msg import StepProgress as StepProgressMsg
from spatialclaw_ros.param_specs import SPECS, allowed
from spatialclaw_ros.ros import conversions as conv
from spatialclaw_ros.ros.admission import QueryGate
from spatialclaw_ros.ros.dds import use_default_dds_profile
from spatialclaw_ros.ros.diagnostics import NodeHealth, VlmProbe, health_to_diagnostics
from spatialclaw_ros.ros.memory_hooks import memory_diagnostic, memory_for_query, start_memory, subscribe_legend
from spatialclaw_ros.ros.ingest import Ingest
from spatialclaw_ros.ros.multi_ingest import MultiIngest, camera_statuses, make_ingest
from spatialclaw_ros.ros.markers import answer_markers
from spatialclaw_ros.secrecy import harden_process, has_credentials, redact_url
from spatialclaw_ros.srv import SpatialQuery as SpatialQueryService

ACTION_NAME = "spatial_query"
PRUNE_PERIOD_S = 10.0            # transcript retention runs after a query at most this often
SERVICE_NAME = "spatial_query"
TF_STATIC_QOS = QoSProfile(depth=100, history=HistoryPolicy.KEEP_LAST,
                           reliability=ReliabilityPolicy.RELIABLE,
                           durability=DurabilityPolicy.TRANSIENT_LOCAL)
TF_QOS = QoSProfile(depth=100, history=HistoryPolicy.KEEP_LAST,
                    reliability=ReliabilityPolicy.RELIABLE,
                    durability=DurabilityPolicy.VOLATILE)
RELIABLE_QOS = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
# Late subscribers (RViz started after the answer) still get the last markers.
MARKERS_QOS = QoSProfile(depth=1, history=HistoryPolicy.KEEP_LAST,
                         reliability=ReliabilityPolicy.RELIABLE,
                         durability=DurabilityPolicy.TRANSIENT_LOCAL)
# Camera streams (images and camera_info): a best-effort subscription matches both reliable and
# best-effort publishers (SensorDataQoS); a reliable one would miss best-effort drivers.
CAMERA_QOS = qos_profile_sensor_data

# A hook for in-process tests: request -> Python program to run instead of asking the VLM.
# Deliberately not a parameter nor a goal field: the public interface always goes through the VLM.
ProgramHook = Callable[[QueryRequest], "str | None"]


@dataclass
class _Query:
    """One query in flight (action goal or service call)."""

    key: str
    cancel: threading.Event = field(default_factory=threading.Event)
    canceled_by_caller: bool = False
    started_at: float = field(default_factory=time.monotonic)
    ticket: int | None = -1       # -1: reserve when served; None: refused (queue full)


def parameter_descriptor(name: str, default: Any) -> ParameterDescriptor:
    """The ROS descriptor of config key `name`: description, allowed values, range, read_only.

    Doubles are dynamically typed so that an integer (`query_timeout_s: 600` in a params file,
    `ros2 param set ... 600`) is accepted; `Config` turns it into a float and checks the range.
    """
    spec = SPECS.get(name)
    d = ParameterDescriptor(name=name)
    if spec is None:
        return d
    d.description = spec.description
    d.read_only = spec.read_only
    if spec.choices:
        d.additional_constraints = allowed(spec)
    if isinstance(default, bool):
        return d
    if isinstance(default, int) and spec.min is not None and spec.max is not None:
        d.integer_range = [IntegerRange(from_value=int(spec.min), to_value=int(spec.max), step=1)]
    elif isinstance(default, float):
        d.dynamic_typing = True
        if spec.min is not None and spec.max is not None:
            d.floating_point_range = [FloatingPointRange(
                from_value=float(spec.min), to_value=float(spec.max), step=0.0)]
        d.additional_constraints = f"a number {allowed(spec)} (an integer is accepted)"
    return d


def declare_config_parameters(node: Node, cfg: Config) -> None:
    """Declare every `Config().to_flat()` name, with `cfg`'s values as defaults and descriptors."""
    node.declare_parameters("", [(name, value, parameter_descriptor(name, value))
                                 for name, value in cfg.to_flat().items()])


def config_from_parameters(node: Node) -> Config:
    """Read the declared parameters back into a Config (ConfigError on a wrong type or value)."""
    names = list(Config().to_flat())
    return Config.from_flat({p.name: p.value for p in node.get_parameters(names)})


class SpatialClawNode(Node):
    """Subscribes to camera + TF, serves SpatialQuery (action and service), publishes markers."""

    _constructed = False     # False while __init__ has not finished (bad parameters)

    def __init__(self, *, cfg: Config | None = None, node_name: str = NODE_NAME,
                 context: rclpy.context.Context | None = None, namespace: str | None = None,
                 cli_args: list[str] | None = None, pool: Any = None) -> None:
        """Parameters default to `cfg` (the CLI's YAML + --set), else to Config(); ROS arguments
        (`-p`, `--params-file`, as `ros2 launch` passes them) override either."""
        super().__init__(node_name, context=context, namespace=namespace, cli_args=cli_args)
        declare_config_parameters(self, cfg or Config())
        if cfg is None:
            self._apply_env_overrides()
        self.cfg = config_from_parameters(self)
        self._real_vlm_url = self.cfg.vlm.base_url
        self._hide_credentials()
        self._cfg_lock = threading.Lock()
        self._cfg_dirty = False
        self.add_on_set_parameters_callback(self._on_set_parameters)
        self.program_hook: ProgramHook | None = None
        self._queries: dict[str, _Query] = {}
        self._tickets: dict[str, int | None] = {}    # goal id -> place reserved on acceptance
        self._queries_lock = threading.Lock()
        self._done = 0
        self._failed = 0
        self._sandbox_layers: list[str] = []
        self._closed = False
        self.gate = QueryGate(self.cfg.agent.max_concurrent_queries,
                              self.cfg.agent.max_queued_queries)
        self.ingest = make_ingest(self.cfg, clock_ns=self._now_ns,      # several cameras: cameras.spec
                                  log=lambda line: self.get_logger().warning(line))
        self.memory = start_memory(self.cfg, self.get_logger(),          # memory hook (memory.enabled)
                                   is_idle=lambda: self.gate.counts().running + self.gate.counts().queued == 0)
        if self.memory is not None:
            self.ingest.on_keyframe = self.memory.offer
        self._pool = pool
        self._own_pool = pool is None
        self._perception: Any = None
        self._resource_lock = threading.Lock()
        self._ingest_stopped = False
        self._vlm_probe = VlmProbe(self.cfg.vlm.base_url)

        self._action_group = ReentrantCallbackGroup()
        self._service_group = ReentrantCallbackGroup()
        timer_group = MutuallyExclusiveCallbackGroup()
        self._ingest_node, self._ingest_executor, self._ingest_thread = self._start_ingest()
        self._legend_sub = subscribe_legend(self, self.memory, self.cfg.topics.labels,   # memory hook: legend
                                            TF_STATIC_QOS)
        self.markers_pub = self.create_publisher(MarkerArray, "~/markers", MARKERS_QOS)
        self.progress_pub = self.create_publisher(StepProgressMsg, "~/progress", RELIABLE_QOS)
        self.diagnostics_pub = self.create_publisher(DiagnosticArray, "/diagnostics", RELIABLE_QOS)

        self.action_server = ActionServer(
            self, SpatialQueryAction, ACTION_NAME,
            execute_callback=self._execute_goal,
            goal_callback=self._on_goal,
            handle_accepted_callback=self._on_accepted,
            cancel_callback=self._on_cancel,
            callback_group=self._action_group)
        self.service = self.create_service(SpatialQueryService, SERVICE_NAME, self._on_service,
                                           callback_group=self._service_group)
        # Steady (wall) time: /diagnostics keeps coming when /clock is missing or paused.
        self._steady = Clock(clock_type=ClockType.STEADY_TIME)
        self.create_timer(1.0, self._publish_diagnostics, callback_group=timer_group,
                          clock=self._steady)
        self._jump_handle = self._watch_time_jumps()
        self._vlm_probe.start()
        t = self.cfg.topics
        threading.Thread(target=self._detect_sandbox, name="sandbox-probe", daemon=True).start()
        self._last_prune = 0.0
        threading.Thread(target=self._housekeeping, args=(True,), name="housekeeping",
                         daemon=True).start()
        if self._own_pool and self.cfg.sandbox.pool_size > 0:
            try:                                   # pre-warm kernels now, not at the first goal
                self._pool_for_queries()
            except Exception as exc:  # noqa: BLE001 - reported again to every query
                self.get_logger().error(f"kernel pool not available: {exc}")
        def res(name: str) -> str:
            return self.resolve_topic_name(name) if name else "-"

        self._constructed = True
        self.get_logger().info(
            f"ready: color={res(t.color)} depth={res(t.depth)} camera_info={res(t.camera_info)} "
            f"fixed_frame={self.cfg.fixed_frame} vlm={redact_url(self.cfg.vlm.base_url)} "
            f"max_concurrent={self.cfg.agent.max_concurrent_queries}")

    # ---- ingest ----------------------------------------------------------------------------
    def _start_ingest(self) -> tuple[Node, SingleThreadedExecutor, threading.Thread]:
        """Camera and TF subscriptions on a helper node spun by its own single-threaded executor.

        rclpy's MultiThreadedExecutor costs several times more CPU per message than a
        SingleThreadedExecutor (measured: 41 % vs 14 % of a core for 2 x 30 Hz images), so the
        high-rate topics do not go through it. Topic names are resolved by this node (namespace
        and remaps, node-specific ones included); the helper ignores global arguments, so a
        `__node:=` remap (as `ros2 launch` passes) cannot give both nodes the same name.
        """
        node = Node(f"{self.get_name()}_ingest", context=self.context,
                    namespace=self.get_namespace(), use_global_arguments=False,
                    start_parameter_services=False)
        t = self.cfg.topics

        def sub(msg_type: Any, topic: str, callback: Callable[[Any], None], qos: Any) -> None:
            name = self.resolve_topic_name(topic)
            self.ingest.topic_names[topic] = name
            node.create_subscription(msg_type, name, callback, qos)

        if isinstance(self.ingest, MultiIngest):       # several cameras (cameras.spec): each its streams
            for kind, topic, callback, _cam in self.ingest.subscriptions():
                if kind == "color" and (t.compressed or t.color_transport == "compressed"):
                    sub(CompressedImage, topic.rstrip("/") + "/compressed", callback, CAMERA_QOS)
                elif kind == "depth" and t.depth_transport == "compressedDepth":
                    sub(CompressedImage, topic.rstrip("/") + "/compressedDepth", callback, CAMERA_QOS)
                else:
                    sub(CameraInfo if kind == "camera_info" else Image, topic, callback, CAMERA_QOS)
        elif t.compressed or t.color_transport == "compressed":
            sub(CompressedImage, t.color.rstrip("/") + "/compressed", self.ingest.on_color,
                CAMERA_QOS)
        else:
            sub(Image, t.color, self.ingest.on_color, CAMERA_QOS)
        if isinstance(self.ingest, MultiIngest):
            pass
        elif t.depth and t.depth_transport == "compressedDepth":
            sub(CompressedImage, t.depth.rstrip("/") + "/compressedDepth", self.ingest.on_depth,
                CAMERA_QOS)
        elif t.depth:
            sub(Image, t.depth, self.ingest.on_depth, CAMERA_QOS)
        if t.labels and not isinstance(self.ingest, MultiIngest):
            sub(Image, t.labels, self.ingest.on_labels, CAMERA_QOS)
        if not isinstance(self.ingest, MultiIngest):
            sub(CameraInfo, t.camera_info, self.ingest.on_camera_info, CAMERA_QOS)
        sub(TFMessage, "/tf", lambda m: self.ingest.on_tf(m, static=False), TF_QOS)
        sub(TFMessage, "/tf_static", lambda m: self.ingest.on_tf(m, static=True), TF_STATIC_QOS)
        executor = SingleThreadedExecutor(context=self.context)
        executor.add_node(node)

        def spin() -> None:
            try:
                executor.spin()
            except ExternalShutdownException:
                pass
            except Exception as exc:  # noqa: BLE001 - report, the node keeps serving queries
                self.get_logger().error(f"ingest executor stopped: {exc!r}")

        thread = threading.Thread(target=spin, name="ingest", daemon=True)
        thread.start()
        return node, executor, thread

    def _stop_ingest(self) -> None:
        self._ingest_executor.shutdown(timeout_sec=2.0)
        self._ingest_thread.join(timeout=2.0)
        self._ingest_node.destroy_node()

    # ---- helpers ---------------------------------------------------------------------------
    def _apply_env_overrides(self) -> None:
        """SPATIALCLAW_VLM_URL / SPATIALCLAW_VLM_MODEL fill vlm.base_url / vlm.model only where no
        ROS parameter source (`-p`, `--params-file`, a launch argument) set them: explicit wins."""
        env = {"vlm.base_url": os.environ.get("SPATIALCLAW_VLM_URL"),
               "vlm.model": os.environ.get("SPATIALCLAW_VLM_MODEL")}
        explicit = set(self._parameter_overrides)  # noqa: SLF001 - rclpy keeps no public list
        updates = [Parameter(k, value=v) for k, v in env.items() if v and k not in explicit]
        if updates:
            self.set_parameters(updates)

    def _on_set_parameters(self, params: list[Parameter]) -> SetParametersResult:
        """Accept a change that gives a valid Config (applied at the next query), else refuse
        with the reason (the parameter and its allowed values)."""
        flat = {p.name: p.value for p in self.get_parameters(list(Config().to_flat()))}
        for p in params:
            if p.name in flat:
                flat[p.name] = p.value
        try:
            Config.from_flat(flat)
        except ConfigError as exc:
            return SetParametersResult(successful=False, reason=str(exc))
        with self._cfg_lock:
            self._cfg_dirty = True
        return SetParametersResult(successful=True)

    def _query_config(self) -> Config:
        """The configuration a query starts with: parameters changed since the last query apply."""
        with self._cfg_lock:
            if self._cfg_dirty:
                self._cfg_dirty = False
                try:
                    cfg = config_from_parameters(self)
                    if cfg.vlm.base_url == redact_url(self._real_vlm_url):
                        cfg.vlm.base_url = self._real_vlm_url   # the parameter shows it redacted
                    else:
                        self._real_vlm_url = cfg.vlm.base_url
                    self.cfg = cfg
                except ConfigError as exc:   # validated when set; keep the last good config
                    self.get_logger().error(f"parameters not applied: {exc}")
                self._vlm_probe.base_url = self.cfg.vlm.base_url
                self.ingest.apply_dynamic(self.cfg)
            return self.cfg

    def _watch_time_jumps(self) -> Any:
        """Reset buffers and dynamic TF when the node's clock jumps back (sim reset, bag loop)."""
        def on_jump(jump: Any) -> None:
            delta = jump.delta.nanoseconds
            if delta < 0:
                self.ingest.time_jumped(f"the node clock jumped by {delta / 1e9:+.3f} s")

        try:
            threshold = JumpThreshold(min_forward=None, min_backward=Duration(seconds=-1),
                                      on_clock_change=False)
            return self.get_clock().create_jump_callback(threshold, post_callback=on_jump)
        except Exception as exc:  # noqa: BLE001 - stamps going back are still detected by ingest
            self.get_logger().warning(f"clock jump detection unavailable: {exc!r}")
            return None

    def _hide_credentials(self) -> None:
        """Any ROS participant can read parameters: vlm.base_url shows the URL without its
        credentials (user:password@, query values); the node keeps the real one in self.cfg."""
        url = self.cfg.vlm.base_url
        if has_credentials(url):
            self.set_parameters([Parameter("vlm.base_url", value=redact_url(url))])

    def executor_threads(self) -> int:
        """Threads the executor needs: every query running or waiting, plus cancels and timers."""
        return self.cfg.agent.max_concurrent_queries + self.cfg.agent.max_queued_queries + 3

    def _now_ns(self) -> int:
        return self.get_clock().now().nanoseconds

    def _pool_for_queries(self) -> Any:
        """The node's kernel pool (made once; SANDBOX_UNAVAILABLE & co. are raised per query)."""
        with self._resource_lock:
            if self._pool is None:
                from spatialclaw_ros.kernel import KernelPool  # noqa: PLC0415 - heavy, on demand
                self._pool = KernelPool(self.cfg.sandbox)
            return self._pool

    def _handlers_for(self, frames: list[Any]) -> dict[str, Callable[[dict], Any]]:
        """perception.* handlers over the query's frames (the service starts models on first use)."""
        with self._resource_lock:
            if self._perception is None:
                from spatialclaw_ros.perception.service import PerceptionService  # noqa: PLC0415
                self._perception = PerceptionService(self.cfg)
            service = self._perception
        from spatialclaw_ros.perception.handlers import perception_handlers  # noqa: PLC0415

        return perception_handlers(frames, self.cfg, service)

    def _housekeeping(self, at_start: bool = False) -> None:
        """Remove scratch directories of dead runs (at start) and apply the transcript retention
        policy (agent.transcript_max_mb / _max_age_days / _keep_failures_days)."""
        from spatialclaw_ros.agent.retention import prune_transcripts, remove_dead_scratch

        try:
            if at_start:
                gone = remove_dead_scratch()
                if gone:
                    self.get_logger().info(f"removed {len(gone)} scratch directories of dead runs")
            a = self.cfg.agent
            rep = prune_transcripts(a.transcript_dir, max_mb=a.transcript_max_mb,
                                    max_age_days=a.transcript_max_age_days,
                                    keep_failures_days=a.transcript_keep_failures_days)
            if rep.removed:
                self.get_logger().info(f"transcript retention: removed {len(rep.removed)} queries, "
                                       f"{rep.kept} kept ({rep.bytes_left / 1e6:.1f} MB)")
        except Exception as exc:  # noqa: BLE001 - housekeeping never breaks the node
            self.get_logger().warning(f"housekeeping failed: {exc!r}")

    def _detect_sandbox(self) -> None:
        """Fill the diagnostics' sandbox layers once (the probe starts a short subprocess)."""
        if self.cfg.sandbox.mode == "off":
            self._sandbox_layers = ["off"]
            return
        try:
            from spatialclaw_ros.kernel import detect_sandbox_layers  # noqa: PLC0415

            layers = detect_sandbox_layers()
        except Exception as exc:  # noqa: BLE001 - diagnostics only
            self.get_logger().warning(f"could not probe the sandbox layers: {exc!r}")
            return
        if not self._sandbox_layers:
            self._sandbox_layers = sorted(k for k, v in layers.items() if v.startswith("available"))

    # ---- action callbacks ------------------------------------------------------------------
    def _on_goal(self, goal: SpatialQueryAction.Goal) -> GoalResponse:
        """Accept every goal: a refused one (busy, malformed) still gets a result with a reason."""
        return GoalResponse.ACCEPT

    def _on_accepted(self, goal_handle: ServerGoalHandle) -> None:
        """Reserve the goal's place in the queue in arrival order (FIFO), then run it.

        Execute callbacks start on whichever executor thread is free, so a place taken there
        would follow thread scheduling, not the order goals arrived in.
        """
        key = bytes(goal_handle.goal_id.uuid).hex()
        with self._queries_lock:
            self._tickets[key] = self.gate.try_reserve()
        goal_handle.execute()

    def _on_cancel(self, goal_handle: ServerGoalHandle) -> CancelResponse:
        """Accept a cancel request and stop that goal's query (its cell and kernel)."""
        key = bytes(goal_handle.goal_id.uuid).hex()
        with self._queries_lock:
            q = self._queries.get(key)
        if q is not None:
            q.canceled_by_caller = True
            q.cancel.set()
            self.gate.kick()
        return CancelResponse.ACCEPT

    def _execute_goal(self, goal_handle: ServerGoalHandle) -> SpatialQueryAction.Result:
        """Run one goal to a terminal state; never raises."""
        key = bytes(goal_handle.goal_id.uuid).hex()

        def feedback(p: StepProgress) -> None:
            msg = conv.progress_to_msg(p)
            try:
                goal_handle.publish_feedback(SpatialQueryAction.Feedback(progress=msg))
            except Exception:  # noqa: BLE001 - a goal that went away must not stop its query
                pass

        query = _Query(key)
        if goal_handle.is_cancel_requested:
            query.canceled_by_caller = True
            query.cancel.set()
        with self._queries_lock:
            query.ticket = self._tickets.pop(key, -1)
        result = self._serve_safely(goal_handle.request, query, feedback)
        res = conv.fill_result(SpatialQueryAction.Result(), result, self.cfg.fixed_frame)
        if result.success:
            goal_handle.succeed()
        elif result.error_code == ErrorCode.CANCELED and goal_handle.is_cancel_requested:
            goal_handle.canceled()
        else:
            goal_handle.abort()
        return res

    def _on_service(self, request: SpatialQueryService.Request,
                    response: SpatialQueryService.Response) -> SpatialQueryService.Response:
        """Blocking service: the same query path, without feedback."""
        query = _Query(f"srv-{time.monotonic_ns()}-{threading.get_ident()}")
        result = self._serve_safely(request, query, None)
        return conv.fill_result(response, result, self.cfg.fixed_frame)

    def _serve_safely(self, goal: Any, query: _Query,
                      feedback: Callable[[StepProgress], None] | None) -> QueryResult:
        """`_serve`, with a bug turned into an INTERNAL result instead of an aborted goal."""
        try:
            return self._serve(goal, query, feedback)
        except Exception as exc:  # noqa: BLE001 - the node keeps serving
            self.get_logger().error(f"bug while serving a query: {exc!r}\n{traceback.format_exc()}")
            return conv.error_result(ErrorCode.INTERNAL, f"internal error ({type(exc).__name__}: "
                                                         f"{exc}); see the node's log")

    # ---- one query -------------------------------------------------------------------------
    def _serve(self, goal: Any, query: _Query,
               feedback: Callable[[StepProgress], None] | None) -> QueryResult:
        """Validate, admit, run and account for one query; every failure becomes a result."""
        t0 = time.monotonic()
        self._query_config()                 # parameters set since the last query apply now
        ticket = self.gate.try_reserve() if query.ticket == -1 else query.ticket
        try:
            request = conv.request_from_goal(goal)
        except SpatialClawError as exc:
            if ticket is not None:
                self.gate.cancel_reservation(ticket)
            return self._finish(conv.error_result(exc.code, exc.message), goal, t0)
        if ticket is None:
            counts = self.gate.counts()
            msg = (f"busy: {counts.running} queries running and {counts.queued} waiting "
                   f"(agent.max_concurrent_queries={self.gate.max_running}, "
                   f"agent.max_queued_queries={self.gate.max_queued}); try again later")
            if self._closed:
                msg = "the node is shutting down"
            return self._finish(conv.error_result(ErrorCode.BUSY, msg), goal, t0)
        with self._queries_lock:
            self._queries[query.key] = query
        try:
            if feedback is not None:
                max_steps = request.max_steps or self.cfg.agent.max_steps
                feedback(StepProgress(step=0, max_steps=max_steps, phase=Phase.QUEUED,
                                      elapsed_s=0.0))
            if not self.gate.wait_turn(ticket, query.cancel):
                code = ErrorCode.CANCELED if query.canceled_by_caller else ErrorCode.BUSY
                why = ("canceled while waiting for a free query slot" if query.canceled_by_caller
                       else "the node is shutting down")
                return self._finish(conv.error_result(code, why), goal, t0)
            query.started_at = time.monotonic()        # the query's own clock starts now
            try:
                result = self._run(request, query, feedback)
            finally:
                self.gate.release()
        finally:
            with self._queries_lock:
                self._queries.pop(query.key, None)
        return self._finish(result, goal, t0)

    def _run(self, request: QueryRequest, query: _Query,
             feedback: Callable[[StepProgress], None] | None) -> QueryResult:
        """Take the frames for the request and run the agent on them."""
        fixed = request.fixed_frame or self.cfg.fixed_frame

        def on_progress(p: StepProgress) -> None:
            self.progress_pub.publish(conv.progress_to_msg(p))
            if feedback is not None:
                feedback(p)

        try:
            frames, recording = self.ingest.select_for(request, fixed)
            if query.cancel.is_set():
                return conv.error_result(ErrorCode.CANCELED, "canceled before the query started")
            from spatialclaw_ros.agent.runner import run_query  # noqa: PLC0415 - heavy import

            kwargs: dict[str, Any] = {"on_progress": on_progress, "cancel": query.cancel,
                                      "pool": self._pool_for_queries(),
                                      "handlers": self._handlers_for(frames)}
            if recording:                       # goal.frames: frame k of the window (Metadata)
                kwargs["extra_metadata"] = dict(recording)
            if self.program_hook is not None:
                program = self.program_hook(request)
                if program is not None:
                    kwargs["program"] = program
            with memory_for_query(self.memory, frames, kwargs):           # memory hook: tools.Memory
                result = run_query(request, frames, self.cfg, **kwargs)
        except SpatialClawError as exc:
            result = conv.error_result(exc.code, exc.message)
        except Exception as exc:  # noqa: BLE001 - a bug must not take the node down
            self.get_logger().error(f"query failed with a bug: {exc!r}\n{traceback.format_exc()}")
            result = conv.error_result(ErrorCode.INTERNAL,
                                       f"internal error ({type(exc).__name__}: {exc}); "
                                       "see the node's log")
        if query.canceled_by_caller and not result.success:
            result.error_code = ErrorCode.CANCELED
            result.error_message = result.error_message or "canceled by the caller"
        timeout_s = request.timeout_s or self.cfg.agent.query_timeout_s
        if (result.error_code == ErrorCode.KERNEL_DIED and not query.canceled_by_caller
                and time.monotonic() - query.started_at >= timeout_s):
            # The deadline killed the kernel (e.g. while it was still receiving the frames):
            # to the caller that is a timeout, not a crash.
            result.error_code = ErrorCode.TIMEOUT
            result.error_message = (f"the query ran past its {timeout_s:g} s limit (raise "
                                    f"timeout_s or agent.query_timeout_s); {result.error_message}")
        if result.sandbox_layers:
            self._sandbox_layers = list(result.sandbox_layers)
        if result.success and result.answer is not None:
            self._publish_markers(result, fixed)
        return result

    def _finish(self, result: QueryResult, goal: Any, t0: float) -> QueryResult:
        if result.transcript_path and time.monotonic() - self._last_prune > PRUNE_PERIOD_S:
            self._last_prune = time.monotonic()
            self._housekeeping()
        if result.timings.total_s == 0.0:
            result.timings.total_s = time.monotonic() - t0
        with self._queries_lock:
            if result.success:
                self._done += 1
            else:
                self._failed += 1
        outcome = (result.answer.text if result.success and result.answer
                   else f"{result.error_code.name}: {result.error_message}")
        line = (f"query '{(goal.question or '')[:80]}' -> {outcome} "
                f"({result.timings.total_s:.2f} s, {result.steps_used} steps)")
        # rclpy refuses one call site logging at two severities: keep two calls.
        if result.success:
            self.get_logger().info(line)
        else:
            self.get_logger().warning(line)
        return result

    def _publish_markers(self, result: QueryResult, fixed: str) -> None:
        try:
            build = answer_markers(result.answer, fixed, self.get_clock().now().to_msg())
            for s in build.skipped:
                self.get_logger().warning(f"marker skipped: {s}")
            self.markers_pub.publish(build.markers)
        except Exception as exc:  # noqa: BLE001 - visualisation never breaks the answer path
            self.get_logger().warning(f"could not publish markers: {exc!r}")

    # ---- diagnostics -----------------------------------------------------------------------
    def health(self) -> NodeHealth:
        """A snapshot of buffers, TF, VLM, sandbox and queries."""
        h = NodeHealth()
        self.ingest.fill_health(h)
        counts = self.gate.counts()
        h.frame_warn_age_s = self.cfg.diagnostics.frame_warn_age_s
        h.frame_error_age_s = self.cfg.diagnostics.frame_error_age_s
        h.vlm_url = redact_url(self.cfg.vlm.base_url)
        h.vlm = self._vlm_probe.last
        h.depth_backend, h.segment_backend = self.ingest.backends()
        h.sandbox_mode = self.cfg.sandbox.mode
        h.sandbox_layers = list(self._sandbox_layers)
        h.queries_running, h.queries_queued = counts.running, counts.queued
        h.max_concurrent = self.gate.max_running
        with self._queries_lock:
            h.queries_done, h.queries_failed = self._done, self._failed
        return h

    def _publish_diagnostics(self) -> None:
        try:
            self._query_config()             # thresholds set with ros2 param set apply here too
            self.ingest.tick()
            arr = health_to_diagnostics(self.health(), self.get_clock().now().to_msg(), self.get_name())
            arr.status.extend(camera_statuses(self.ingest, self.get_name()))  # one per camera (cameras.spec)
            if self.memory is not None:                                   # memory hook: /diagnostics
                self.memory.poll_correction(self.ingest.tf)
                arr.status.append(memory_diagnostic(self.memory, self.get_name()))
            self.diagnostics_pub.publish(arr)
        except Exception as exc:  # noqa: BLE001 - diagnostics never take the node down
            self.get_logger().warning(f"diagnostics failed: {exc!r}")

    # ---- shutdown --------------------------------------------------------------------------
    def shutdown(self, wait_s: float = 5.0) -> None:
        """Cancel every query, wait for them to end, close the kernel pool (no stray processes)."""
        if not self._constructed or self._closed:
            return
        self._closed = True
        self.gate.close()
        with self._queries_lock:
            running = list(self._queries.values())
        for q in running:
            q.cancel.set()
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            with self._queries_lock:
                if not self._queries:
                    break
            time.sleep(0.02)
        self._vlm_probe.stop()
        if self._pool is not None and self._own_pool:
            self._pool.close()
        if self._perception is not None:
            self._perception.close()
        self.ingest.close()
        if self.memory is not None:                                       # memory hook: close the segment
            self.memory.close()

    def destroy_node(self) -> None:
        """Shut down queries and the pool, then destroy the ROS entities."""
        if not self._constructed:      # __init__ failed (bad parameters): only the ROS node
            super().destroy_node()
            return
        self.shutdown()
        if not self._ingest_stopped:
            self._ingest_stopped = True
            self._stop_ingest()
        self.action_server.destroy()
        super().destroy_node()


def spin_node(node: SpatialClawNode, stop: threading.Event | None = None) -> None:
    """Spin until `stop` is set (or the context shuts down); then end queries cleanly.

    The executor keeps spinning while the running queries are canceled, so their callers still
    get a result (CANCELED) before the node goes away; then the kernel pool is closed.
    """
    stop = stop or threading.Event()
    executor = MultiThreadedExecutor(num_threads=node.executor_threads(), context=node.context)
    executor.add_node(node)

    def spin() -> None:
        try:
            executor.spin()
        except ExternalShutdownException:
            pass
        finally:
            stop.set()

    spinner = threading.Thread(target=spin, name="executor", daemon=True)
    spinner.start()
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    node.get_logger().info("shutting down: canceling running queries")
    node.shutdown()
    time.sleep(0.3)                       # let the last results and cancel replies go out
    executor.shutdown(timeout_sec=2.0)
    # Jazzy's rclpy (7.x): a spin thread still inside rcl's wait when the interpreter exits aborts
    # the process ("terminate called without an active exception"); wait for it to leave.
    spinner.join(timeout=5.0)
    node.destroy_node()


def run(cfg: Config | None, ros_args: Sequence[str] | None = None) -> int:
    """Start rclpy, run the node until SIGINT/SIGTERM; returns an exit code."""
    harden_process()     # same-uid processes cannot read the node's environ or write its memory
    leaked = [a for a in (ros_args or []) if "base_url" in a and has_credentials(a.split(":=", 1)[-1])]
    if leaked:
        print("spatialclaw_agent: vlm.base_url on the command line holds credentials, which every "
              "user can read in the process list: put the URL in SPATIALCLAW_VLM_URL or the params "
              "file, and an API key in SPATIALCLAW_VLM_API_KEY", file=sys.stderr)
        return 2
    args = ["spatialclaw_agent", *(ros_args or [])]
    note = use_default_dds_profile()
    # Our own signal handling: rclpy's would shut the context down before queries are ended.
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    if note:
        print(f"spatialclaw_agent: {note}", file=sys.stderr)
    try:
        node = SpatialClawNode(cfg=cfg)
    except SpatialClawError as exc:
        print(f"spatialclaw_agent: {exc.code.name}: {exc.message}", file=sys.stderr)
        rclpy.try_shutdown()
        return 1
    except Exception as exc:  # noqa: BLE001 - bad parameters: say which and exit
        print(f"spatialclaw_agent: configuration error: {exc}", file=sys.stderr)
        rclpy.try_shutdown()
        return 2
    spin_node(node, stop)
    rclpy.try_shutdown()
    return 0


def main(args: Sequence[str] | None = None) -> None:
    """`ros2 run spatialclaw_ros spatialclaw_agent [--ros-args ...]`: parameters from ROS args."""
    argv = list(sys.argv[1:] if args is None else args)
    sys.exit(run(None, argv))
