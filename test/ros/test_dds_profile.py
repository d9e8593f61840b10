"""The shipped one-host Fast DDS profile and when the node uses it (issue 13, defect 5)."""
from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from spatialclaw_ros.ros.dds import DDS_PROFILE, use_default_dds_profile

NS = "{http://www.eprosima.com}"


def test_profile_is_shm_first_with_udp_fallback_and_a_short_lease() -> None:
    root = ET.parse(DDS_PROFILE).getroot()
    kinds = [t.findtext(f"{NS}type") for t in root.iter(f"{NS}transport_descriptor")]
    assert kinds == ["SHM", "UDPv4"]
    part = root.find(f"{NS}participant")
    assert part is not None and part.get("is_default_profile") == "true"
    assert part.findtext(f".//{NS}useBuiltinTransports") == "false"
    assert part.findtext(f".//{NS}leaseDuration/{NS}sec") == "3"


def test_used_only_when_nothing_else_was_chosen(monkeypatch: pytest.MonkeyPatch) -> None:
    for k in ("FASTDDS_DEFAULT_PROFILES_FILE", "FASTRTPS_DEFAULT_PROFILES_FILE",
              "RMW_IMPLEMENTATION", "SPATIALCLAW_DDS_PROFILE"):
        monkeypatch.delenv(k, raising=False)
    assert "SPATIALCLAW_DDS_PROFILE=0" in use_default_dds_profile()
    import os

    assert os.environ["FASTDDS_DEFAULT_PROFILES_FILE"] == str(DDS_PROFILE)
    assert os.environ["FASTRTPS_DEFAULT_PROFILES_FILE"] == str(DDS_PROFILE)   # Fast DDS 2.x (Jazzy)
    monkeypatch.setenv("FASTDDS_DEFAULT_PROFILES_FILE", "/mine.xml")      # the user's own
    assert use_default_dds_profile() == "" and os.environ["FASTDDS_DEFAULT_PROFILES_FILE"] == "/mine.xml"
    monkeypatch.delenv("FASTDDS_DEFAULT_PROFILES_FILE")
    monkeypatch.setenv("SPATIALCLAW_DDS_PROFILE", "0")                     # opted out
    assert use_default_dds_profile() == "" and "FASTDDS_DEFAULT_PROFILES_FILE" not in os.environ
    monkeypatch.delenv("SPATIALCLAW_DDS_PROFILE")
    monkeypatch.setenv("RMW_IMPLEMENTATION", "rmw_cyclonedds_cpp")        # another RMW
    assert use_default_dds_profile() == "" and "FASTDDS_DEFAULT_PROFILES_FILE" not in os.environ
