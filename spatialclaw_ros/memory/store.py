"""MemoryStore: record keyframes into rosbag2 MCAP segments + an SQLite index, within a disk budget.

RAM does not grow with run time: one segment writer (flushed per keyframe), the novelty gate's
per-place table and the SQLite connection. Reopening a directory continues it; a segment cut by a
crash is repaired (or skipped when nothing in it is readable) and the index follows.
"""
from __future__ import annotations

import logging
import math
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from spatialclaw_ros.config import MemoryConfig
from spatialclaw_ros.frames.types import Frame
from spatialclaw_ros.memory import codec
from spatialclaw_ros.memory.index import MemoryIndex, camera_yaw, pack_T, set_placement, yaw_of
from spatialclaw_ros.memory.keyframes import GateConfig, NoveltyGate
from spatialclaw_ros.memory.segments import SegmentWriter, repair_segment, segment_bytes

log = logging.getLogger(__name__)
INDEX_NAME = "index.sqlite"
SEGMENTS = "segments"
MIN_LABEL_PIXELS = 20
TRAJ_MIN_M, TRAJ_MIN_DEG, TRAJ_MAX_S = 0.02, 2.0, 10.0   # a stationary robot: one pose per 10 s


@dataclass
class MemoryStats:
    """What /diagnostics and `tools.Memory.info()` report."""

    keyframes: int
    segments: int
    first_ns: int
    last_ns: int
    disk_bytes: int
    max_disk_bytes: int
    fixed_frame: str
    thinned: int
    dropped: int

    @property
    def span_s(self) -> float:
        """Seconds between the first and the last keyframe."""
        return max(0, self.last_ns - self.first_ns) * 1e-9

    def to_dict(self) -> dict[str, Any]:
        """Plain values (JSON)."""
        return {"keyframes": self.keyframes, "segments": self.segments, "first_ns": self.first_ns,
                "last_ns": self.last_ns, "span_s": round(self.span_s, 3),
                "disk_mb": round(self.disk_bytes / 2**20, 3), "max_disk_mb": round(self.max_disk_bytes / 2**20, 3),
                "fixed_frame": self.fixed_frame, "thinned": self.thinned, "dropped": self.dropped}


