"""The one-host Fast DDS profile the node, the player and `spatialclaw ask` use by default."""
from __future__ import annotations

import os
from pathlib import Path

DDS_PROFILE = Path(__file__).resolve().parents[1] / "data" / "fastdds_one_host.xml"


PROFILE_VARS = ("FASTDDS_DEFAULT_PROFILES_FILE", "FASTRTPS_DEFAULT_PROFILES_FILE")


def set_profile_env(env: "os._Environ[str] | dict[str, str]", path: str) -> None:
    """Name one Fast DDS profile file for every Fast DDS: 3.x (Kilted) reads
    FASTDDS_DEFAULT_PROFILES_FILE, 2.x (Jazzy, Humble) only FASTRTPS_DEFAULT_PROFILES_FILE."""
    for var in PROFILE_VARS:
        env[var] = path


def use_default_dds_profile() -> str:
    """Point Fast DDS at the shipped one-host profile (shared memory + UDP loopback, larger
    buffers) unless the user chose a profile, another RMW, or `SPATIALCLAW_DDS_PROFILE=0`.
    Must run before rclpy.init(). Returns a line for the log ('' when nothing was changed)."""
    if os.environ.get("SPATIALCLAW_DDS_PROFILE", "1").lower() in ("0", "off", "no", "false"):
        return ""
    rmw = os.environ.get("RMW_IMPLEMENTATION", "rmw_fastrtps_cpp")
    if rmw not in ("rmw_fastrtps_cpp", "rmw_fastrtps_dynamic_cpp"):
        return ""
    if os.environ.get("FASTDDS_DEFAULT_PROFILES_FILE") or os.environ.get(
            "FASTRTPS_DEFAULT_PROFILES_FILE") or not DDS_PROFILE.exists():
        return ""
    set_profile_env(os.environ, str(DDS_PROFILE))
    return (f"Fast DDS profile {DDS_PROFILE.name} (shared memory + UDP, one host); "
            "opt out with SPATIALCLAW_DDS_PROFILE=0 or your own FASTDDS_DEFAULT_PROFILES_FILE")
