"""tools.Time: keyframe stamps, the keyframe nearest a time, and durations."""
from __future__ import annotations

import numpy as np

from spatialclaw_ros.tools.base import Tool
from spatialclaw_ros.tools.context import KernelContext
from spatialclaw_ros.tools.reconstruct import check_frame_index


class TimeTool(Tool):
    """Keyframe times. Stamps are ROS time in integer nanoseconds; "relative" seconds count from keyframe 0.

    Keyframes are sorted by time: index 0 is the earliest, len(InputImages) - 1 the latest.
    """

    doc_name = "Time"

    def __init__(self, ctx: KernelContext) -> None:
        self._ctx = ctx

    def stamps_ns(self) -> list[int]:
        """Stamp of every keyframe in nanoseconds (ROS time).

        Example: `tools.Time.stamps_ns()[0]`
        """
        return [int(s) for s in self._ctx.stamps_ns]

    def stamp_s(self, frame_index: int) -> float:
        """Absolute stamp of a keyframe in seconds.

        Example: `t = tools.Time.stamp_s(1)`
        """
        return int(self._ctx.stamps_ns[check_frame_index(self._ctx, frame_index)]) * 1e-9

    def relative_s(self, frame_index: int) -> float:
        """Seconds from keyframe 0 to this keyframe.

        Example: `tools.Time.relative_s(len(InputImages) - 1)  # length of the window`
        """
        i = check_frame_index(self._ctx, frame_index)
        return (int(self._ctx.stamps_ns[i]) - int(self._ctx.stamps_ns[0])) * 1e-9

    def duration_s(self, from_index: int, to_index: int) -> float:
        """Seconds between two keyframes (negative if to_index is earlier).

        Example: `dt = tools.Time.duration_s(0, len(InputImages) - 1)`
        """
        i = check_frame_index(self._ctx, from_index)
        j = check_frame_index(self._ctx, to_index)
        return (int(self._ctx.stamps_ns[j]) - int(self._ctx.stamps_ns[i])) * 1e-9

    def nearest_frame(self, t_s: float, relative: bool = True) -> int:
        """Index of the keyframe closest to time t_s (seconds from keyframe 0, or absolute seconds with relative=False).

        Example: `i = tools.Time.nearest_frame(2.5)  # keyframe nearest 2.5 s into the window`
        """
        st = np.asarray(self._ctx.stamps_ns, dtype=np.int64)
        if st.size == 0:
            raise ValueError("this query has no keyframes")
        target = int(round(float(t_s) * 1e9)) + (int(st[0]) if relative else 0)
        return int(np.argmin(np.abs(st - target)))

    def frames_between(self, t0_s: float, t1_s: float, relative: bool = True) -> list[int]:
        """Indices of keyframes with t0_s <= t <= t1_s (seconds; relative to keyframe 0 unless relative=False).

        Example: `idx = tools.Time.frames_between(0.0, 1.0)`
        """
        st = np.asarray(self._ctx.stamps_ns, dtype=np.int64)
        off = int(st[0]) if (relative and st.size) else 0
        lo, hi = int(round(float(t0_s) * 1e9)) + off, int(round(float(t1_s) * 1e9)) + off
        if hi < lo:
            raise ValueError(f"t1_s ({t1_s}) is before t0_s ({t0_s})")
        return [int(k) for k in np.flatnonzero((st >= lo) & (st <= hi))]

    def table(self) -> str:
        """A text table: index, relative seconds, absolute stamp (ns) of every keyframe.

        Example: `print(tools.Time.table())`
        """
        st = self.stamps_ns()
        if not st:
            return "(no keyframes)"
        lines = ["index  t_rel_s      stamp_ns"]
        lines += [f"{k:5d}  {(s - st[0]) * 1e-9:7.3f}  {s}" for k, s in enumerate(st)]
        return "\n".join(lines)
