"""Container health check: is a spatialclaw_agent node serving its SpatialQuery action?

    python3 -m spatialclaw_ros.ros.healthcheck [--namespace /robot1] [--timeout 10]

Exit 0 when the action server `<namespace>/spatial_query` is discovered within the timeout, 1
otherwise (with one line saying what was looked for). Used by docker/Dockerfile's HEALTHCHECK; it
uses the same ROS_DOMAIN_ID and DDS settings as the node it checks.
"""
from __future__ import annotations

import argparse
import os
import sys
from typing import Sequence


def action_name(namespace: str) -> str:
    """The fully qualified action name in `namespace` ('' or '/' = root)."""
    ns = "/" + namespace.strip("/") if namespace.strip("/") else ""
    return f"{ns}/spatial_query"


def check(namespace: str = "", timeout_s: float = 10.0) -> tuple[bool, str]:
    """(healthy, message): whether the node's action server answers discovery within timeout_s."""
    import rclpy
    from rclpy.action import ActionClient

    from spatialclaw_ros.action import SpatialQuery

    name = action_name(namespace)
    context = rclpy.Context()
    rclpy.init(context=context)
    try:
        node = rclpy.create_node("spatialclaw_healthcheck", context=context,
                                 start_parameter_services=False)
        try:
            client = ActionClient(node, SpatialQuery, name)
            ok = client.wait_for_server(timeout_sec=timeout_s)
            client.destroy()
        finally:
            node.destroy_node()
    finally:
        rclpy.try_shutdown(context=context)
    domain = os.environ.get("ROS_DOMAIN_ID", "0")
    if ok:
        return True, f"healthy: action server {name} (ROS_DOMAIN_ID={domain})"
    return False, (f"unhealthy: no action server {name} within {timeout_s:g} s (ROS_DOMAIN_ID={domain}); "
                   "is the node running, in this namespace and domain?")


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry; returns the exit code."""
    p = argparse.ArgumentParser(prog="python3 -m spatialclaw_ros.ros.healthcheck", description=__doc__.split("\n")[0])
    p.add_argument("--namespace", default=os.environ.get("SPATIALCLAW_NAMESPACE", ""),
                   help="the node's namespace (default: $SPATIALCLAW_NAMESPACE or root)")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for discovery")
    args = p.parse_args(argv)
    ok, message = check(args.namespace, args.timeout)
    print(message, file=sys.stdout if ok else sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
