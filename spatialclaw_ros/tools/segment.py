"""tools.SAM3: instance masks from text, points or boxes, on one keyframe or tracked across keyframes."""
from __future__ import annotations

import dataclasses
import re
from typing import Any

import numpy as np

from spatialclaw_ros.errors import PerceptionError
from spatialclaw_ros.tools.base import Tool
from spatialclaw_ros.tools.context import KernelContext
from spatialclaw_ros.tools.reconstruct import check_frame_index
from spatialclaw_ros.tools.results import Segmentation

BACKENDS = ("auto", "labels", "sam3", "vlm")
_COLOURS = {"red", "green", "blue", "yellow", "orange", "purple", "violet", "pink", "brown", "black",
            "white", "gray", "grey", "silver", "gold", "beige", "cyan", "magenta", "teal", "navy",
            "maroon", "olive", "tan", "cream", "dark", "light"}
_STOP = {"the", "a", "an", "of", "on", "in", "at", "to", "that", "this", "is"}
_GENERIC = {"object", "thing", "item", "all", "every", "everything", "anything"}
_ALL = {"all", "everything", "object", "all object", "every object", "thing", "all thing", "anything"}


def _tokens(text: str) -> list[str]:
    """Lower-case words of a name or prompt, articles removed, simple plurals folded."""
    words = [w for w in re.split(r"[^a-z0-9]+", str(text).lower()) if w and w not in _STOP]
    return [_singular(w) for w in words]


def _singular(w: str) -> str:
    if len(w) > 3 and w.endswith("ies"):
        return w[:-3] + "y"
    if len(w) > 3 and w.endswith(("ses", "xes", "ches", "shes")):
        return w[:-2]
    if len(w) > 2 and w.endswith("s") and not w.endswith("ss"):
        return w[:-1]
    return w


def boxes_of(masks: np.ndarray) -> np.ndarray:
    """(N, H, W) bool masks -> (N, 4) float xyxy inclusive pixel boxes (NaN for empty masks)."""
    out = np.full((masks.shape[0], 4), np.nan)
    for k, m in enumerate(masks):
        rows = np.flatnonzero(m.any(axis=1))
        cols = np.flatnonzero(m.any(axis=0))
        if rows.size:
            out[k] = (cols[0], rows[0], cols[-1], rows[-1])
    return out


