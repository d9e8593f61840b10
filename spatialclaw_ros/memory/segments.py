"""Memory segments: one rosbag2 MCAP bag each, written as keyframes arrive, repaired after a crash.

Each keyframe's messages are flushed to disk as one MCAP chunk, so a segment cut by a crash (kill -9)
loses at most the keyframe being written: ``repair_segment`` cuts the file after its last complete
record and rewrites it as a normal bag with metadata.yaml.
"""
from __future__ import annotations

import os
import shutil
import struct
from pathlib import Path
from typing import Any, Callable, Iterable

from spatialclaw_ros.memory.codec import shared_typestore, typestore

MCAP_MAGIC = b"\x89MCAP0\r\n"
_ROLE_QOS_DEPTH = 10


def mcap_file(seg_dir: Path) -> Path:
    """The .mcap file inside a segment directory (rosbags names it after the directory)."""
    for name in (f"{seg_dir.name}.mcap", f"{seg_dir.name}_0.mcap"):
        if (seg_dir / name).exists():
            return seg_dir / name
    found = sorted(seg_dir.glob("*.mcap")) if seg_dir.is_dir() else []
    return found[0] if found else seg_dir / f"{seg_dir.name}.mcap"


def _qos() -> list[Any]:
    from rosbags.interfaces import (
        Qos, QosDurability, QosHistory, QosLiveliness, QosReliability, QosTime)

    zero = QosTime(sec=0, nsec=0)
    return [Qos(history=QosHistory.KEEP_LAST, depth=_ROLE_QOS_DEPTH, reliability=QosReliability.RELIABLE,
                durability=QosDurability.VOLATILE, deadline=zero, lifespan=zero,
                liveliness=QosLiveliness.AUTOMATIC, liveliness_lease_duration=zero,
                avoid_ros_namespace_conventions=False)]


class SegmentWriter:
    """Appends messages to one new segment (a rosbag2 directory with one MCAP file)."""

    def __init__(self, seg_dir: Path) -> None:
        from rosbags.rosbag2 import StoragePlugin, Writer

        self.path = Path(seg_dir)
        self.ts = shared_typestore()
        self._writer = Writer(self.path, version=8, storage_plugin=StoragePlugin.MCAP)
        self._writer.open()
        self._conns: dict[str, Any] = {}
        self.channels: dict[int, tuple[str, str]] = {}      # MCAP channel id -> (topic, msgtype)
        self.count = 0
        self._start = self._tell()

    def _tell(self) -> int:
        bio = getattr(getattr(self._writer, "storage", None), "bio", None)
        return int(bio.tell()) if bio is not None else -1

    def write(self, topic: str, msgtype: str, stamp_ns: int, msg: Any) -> None:
        """Serialise and append one message."""
        conn = self._conns.get(topic)
        if conn is None:
            conn = self._writer.add_connection(topic, msgtype, typestore=self.ts, offered_qos_profiles=_qos())
            self._conns[topic] = conn
            self.channels[int(conn.id)] = (topic, msgtype)
        self._writer.write(conn, int(stamp_ns), self.ts.serialize_cdr(msg, msgtype))

    def flush(self) -> tuple[int, int]:
        """Put what was written since the last flush on disk as complete MCAP chunk(s) (crash safety);
        returns (byte offset, length) of those records in the file (-1, 0 when unknown)."""
        storage = getattr(self._writer, "storage", None)
        close_chunk = getattr(storage, "close_chunk", None)
        chunk = getattr(storage, "chunk", None)
        if close_chunk is not None and chunk is not None and chunk.bio.tell():
            close_chunk()
        bio = getattr(storage, "bio", None)
        if bio is not None:
            bio.flush()
            os.fsync(bio.fileno())
        self.count += 1
        start, end = self._start, self._tell()
        self._start = end
        return (start, end - start) if start >= 0 and end > start else (-1, 0)

    def size_bytes(self) -> int:
        """Bytes on disk so far."""
        try:
            return mcap_file(self.path).stat().st_size
        except OSError:
            return 0

    def close(self) -> None:
        """Write the MCAP summary and metadata.yaml: the segment is a complete rosbag2."""
        self._writer.close()


