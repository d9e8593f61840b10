"""Retention within memory.max_disk_mb: thin old periods first (fewer keyframes per place and time
bucket the older they are), drop only when thinning is exhausted, never the last view of a place."""
from __future__ import annotations

import logging
import shutil
from typing import TYPE_CHECKING

from spatialclaw_ros.memory.index import set_placement
from spatialclaw_ros.memory.segments import rewrite_segment

if TYPE_CHECKING:
    from spatialclaw_ros.memory.store import MemoryStore

log = logging.getLogger(__name__)
MAX_LEVEL = 6
BASE_BUCKET_S = 15.0          # level L keeps keyframes of one place BASE_BUCKET_S * 2**L seconds apart


def _last_views(store: "MemoryStore") -> set[int]:
    """Ids never removed: the newest keyframe of every place, the newest showing each object (its
    "last seen"), and the newest keyframe overall. Removing others does not change this set."""
    db = store.index.db
    keep = {int(r[0]) for r in db.execute(
        "SELECT k.id FROM keyframes k JOIN (SELECT place, MAX(stamp_ns) AS s FROM keyframes "
        "WHERE place != '' GROUP BY place) m ON k.place = m.place AND k.stamp_ns = m.s")}
    keep |= {int(r[0]) for r in db.execute(
        "SELECT l.kf FROM kf_labels l JOIN keyframes k ON k.id = l.kf JOIN (SELECT l2.label AS label, "
        "MAX(k2.stamp_ns) AS s FROM kf_labels l2 JOIN keyframes k2 ON k2.id = l2.kf GROUP BY l2.label) m "
        "ON l.label = m.label AND k.stamp_ns = m.s")}
    newest = db.execute("SELECT id FROM keyframes ORDER BY stamp_ns DESC LIMIT 1").fetchone()
    if newest is not None:
        keep.add(int(newest[0]))
    return keep


def _remove(store: "MemoryStore", seg: str, ids: list[int]) -> None:
    """Delete keyframes from one closed segment (rewrite the bag, then the index)."""
    db = store.index.db
    rows = db.execute("SELECT id, stamp_ns FROM keyframes WHERE segment=?", (seg,)).fetchall()
    gone = set(ids)
    keep_stamps = {int(r["stamp_ns"]) for r in rows if int(r["id"]) not in gone}
    path = store.seg_root / seg
    if keep_stamps:
        placed: dict[int, tuple[int, int]] = {}
        channels: dict[int, tuple[str, str]] = {}
        size = rewrite_segment(path, lambda _t, s: s in keep_stamps, placed, channels)
        db.execute("UPDATE segments SET bytes=?, n=? WHERE name=?", (size, len(keep_stamps), seg))
        set_placement(db, seg, placed, channels)
    else:
        shutil.rmtree(path, ignore_errors=True)
        db.execute("DELETE FROM segments WHERE name=?", (seg,))
    store.index.delete_keyframes(sorted(gone))
    store.index.commit()


def thin_plan(rows: list, level: int, protected: set[int], before: dict[str, int] | None = None) -> list[int]:
    """Ids to remove so that keyframes of one place are at least BASE_BUCKET_S * 2**level s apart.

    Greedy from the oldest: every period keeps the view of each place nearest its start, so a
    question about any moment still finds a view of each place within that spacing. ``before``:
    place -> newest stamp kept in older segments (the spacing continues across segments).
    """
    width_ns = int(BASE_BUCKET_S * 2 ** level * 1e9)
    by_place: dict[str, list] = {}
    for r in rows:
        by_place.setdefault(r["place"] or "", []).append(r)      # no pose: one pseudo-place, thinned by time
    drop: list[int] = []
    for group in by_place.values():
        group.sort(key=lambda r: int(r["stamp_ns"]))
        place = group[0]["place"] or ""
        last_kept = (before or {}).get(place) if place else None
        for r in group:
            kid, st = int(r["id"]), int(r["stamp_ns"])
            if last_kept is None or st - last_kept >= width_ns or kid in protected:
                last_kept = st if (last_kept is None or st - last_kept >= width_ns) else last_kept
                continue
            drop.append(kid)
    return drop


def enforce(store: "MemoryStore") -> list[str]:
    """Bring the memory within its disk budget; returns a line per action."""
    budget = int(store.cfg.max_disk_mb * 2**20)
    db = store.index.db
    actions: list[str] = []
    if store.disk_bytes() <= budget:
        return actions
    last = db.execute("SELECT MAX(stamp_ns) FROM keyframes").fetchone()[0]
    if last is None:
        return actions
    protect_after = int(last) - int(store.cfg.keep_recent_s * 1e9)
    protected = _last_views(store)
    thinned = dropped = 0
    while store.disk_bytes() > budget:
        segs = db.execute("SELECT name, start_ns, end_ns, level FROM segments WHERE status='closed' AND end_ns < ? "
                          "AND level < ? AND name != ?", (protect_after, MAX_LEVEL, store._seg_name)).fetchall()
        if not segs:
            break
        seg = max(segs, key=lambda r: (int(last) - int(r["end_ns"])) / 2 ** int(r["level"]))
        level = int(seg["level"]) + 1
        rows = db.execute("SELECT id, stamp_ns, place FROM keyframes WHERE segment=?", (seg["name"],)).fetchall()
        before = {str(r[0]): int(r[1]) for r in db.execute(
            "SELECT place, MAX(stamp_ns) FROM keyframes WHERE stamp_ns < ? AND place != '' GROUP BY place",
            (int(seg["start_ns"]),))}
        ids = thin_plan(rows, level, protected, before)
        db.execute("UPDATE segments SET level=? WHERE name=?", (level, seg["name"]))
        if ids:
            _remove(store, seg["name"], ids)
            thinned += len(ids)
            actions.append(f"thinned {seg['name']} to level {level}: -{len(ids)} keyframes")
        store.index.commit()
    if store.disk_bytes() > budget:
        # thinning is exhausted: drop the oldest keyframes that are not the last view of a place
        segs = db.execute("SELECT name FROM segments WHERE status='closed' AND name != ? ORDER BY start_ns",
                          (store._seg_name,)).fetchall()
        for seg in segs:
            if store.disk_bytes() <= budget:
                break
            rows = db.execute("SELECT id FROM keyframes WHERE segment=?", (seg["name"],)).fetchall()
            ids = [int(r["id"]) for r in rows if int(r["id"]) not in protected]
            if ids:
                _remove(store, seg["name"], ids)
                dropped += len(ids)
                actions.append(f"dropped {len(ids)} keyframes of {seg['name']} (last views kept)")
    if store.disk_bytes() > budget:
        actions.append("over budget: only the last view of each place is left")
        log.warning("memory: %s (%.1f MB > %d MB)", actions[-1], store.disk_bytes() / 2**20, store.cfg.max_disk_mb)
    store.index.set_meta("thinned", int(store.index.get_meta("thinned", 0)) + thinned)
    store.index.set_meta("dropped", int(store.index.get_meta("dropped", 0)) + dropped)
    store.index.commit()
    return actions
