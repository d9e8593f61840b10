"""Objects without SAM 3: boxes from the VLM (grounding), masks from depth inside each box.

``grounding_prompt(text)`` asks an open VLM for boxes as JSON, the way Qwen2.5-VL answers
(``[{"bbox_2d": [x0, y0, x1, y1], "label": "..."}]`` in absolute pixels of the image it saw);
``parse_boxes`` reads that and the other common shapes (``bbox``/``box`` keys, bare lists, a
``<box>(x0,y0),(x1,y1)</box>`` tag, coordinates normalised to 0..1000 as Qwen2-VL gives them, or
to 0..1) and returns boxes in pixels of the original image.
``box_to_mask`` turns a box into the object's mask from metric depth: the pixels on the support
planes seen around the box (table top, floor, wall) are removed, the rest is split into surfaces
that are connected in 3-D, and the surface that fills the box best is the object.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import ndimage

_NUM = r"-?\d+(?:\.\d+)?"
_BOX_TAG = re.compile(rf"\(\s*({_NUM})\s*,\s*({_NUM})\s*\)\s*,?\s*\(\s*({_NUM})\s*,\s*({_NUM})\s*\)")
_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)
_BOX_KEYS = ("bbox_2d", "bbox", "box", "box_2d", "bounding_box")


def grounding_prompt(text: str) -> str:
    """The question asked of the VLM for one text prompt (JSON boxes in pixels of the image)."""
    return (f"Locate every {text} in the image. Answer with JSON only: a list like "
            '[{"bbox_2d": [x1, y1, x2, y2], "label": "<name>"}] with pixel coordinates of the '
            "image (x to the right, y down); answer [] if there is none.")


@dataclass
class GroundedBox:
    """One box from the VLM, in pixels of the original image (xyxy, inclusive)."""

    box: np.ndarray
    label: str
    score: float = 1.0


def _json_candidates(text: str) -> list[Any]:
    out = []
    bodies = [m.group(1) for m in _FENCE.finditer(text)] + [text]
    for body in bodies:
        for opener, closer in (("[", "]"), ("{", "}")):
            i, j = body.find(opener), body.rfind(closer)
            if 0 <= i < j:
                try:
                    out.append(json.loads(body[i:j + 1]))
                except json.JSONDecodeError:
                    continue
    return out


def _raw_boxes(obj: Any) -> list[tuple[list[float], str, float]]:
    if isinstance(obj, dict):
        for k in _BOX_KEYS:
            if k in obj:
                b = obj[k]
                label = str(obj.get("label") or obj.get("name") or "")
                score = obj.get("score", obj.get("confidence", 1.0))
                try:
                    score = float(score)
                except (TypeError, ValueError):
                    score = 1.0
                return [(b, label, score)] if isinstance(b, (list, tuple)) else []
        inner = [v for v in obj.values() if isinstance(v, (list, dict))]
        return [r for v in inner for r in _raw_boxes(v)]
    if isinstance(obj, (list, tuple)):
        if len(obj) == 4 and all(isinstance(v, (int, float)) for v in obj):
            return [(list(obj), "", 1.0)]
        return [r for v in obj for r in _raw_boxes(v)]
    return []


def parse_boxes(text: str, width: int, height: int, *, sent_size: tuple[int, int] | None = None,
                coords: str = "auto") -> list[GroundedBox]:
    """Boxes in a VLM reply, in pixels of the original ``width`` x ``height`` image.

    ``sent_size`` (w, h) is the size of the image the VLM saw (when it was downscaled);
    ``coords``: "pixels", "norm1000" (0..1000, Qwen2-VL), "norm1" (0..1) or "auto" (norm1 when
    every value is <= 1; norm1000 when a value exceeds the image the VLM saw but not 1000;
    else pixels).
    """
    sw, sh = sent_size or (width, height)
    raws: list[tuple[list[float], str, float]] = []
    for cand in _json_candidates(text or ""):
        raws = _raw_boxes(cand)
        if raws:
            break
    if not raws:
        raws = [([float(v) for v in m.groups()], "", 1.0) for m in _BOX_TAG.finditer(text or "")]
    out: list[GroundedBox] = []
    vals = [float(v) for b, _, _ in raws for v in b[:4]
            if isinstance(v, (int, float)) and not isinstance(v, bool)]
    mode = coords
    if mode == "auto" and vals:
        hi = max(vals)
        mode = "norm1" if hi <= 1.0 else \
            "norm1000" if hi > 1.02 * max(sw, sh) and hi <= 1000 else "pixels"
    for b, label, score in raws:
        try:
            x0, y0, x1, y1 = (float(v) for v in b[:4])
        except (TypeError, ValueError):
            continue
        if mode == "norm1000":
            x0, x1, y0, y1 = x0 * sw / 1000, x1 * sw / 1000, y0 * sh / 1000, y1 * sh / 1000
        elif mode == "norm1":
            x0, x1, y0, y1 = x0 * sw, x1 * sw, y0 * sh, y1 * sh
        fx, fy = width / sw, height / sh
        x0, x1 = sorted((x0 * fx, x1 * fx))
        y0, y1 = sorted((y0 * fy, y1 * fy))
        box = np.array([max(0.0, x0), max(0.0, y0), min(width - 1.0, x1), min(height - 1.0, y1)])
        if box[2] - box[0] < 1 or box[3] - box[1] < 1:
            continue
        out.append(GroundedBox(box, label, score))
    return out


def _points(depth: np.ndarray, K: np.ndarray) -> np.ndarray:
    h, w = depth.shape
    u, v = np.meshgrid(np.arange(w, dtype=np.float64), np.arange(h, dtype=np.float64))
    z = depth.astype(np.float64)
    return np.stack([(u - K[0, 2]) * z / K[0, 0], (v - K[1, 2]) * z / K[1, 1], z], axis=-1)


def _ransac_plane(p: np.ndarray, tol: float, rng: np.random.Generator,
                  iters: int = 200) -> tuple[np.ndarray, float, np.ndarray] | None:
    """(normal, offset, inlier mask) of the plane with most inliers within ``tol`` metres."""
    n = len(p)
    if n < 30:
        return None
    best = None
    best_count = 0
    for _ in range(iters):
        a, b, c = p[rng.choice(n, 3, replace=False)]
        nrm = np.cross(b - a, c - a)
        norm = np.linalg.norm(nrm)
        if norm < 1e-9:
            continue
        nrm /= norm
        d = -float(nrm @ a)
        count = int(np.count_nonzero(np.abs(p @ nrm + d) < tol))
        if count > best_count:
            best, best_count = (nrm, d), count
    if best is None:
        return None
    nrm, d = best
    inl = np.abs(p @ nrm + d) < tol
    for _ in range(3):                  # refine by least squares, tightening to the plane's noise
        q = p[inl]
        if len(q) < 3:
            break
        c = q.mean(axis=0)
        _, _, vt = np.linalg.svd(q - c, full_matrices=False)
        nrm = vt[2]
        d = -float(nrm @ c)
        res = p @ nrm + d
        sigma = 1.4826 * float(np.median(np.abs(res[inl] - np.median(res[inl]))))
        inl = np.abs(res) < min(tol, max(0.003, 3.0 * sigma))
    return nrm, d, inl


def box_to_mask(depth: np.ndarray, K: np.ndarray, box: Any, *, ring_px: int | None = None,
                seed: int = 0) -> tuple[np.ndarray, list[str]]:
    """The object's (H, W) bool mask inside a pixel box, from metric depth (NaN invalid).

    0. Sensor holes in the box (dropouts at depth edges, thin parts) up to ~1 % of the image
       size from valid depth take the depth of their nearest valid pixel.
    1. Support planes: planes fitted (RANSAC) to the valid depth in a ring around the box, each
       holding >= 20 % of the ring (table top, floor, wall behind); box pixels on them are removed.
    2. The rest of the box is split into surfaces connected in 3-D (neighbouring pixels whose
       depths differ by < max(1.5 cm, 4 % of the depth)).
    3. The object is the surface whose pixel box fits the given box best (IoU), ties to the larger,
       discounted by how far it goes on past the box's edges at the same depth (a box ends where
       its object ends: a table top or an occluder cut by the box is something else; past the top
       edge alone it may be an object standing on the target). Surfaces that end inside the box,
       lie within the box's metric size of the chosen one in depth and reach it through plane
       pixels, holes or nearer surfaces (legs of a table, parts seen past an occluder) are joined.
    4. When a top seen from above holds >= 40 % of the mask, small blobs standing on it (a mug
       on the boxed table) are removed.
    5. Holes too wide for step 0 that the object surrounds or borders are added.
    Returns (mask, notes).
    """
    depth = np.asarray(depth, dtype=np.float32)
    h, w = depth.shape
    u0, v0, u1, v1 = [int(round(float(x))) for x in np.asarray(box, float).reshape(4)]
    u0, v0, u1, v1 = max(0, u0), max(0, v0), min(w - 1, u1), min(h - 1, v1)
    notes: list[str] = []
    mask = np.zeros((h, w), bool)
    if u1 < u0 or v1 < v0:
        return mask, ["the box is outside the image"]
    valid = np.isfinite(depth) & (depth > 0)
    inbox = np.zeros((h, w), bool)
    inbox[v0:v1 + 1, u0:u1 + 1] = True
    if not (valid & inbox).any():
        return mask, ["no valid depth inside the box"]
    bw, bh = u1 - u0 + 1, v1 - v0 + 1
    # sensor holes inside the box (dropouts at depth edges, thin parts) take the depth of their
    # nearest valid pixel, so a thin frame or leg stays one connected surface across them
    gap = max(2, int(round(0.012 * max(h, w))))
    fill = np.zeros((h, w), bool)
    if (inbox & ~valid).any():
        dist, (iy, ix) = ndimage.distance_transform_edt(~valid, return_indices=True)
        fill = inbox & ~valid & (dist <= gap)
        depth = np.where(fill, depth[iy, ix], depth)
    P = _points(np.where(valid | fill, depth, 0.0), np.asarray(K, float))
    r = ring_px if ring_px is not None else max(4, int(0.15 * max(bw, bh)))
    outer = np.zeros((h, w), bool)
    outer[max(0, v0 - r):min(h, v1 + r + 1), max(0, u0 - r):min(w, u1 + r + 1)] = True
    ring = outer & ~inbox & valid
    rng = np.random.default_rng(seed)
    zmed = float(np.nanmedian(depth[inbox & valid]))
    tol = max(0.008, 0.01 * zmed)
    removed = np.zeros((h, w), bool)
    support = np.zeros((h, w), bool)          # ring pixels on an accepted support plane
    ring_pts = P[ring]
    rv, ru = np.nonzero(ring)
    side = np.where(ru < u0, 0, np.where(ru > u1, 1, np.where(rv < v0, 2, 3)))  # left right top bottom
    remaining = np.ones(len(ring_pts), bool)
    box_idx = inbox & (valid | fill)
    for _ in range(3):
        if remaining.sum() < max(30, 0.2 * len(ring_pts)):
            break
        fit = _ransac_plane(ring_pts[remaining], tol, rng)
        if fit is None:
            break
        nrm, d, inl = fit
        if inl.sum() < 0.2 * len(ring_pts):
            break
        idx = np.flatnonzero(remaining)
        remaining[idx[inl]] = False
        # a support plane (table, floor, wall) surrounds the box: it shows on >= 3 sides of the
        # ring; a neighbouring object's face at the same height shows on one side only
        on = {k for k in range(4) if (side == k).any()
              and np.count_nonzero(side[idx[inl]] == k) >= 0.1 * np.count_nonzero(side == k)}
        absent = {k for k in range(4) if not (side == k).any()}       # box at the image border
        if len(on | absent) < 3 and not ({0, 1} <= on or {2, 3} <= on):
            continue
        # remove at the plane's own noise level (robust sigma of its ring inliers), not at the
        # loose RANSAC tolerance: a flat book 4 cm above the table must stay
        res = ring_pts[idx[inl]] @ nrm + d
        sigma = 1.4826 * float(np.median(np.abs(res - np.median(res))))
        cut = max(0.004, 1.5 * sigma)
        on_plane = box_idx & (np.abs(P @ nrm + d) < cut)
        removed |= on_plane
        support[rv[idx[inl]], ru[idx[inl]]] = True
    cand = box_idx & ~removed
    if not cand.any():
        return mask, ["every pixel in the box lies on a support plane"]
    # surfaces connected in 3-D: split where neighbouring depths jump
    z = np.where(cand, depth, np.nan)
    jump = np.maximum(0.015, 0.04 * np.nan_to_num(z, nan=zmed))
    right = np.zeros((h, w), bool)
    down = np.zeros((h, w), bool)
    right[:, :-1] = cand[:, :-1] & cand[:, 1:] & (np.abs(z[:, 1:] - z[:, :-1]) < jump[:, :-1])
    down[:-1, :] = cand[:-1, :] & cand[1:, :] & (np.abs(z[1:, :] - z[:-1, :]) < jump[:-1, :])
    labels = _union_find_labels(cand, right, down)
    ids, counts = np.unique(labels[labels > 0], return_counts=True)
    if ids.size == 0:
        return mask, ["no surface left in the box"]
    best, best_key = 0, (-1.0, 0)
    area_box = float(bw * bh)
    objs = ndimage.find_objects(labels)
    # A tight box ends where its object ends: a surface that goes on past its edges (a table
    # top, an occluder in front) is something else. Past the top edge alone it may be an object
    # standing on the target, so that counts only with another edge.
    shares = _edge_shares(labels, depth, valid | fill, support, jump, (u0, v0, u1, v1))
    leak = {k: _leak(v) for k, v in shares.items()}
    for k, cnt in zip(ids.tolist(), counts.tolist()):
        sl = objs[k - 1]
        if sl is None:
            continue
        cu0, cu1 = sl[1].start, sl[1].stop - 1
        cv0, cv1 = sl[0].start, sl[0].stop - 1
        inter = max(0, min(u1, cu1) - max(u0, cu0) + 1) * max(0, min(v1, cv1) - max(v0, cv0) + 1)
        comp_area = float((cu1 - cu0 + 1) * (cv1 - cv0 + 1))
        iou = inter / (area_box + comp_area - inter) * (1.0 - leak.get(k, 0.0))
        key = (round(iou, 3), cnt)
        if key > best_key:
            best, best_key = k, key
    mask = labels == best
    # join other surfaces at a similar depth (multi-part objects: legs, handles behind a gap)
    # or seen past an occluder: the gap may be support-plane pixels, holes or nearer surfaces;
    # a part must end inside the box and lie within the box's metric size of the object in depth
    zb = depth[mask]
    lo, hi = float(np.percentile(zb, 2)), float(np.percentile(zb, 98))
    extent = 0.5 * max(bw / float(K[0][0]), bh / float(K[1][1])) * float(np.median(zb))
    margin = max(0.03, 0.1 * (hi - lo), extent)
    med = {k: float(np.median(depth[labels == k])) for k in ids.tolist()}
    for k, cnt in sorted(zip(ids.tolist(), counts.tolist()), key=lambda t: -t[1]):
        if k == best or cnt < 0.02 * mask.sum() or any(x >= 0.5 for x in shares.get(k, {}).values()):
            continue
        zk = med[k]
        if not lo - margin <= zk <= hi + margin:
            continue
        nearer = np.isin(labels, [j for j in ids.tolist() if med[j] < zk - 0.05])
        if _touches(labels == k, mask | removed | ~valid | nearer, mask):
            mask |= labels == k
    mask = _drop_resting(mask, P, zmed, rng)
    # pixels without depth (sensor holes at edges) that the object's surface surrounds or borders
    holes = inbox & ~valid & ~fill          # small holes already went to their nearest surface
    if holes.any():
        near = ndimage.binary_dilation(mask, iterations=2) & holes
        filled = ndimage.binary_fill_holes(mask | near)
        mask = mask | (filled & holes)
    notes.append(f"mask from depth in box [{u0}, {v0}, {u1}, {v1}]: {int(mask.sum())} px, "
                 f"{int(removed.sum())} px on support planes removed")
    return mask, notes


def _drop_resting(mask: np.ndarray, P: np.ndarray, zmed: float,
                  rng: np.random.Generator) -> np.ndarray:
    """The mask without small things standing on its dominant plane (a mug on the boxed table).

    When a plane facing up in the image (a top seen from above) holds >= 40 % of the mask, blobs on
    the camera's side of it (higher than max(2 cm, 3 sigma of the plane)) that are each < 15 % of
    the mask are removed; a convex object has nothing on that side, so only what rests on it goes.
    """
    n = int(mask.sum())
    if n < 200:
        return mask
    pts = P[mask]
    fit = _ransac_plane(pts, max(0.008, 0.01 * zmed), rng)
    if fit is None or fit[2].mean() < 0.4:
        return mask
    nrm, d, inl = fit
    if d < 0:                                   # the camera (origin) on the positive side
        nrm, d = -nrm, -d
    if nrm[1] > -0.5:                           # not a top seen from above (optical y is down)
        return mask
    res = pts[inl] @ nrm + d
    sigma = 1.4826 * float(np.median(np.abs(res - np.median(res))))
    above = np.zeros_like(mask)
    above[mask] = (pts @ nrm + d) > max(0.02, 3.0 * sigma)
    lab, count = ndimage.label(above, structure=np.ones((3, 3), bool))
    if count == 0:
        return mask
    sizes = np.bincount(lab.ravel(), minlength=count + 1)
    small = np.flatnonzero(sizes < 0.15 * n)
    small = small[small > 0]
    return mask & ~np.isin(lab, small)


def _edge_shares(labels: np.ndarray, depth: np.ndarray, ok: np.ndarray, support: np.ndarray,
                 jump: np.ndarray, box: tuple[int, int, int, int]) -> dict[int, dict[str, float]]:
    """Per surface, per box edge it touches: the share of its edge pixels whose surface goes on
    outside the box at the same depth (support-plane pixels outside do not count: an object
    touches its table)."""
    u0, v0, u1, v1 = box
    h, w = labels.shape
    edges = []
    if u0 > 0:
        edges.append(("left", np.s_[v0:v1 + 1, u0], np.s_[v0:v1 + 1, u0 - 1]))
    if u1 < w - 1:
        edges.append(("right", np.s_[v0:v1 + 1, u1], np.s_[v0:v1 + 1, u1 + 1]))
    if v0 > 0:
        edges.append(("top", np.s_[v0, u0:u1 + 1], np.s_[v0 - 1, u0:u1 + 1]))
    if v1 < h - 1:
        edges.append(("bottom", np.s_[v1, u0:u1 + 1], np.s_[v1 + 1, u0:u1 + 1]))
    shares: dict[int, dict[str, float]] = {}
    for side, si, so in edges:
        lab = labels[si]
        goes_on = ok[so] & ~support[so] & (np.abs(depth[so] - depth[si]) < jump[si])
        for k in np.unique(lab[lab > 0]).tolist():
            sel = lab == k
            if sel.sum() >= 2:
                shares.setdefault(k, {})[side] = float((sel & goes_on).sum()) / float(sel.sum())
    return shares


def _leak(shares: dict[str, float]) -> float:
    """How much a surface is not the boxed object, from its per-edge shares going on outside (0..1)."""
    going = {side: x for side, x in shares.items() if x >= 0.5}
    if len(going) >= 2:
        return float(np.mean(list(shares.values())))
    if going and "top" not in going:
        return 0.5 * max(going.values())
    return 0.0


def _touches(part: np.ndarray, bridge: np.ndarray, target: np.ndarray) -> bool:
    """Whether ``part`` reaches ``target`` through pixels of ``bridge`` (8-connected)."""
    lab, _ = ndimage.label(part | bridge, structure=np.ones((3, 3), bool))
    ids = np.unique(lab[part])
    return bool(np.isin(lab[target], ids[ids > 0]).any())


def _union_find_labels(cand: np.ndarray, right: np.ndarray, down: np.ndarray) -> np.ndarray:
    """Connected components of ``cand`` over the allowed right/down links (label 0 = none)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    h, w = cand.shape
    idx = np.arange(h * w).reshape(h, w)
    a = np.concatenate([idx[:, :-1][right[:, :-1]], idx[:-1, :][down[:-1, :]]])
    b = np.concatenate([idx[:, 1:][right[:, :-1]], idx[1:, :][down[:-1, :]]])
    g = coo_matrix((np.ones(len(a), np.int8), (a, b)), shape=(h * w, h * w))
    _, comp = connected_components(g, directed=False)
    comp = comp.reshape(h, w)
    out = np.zeros((h, w), np.int32)
    _, inv = np.unique(comp[cand], return_inverse=True)
    out[cand] = inv.astype(np.int32) + 1
    return out