def segment_bytes(seg_dir: Path) -> int:
    """Disk used by a segment directory."""
    total = 0
    if seg_dir.is_dir():
        for p in seg_dir.iterdir():
            try:
                total += p.stat().st_size
            except OSError:
                pass
    return total


def _truncate_to_records(path: Path) -> int:
    """Cut an MCAP file after its last complete record and close it with DataEnd + Footer; returns records kept."""
    data = path.read_bytes()
    if not data.startswith(MCAP_MAGIC):
        raise ValueError(f"{path} is not an MCAP file")
    pos, good, n = len(MCAP_MAGIC), len(MCAP_MAGIC), 0
    while pos + 9 <= len(data):
        op = data[pos]
        (length,) = struct.unpack_from("<Q", data, pos + 1)
        end = pos + 9 + length
        if end > len(data) or op in (0x0F, 0x02):        # torn record, or DataEnd / Footer already
            break
        pos = good = end
        n += 1
    tail = bytes([0x0F]) + struct.pack("<Q", 4) + struct.pack("<I", 0)
    tail += bytes([0x02]) + struct.pack("<Q", 20) + struct.pack("<QQI", 0, 0, 0) + MCAP_MAGIC
    with open(path, "r+b") as f:
        f.truncate(good)
        f.seek(good)
        f.write(tail)
        f.flush()
        os.fsync(f.fileno())
    return n


def read_messages(seg_dir: Path, topics: Iterable[str] | None = None,
                  stamps: set[int] | None = None) -> Iterable[tuple[str, str, int, Any]]:
    """(topic, msgtype, stamp_ns, deserialised message) of a segment, optionally filtered."""
    from rosbags.highlevel import AnyReader

    f = mcap_file(seg_dir)
    want = set(topics) if topics is not None else None
    if not (seg_dir / "metadata.yaml").exists():
        # the segment being recorded (no summary yet): read a copy closed after its last complete record
        import tempfile

        with tempfile.TemporaryDirectory(prefix="spatialclaw-seg-") as tmp:
            copy = Path(tmp) / f.name
            shutil.copyfile(f, copy)
            _truncate_to_records(copy)
            yield from _read_file(copy, want, stamps)
        return
    yield from _read_file(f, want, stamps)


def _read_file(f: Path, want: set[str] | None, stamps: set[int] | None) -> Iterable[tuple[str, str, int, Any]]:
    from rosbags.highlevel import AnyReader

    with AnyReader([f], default_typestore=typestore()) as reader:
        conns = [c for c in reader.connections if want is None or c.topic in want]
        if stamps:
            lo, hi = min(stamps), max(stamps) + 1
            it = reader.messages(connections=conns, start=lo, stop=hi)
        else:
            it = reader.messages(connections=conns)
        for conn, stamp, raw in it:
            if stamps is not None and stamp not in stamps:
                continue
            yield conn.topic, conn.msgtype, int(stamp), reader.deserialize(raw, conn.msgtype)


