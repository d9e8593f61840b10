"""Read a memory: search keyframes by time, place and content; load them as Frames; robot motion from the trajectory.

Poses are stored in the frame they were recorded in (``fixed_frame``, e.g. odom). When the memory
holds a correction whose child is that frame (map -> odom), answers are re-expressed through the
latest one and say so (``frame`` and ``correction`` in every result).
"""
from __future__ import annotations

import json
import math
import os
import re
import struct
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from spatialclaw_ros.frames.types import Frame
from spatialclaw_ros.memory import codec
from spatialclaw_ros.memory.index import MemoryIndex, camera_yaw, unpack_T, yaw_of
from spatialclaw_ros.memory.segments import mcap_file, read_keyframe_records, read_messages
from spatialclaw_ros.memory.store import INDEX_NAME, SEGMENTS

NS = 1_000_000_000
MAX_RESULTS = 1000
COMMON_FRACTION = 0.02      # a tag on more keyframes than this is searched by walking keyframes in order


class MemoryNotFoundError(FileNotFoundError):
    """The directory is not a memory."""


class MemoryReader:
    """Searches and loads from a memory directory (safe while a MemoryStore records into it)."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.dir = Path(os.path.expanduser(str(directory)))
        if not (self.dir / INDEX_NAME).is_file():
            raise MemoryNotFoundError(f"{self.dir} is not a memory directory (no {INDEX_NAME}); record one with "
                                      "memory.enabled on the node, or pass the directory a MemoryStore wrote")
        self.index = MemoryIndex(self.dir / INDEX_NAME)
        self.db = self.index.db

    def close(self) -> None:
        """Close the index."""
        self.index.close()

    # ------------------------------------------------------------------ frames and corrections
    @property
    def fixed_frame(self) -> str:
        """The frame poses were recorded in."""
        return str(self.index.get_meta("fixed_frame") or "")

    def correction(self) -> dict[str, Any] | None:
        """The latest correction whose child is the recorded frame (e.g. map -> odom), or None."""
        row = self.db.execute("SELECT * FROM corrections WHERE child=? ORDER BY stamp_ns DESC LIMIT 1",
                              (self.fixed_frame,)).fetchone()
        if row is None:
            return None
        return {"parent": row["parent"], "child": row["child"], "stamp_ns": int(row["stamp_ns"]),
                "T": unpack_T(row["T"])}

    def _frame_and_T(self) -> tuple[str, np.ndarray, dict[str, Any] | None]:
        c = self.correction()
        if c is None:
            return self.fixed_frame, np.eye(4), None
        return c["parent"], c["T"], {"parent": c["parent"], "child": c["child"], "stamp_ns": c["stamp_ns"]}

    def latest_ns(self) -> int:
        """Stamp of the newest keyframe or trajectory pose (what "N minutes ago" counts from)."""
        a = self.db.execute("SELECT MAX(stamp_ns) FROM keyframes").fetchone()[0] or 0
        b = self.db.execute("SELECT MAX(stamp_ns) FROM trajectory").fetchone()[0] or 0
        return int(max(a, b))

    def objects(self) -> list[dict[str, Any]]:
        """The label legend (Metadata['objects'] form)."""
        return list(self.index.get_meta("objects") or [])

    def info(self) -> dict[str, Any]:
        """Counts, span, frames, the correction in use and the robot's latest position."""
        r = self.db.execute("SELECT COUNT(*), MIN(stamp_ns), MAX(stamp_ns) FROM keyframes").fetchone()
        frame, _T, corr = self._frame_and_T()
        here = self.robot_position()
        return {"keyframes": int(r[0] or 0), "first_ns": int(r[1] or 0), "last_ns": int(r[2] or 0),
                "span_s": round(((r[2] or 0) - (r[1] or 0)) / NS, 3), "latest_ns": self.latest_ns(),
                "recorded_frame": self.fixed_frame, "frame": frame, "correction": corr,
                "robot_position": here, "objects": [o.get("name", "") for o in self.objects()]}

    # ------------------------------------------------------------------ search
    def _ref(self, r: Any, frame: str, Tc: np.ndarray, corr: dict | None, latest: int) -> dict[str, Any]:
        T = unpack_T(r["T_camera"])
        pos = yaw = None
        if T is not None:
            Tw = Tc @ T
            pos = [round(float(v), 6) for v in Tw[:3, 3]]
            yaw = round(math.degrees(camera_yaw(Tw)), 3)
        return {"id": int(r["id"]), "stamp_ns": int(r["stamp_ns"]), "t_s": int(r["stamp_ns"]) / NS,
                "ago_s": round((latest - int(r["stamp_ns"])) / NS, 3), "position": pos, "yaw_deg": yaw,
                "frame": frame if T is not None else "", "correction": corr,
                "tags": [t for t in (r["tags"] or "").split("; ") if t], "segment": r["segment"]}

    def label_ids(self, name: str) -> list[int]:
        """Legend ids whose name equals (or, failing that, contains) the text, case-insensitive."""
        q = name.strip().lower()
        objs = self.objects()
        exact = [int(o["id"]) for o in objs if str(o.get("name", "")).lower() == q]
        if exact:
            return exact
        return [int(o["id"]) for o in objs if q and (q in str(o.get("name", "")).lower()
                                                     or q == str(o.get("class", "")).lower())]

    def search(self, *, start_ns: int | None = None, end_ns: int | None = None,
               near: list[float] | None = None, radius_m: float | None = None, tags: list[str] | None = None,
               text: str | None = None, limit: int = 32, order: str = "time") -> list[dict[str, Any]]:
        """Keyframe references matching every given criterion; order "time" (oldest first), "newest" or "distance"."""
        if order not in ("time", "newest", "distance"):
            raise ValueError(f"order must be 'time', 'newest' or 'distance', got {order!r}")
        if not 1 <= int(limit) <= MAX_RESULTS:
            raise ValueError(f"limit must be 1..{MAX_RESULTS}, got {limit}")
        frame, Tc, corr = self._frame_and_T()
        where, args = [], []
        if start_ns is not None:
            where.append("stamp_ns >= ?")
            args.append(int(start_ns))
        if end_ns is not None:
            where.append("stamp_ns <= ?")
            args.append(int(end_ns))
        p_rec = None
        if near is not None:
            p = np.asarray(near, float).ravel()
            if p.size not in (2, 3) or not np.isfinite(p).all():
                raise ValueError(f"near must be [x, y] or [x, y, z] in {frame!r}, got {near!r}")
            r_m = 2.0 if radius_m is None else float(radius_m)
            if r_m <= 0:
                raise ValueError(f"radius_m must be > 0, got {radius_m}")
            pw = np.array([p[0], p[1], p[2] if p.size == 3 else 0.0, 1.0])
            p_rec = (np.linalg.inv(Tc) @ pw)[:3]
            where.append("x BETWEEN ? AND ? AND y BETWEEN ? AND ?")
            args += [p_rec[0] - r_m, p_rec[0] + r_m, p_rec[1] - r_m, p_rec[1] + r_m]
        for tag in tags or []:
            ids = self.label_ids(str(tag))
            if ids:
                marks = ", ".join("?" * len(ids))
                n = self.db.execute(f"SELECT COUNT(*) FROM kf_labels WHERE label IN ({marks})", ids).fetchone()[0]
                total = self.db.execute("SELECT MAX(id) FROM keyframes").fetchone()[0] or 1
                if n > COMMON_FRACTION * total:     # common: walk keyframes in order, stop at the limit
                    where.append(f"EXISTS (SELECT 1 FROM kf_labels WHERE kf = keyframes.id AND label IN ({marks}))")
                else:                               # rare: the few matching ids first
                    where.append(f"id IN (SELECT kf FROM kf_labels WHERE label IN ({marks}))")
                args += ids
            else:
                where.append("id IN (SELECT rowid FROM kf_text WHERE kf_text MATCH ?)")
                args.append(_fts_query(str(tag)))
        if text:
            where.append("id IN (SELECT rowid FROM kf_text WHERE kf_text MATCH ?)")
            args.append(_fts_query(text))
        sql = "SELECT * FROM keyframes" + (" WHERE " + " AND ".join(where) if where else "")
        if p_rec is None:
            sql += " ORDER BY stamp_ns " + ("DESC" if order == "newest" else "ASC") + " LIMIT ?"
            rows = self.db.execute(sql, (*args, int(limit))).fetchall()
        else:
            rows = self.db.execute(sql, args).fetchall()
            r_m = 2.0 if radius_m is None else float(radius_m)
            d = {int(r["id"]): math.hypot(r["x"] - p_rec[0], r["y"] - p_rec[1]) for r in rows}
            rows = [r for r in rows if d[int(r["id"])] <= r_m]
            key = {"time": lambda r: r["stamp_ns"], "newest": lambda r: -r["stamp_ns"],
                   "distance": lambda r: d[int(r["id"])]}[order]
            rows = sorted(rows, key=key)[: int(limit)]
        latest = self.latest_ns()
        refs = [self._ref(r, frame, Tc, corr, latest) for r in rows]
        if p_rec is not None:
            for ref, r in zip(refs, rows):
                ref["distance_m"] = round(d[int(r["id"])], 4)
        return refs

    # ------------------------------------------------------------------ load
    def load(self, ids: list[int]) -> list[Frame]:
        """The keyframes as Frames (poses in the answer frame), in the order of ``ids``."""
        if not ids:
            return []
        ids = [int(i) for i in ids]
        frame, Tc, _corr = self._frame_and_T()
        rows = {int(r["id"]): r for r in self.db.execute(
            f"SELECT * FROM keyframes WHERE id IN ({', '.join('?' * len(ids))})", ids)}
        missing = [i for i in ids if i not in rows]
        if missing:
            raise KeyError(f"no keyframe with id {missing} in this memory (thinned away or never stored); "
                           "search again")
        parts: dict[int, dict[str, Any]] = defaultdict(dict)
        topics = [codec.TOPIC_COLOR, codec.TOPIC_DEPTH, codec.TOPIC_LABELS, codec.TOPIC_INFO]
        by_seg: dict[str, set[int]] = defaultdict(set)
        segs = sorted({str(r["segment"]) for r in rows.values()})
        channels = {r["name"]: {int(k): tuple(v) for k, v in json.loads(r["channels"] or "{}").items()}
                    for r in self.db.execute(f"SELECT name, channels FROM segments WHERE name IN "
                                             f"({', '.join('?' * len(segs))})", segs)}
        ts = None
        for r in rows.values():
            ch = channels.get(r["segment"])
            if r["chunk_offset"] is not None and ch:
                # the keyframe's own bytes, found by the index: no bag reader, no scan
                try:
                    recs = read_keyframe_records(mcap_file(self.dir / SEGMENTS / r["segment"]), int(r["chunk_offset"]),
                                                 int(r["chunk_len"]), ch, int(r["stamp_ns"]))
                except (OSError, ValueError, struct.error):    # rewritten meanwhile: read it through the bag
                    recs = {}
                if codec.TOPIC_COLOR in recs:
                    ts = ts or codec.shared_typestore()
                    for topic in topics:
                        if topic in recs:
                            mt, raw = recs[topic]
                            parts[int(r["stamp_ns"])][topic] = ts.deserialize_cdr(raw, mt)
                    continue
            by_seg[r["segment"]].add(int(r["stamp_ns"]))
        for seg, stamps in by_seg.items():
            for topic, _mt, stamp, msg in read_messages(self.dir / SEGMENTS / seg, topics, stamps):
                parts[stamp][topic] = msg
        from spatialclaw_ros.frames.images import (
            camera_model_from_info, image_to_depth_m, image_to_labels, image_to_rgb)

        for i in ids:
            r = rows[i]
            p = parts.get(int(r["stamp_ns"]), {})
            if codec.TOPIC_COLOR not in p or codec.TOPIC_INFO not in p:
                raise KeyError(f"keyframe {i} is in the index but not in segment {r['segment']}; "
                               "the memory may be damaged (reopen it with a MemoryStore to repair)")

        def build(i: int) -> Frame:
            r = rows[i]
            p = parts[int(r["stamp_ns"])]
            T = unpack_T(r["T_camera"])
            Tb = unpack_T(r["T_base"])
            return Frame(
                stamp_ns=int(r["stamp_ns"]), rgb=image_to_rgb(p[codec.TOPIC_COLOR]),
                camera=camera_model_from_info(p[codec.TOPIC_INFO]),
                depth=image_to_depth_m(p[codec.TOPIC_DEPTH]) if codec.TOPIC_DEPTH in p else None,
                labels=image_to_labels(p[codec.TOPIC_LABELS]) if codec.TOPIC_LABELS in p else None,
                fixed_frame=frame if T is not None else "", T_fixed_camera=None if T is None else Tc @ T,
                source=f"memory:{self.dir}#{i}", T_fixed_base=None if Tb is None else Tc @ Tb)

        if len(ids) < 4:
            return [build(i) for i in ids]
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as ex:   # cv2 decodes without the GIL
            return list(ex.map(build, ids))

    # ------------------------------------------------------------------ motion
    def trajectory(self, start_ns: int | None = None, end_ns: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(stamps ns (N,), poses (N, 4, 4)) of the robot base in the answer frame."""
        _f, Tc, _c = self._frame_and_T()
        rows = self.db.execute("SELECT stamp_ns, T FROM trajectory WHERE stamp_ns BETWEEN ? AND ? ORDER BY stamp_ns",
                               (int(start_ns if start_ns is not None else 0),
                                int(end_ns if end_ns is not None else 2**62))).fetchall()
        st = np.array([int(r[0]) for r in rows], dtype=np.int64)
        Ts = np.array([Tc @ unpack_T(r[1]) for r in rows]).reshape(-1, 4, 4)
        return st, Ts

    def pose_at(self, stamp_ns: int) -> dict[str, Any]:
        """Robot base position and heading at a stamp (linear interpolation between stored poses)."""
        frame, Tc, corr = self._frame_and_T()
        before = self.db.execute("SELECT stamp_ns, T FROM trajectory WHERE stamp_ns <= ? ORDER BY stamp_ns DESC "
                                 "LIMIT 1", (int(stamp_ns),)).fetchone()
        after = self.db.execute("SELECT stamp_ns, T FROM trajectory WHERE stamp_ns >= ? ORDER BY stamp_ns LIMIT 1",
                                (int(stamp_ns),)).fetchone()
        if before is None and after is None:
            raise ValueError("this memory holds no robot trajectory (no base pose was recorded)")
        if before is None or after is None:
            raise ValueError(f"stamp {stamp_ns / NS:.3f} s is outside the recorded trajectory "
                             f"({self._traj_span()})")
        T0, T1 = Tc @ unpack_T(before[1]), Tc @ unpack_T(after[1])
        s0, s1 = int(before[0]), int(after[0])
        a = 0.0 if s1 == s0 else (int(stamp_ns) - s0) / (s1 - s0)
        p = (1 - a) * T0[:3, 3] + a * T1[:3, 3]
        y0, y1 = yaw_of(T0), yaw_of(T1)
        yaw = y0 + a * math.remainder(y1 - y0, 2 * math.pi)
        return {"stamp_ns": int(stamp_ns), "position": [float(v) for v in p],
                "yaw_deg": math.degrees(math.remainder(yaw, 2 * math.pi)), "frame": frame, "correction": corr,
                "gap_s": (s1 - s0) / NS}

    def _traj_span(self) -> str:
        r = self.db.execute("SELECT MIN(stamp_ns), MAX(stamp_ns) FROM trajectory").fetchone()
        return f"{(r[0] or 0) / NS:.3f} .. {(r[1] or 0) / NS:.3f} s"

    def motion(self, start_ns: int, end_ns: int) -> dict[str, Any]:
        """Path length, total turn, net displacement of the robot between two stamps."""
        if end_ns < start_ns:
            raise ValueError("end is before start")
        frame, _Tc, corr = self._frame_and_T()
        a, b = self.pose_at(start_ns), self.pose_at(end_ns)
        st, Ts = self.trajectory(start_ns, end_ns)
        pts = [np.array(a["position"])] + [T[:3, 3] for T in Ts] + [np.array(b["position"])]
        yaws = [math.radians(a["yaw_deg"])] + [yaw_of(T) for T in Ts] + [math.radians(b["yaw_deg"])]
        length = float(sum(np.linalg.norm(pts[i + 1] - pts[i]) for i in range(len(pts) - 1)))
        turn = float(sum(abs(math.remainder(yaws[i + 1] - yaws[i], 2 * math.pi)) for i in range(len(yaws) - 1)))
        return {"start_ns": int(start_ns), "end_ns": int(end_ns), "path_length_m": length,
                "total_turn_deg": math.degrees(turn),
                "net_displacement_m": float(np.linalg.norm(pts[-1] - pts[0])), "start": a, "end": b,
                "samples": int(len(st)), "frame": frame, "correction": corr}

    def robot_position(self) -> list[float] | None:
        """The latest recorded robot (or, without a trajectory, camera) position in the answer frame."""
        _f, Tc, _c = self._frame_and_T()
        r = self.db.execute("SELECT T FROM trajectory ORDER BY stamp_ns DESC LIMIT 1").fetchone()
        if r is None:
            r = self.db.execute("SELECT T_camera AS T FROM keyframes WHERE T_camera IS NOT NULL "
                                "ORDER BY stamp_ns DESC LIMIT 1").fetchone()
        if r is None:
            return None
        return [float(v) for v in (Tc @ unpack_T(r[0]))[:3, 3]]


def _fts_query(text: str) -> str:
    """Words of free text as an FTS5 query (every word, prefix match), safe against FTS syntax."""
    words = re.findall(r"\w+", text.lower())
    if not words:
        raise ValueError(f"no searchable words in {text!r}")
    return " ".join(f'"{w}"*' for w in words)
