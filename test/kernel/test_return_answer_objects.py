"""ReturnAnswer accepts the tools' array-like results and keeps their frame and stamp."""
from __future__ import annotations

import numpy as np

from spatialclaw_ros.kernel.runtime import to_jsonable
from spatialclaw_ros.tools.results import Point


def test_array_like_point_becomes_a_list() -> None:
    p = Point(np.array([1.0, 2.0, 3.0]), frame="odom", stamp_ns=7)
    assert to_jsonable(p) == [1.0, 2.0, 3.0]


def test_object_without_array_protocol_is_refused_with_a_hint() -> None:
    try:
        to_jsonable(object())
    except TypeError as exc:
        assert "give a number" in str(exc)
    else:
        raise AssertionError("expected TypeError")