def rewrite_segment(seg_dir: Path, keep: Callable[[str, int], bool],
                    placed: dict[int, tuple[int, int]] | None = None,
                    channels: dict[int, tuple[str, str]] | None = None) -> int:
    """Rewrite a segment keeping the messages keep(topic, stamp) accepts; returns bytes after.

    ``placed`` (if given) receives stamp -> (offset, length) of each stamp's records in the new
    file, ``channels`` its channel ids -> (topic, msgtype).

    The new bag is written next to the old one and swapped in with renames, so a crash leaves one
    of the two complete.
    """
    tmp = seg_dir.with_name(seg_dir.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    w = SegmentWriter(tmp)
    last = None
    try:
        for topic, msgtype, stamp, msg in read_messages(seg_dir):
            if not keep(topic, stamp):
                continue
            if last is not None and stamp != last:
                off = w.flush()
                if placed is not None:
                    placed[last] = off
            last = stamp
            w.write(topic, msgtype, stamp, msg)
        if last is not None:
            off = w.flush()
            if placed is not None:
                placed[last] = off
        if channels is not None:
            channels.update(w.channels)
        w.close()
        # rosbags names the file after the directory: rename it to the final segment's name
        written = mcap_file(tmp)
        final = written.name.replace(tmp.name, seg_dir.name, 1)
        os.replace(written, tmp / final)
        meta = tmp / "metadata.yaml"
        meta.write_text(meta.read_text().replace(written.name, final))
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = seg_dir.with_name(seg_dir.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    os.replace(seg_dir, old)
    os.replace(tmp, seg_dir)
    shutil.rmtree(old, ignore_errors=True)
    return segment_bytes(seg_dir)


def repair_segment(seg_dir: Path, placed: dict[int, tuple[int, int]] | None = None,
                   channels: dict[int, tuple[str, str]] | None = None) -> set[int]:
    """Make a segment cut by a crash a complete bag again; returns the keyframe stamps it still holds
    (``placed``/``channels`` as for rewrite_segment). An unreadable segment is removed: empty set."""
    from spatialclaw_ros.memory.codec import TOPIC_KEYFRAME

    f = mcap_file(seg_dir)
    try:
        if not f.exists() or f.stat().st_size <= len(MCAP_MAGIC):
            raise ValueError("empty")
        _truncate_to_records(f)
        stamps = {s for _t, _m, s, _ in read_messages(seg_dir, topics=[TOPIC_KEYFRAME])}
        rewrite_segment(seg_dir, lambda _t, _s: True, placed, channels)
        return stamps
    except Exception:  # noqa: BLE001 - a segment we cannot read is skipped, never fatal
        shutil.rmtree(seg_dir, ignore_errors=True)
        return set()


def read_keyframe_records(path: Path, offset: int, length: int, channels: dict[int, tuple[str, str]],
                          stamp_ns: int) -> dict[str, tuple[str, bytes]]:
    """topic -> (msgtype, CDR bytes) of the messages in one keyframe's byte range of an MCAP file
    (its chunk records, as SegmentWriter.flush placed them): no index, no reader object. Records
    that do not belong to ``stamp_ns`` (the segment was rewritten meanwhile) raise ValueError."""
    with open(path, "rb") as f:
        f.seek(offset)
        data = f.read(length)
    if len(data) != length:
        raise ValueError(f"{path}: keyframe records at {offset}+{length} are past the end of the file")
    out: dict[str, tuple[str, bytes]] = {}
    pos = 0
    if not data or data[0] != 0x06:
        raise ValueError(f"{path}: no chunk record at offset {offset}")
    while pos + 9 <= len(data):
        op = data[pos]
        (n,) = struct.unpack_from("<Q", data, pos + 1)
        body = memoryview(data)[pos + 9: pos + 9 + n]
        pos += 9 + n
        if op != 0x06:
            continue                              # message index and other records
        p = 28
        (clen,) = struct.unpack_from("<I", body, p)
        p += 4
        compression = bytes(body[p:p + clen]).decode()
        p += clen
        (rlen,) = struct.unpack_from("<Q", body, p)
        p += 8
        records = bytes(body[p:p + rlen])
        if compression:
            from rosbags.rosbag2.storage_mcap import decompress

            (usize,) = struct.unpack_from("<Q", body, 16)
            records = decompress(records, compression, usize, 0)
        q = 0
        while q + 9 <= len(records):
            rop = records[q]
            (rn,) = struct.unpack_from("<Q", records, q + 1)
            if rop == 0x05:
                cid, _seq, log_time = struct.unpack_from("<HIQ", records, q + 9)
                if log_time != stamp_ns:
                    raise ValueError(f"{path}: records at {offset} are of {log_time}, not {stamp_ns}")
                if cid in channels:
                    topic, msgtype = channels[cid]
                    out[topic] = (msgtype, records[q + 9 + 22: q + 9 + rn])
            q += 9 + rn
    return out
