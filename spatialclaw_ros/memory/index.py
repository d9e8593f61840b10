"""The SQLite index of a memory: keyframes (time, pose, place, segment), trajectory, map corrections, FTS5 tags."""
from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS segments (
    name TEXT PRIMARY KEY, status TEXT NOT NULL, start_ns INTEGER, end_ns INTEGER,
    bytes INTEGER DEFAULT 0, level INTEGER DEFAULT 0, n INTEGER DEFAULT 0, channels TEXT DEFAULT '{}');
CREATE TABLE IF NOT EXISTS keyframes (
    id INTEGER PRIMARY KEY, stamp_ns INTEGER NOT NULL, segment TEXT, x REAL, y REAL, z REAL, yaw REAL,
    frame TEXT, camera TEXT, place TEXT, tags TEXT DEFAULT '', caption TEXT DEFAULT '',
    T_camera BLOB, T_base BLOB, base_frame TEXT DEFAULT '', bytes INTEGER DEFAULT 0,
    has_depth INTEGER DEFAULT 0, has_labels INTEGER DEFAULT 0, chunk_offset INTEGER, chunk_len INTEGER);
CREATE INDEX IF NOT EXISTS kf_stamp ON keyframes(stamp_ns);
CREATE INDEX IF NOT EXISTS kf_xy ON keyframes(x, y);
CREATE INDEX IF NOT EXISTS kf_place ON keyframes(place, stamp_ns);
CREATE INDEX IF NOT EXISTS kf_segment ON keyframes(segment);
CREATE TABLE IF NOT EXISTS kf_labels (kf INTEGER, label INTEGER, pixels INTEGER);
CREATE INDEX IF NOT EXISTS kfl_kf ON kf_labels(kf);
CREATE INDEX IF NOT EXISTS kfl_label ON kf_labels(label, kf);
CREATE TABLE IF NOT EXISTS trajectory (
    stamp_ns INTEGER PRIMARY KEY, frame TEXT, x REAL, y REAL, z REAL, yaw REAL, T BLOB);
CREATE TABLE IF NOT EXISTS corrections (
    stamp_ns INTEGER, parent TEXT, child TEXT, T BLOB, PRIMARY KEY (stamp_ns, parent, child));
"""
FTS = "CREATE VIRTUAL TABLE IF NOT EXISTS kf_text USING fts5(tags, caption, content='keyframes', content_rowid='id')"


def pack_T(T: np.ndarray | None) -> bytes | None:
    """A 4x4 pose as 16 float64 little-endian bytes (None stays None)."""
    return None if T is None else np.asarray(T, "<f8").reshape(16).tobytes()


def unpack_T(b: bytes | None) -> np.ndarray | None:
    """Inverse of pack_T."""
    return None if b is None else np.frombuffer(b, "<f8").reshape(4, 4).copy()


def yaw_of(T: np.ndarray) -> float:
    """Heading (rad) of a pose's x axis for a base frame, or of the optical z axis for a camera, in the xy plane."""
    return float(np.arctan2(T[1, 0], T[0, 0]))


def camera_yaw(T: np.ndarray) -> float:
    """Viewing direction (optical z axis) of a camera pose, projected into the xy plane (rad)."""
    return float(np.arctan2(T[1, 2], T[0, 2]))


class MemoryIndex:
    """The index database (WAL mode: a crash loses at most the last transaction)."""

    def __init__(self, path: Path, *, read_only: bool = False) -> None:
        self.path = Path(path)
        if read_only:
            self.db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False)
        else:
            self.db = sqlite3.connect(str(self.path), check_same_thread=False)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute("PRAGMA wal_autocheckpoint=64")        # keep the WAL small (disk budget)
            self.db.execute("PRAGMA journal_size_limit=1048576")
            self.db.executescript(SCHEMA)
            self.db.execute(FTS)
            self.db.commit()
        self.db.row_factory = sqlite3.Row

    def close(self) -> None:
        """Close the database (folding the WAL into the main file when writable)."""
        try:
            self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error:
            pass
        self.db.close()

    # ---- meta
    def get_meta(self, key: str, default: Any = None) -> Any:
        """A JSON value from the meta table."""
        row = self.db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return default if row is None else json.loads(row[0])

    def set_meta(self, key: str, value: Any) -> None:
        """Store a JSON value in the meta table."""
        self.db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, json.dumps(value)))

    # ---- keyframes
    def add_keyframe(self, row: dict[str, Any], labels: dict[int, int]) -> int:
        """Insert one keyframe row and its label counts; returns its id."""
        cols = ", ".join(row)
        cur = self.db.execute(f"INSERT INTO keyframes({cols}) VALUES ({', '.join('?' * len(row))})",
                              tuple(row.values()))
        kid = int(cur.lastrowid)
        self.db.execute("INSERT INTO kf_text(rowid, tags, caption) VALUES (?, ?, ?)",
                        (kid, row.get("tags", ""), row.get("caption", "")))
        if labels:
            self.db.executemany("INSERT INTO kf_labels(kf, label, pixels) VALUES (?, ?, ?)",
                                [(kid, int(k), int(v)) for k, v in labels.items()])
        return kid

    def delete_keyframes(self, ids: list[int]) -> None:
        """Remove keyframes (index rows, FTS rows, label rows)."""
        for kid in ids:
            row = self.db.execute("SELECT tags, caption FROM keyframes WHERE id=?", (kid,)).fetchone()
            if row is None:
                continue
            self.db.execute("INSERT INTO kf_text(kf_text, rowid, tags, caption) VALUES('delete', ?, ?, ?)",
                            (kid, row["tags"], row["caption"]))
            self.db.execute("DELETE FROM keyframes WHERE id=?", (kid,))
            self.db.execute("DELETE FROM kf_labels WHERE kf=?", (kid,))

    def set_caption(self, kid: int, caption: str) -> None:
        """Attach a text caption to a keyframe (searchable with FTS5)."""
        row = self.db.execute("SELECT tags, caption FROM keyframes WHERE id=?", (kid,)).fetchone()
        if row is None:
            raise KeyError(f"no keyframe {kid}")
        self.db.execute("INSERT INTO kf_text(kf_text, rowid, tags, caption) VALUES('delete', ?, ?, ?)",
                        (kid, row["tags"], row["caption"]))
        self.db.execute("UPDATE keyframes SET caption=? WHERE id=?", (caption, kid))
        self.db.execute("INSERT INTO kf_text(rowid, tags, caption) VALUES (?, ?, ?)", (kid, row["tags"], caption))
        self.db.commit()

    def commit(self) -> None:
        """Commit the open transaction."""
        self.db.commit()


def set_placement(db: sqlite3.Connection, segment: str, placed: dict[int, tuple[int, int]],
                  channels: dict[int, tuple[str, str]]) -> None:
    """Record where each keyframe's records now lie in a (re)written segment, and its channels."""
    db.executemany("UPDATE keyframes SET chunk_offset=?, chunk_len=? WHERE segment=? AND stamp_ns=?",
                   [(off if off >= 0 else None, ln if off >= 0 else None, segment, stamp)
                    for stamp, (off, ln) in placed.items()])
    db.execute("UPDATE segments SET channels=? WHERE name=?",
               (json.dumps({str(k): list(v) for k, v in channels.items()}), segment))
