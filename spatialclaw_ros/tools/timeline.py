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

    def recording_frame(self, k: "int | str") -> int:
        """Keyframe index of recording frame k ("image k" of the recording: 0 = first, -1 or "last" = last).

        Uses Metadata['recording_index'] / ['recording_count'] (bags; without them, e.g. live frames,
        the keyframes are the recording); a recording frame that is not a keyframe raises a
        LookupError naming the nearest keyframes (ask with --frames to get it).
        Example: `i = tools.Time.recording_frame("last"); seg = tools.SAM3.segment(i, text="mug")`
        """
        md = self._ctx.metadata if isinstance(self._ctx.metadata, dict) else {}
        rec = [int(x) for x in (md.get("recording_index") or [])]
        if len(rec) != len(self._ctx.stamps_ns) or any(x < 0 for x in rec):
            rec = list(range(len(self._ctx.stamps_ns)))      # no recording numbers: keyframes
            total = len(rec)
        else:
            total = int(md.get("recording_count") or (max(rec) + 1))
        if isinstance(k, str):
            if k.strip().lower() not in ("first", "last"):
                raise ValueError(f"k must be an int, 'first' or 'last', got {k!r}")
            k = 0 if k.strip().lower() == "first" else total - 1
        k = int(k)
        if k < 0:
            k += total
        if not 0 <= k < total:
            raise IndexError(f"recording frame {k} does not exist: the recording has {total} frames "
                             f"(0..{total - 1})")
        if k in rec:
            return rec.index(k)
        near = sorted(range(len(rec)), key=lambda i: abs(rec[i] - k))[:2]
        raise LookupError(f"recording frame {k} is not among this query's keyframes; nearest: "
                          + ", ".join(f"keyframe {i} = recording frame {rec[i]}" for i in near))

    def table(self) -> str:
        """A text table: index, relative seconds, absolute stamp (ns) of every keyframe.

        Example: `print(tools.Time.table())`
        """
        st = self.stamps_ns()
        if not st:
            return "(no keyframes)"
        md = self._ctx.metadata if isinstance(self._ctx.metadata, dict) else {}
        rec = list(md.get("recording_index") or [])
        if len(rec) == len(st) and all(int(x) >= 0 for x in rec):
            lines = ["index  t_rel_s      stamp_ns  recording_frame"]
            lines += [f"{k:5d}  {(s - st[0]) * 1e-9:7.3f}  {s}  {int(rec[k])}"
                      for k, s in enumerate(st)]
            return "\n".join(lines)
        lines = ["index  t_rel_s      stamp_ns"]
        lines += [f"{k:5d}  {(s - st[0]) * 1e-9:7.3f}  {s}" for k, s in enumerate(st)]
        return "\n".join(lines)
