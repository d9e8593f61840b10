"""The code-as-action agent loop (ROS-free)."""