class SegmentTool(Tool):
    """Instance masks on keyframes: from a text prompt, clicked points or a box, or tracked over frames.

    Backends: "sam3" = SAM 3 in the perception service (any text); "vlm" = grounding without SAM 3:
    the VLM gives boxes for the text, each box becomes a mask from metric depth (the connected
    surface in the box minus the support planes: table, floor, wall) - needs depth (sensor or da3);
    a box prompt uses the box directly. "labels" = instance-label images with a legend
    (Metadata['objects'], from the bag's legend topic or a simulation; the words of the text must
    match an object's name/class/colour; "white objects" = every white object). A prompt that names
    a colour the object does not have never matches it ("black laptop" is not the white laptop): you
    get 0 masks and seg.notes lists the closest names; closest=True takes them anyway.
    "auto" (default): "labels" where the frame has label images and a legend, else "sam3" where
    SAM 3 is set up, else "vlm" (tools.Reconstruct.available() says which are set up).
    Results are Segmentation(masks (N, H, W) bool, scores, boxes xyxy px, labels, ids, frame_index);
    N can be 0 (nothing found: read seg.notes). Pixels are (u=column, v=row).
    """

    doc_name = "SAM3"

    def __init__(self, ctx: KernelContext, geometry: Any = None) -> None:
        self._ctx = ctx
        self._geometry = geometry          # tools.Geometry, for tracking sam3 masks in 3-D
        self._vlm_cache: dict[tuple[int, str], Segmentation] = {}

    def segment(self, frame_index: int, text: str | None = None, points: Any = None,
                point_labels: Any = None, box: Any = None, backend: str = "auto",
                closest: bool = False) -> Segmentation:
        """Masks on one keyframe from a text prompt, or points [[u, v], ...] (labels 1 = on object, 0 = not), or a box [u0, v0, u1, v1].

        Text finds every matching instance (largest first); points/box give the one object under them.
        closest=True (labels backend): accept the closest known names when none matches every word.
        Example: `seg = tools.SAM3.segment(0, text="red mug"); m = seg.mask(0) if len(seg) else None`
        """
        i = check_frame_index(self._ctx, frame_index)
        given = sum(x is not None for x in (text, points, box))
        if given == 0:
            raise ValueError("give a prompt: text='mug', points=[[u, v]] or box=[u0, v0, u1, v1]")
        if text is not None and not isinstance(text, str):
            raise TypeError(f"text must be one string, got {type(text).__name__}; call segment once per "
                            f"object name")
        if text is not None and not text.strip():
            raise ValueError("text prompt is empty; name the object, e.g. text='chair'")
        pts = self._points_arg(points)
        plabels = self._point_labels_arg(point_labels, pts)
        bx = self._box_arg(box)
        name = self._resolve(i, backend, text)
        if name == "labels":
            return self._labels(i, text, pts, plabels, bx, closest=closest)
        if name == "vlm":
            return self._vlm(i, text, pts, bx)
        return self._sam3(i, text, pts, plabels, bx)

    def track(self, text: str, frame_indices: list[int] | None = None, backend: str = "auto",
              match_m: float = 0.15) -> list[Segmentation]:
        """Segment one text prompt on several keyframes (default all) with ids that follow each object across frames.

        labels backend: ids are the label image's instance ids. sam3/vlm backends: a mask joins a track
        when its 3-D surface (fixed frame) overlaps the track's (30 % of its points within 5 cm) or
        its centroid is within match_m metres (needs depth and pose; otherwise ids stay -1 and
        seg.notes says why). Count objects with the distinct ids.
        Example: `segs = tools.SAM3.track("chair"); n = len({i for s in segs for i in s.ids})`
        """
        idx = list(range(len(self._ctx.images))) if frame_indices is None else \
            [check_frame_index(self._ctx, i) for i in frame_indices]
        segs = [self.segment(i, text=text, backend=backend) for i in idx]
        if self._geometry is None or all(k >= 0 for s in segs for k in s.ids):
            return segs
        from scipy.spatial import cKDTree

        tracks: list[tuple[int, np.ndarray, int, np.ndarray]] = []   # (id, mean centroid, n, points)
        out = []
        for seg in segs:
            ids, notes = list(seg.ids), list(seg.notes)
            taken: set[int] = set()
            for k in range(len(seg)):
                if ids[k] >= 0:
                    continue
                try:
                    cloud = self._geometry.mask_points(seg.frame_index, seg.masks[k], frame="fixed")
                except Exception as exc:  # noqa: BLE001 - no depth/pose: this mask stays untracked
                    notes.append(f"mask {k} not tracked: {exc}")
                    continue
                pts = np.asarray(cloud.points)
                if len(pts) == 0:
                    continue
                c = pts.mean(axis=0)
                sub = pts[::max(1, len(pts) // 1500)]
                # same object: its surfaces overlap in 3-D (seen from another side the visible
                # centroid moves, the surface does not), or the centroids are within match_m
                best, best_key = -1, (0.0, -float(match_m))
                for t, (tid, tc, _, tp) in enumerate(tracks):
                    if tid in taken:
                        continue
                    d = cKDTree(tp).query(sub, k=1, distance_upper_bound=0.05)[0]
                    overlap = float(np.isfinite(d).mean())
                    dc = float(np.linalg.norm(tc - c))
                    if overlap >= 0.3 or dc <= match_m:
                        key = (overlap, -dc)
                        if key > best_key:
                            best, best_key = t, key
                if best < 0:
                    tracks.append((len(tracks) + 1, c, 1, sub))
                    ids[k] = len(tracks)
                else:
                    tid, tc, n, tp = tracks[best]
                    merged = np.concatenate([tp, sub])
                    tracks[best] = (tid, (tc * n + c) / (n + 1), n + 1,
                                    merged[::max(1, len(merged) // 3000)])
                    ids[k] = tid
                taken.add(ids[k])
            out.append(dataclasses.replace(seg, ids=ids, notes=notes))
        return out

    def objects(self) -> list[dict[str, Any]]:
        """Objects known to the labels backend (Metadata['objects']: id, name, class, color); [] if none.

        Example: `print([o["name"] for o in tools.SAM3.objects()])`
        """
        objs = self._ctx.metadata.get("objects") or []
        return [{k: o.get(k) for k in ("id", "name", "class", "color")} for o in objs if isinstance(o, dict)]

    # -- backends ---------------------------------------------------------------------------------

    def _resolve(self, i: int, backend: str, text: str | None = None) -> str:
        from spatialclaw_ros.tools.reconstruct import perception_status

        if backend not in BACKENDS:
            raise ValueError(f"unknown backend {backend!r}; use one of {BACKENDS}")
        c = self._ctx
        if backend == "auto":
            pref = str(c.metadata.get("segment_backend") or "auto") if isinstance(c.metadata, dict) \
                else "auto"
            if pref in ("sam3", "vlm"):
                return pref
            if c.labels[i] is not None and (text is None or self.objects() or pref == "labels"):
                return "labels"
            perc = perception_status(c)
            if perc["sam3"]:
                return "sam3"
            if c.call_parent is not None and (c.depths[i] is not None or perc["da3"]):
                return "vlm"
            return "labels" if c.labels[i] is not None else "sam3"
        if backend == "labels" and c.labels[i] is None:
            raise ValueError(f"frame {i} has no instance-label image (the bag has no label topic); "
                             f"use backend='vlm' (VLM boxes + depth) or backend='sam3' where SAM 3 is "
                             "set up (tools.Reconstruct.available())")
        return backend

    def _match_ids(self, text: str, closest: bool = False) -> tuple[list[int], str]:
        """Ids of the objects a text prompt names, and a note when the match is only partial.

        A partial match (the prompt adds words the object's name lacks, e.g. "big", "left") is
        taken with a note; one that names a colour the object does not have is refused (0 ids and
        the closest names in the note) unless ``closest``.
        """
        objs = [o for o in self.objects() if o.get("id") is not None]
        every = sorted(int(o["id"]) for o in objs)
        q = " ".join(_tokens(text))
        qt = set(_tokens(text)) - _GENERIC        # "white objects" -> every white object
        if q in _ALL or not qt:
            return every, ""
        hits, partial, best = [], [], 0
        for o in objs:
            colour = set(_tokens(o.get("color") or ""))
            nouns = (set(_tokens(o.get("name") or "")) | set(_tokens(o.get("class") or ""))) - colour
            vocab = nouns | colour
            full = {" ".join(_tokens(o.get("name") or "")), " ".join(_tokens(o.get("class") or ""))}
            if q in full or qt <= vocab:
                hits.append(int(o["id"]))
            elif qt & nouns:                       # names the kind of object but adds unknown words
                score = len(qt & vocab)
                if score > best:
                    partial, best = [int(o["id"])], score
                elif score == best:
                    partial.append(int(o["id"]))
        if hits or not partial:
            return hits, ""
        names = [str(o.get("name")) for o in objs if int(o["id"]) in partial]
        colours = _COLOURS | {w for o in objs for w in _tokens(o.get("color") or "")}
        clash = [w for w in qt & colours
                 if not any(w in set(_tokens(o.get("color") or "")) | set(_tokens(o.get("name") or ""))
                            for o in objs if int(o["id"]) in partial)]
        if clash and not closest:
            return [], (f"no object matches {text!r}: no known object is {'/'.join(sorted(clash))}; "
                        f"the closest names are {names} (ask for one of them, or pass closest=True)")
        return partial, f"no object matches all of {text!r}; matched the closest names {names}"

    def _labels(self, i: int, text: str | None, pts: np.ndarray | None, plabels: np.ndarray | None,
                bx: np.ndarray | None, closest: bool = False) -> Segmentation:
        lab = np.asarray(self._ctx.labels[i])
        h, w = lab.shape
        notes: list[str] = []
        names = {int(o["id"]): str(o.get("name") or "") for o in self.objects() if o.get("id") is not None}
        if text is not None:
            if not names:
                raise ValueError("the labels backend matches text against Metadata['objects'] (the bag's "
                                 "label legend), which this query does not have; prompt with "
                                 "points=[[u, v]] or box=[...], or use backend='vlm' (VLM boxes + depth)")
            ids, partial_note = self._match_ids(text, closest)
            if partial_note:
                notes.append(partial_note)
            if not ids and not partial_note:
                notes.append(f"no known object matches {text!r}; known objects: {sorted(set(names.values()))}")
            present = [k for k in ids if np.any(lab == k)]
            if ids and not present:
                notes.append(f"{text!r} matches {[names.get(k, '') for k in ids]} but none is visible in frame {i}")
            ids = present
        else:
            ids = []
            if pts is not None:
                for (u, v), pl in zip(pts, plabels if plabels is not None else np.ones(len(pts), int)):
                    ui, vi = int(round(u)), int(round(v))
                    if not (0 <= ui < w and 0 <= vi < h):
                        raise ValueError(f"point (u={u}, v={v}) is outside the {w}x{h} image of frame {i}")
                    if pl and lab[vi, ui] > 0 and int(lab[vi, ui]) not in ids:
                        ids.append(int(lab[vi, ui]))
                if len(ids) > 1:
                    ids = ids[:1]
                    notes.append("positive points fall on different objects; returned the object under the first")
            if bx is not None:
                u0, v0, u1, v1 = [int(round(x)) for x in bx]
                u0, u1 = max(0, u0), min(w - 1, u1)
                v0, v1 = max(0, v0), min(h - 1, v1)
                if u1 < u0 or v1 < v0:
                    raise ValueError(f"box {list(bx)} does not overlap the {w}x{h} image of frame {i}")
                crop = lab[v0:v1 + 1, u0:u1 + 1]
                vals, counts = np.unique(crop[crop > 0], return_counts=True)
                best = None
                best_frac = 0.0
                for val, cnt in zip(vals.tolist(), counts.tolist()):
                    area = float(np.count_nonzero(lab == val))
                    score = cnt / (crop.size + area - cnt)  # IoU of the instance with the box region
                    if score > best_frac:
                        best, best_frac = int(val), score
                if ids and best is not None and best not in ids:
                    notes.append("box and points select different objects; kept the one under the points")
                elif best is not None:
                    ids = [best]
            if not ids:
                notes.append(f"no labelled object under the prompt in frame {i}")
        masks = np.stack([lab == k for k in ids]) if ids else np.zeros((0, h, w), bool)
        order = np.argsort([-int(m.sum()) for m in masks], kind="stable") if ids else np.zeros(0, int)
        masks = masks[order]
        ids = [ids[k] for k in order]
        return Segmentation(masks=masks, scores=np.ones(len(ids)), boxes=boxes_of(masks),
                            labels=[names.get(k, "") for k in ids], ids=ids, frame_index=i,
                            backend="labels", notes=notes)

    def _vlm(self, i: int, text: str | None, pts: np.ndarray | None,
             bx: np.ndarray | None) -> Segmentation:
        """Boxes from the VLM (or the given box) -> masks from metric depth inside each box."""
        from spatialclaw_ros.errors import NoValidDepthError
        from spatialclaw_ros.tools.grounding import box_to_mask, grounding_prompt, parse_boxes

        c = self._ctx
        if pts is not None and bx is None and text is None:
            raise ValueError("backend='vlm' takes a text or a box prompt; for points use "
                             "backend='sam3', or give a box around them")
        key = (i, f"{text}|{None if bx is None else [round(float(x), 1) for x in bx]}")
        if key in self._vlm_cache:
            return self._vlm_cache[key]
        rec = None
        if self._geometry is not None:
            try:
                rec = self._geometry._rec.get(i)
            except (NoValidDepthError, PerceptionError) as exc:
                raise NoValidDepthError(
                    f"backend='vlm' turns boxes into masks with depth, and frame {i} has none: "
                    f"{exc}") from None
        depth = rec.depth if rec is not None else c.depths[i]
        if depth is None:
            raise NoValidDepthError(f"backend='vlm' needs depth on frame {i} (sensor or da3), which "
                                    "this query does not have; end with ReturnAnswer(None, "
                                    "reason='needs a depth model') if nothing else answers")
        K = np.asarray(rec.K if rec is not None else c.cameras[i].K, float)
        img = c.images[i]
        h, w = img.shape[:2]
        notes: list[str] = []
        if bx is not None:
            boxes = [(np.asarray(bx, float), str(text or ""), 1.0)]
        else:
            if c.call_parent is None:
                raise PerceptionError("backend='vlm' asks the VLM for boxes, and this kernel has no "
                                      "line to it")
            reply = c.call_parent("vlm", {"prompt": grounding_prompt(str(text)),
                                          "images": [np.ascontiguousarray(img)]})
            reply_text = str(reply.get("text", "")) if isinstance(reply, dict) else str(reply)
            sent = None
            if isinstance(reply, dict) and reply.get("sent_sizes"):
                sw, sh = reply["sent_sizes"][0]
                sent = (int(sw), int(sh))
            found = parse_boxes(reply_text, w, h, sent_size=sent)
            boxes = [(b.box, b.label or str(text), b.score) for b in found]
            if not found:
                notes.append(f"the VLM gave no box for {text!r} in frame {i}: "
                             f"{reply_text.strip()[:160]!r}")
        masks, scores, labels, used = [], [], [], []
        for b, label, score in boxes:
            m, why = box_to_mask(depth, K, b)
            if m.any():
                masks.append(m)
                scores.append(score)
                labels.append(label)
                used.append(b)
            else:
                notes.append(f"box {np.round(b, 1).tolist()}: {'; '.join(why)}")
        order = np.argsort([-int(m.sum()) for m in masks], kind="stable")
        arr = np.stack([masks[k] for k in order]) if masks else np.zeros((0, h, w), bool)
        seg = Segmentation(masks=arr, scores=np.asarray([scores[k] for k in order], float),
                           boxes=np.asarray([used[k] for k in order], float).reshape(-1, 4),
                           labels=[labels[k] for k in order], ids=[-1] * len(masks),
                           frame_index=i, backend="vlm", notes=notes)
        self._vlm_cache[key] = seg
        return seg

    def _sam3(self, i: int, text: str | None, pts: np.ndarray | None, plabels: np.ndarray | None,
              bx: np.ndarray | None) -> Segmentation:
        c = self._ctx
        if c.call_parent is None:
            raise PerceptionError("SAM 3 needs the perception service, which this kernel has no line to; "
                                  "in simulation use backend='labels'")
        payload = {
            "frame_index": i, "text": None if text is None else str(text),
            "points": None if pts is None else pts.tolist(),
            "point_labels": None if plabels is None else [int(x) for x in plabels],
            "box": None if bx is None else [float(x) for x in bx], "backend": "sam3",
        }
        reply = c.call_parent("perception.segment", payload)
        if not isinstance(reply, dict) or "masks" not in reply:
            raise PerceptionError(f"perception.segment returned an unexpected reply: {type(reply).__name__}")
        h, w = c.images[i].shape[:2]
        masks = np.asarray(reply["masks"], dtype=bool).reshape(-1, h, w)
        scores = np.asarray(reply.get("scores", np.ones(len(masks))), dtype=float).reshape(-1)
        boxes = np.asarray(reply["boxes"], float).reshape(-1, 4) if reply.get("boxes") is not None \
            else boxes_of(masks)
        order = np.argsort(-scores, kind="stable")
        label = str(text) if text is not None else ""
        notes = [] if len(masks) else [f"SAM 3 found nothing for the prompt in frame {i}"]
        return Segmentation(masks=masks[order], scores=scores[order], boxes=boxes[order],
                            labels=[label] * len(masks), ids=[-1] * len(masks), frame_index=i,
                            backend="sam3", notes=notes)

    # -- argument checks --------------------------------------------------------------------------

    @staticmethod
    def _points_arg(points: Any) -> np.ndarray | None:
        if points is None:
            return None
        p = np.asarray(points, dtype=float)
        if p.ndim == 1 and p.shape[0] == 2:
            p = p.reshape(1, 2)
        if p.ndim != 2 or p.shape[1] != 2 or p.shape[0] == 0:
            raise ValueError(f"points must be [[u, v], ...] pixels (column, row), got shape {p.shape}")
        return p

    @staticmethod
    def _point_labels_arg(labels: Any, pts: np.ndarray | None) -> np.ndarray | None:
        if labels is None:
            return None if pts is None else np.ones(len(pts), int)
        lab = np.asarray(labels, dtype=int).reshape(-1)
        if pts is None or len(lab) != len(pts):
            raise ValueError("point_labels needs one 1/0 per point in points")
        return lab

    @staticmethod
    def _box_arg(box: Any) -> np.ndarray | None:
        if box is None:
            return None
        b = np.asarray(box, dtype=float).reshape(-1)
        if b.shape[0] != 4 or b[2] < b[0] or b[3] < b[1]:
            raise ValueError(f"box must be [u0, v0, u1, v1] pixels with u1 >= u0 and v1 >= v0, got {box!r}")
        return b
