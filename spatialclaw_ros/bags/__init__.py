"""Offline input: rosbag2 recordings (sqlite3, MCAP) read with `rosbags` into Frames."""
