"""Real rclpy: an action server and client exchange a SpatialQuery goal, feedback and result."""
from __future__ import annotations

import threading

import rclpy
from rclpy.action import ActionClient, ActionServer
from rclpy.executors import MultiThreadedExecutor

from spatialclaw_ros.action import SpatialQuery


def test_spatial_query_action_round_trip() -> None:
    context = rclpy.Context()
    rclpy.init(context=context)
    try:
        server_node = rclpy.create_node("sq_server", context=context)
        client_node = rclpy.create_node("sq_client", context=context)

        def execute(goal_handle):
            fb = SpatialQuery.Feedback()
            fb.progress.step, fb.progress.phase = 1, "executing"
            goal_handle.publish_feedback(fb)
            goal_handle.succeed()
            res = SpatialQuery.Result(success=True, steps_used=1)
            res.answer.answer_type, res.answer.number, res.answer.unit = "number", 0.42, "m"
            res.answer.text = goal_handle.request.question.upper()
            return res

        server = ActionServer(server_node, SpatialQuery, "spatial_query", execute)
        client = ActionClient(client_node, SpatialQuery, "spatial_query")
        executor = MultiThreadedExecutor(num_threads=2, context=context)
        executor.add_node(server_node)
        executor.add_node(client_node)
        spin = threading.Thread(target=executor.spin, daemon=True)
        spin.start()

        assert client.wait_for_server(timeout_sec=10.0)
        feedback = []
        send = client.send_goal_async(SpatialQuery.Goal(question="how far?"),
                                      feedback_callback=lambda m: feedback.append(m.feedback))
        done = threading.Event()
        send.add_done_callback(lambda _f: done.set())
        assert done.wait(10.0)
        handle = send.result()
        assert handle.accepted
        res_future = handle.get_result_async()
        got = threading.Event()
        res_future.add_done_callback(lambda _f: got.set())
        assert got.wait(10.0)
        result = res_future.result().result
        assert result.success and result.answer.number == 0.42 and result.answer.text == "HOW FAR?"
        assert feedback and feedback[0].progress.phase == "executing"
        server.destroy()
        client.destroy()
        executor.shutdown()
    finally:
        rclpy.shutdown(context=context)
