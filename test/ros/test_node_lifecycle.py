"""A kernel that dies mid-query, and shutdown with queries running (in-process and a real `spatialclaw agent`)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from ros_graph import (NS, SyntheticCamera, cli_config, descendants, fast_config, kernel_children, pid_alive,
                       wait_for)
from support.scripted_vlm import Reply, ScriptedVlmServer

from spatialclaw_ros.agent.types import Phase
from spatialclaw_ros.errors import ErrorCode
from spatialclaw_ros.ros.client import SpatialQueryClient, TaskStatus

BUSY_LOOP = "x = 0\nwhile True:\n    x += 1\n"


def test_cancel_stops_the_cell_and_kills_the_kernel(make_graph) -> None:
    g = make_graph(fast_config(**{"agent.cell_timeout_s": 60.0}))
    g.agent.program_hook = lambda req: BUSY_LOOP
    g.camera.stream(3, t0_ns=time.time_ns() - 5 * NS)
    wait_for(lambda: len(g.agent.ingest.buffer) >= 2, what="frames buffered")
    before = kernel_children()
    client = SpatialQueryClient(g.helper)
    executing = threading.Event()
    assert client.start("spin forever", on_feedback=lambda p: p.phase is Phase.EXECUTING
                        and executing.set())
    assert executing.wait(60), "the cell never started"
    running = kernel_children() - before
    assert running, "no kernel process found while the cell runs"
    t0 = time.monotonic()
    assert client.cancel()
    assert client.wait(30)
    cancel_s = time.monotonic() - t0
    result = client.result()
    assert client.status() is TaskStatus.CANCELED
    assert result.error_code is ErrorCode.CANCELED
    wait_for(lambda: not any(pid_alive(p) for p in running), timeout_s=10,
             what=lambda: f"kernel gone: {_describe(p for p in running if pid_alive(p))}")
    print(f"cancel -> result in {cancel_s:.3f} s")
    # the node keeps serving
    g.agent.program_hook = lambda req: "ReturnAnswer(0.25, unit='m')"
    again = client.ask("how far?", answer_type="number", timeout_s=120)
    assert again.success and again.answer.number == 0.25


def test_kernel_killed_mid_query_gives_a_result_and_the_node_keeps_serving(make_graph) -> None:
    g = make_graph(fast_config(**{"agent.cell_timeout_s": 60.0}))
    g.agent.program_hook = lambda req: BUSY_LOOP
    g.camera.stream(3, t0_ns=time.time_ns() - 5 * NS)
    wait_for(lambda: len(g.agent.ingest.buffer) >= 2, what="frames buffered")
    before = kernel_children()
    client = SpatialQueryClient(g.helper)
    executing = threading.Event()
    assert client.start("spin", on_feedback=lambda p: p.phase is Phase.EXECUTING
                        and executing.set())
    assert executing.wait(60)
    victims = kernel_children() - before
    assert victims
    for pid in victims:
        os.kill(pid, signal.SIGKILL)
    assert client.wait(60)
    res = client.result()
    assert not res.success and res.error_code is not ErrorCode.NONE
    assert "crashed" in res.error_message, res.error_message
    g.agent.program_hook = lambda req: "ReturnAnswer(0.75, unit='m')"
    ok = client.ask("how far?", answer_type="number", timeout_s=120)
    assert ok.success and ok.answer.number == 0.75


def test_shutdown_with_a_query_running_cancels_it_and_kills_its_kernel(make_graph) -> None:
    g = make_graph(fast_config(**{"agent.cell_timeout_s": 60.0}))
    g.agent.program_hook = lambda req: BUSY_LOOP
    g.camera.stream(3, t0_ns=time.time_ns() - 5 * NS)
    wait_for(lambda: len(g.agent.ingest.buffer) >= 2, what="frames buffered")
    shm_before = set(os.listdir("/dev/shm"))
    before = kernel_children()
    procs_before = descendants(os.getpid())
    client = SpatialQueryClient(g.helper)
    executing = threading.Event()
    assert client.start("spin", on_feedback=lambda p: p.phase is Phase.EXECUTING
                        and executing.set())
    assert executing.wait(60)
    running = kernel_children() - before
    assert running
    g.agent.shutdown()
    assert client.wait(30)
    assert client.result().error_code is ErrorCode.CANCELED
    assert client.status() is TaskStatus.FAILED       # aborted by the node, not by the caller
    assert not any(pid_alive(p) for p in running)
    assert kernel_children() - before == set()
    # nothing the node's pool started (kernels, a zygote) outlives its shutdown
    wait_for(lambda: descendants(os.getpid()) - procs_before == set(), timeout_s=10,
             what=lambda: f"no new processes: {_describe(descendants(os.getpid()) - procs_before)}")
    assert set(os.listdir("/dev/shm")) - shm_before == set()
    busy = SpatialQueryClient(g.helper).ask("after shutdown?", timeout_s=10)
    assert busy.error_code is ErrorCode.BUSY and "shutting down" in busy.error_message


def test_sigint_to_spatialclaw_agent_mid_query_leaves_no_kernel(repo_root, tmp_path) -> None:
    with ScriptedVlmServer([Reply("Plan: count."), Reply("Counting.\n```python\n" + BUSY_LOOP
                                                         + "```")]) as vlm:
        proc = subprocess.Popen(
            [sys.executable, "-m", "spatialclaw_ros.cli", "agent", "--vlm-url", vlm.base_url,
             "--set", 'sandbox.mode="off"', "--set", "sandbox.pool_size=0",
             "--set", "keyframes.min_interval_s=0.0", "--set", "agent.cell_timeout_s=60.0",
             "--set", f"agent.transcript_dir={tmp_path}"],
            cwd=repo_root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        out: list[str] = []
        threading.Thread(target=lambda: out.extend(proc.stdout), daemon=True).start()
        context = rclpy.Context()
        rclpy.init(context=context)
        kernels: set[int] = set()
        try:
            node = rclpy.create_node("shutdown_probe", context=context)
            ex = SingleThreadedExecutor(context=context)
            ex.add_node(node)
            threading.Thread(target=_spin, args=(ex,), daemon=True).start()
            client = SpatialQueryClient(node)
            cam = SyntheticCamera(node, cli_config())
            # wait for the node, then give it frames
            assert client._client.wait_for_server(timeout_sec=60), "".join(out)  # noqa: SLF001
            wait_for(lambda: all(p.get_subscription_count() > 0 for p in (
                cam.color, cam.depth, cam.info, cam.tf, cam.tf_static)), what="agent subscribed")
            diags: list[DiagnosticArray] = []
            node.create_subscription(DiagnosticArray, "/diagnostics", diags.append, 10)
            # Camera topics are best effort: keep publishing until the agent holds the frames.
            deadline = time.monotonic() + 60
            while not _frames_posed(diags) and time.monotonic() < deadline:
                cam.stream(4, t0_ns=time.time_ns() - 2 * NS)
                t_wait = time.monotonic() + 3
                while not _frames_posed(diags) and time.monotonic() < t_wait:
                    time.sleep(0.1)
            wait_for(lambda: _frames_posed(diags), timeout_s=1, what="frames + TF at the agent")
            executing = threading.Event()
            assert client.start("count forever", on_feedback=lambda p: p.phase is Phase.EXECUTING
                                and executing.set())
            assert executing.wait(90), "".join(out)
            wait_for(lambda: bool(kernel_children(proc.pid)), what="kernel under the agent")
            kernels = descendants(proc.pid)
            proc.send_signal(signal.SIGINT)
            rc = proc.wait(30)
            assert client.wait(10)
            assert client.result().error_code is ErrorCode.CANCELED, client.result()
            ex.shutdown(timeout_sec=2)
            node.destroy_node()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            rclpy.shutdown(context=context)
    assert rc == 0, "".join(out)
    assert kernels and not any(pid_alive(p) for p in kernels), "".join(out)


def _frames_posed(diags: list) -> bool:
    """The agent's diagnostics say it holds >= 3 frames and has TF to the fixed frame."""
    if not diags:
        return False
    st = {d.name.split(": ", 1)[1]: d for d in diags[-1].status}
    frames = {kv.key: kv.value for kv in st["frames"].values}
    return int(frames["frames_buffered"]) >= 3 and "available" in st["tf"].values[1].value


def _describe(pids) -> str:  # noqa: ANN001
    out = []
    for p in pids:
        try:
            with open(f"/proc/{p}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ")[:200]
            with open(f"/proc/{p}/stat") as f:
                st = f.read()[:80]
        except OSError:
            continue
        out.append(f"{p}: {st} {cmd!r}")
    return "; ".join(out)


def _spin(ex: SingleThreadedExecutor) -> None:
    try:
        ex.spin()
    except ExternalShutdownException:
        pass
