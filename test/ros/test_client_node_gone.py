"""Callers of a node that dies (issue 13, defect 8): SpatialQueryClient.ask() returns NODE_GONE
within seconds of `kill -9`, instead of hanging."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import rclpy
from rclpy.executors import SingleThreadedExecutor
from ros_graph import NS, SyntheticCamera, cli_config, descendants, wait_for

from spatialclaw_ros.errors import ErrorCode
from spatialclaw_ros.ros.client import SpatialQueryClient


class _HangingVlm:
    """Lists a model; never answers a chat request (the query stays in flight)."""

    def __init__(self) -> None:
        self.chat = threading.Event()
        self.release = threading.Event()
        outer = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a: object) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server API
                body = json.dumps({"object": "list", "data": [{"id": "m"}]}).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:  # noqa: N802 - http.server API
                self.rfile.read(int(self.headers.get("content-length", 0)))
                outer.chat.set()
                outer.release.wait(120)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


def test_ask_returns_node_gone_after_kill_9(repo_root: Path) -> None:
    vlm = _HangingVlm()
    # The node keeps the test's DDS profile (SHM only, default 20 s lease: NODE_GONE comes
    # ~20 s after the kill; with the shipped profile's 3 s lease, ~5 s).
    env = dict(os.environ)
    proc = subprocess.Popen(
        [sys.executable, "-m", "spatialclaw_ros.cli", "agent", "--vlm-url", vlm.url, "--model", "m",
         "--set", "sandbox.pool_size=0", "--set", 'sandbox.mode="off"',
         "--set", "keyframes.min_interval_s=0", "--set", "vlm.timeout_s=100"],
        cwd=repo_root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    context = rclpy.Context()
    rclpy.init(context=context)
    children: set[int] = set()
    try:
        node = rclpy.create_node("gone_probe", context=context)
        ex = SingleThreadedExecutor(context=context)
        ex.add_node(node)
        threading.Thread(target=ex.spin, daemon=True).start()
        cam = SyntheticCamera(node, cli_config())
        client = SpatialQueryClient(node)
        assert client._client.wait_for_server(timeout_sec=60), "node did not come up"  # noqa: SLF001
        wait_for(lambda: cam.color.get_subscription_count() > 0 and
                 cam.info.get_subscription_count() > 0, timeout_s=30, what="subscriptions")
        cam.stream(4, t0_ns=time.time_ns() - 2 * NS)
        box: dict[str, object] = {}
        t = threading.Thread(target=lambda: box.setdefault(
            "r", client.ask("how far is the mug?", timeout_s=0)), daemon=True)
        t.start()
        assert vlm.chat.wait(60), "the query never reached the VLM"
        children = descendants(proc.pid)
        killed_at = time.monotonic()
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        t.join(60)
        assert not t.is_alive(), "ask() still blocked 60 s after the node was killed"
        res = box["r"]
        assert res.error_code == ErrorCode.NODE_GONE, (res.error_code, res.error_message)
        assert "went away" in res.error_message
        print(f"NODE_GONE {time.monotonic() - killed_at:.1f} s after kill -9")
        node.destroy_node()
    finally:
        rclpy.shutdown(context=context)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for pid in children:                      # kernels the killed node had started
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        vlm.close()