class MemoryStore:
    """A memory directory opened for recording (one writer at a time)."""

    def __init__(self, directory: str | os.PathLike[str], cfg: MemoryConfig | None = None, *,
                 fixed_frame: str = "odom", objects: list[dict[str, Any]] | None = None,
                 base_frame: str = "base_link") -> None:
        self.cfg = cfg or MemoryConfig()
        self.base_frame = base_frame or "base_link"
        _check_config(self.cfg)
        self.dir = Path(os.path.expanduser(str(directory)))
        self.seg_root = self.dir / SEGMENTS
        self.seg_root.mkdir(parents=True, exist_ok=True)
        self._lock_fd = _lock_writer(self.dir)
        self.index = MemoryIndex(self.dir / INDEX_NAME)
        self.fixed_frame = self.index.get_meta("fixed_frame") or fixed_frame
        self.index.set_meta("fixed_frame", self.fixed_frame)
        if objects is not None:
            self.set_objects(objects)
        self.gate = NoveltyGate(GateConfig(self.cfg.min_interval_s, self.cfg.min_translation_m,
                                           self.cfg.min_rotation_deg, self.cfg.place_cell_m, self.cfg.revisit_s))
        self._writer: SegmentWriter | None = None
        self._seg_name = ""
        self._seg_start_wall = 0.0
        self._seg_first_ns = 0
        self._last_traj: tuple[int, np.ndarray] | None = None
        self.recovered: list[str] = []
        self._recover()
        self._seed()
        self.index.commit()

    # ------------------------------------------------------------------ life cycle
    def _recover(self) -> None:
        """Finish what a crash left: half-swapped rewrites, open segments, segments the index lost."""
        for p in sorted(self.seg_root.iterdir()):
            if p.name.endswith(".old"):
                final = p.with_name(p.name[:-4])
                if final.exists():
                    shutil.rmtree(p, ignore_errors=True)
                else:
                    os.replace(p, final)
            elif p.name.endswith(".tmp"):
                shutil.rmtree(p, ignore_errors=True)
        known = {r["name"]: r for r in self.index.db.execute("SELECT * FROM segments")}
        for p in sorted(self.seg_root.iterdir()):
            if p.is_dir() and p.name not in known:
                shutil.rmtree(p, ignore_errors=True)      # created, never indexed: nothing refers to it
        for name, row in known.items():
            seg = self.seg_root / name
            if row["status"] == "open" or not seg.exists():
                placed: dict[int, tuple[int, int]] = {}
                channels: dict[int, tuple[str, str]] = {}
                stamps = repair_segment(seg, placed, channels) if seg.exists() else set()
                rows = self.index.db.execute("SELECT id, stamp_ns FROM keyframes WHERE segment=?", (name,)).fetchall()
                lost = [r["id"] for r in rows if r["stamp_ns"] not in stamps]
                self.index.delete_keyframes(lost)
                if seg.exists():
                    self.index.db.execute("UPDATE segments SET status='closed', bytes=?, n=? WHERE name=?",
                                          (segment_bytes(seg), len(rows) - len(lost), name))
                    set_placement(self.index.db, name, placed, channels)
                else:
                    self.index.db.execute("DELETE FROM segments WHERE name=?", (name,))
                self.recovered.append(f"segment {name}: kept {len(rows) - len(lost)} keyframes, lost {len(lost)}")
                log.warning("memory: recovered %s", self.recovered[-1])

    def _seed(self) -> None:
        db = self.index.db
        for r in db.execute("SELECT place, MAX(stamp_ns) AS s FROM keyframes GROUP BY place"):
            self.gate.seed_place(r["place"] or "", int(r["s"]))
        last = db.execute("SELECT id, stamp_ns, T_camera, place FROM keyframes ORDER BY stamp_ns DESC LIMIT 1").fetchone()
        if last is not None:
            from spatialclaw_ros.memory.index import unpack_T

            labels = frozenset(int(r[0]) for r in db.execute("SELECT label FROM kf_labels WHERE kf=?", (last["id"],)))
            self.gate.seed(int(last["stamp_ns"]), unpack_T(last["T_camera"]), last["place"] or "", labels)

    def close(self) -> None:
        """Close the open segment (a complete bag) and the index."""
        if self._lock_fd < 0:
            return
        self._close_segment()
        self.enforce_budget()
        self.index.commit()
        self.index.close()
        os.close(self._lock_fd)                 # releases the writer lock
        self._lock_fd = -1

    def __enter__(self) -> "MemoryStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def set_objects(self, objects: list[dict[str, Any]]) -> None:
        """The label legend (Metadata['objects'] form: id, name, class, color); names become tags."""
        self.index.set_meta("objects", [dict(o) for o in objects])
        self._legend = {int(o["id"]): str(o.get("name", "")) for o in objects}

    @property
    def legend(self) -> dict[int, str]:
        """Label id -> object name."""
        if not hasattr(self, "_legend"):
            self._legend = {int(o["id"]): str(o.get("name", "")) for o in (self.index.get_meta("objects") or [])}
        return self._legend

    # ------------------------------------------------------------------ segments
    def _open_segment(self, stamp_ns: int) -> None:
        n = (self.index.db.execute("SELECT COUNT(*) FROM segments").fetchone()[0] or 0) + 1
        name = f"seg_{n:06d}"
        while (self.seg_root / name).exists() or self.index.db.execute(
                "SELECT 1 FROM segments WHERE name=?", (name,)).fetchone():
            n += 1
            name = f"seg_{n:06d}"
        self.index.db.execute("INSERT INTO segments(name, status, start_ns, end_ns) VALUES (?, 'open', ?, ?)",
                              (name, stamp_ns, stamp_ns))
        self.index.commit()
        self._writer = SegmentWriter(self.seg_root / name)
        self._seg_name = name
        self._seg_start_wall = time.monotonic()
        self._seg_first_ns = stamp_ns

    def _close_segment(self) -> None:
        if self._writer is None:
            return
        w, name = self._writer, self._seg_name
        self._writer, self._seg_name = None, ""
        w.close()
        self.index.db.execute("UPDATE segments SET status='closed', bytes=? WHERE name=?",
                              (segment_bytes(w.path), name))
        self.index.commit()

    def _segment_full(self, stamp_ns: int) -> bool:
        w = self._writer
        if w is None:
            return False
        return (w.size_bytes() >= self.cfg.segment_max_mb * 2**20
                or (stamp_ns - self._seg_first_ns) * 1e-9 >= self.cfg.segment_max_s)

    # ------------------------------------------------------------------ recording
    def visible_labels(self, labels: np.ndarray | None) -> dict[int, int]:
        """Label id -> pixel count for the instances visible enough to tag."""
        if labels is None:
            return {}
        ids, counts = np.unique(labels, return_counts=True)
        return {int(i): int(c) for i, c in zip(ids, counts) if i != 0 and c >= MIN_LABEL_PIXELS}

    def add_frame(self, frame: Frame, *, tags: list[str] | None = None, force: bool = False) -> int | None:
        """Offer a frame; returns the new keyframe id, or None when the gate found it not novel."""
        T = None if frame.T_fixed_camera is None else np.asarray(frame.T_fixed_camera, float)
        if frame.fixed_frame and frame.fixed_frame != self.fixed_frame and T is not None:
            raise ValueError(f"frame pose is in {frame.fixed_frame!r} but this memory records in "
                             f"{self.fixed_frame!r}; transform it first or use another memory.dir")
        vis = self.visible_labels(frame.labels)
        labels = frozenset(vis) if frame.labels is not None else None
        reason = "forced" if force else self.gate.decide(int(frame.stamp_ns), T, labels)
        if not reason:
            return None
        stamp = int(frame.stamp_ns)
        if self._writer is not None and self._segment_full(stamp):
            self._close_segment()
        if self._writer is None:
            self._open_segment(stamp)
        assert self._writer is not None
        names = [self.legend.get(i, f"object {i}") for i in sorted(vis)]
        all_tags = [t for t in (list(tags or []) + names) if t]
        base = None if frame.T_fixed_base is None else np.asarray(frame.T_fixed_base, float)
        base_frame = self.base_frame if base is not None else ""
        kid = (self.index.db.execute("SELECT MAX(id) FROM keyframes").fetchone()[0] or 0) + 1
        enc = codec.encode_keyframe(
            self._writer.ts, kf_id=kid, stamp_ns=stamp, rgb=frame.rgb, depth=frame.depth, labels=frame.labels,
            K=np.asarray(frame.camera.K, float), D=np.asarray(frame.camera.D, float),
            distortion_model=frame.camera.distortion_model, optical_frame=frame.camera.frame_id,
            fixed_frame=self.fixed_frame, T_fixed_camera=T, base_frame=base_frame, T_fixed_base=base,
            tags=all_tags, jpeg_quality=self.cfg.jpeg_quality)
        n_channels = len(self._writer.channels)
        for topic, msgtype, msg in enc.messages:
            self._writer.write(topic, msgtype, stamp, msg)
        offset, length = self._writer.flush()
        if len(self._writer.channels) != n_channels:
            set_placement(self.index.db, self._seg_name, {}, self._writer.channels)
        place = self.gate.accept(stamp, T, labels)
        pos = (None, None, None) if T is None else tuple(float(v) for v in T[:3, 3])
        row = {"id": kid, "stamp_ns": stamp, "segment": self._seg_name, "x": pos[0], "y": pos[1], "z": pos[2],
               "yaw": None if T is None else camera_yaw(T), "frame": self.fixed_frame if T is not None else "",
               "camera": frame.camera.frame_id, "place": place, "tags": "; ".join(all_tags), "caption": "",
               "T_camera": pack_T(T), "T_base": pack_T(base), "base_frame": base_frame, "bytes": enc.nbytes,
               "has_depth": int(frame.depth is not None), "has_labels": int(frame.labels is not None),
               "chunk_offset": offset if offset >= 0 else None, "chunk_len": length if offset >= 0 else None}
        self.index.add_keyframe(row, vis)
        self.index.db.execute("UPDATE segments SET end_ns=?, n=n+1, bytes=? WHERE name=?",
                              (stamp, self._writer.size_bytes(), self._seg_name))
        if base is not None:
            self.add_pose(stamp, base, commit=False)
        self.index.commit()
        if self.disk_bytes() > self.cfg.max_disk_mb * 2**20:
            self.enforce_budget()
        return kid

    def add_pose(self, stamp_ns: int, T_fixed_base: np.ndarray, *, commit: bool = True) -> bool:
        """Record the robot base pose (trajectory, decimated by motion and time); True when stored."""
        T = np.asarray(T_fixed_base, float)
        if self._last_traj is not None:
            s0, T0 = self._last_traj
            if stamp_ns <= s0:
                return False
            moved = np.linalg.norm(T[:3, 3] - T0[:3, 3])
            turned = abs(math.degrees(math.remainder(yaw_of(T) - yaw_of(T0), 2 * math.pi)))
            if moved < TRAJ_MIN_M and turned < TRAJ_MIN_DEG and (stamp_ns - s0) * 1e-9 < TRAJ_MAX_S:
                return False
        self._last_traj = (int(stamp_ns), T)
        self.index.db.execute("INSERT OR REPLACE INTO trajectory(stamp_ns, frame, x, y, z, yaw, T) "
                              "VALUES (?, ?, ?, ?, ?, ?, ?)",
                              (int(stamp_ns), self.fixed_frame, float(T[0, 3]), float(T[1, 3]), float(T[2, 3]),
                               yaw_of(T), pack_T(T)))
        if commit:
            self.index.commit()
        return True

    def add_correction(self, stamp_ns: int, parent: str, child: str, T_parent_child: np.ndarray) -> None:
        """Record a map correction (e.g. map -> odom after a loop closure)."""
        self.index.db.execute("INSERT OR REPLACE INTO corrections(stamp_ns, parent, child, T) VALUES (?, ?, ?, ?)",
                              (int(stamp_ns), parent, child, pack_T(np.asarray(T_parent_child, float))))
        self.index.commit()

    # ------------------------------------------------------------------ budget
    def disk_bytes(self) -> int:
        """Bytes on disk: every segment (as last measured) plus the index files."""
        total = int(self.index.db.execute("SELECT COALESCE(SUM(bytes), 0) FROM segments").fetchone()[0])
        for suffix in ("", "-wal", "-shm"):
            try:
                total += (self.dir / (INDEX_NAME + suffix)).stat().st_size
            except OSError:
                pass
        return total

    def enforce_budget(self) -> list[str]:
        """Thin / drop old keyframes until the directory fits memory.max_disk_mb; returns what was done."""
        from spatialclaw_ros.memory.retention import enforce

        return enforce(self)

    def stats(self) -> MemoryStats:
        """Keyframes, span, disk used."""
        db = self.index.db
        r = db.execute("SELECT COUNT(*), MIN(stamp_ns), MAX(stamp_ns) FROM keyframes").fetchone()
        nseg = db.execute("SELECT COUNT(*) FROM segments").fetchone()[0]
        return MemoryStats(keyframes=int(r[0] or 0), segments=int(nseg or 0), first_ns=int(r[1] or 0),
                           last_ns=int(r[2] or 0), disk_bytes=self.disk_bytes(),
                           max_disk_bytes=int(self.cfg.max_disk_mb * 2**20), fixed_frame=self.fixed_frame,
                           thinned=int(self.index.get_meta("thinned", 0)), dropped=int(self.index.get_meta("dropped", 0)))


def _check_config(c: MemoryConfig) -> None:
    """Refuse settings that cannot work, saying which key to fix."""
    bad = [f"memory.{k} must be > 0, got {getattr(c, k)}" for k in
           ("max_disk_mb", "segment_max_mb", "segment_max_s", "place_cell_m") if not getattr(c, k) > 0]
    bad += [f"memory.{k} must be >= 0, got {getattr(c, k)}" for k in
            ("min_interval_s", "min_translation_m", "min_rotation_deg", "revisit_s", "keep_recent_s",
             "captions_per_hour")
            if not getattr(c, k) >= 0]
    if not 1 <= c.jpeg_quality <= 100:
        bad.append(f"memory.jpeg_quality must be 1..100, got {c.jpeg_quality}")
    if bad:
        raise ValueError("; ".join(bad))


def _lock_writer(directory: Path) -> int:
    """Take the directory's writer lock (released on close or when the process dies, kill -9 included)."""
    import fcntl

    fd = os.open(directory / "writer.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise RuntimeError(f"{directory} is being recorded by another MemoryStore (a running node or "
                           "`spatialclaw memory`); one writer at a time: stop it or use another memory.dir") from None
    return fd
