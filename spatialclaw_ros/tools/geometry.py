"""tools.Geometry: pixels and masks to metric 3-D, boxes, distances, directions, camera motion."""
from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy.spatial import cKDTree

from spatialclaw_ros.errors import NoTransformError, NoValidDepthError
from spatialclaw_ros.tools.base import Tool
from spatialclaw_ros.tools.context import KernelContext
from spatialclaw_ros.tools.reconstruct import ReconstructTool, check_frame_index, transform_points
from spatialclaw_ros.tools.results import (Amodal, Box3D, CameraMotion, Closest, Direction, Point, PointCloud,
                                           Segmentation)

FRAME_KINDS = ("camera", "fixed", "base")
OUTLIER_METHODS = ("gap", "mad", "statistical", "none")


def _rotation_angle_deg(R: np.ndarray) -> float:
    """Angle of a rotation matrix in degrees (numerically stable for small angles)."""
    w = np.array([R[2, 1] - R[1, 2], R[0, 2] - R[2, 0], R[1, 0] - R[0, 1]])
    return math.degrees(math.atan2(float(np.linalg.norm(w)), float(np.trace(R) - 1.0)))


def depth_cluster(z: np.ndarray, gap_m: float | None = None) -> np.ndarray:
    """Bool mask of the depths in the contiguous run (no jump > gap_m) that holds the median depth."""
    order = np.argsort(z, kind="stable")
    zs = z[order]
    med_idx = len(zs) // 2
    gap = max(0.02, 0.02 * float(zs[med_idx])) if gap_m is None else float(gap_m)
    jumps = np.flatnonzero(np.diff(zs) > gap)      # a jump between zs[j] and zs[j + 1]
    lo = int(jumps[jumps < med_idx].max()) + 1 if np.any(jumps < med_idx) else 0
    hi = int(jumps[jumps >= med_idx].min()) if np.any(jumps >= med_idx) else len(zs) - 1
    keep = np.zeros(len(z), dtype=bool)
    keep[order[lo:hi + 1]] = True
    return keep


def surface_parts(us: np.ndarray, vs: np.ndarray, z: np.ndarray, K: np.ndarray,
                  gap_m: float | None = None, depth_img: np.ndarray | None = None) -> np.ndarray:
    """Bool mask of the mask pixels on the object's surface, every part of a multi-part object kept.

    First the contiguous depth run around the median depth (``depth_cluster``): mask edges that
    bleed onto a farther background fall outside it. The pixels it dropped are then split into
    surfaces connected on the image grid (4-neighbours whose depths differ by < max(gap, 5 % of
    the depth)); a surface comes back when it lies inside the kept depth range and within ``gap``
    of the kept points in 3-D (repeatedly): a table's back legs, a chair's seat behind its
    backrest, a book's top seen at a grazing angle. With the frame's ``depth_img``, a surface that
    continues outside the mask (the floor or table a loose mask bled onto) never comes back.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n = len(z)
    keep = depth_cluster(z, gap_m)
    if n < 5 or keep.all():
        return keep
    zmed = float(np.median(z))
    gap = max(0.02, 0.02 * zmed) if gap_m is None else float(gap_m)
    u0, v0 = int(us.min()), int(vs.min())
    w, h = int(us.max()) - u0 + 1, int(vs.max()) - v0 + 1
    grid = np.full((h, w), -1, np.int64)
    drop = np.flatnonzero(~keep)
    grid[vs[drop] - v0, us[drop] - u0] = np.arange(len(drop))
    zd = z[drop]
    a_list, b_list = [], []
    for ga, gb in ((grid[:, :-1], grid[:, 1:]), (grid[:-1, :], grid[1:, :])):
        ok = (ga >= 0) & (gb >= 0)
        ia, ib = ga[ok], gb[ok]
        near = np.abs(zd[ia] - zd[ib]) < np.maximum(gap, 0.05 * np.minimum(zd[ia], zd[ib]))
        a_list.append(ia[near])
        b_list.append(ib[near])
    a, b = np.concatenate(a_list), np.concatenate(b_list)
    g = coo_matrix((np.ones(len(a), np.int8), (a, b)), shape=(len(drop), len(drop)))
    ncomp, comp = connected_components(g, directed=False)
    pts = np.stack([(us - K[0, 2]) * z / K[0, 0], (vs - K[1, 2]) * z / K[1, 1], z], axis=1)
    join = max(gap, 0.03 * zmed)
    todo = set(range(ncomp))
    while todo:
        kept_pts = pts[keep]
        tree = cKDTree(kept_pts[::max(1, len(kept_pts) // 4000)])
        added = []
        for c in sorted(todo):
            idx = drop[comp == c]
            if depth_img is not None and _continues_outside(depth_img, us, vs, idx, gap):
                continue
            d = tree.query(pts[idx], k=1, distance_upper_bound=2 * join)[0]
            if np.isfinite(d).any() and float(d.min()) < join:
                keep[idx] = True
                added.append(c)
        if not added:
            break
        todo -= set(added)
    return keep


def fit_amodal(pts: np.ndarray, shape: str, support_z: float | None, frame: str) -> Amodal:
    """Fit one upright shape (box, cylinder) or a sphere to (N, 3) fixed-frame points."""
    notes: list[str] = []
    top = float(pts[:, 2].max())
    bottom = float(pts[:, 2].min()) if support_z is None else min(float(support_z), top)
    xy = pts[:, :2]
    if shape == "sphere":
        A = np.c_[2 * pts, np.ones(len(pts))]
        sol, *_ = np.linalg.lstsq(A, (pts ** 2).sum(axis=1), rcond=None)
        c = sol[:3]
        r = float(np.sqrt(max(sol[3] + c @ c, 0.0)))
        res = np.linalg.norm(pts - c, axis=1) - r
        rms = float(np.sqrt(np.mean(res ** 2)))
        unc = rms + r / np.sqrt(len(pts)) * 3
        return Amodal("sphere", c, np.full(3, 2 * r), np.eye(3), unc, rms, frame, None, notes)
    if shape == "cylinder":
        A = np.c_[2 * xy, np.ones(len(xy))]
        sol, *_ = np.linalg.lstsq(A, (xy ** 2).sum(axis=1), rcond=None)
        cxy = sol[:2]
        r = float(np.sqrt(max(sol[2] + cxy @ cxy, 0.0)))
        res = np.linalg.norm(xy - cxy, axis=1) - r
        # points on the top disc are inside the circle, not on it: score the side wall only
        side = pts[:, 2] < top - 0.1 * max(top - bottom, 1e-3)
        rms = float(np.sqrt(np.mean(res[side] ** 2))) if side.sum() >= 5 else \
            float(np.sqrt(np.mean(np.minimum(res, 0) ** 2)))
        c = np.array([cxy[0], cxy[1], (top + bottom) / 2])
        unc = rms + r / np.sqrt(len(pts)) * 3
        return Amodal("cylinder", c, np.array([2 * r, 2 * r, top - bottom]), np.eye(3), unc, rms,
                      frame, support_z, notes)
    # box: minimum-area rectangle of the footprint (rotating the convex hull's edges)
    from scipy.spatial import ConvexHull

    try:
        hull = xy[ConvexHull(xy).vertices]
    except Exception:  # noqa: BLE001 - degenerate (collinear) footprint
        hull = xy
    best = None
    for k in range(len(hull)):
        e = hull[(k + 1) % len(hull)] - hull[k]
        n_e = float(np.linalg.norm(e))
        if n_e < 1e-9:
            continue
        ax = e / n_e
        R2 = np.array([ax, [-ax[1], ax[0]]]).T
        loc = hull @ R2
        lo, hi = loc.min(axis=0), loc.max(axis=0)
        area = float(np.prod(hi - lo))
        if best is None or area < best[0]:
            best = (area, R2, lo, hi)
    if best is None:
        R2, lo, hi = np.eye(2), xy.min(axis=0), xy.max(axis=0)
    else:
        _, R2, lo, hi = best
    ext = hi - lo
    loc = xy @ R2
    # distance of each point to the nearest vertical face (points on the top face excluded)
    d_face = np.minimum.reduce([loc[:, 0] - lo[0], hi[0] - loc[:, 0], loc[:, 1] - lo[1], hi[1] - loc[:, 1]])
    side = pts[:, 2] < top - 0.1 * max(top - bottom, 1e-3)
    rms = float(np.sqrt(np.mean(d_face[side] ** 2))) if side.sum() >= 5 else 0.0
    unc = rms
    if min(ext) < 0.25 * max(ext) and min(ext) < 0.25 * (top - bottom):
        notes.append("only one side seen: the depth of the box is unknown (uncertainty covers it)")
        unc = max(unc, float(max(ext)) / 2)
    cxy = R2 @ ((lo + hi) / 2)
    order = [0, 1] if ext[0] >= ext[1] else [1, 0]
    R = np.eye(3)
    R[:2, :2] = R2[:, order]
    if np.linalg.det(R) < 0:
        R[:, 1] = -R[:, 1]
    c = np.array([cxy[0], cxy[1], (top + bottom) / 2])
    return Amodal("box", c, np.array([ext[order[0]], ext[order[1]], top - bottom]), R, unc, rms,
                  frame, support_z, notes)


def _continues_outside(depth: np.ndarray, us: np.ndarray, vs: np.ndarray, idx: np.ndarray,
                       gap: float) -> bool:
    """Whether the surface of pixels ``idx`` goes on outside the mask (us, vs) at the same depth."""
    from scipy import ndimage

    h, w = depth.shape
    mask = np.zeros((h, w), bool)
    mask[vs, us] = True
    part = np.zeros((h, w), bool)
    part[vs[idx], us[idx]] = True
    zc = np.where(part, np.nan_to_num(depth, nan=0.0), 0.0)
    ones = np.ones((3, 3))
    s = ndimage.convolve(zc, ones, mode="constant")
    cnt = ndimage.convolve(part.astype(float), ones, mode="constant")
    outer = (cnt > 0) & ~mask & np.isfinite(depth)
    if not outer.any():
        return False
    local = s[outer] / cnt[outer]
    zo = depth[outer]
    same = np.abs(zo - local) < np.maximum(gap, 0.05 * local)
    return bool(same.mean() > 0.5)


def closest_pair(pa: np.ndarray, pb: np.ndarray) -> tuple[float, int, int]:
    """Exact closest pair between two point sets: (distance, index in pa, index in pb).

    A KD-tree nearest-neighbour query from a dense surface to another far-away surface is slow (every
    query visits many equidistant cells), so: an upper bound from subsamples, then only the points
    within that bound of the other set's bounding box, queried with the bound.
    """
    sa = pa[::max(1, len(pa) // 1500)]
    sb = pb[::max(1, len(pb) // 1500)]
    bound = float(cKDTree(sb).query(sa, k=1)[0].min()) * (1 + 1e-9) + 1e-12

    def near_box(p: np.ndarray, q: np.ndarray) -> np.ndarray:
        gap = np.maximum(np.maximum(q.min(axis=0) - p, p - q.max(axis=0)), 0.0)
        return np.einsum("ij,ij->i", gap, gap) <= bound * bound

    ia = np.flatnonzero(near_box(pa, pb))
    ib = np.flatnonzero(near_box(pb, pa[ia]))
    d, j = cKDTree(pb[ib]).query(pa[ia], k=1, distance_upper_bound=bound)
    k = int(np.argmin(d))
    return float(d[k]), int(ia[k]), int(ib[j[k]])


def _inv(T: np.ndarray) -> np.ndarray:
    """Inverse of a rigid 4x4 transform."""
    Ti = np.eye(4)
    Ti[:3, :3] = T[:3, :3].T
    Ti[:3, 3] = -T[:3, :3].T @ T[:3, 3]
    return Ti


class GeometryTool(Tool):
    """Metric 3-D geometry in named frames (all lengths in metres, angles in degrees).

    Frames: "fixed" = the query's fixed frame (Metadata['fixed_frame'], e.g. odom/map; z up);
    "camera" = the keyframe's optical frame (x right, y down, z forward, REP-103);
    "base" = the robot base (x forward, y left, z up), where the robot publishes it.
    "camera"/"base" depend on the keyframe: pass frame_index. Plain numpy arrays given to these
    functions are taken to be in the fixed frame; Point/PointCloud results carry their own frame.
    Typical flow: mask -> tools.Geometry.mask_points(i, mask) -> centroid / obb / closest_points.
    backend= (depth and poses): "sensor" = depth image + TF, "da3" = Depth Anything 3 (see
    tools.Reconstruct), "auto" = sensor where the frame has it, else da3 (for poses: TF, else a da3
    estimate already made by tools.Reconstruct).
    """

    doc_name = "Geometry"

    def __init__(self, ctx: KernelContext, reconstruct: ReconstructTool) -> None:
        self._ctx = ctx
        self._rec = reconstruct

    # -- frames and poses -------------------------------------------------------------------------

    def camera_pose(self, frame_index: int, backend: str = "auto") -> np.ndarray:
        """T_fixed_camera (4x4) of a keyframe: maps camera-frame points into the fixed frame.

        Example: `T = tools.Geometry.camera_pose(0); cam_pos = T[:3, 3]`
        """
        i = check_frame_index(self._ctx, frame_index)
        return self._pose(i, backend).copy()

    def camera_position(self, frame_index: int, backend: str = "auto") -> Point:
        """Camera optical centre of a keyframe as a Point in the fixed frame.

        Example: `p = tools.Geometry.camera_position(2)`
        """
        i = check_frame_index(self._ctx, frame_index)
        return Point(self._pose(i, backend)[:3, 3], self._ctx.fixed_frame, int(self._ctx.stamps_ns[i]), i)

    def transform(self, points: Any, to_frame: str, frame_index: int | None = None,
                  from_frame: str | None = None) -> Any:
        """Express points in another frame ("camera", "fixed", "base"); returns the same kind (array, Point, PointCloud).

        from_frame defaults to the input's own frame (plain arrays: "fixed").
        Example: `p_cam = tools.Geometry.transform(p, "camera", frame_index=0)`
        """
        pts, src, stamp, fi = self._points_of(points)
        own = fi
        if from_frame is not None:
            src = self._kind(from_frame)
            own = -1
        i = self._index_for(frame_index, fi, need=(src != "fixed" or self._kind(to_frame) != "fixed"))
        dst = self._kind(to_frame)
        out = self._convert(pts, src, dst, i, src_index=own)
        fid = self._frame_id(dst, i)
        if isinstance(points, Point):
            return Point(out[0], fid, points.stamp_ns, points.frame_index)
        if isinstance(points, PointCloud):
            return PointCloud(out, fid, points.stamp_ns, points.frame_index, n_removed=points.n_removed,
                              notes=list(points.notes))
        return out.reshape(np.shape(points))

    # -- pixels to 3-D ----------------------------------------------------------------------------

    def backproject(self, frame_index: int, uv: Any, depth_m: Any = None, frame: str = "auto",
                    backend: str = "auto") -> np.ndarray:
        """Pixels (N, 2) as (u=column, v=row) -> (N, 3) points in metres; depth from the frame unless depth_m is given.

        frame "auto" = fixed when the camera pose is known, else camera. Pixels without depth give NaN rows.
        Example: `xyz = tools.Geometry.backproject(0, [[120, 80], [130, 85]])  # (2, 3) metres`
        """
        i = check_frame_index(self._ctx, frame_index)
        uv = np.asarray(uv, dtype=np.float64).reshape(-1, 2)
        rec = self._rec.get(i, backend)
        if depth_m is None:
            h, w = rec.depth.shape
            ui = np.clip(np.round(uv[:, 0]).astype(int), 0, w - 1)
            vi = np.clip(np.round(uv[:, 1]).astype(int), 0, h - 1)
            z = rec.depth[vi, ui].astype(np.float64)
        else:
            z = np.broadcast_to(np.asarray(depth_m, dtype=np.float64).ravel(), (uv.shape[0],))
        K = rec.K
        pc = np.stack([(uv[:, 0] - K[0, 2]) * z / K[0, 0], (uv[:, 1] - K[1, 2]) * z / K[1, 1], z], axis=1)
        dst = self._auto_frame(frame, i, backend)
        return self._convert(pc, "camera", dst, i, backend)

    def pixel_to_point(self, frame_index: int, u: float, v: float, frame: str = "auto",
                       backend: str = "auto") -> Point:
        """The 3-D Point under pixel (u=column, v=row), using the median valid depth in a 5x5 window.

        Example: `p = tools.Geometry.pixel_to_point(0, 120, 80); ReturnAnswer(p.tolist(), unit="m", frame=p.frame, stamp_ns=p.stamp_ns)`
        """
        i = check_frame_index(self._ctx, frame_index)
        rec = self._rec.get(i, backend)
        h, w = rec.depth.shape
        ui, vi = int(round(float(u))), int(round(float(v)))
        if not (0 <= ui < w and 0 <= vi < h):
            raise ValueError(f"pixel (u={u}, v={v}) is outside the {w}x{h} image of frame {i}")
        win = rec.depth[max(0, vi - 2):vi + 3, max(0, ui - 2):ui + 3]
        good = win[np.isfinite(win) & (win > 0)]
        if good.size == 0:
            raise NoValidDepthError(f"frame {i}: no valid depth within 2 px of (u={ui}, v={vi}); "
                                    f"pick a pixel on a surface (check r.valid) or another frame")
        z = float(rec.depth[vi, ui]) if np.isfinite(rec.depth[vi, ui]) and rec.depth[vi, ui] > 0 \
            else float(np.median(good))
        dst = self._auto_frame(frame, i, backend)
        xyz = self.backproject(i, [[ui, vi]], depth_m=z, frame=dst, backend=backend)[0]
        return Point(xyz, self._frame_id(dst, i), int(self._ctx.stamps_ns[i]), i)

    def project(self, frame_index: int, points: Any, backend: str = "auto") -> tuple[np.ndarray, np.ndarray]:
        """Project 3-D points into a keyframe: returns (uv (N, 2) pixels, z (N,) metres; z <= 0 is behind the camera).

        Example: `uv, z = tools.Geometry.project(1, cloud)`
        """
        i = check_frame_index(self._ctx, frame_index)
        pts, src, _, fi = self._points_of(points)
        pc = self._convert(pts, src, "camera", i, backend, src_index=fi)
        K = self._rec.get(i, backend).K if self._ctx.depths[i] is not None or backend == "da3" \
            else np.asarray(self._ctx.cameras[i].K, float)
        z = pc[:, 2]
        with np.errstate(divide="ignore", invalid="ignore"):
            uv = np.stack([K[0, 0] * pc[:, 0] / z + K[0, 2], K[1, 1] * pc[:, 1] / z + K[1, 2]], axis=1)
        return uv, z

    def mask_points(self, frame_index: int, mask: Any, frame: str = "auto", backend: str = "auto",
                    outliers: str = "gap", k: float = 3.0, gap_m: float | None = None) -> PointCloud:
        """3-D points (visible surface) of a (H, W) bool mask on a keyframe, with depth outliers removed.

        outliers: "gap" (default) splits the mask into surfaces connected in depth (no jump > gap_m,
        default max(2 cm, 2% of the median depth), between neighbouring pixels) and keeps the largest
        with every other part in its depth range or within max(gap_m, 3% of the depth) of it in 3-D:
        all parts of a multi-part object stay (a table's back legs, a chair's seat behind its backrest),
        mask edges that bleed onto a farther background are dropped. "mad" also drops
        depths more than k robust sigmas (1.4826*MAD) from the median (stricter: trims grazing surfaces);
        "statistical" drops points whose mean distance to 8 neighbours exceeds mean + k*std; "none" keeps
        all. Edge pixels on a surface the object touches (table, floor) are not depth outliers: erode the
        mask first (tools.Mask.erode(m, 2)) when a mask is loose. frame "auto" = fixed when the pose is
        known, else camera.
        Example: `cloud = tools.Geometry.mask_points(0, seg.mask(0)); c = tools.Geometry.centroid(cloud)`
        """
        i = check_frame_index(self._ctx, frame_index)
        if outliers not in OUTLIER_METHODS:
            raise ValueError(f"unknown outliers={outliers!r}; use one of {OUTLIER_METHODS}")
        m = self._mask_arg(mask)
        rec = self._rec.get(i, backend)
        if m.shape != rec.depth.shape:
            raise ValueError(f"mask is {m.shape} but frame {i} is {rec.depth.shape} (H, W); use a mask "
                             f"made on this frame")
        n_mask = int(m.sum())
        if n_mask == 0:
            raise ValueError(f"the mask is empty (0 pixels) on frame {i}; nothing to measure")
        sel = m & rec.valid
        n = int(sel.sum())
        if n == 0:
            raise NoValidDepthError(f"frame {i}: the mask has {n_mask} pixels but none has valid depth; "
                                    f"try another frame or backend='da3'")
        vs, us = np.nonzero(sel)
        z = rec.depth[vs, us].astype(np.float64)
        keep = np.ones(n, dtype=bool)
        notes: list[str] = []
        if outliers == "gap" and n >= 5:
            keep = surface_parts(us, vs, z, rec.K, gap_m, depth_img=rec.depth)
        if outliers == "mad" and n >= 5:
            med = np.median(z)
            sigma = 1.4826 * np.median(np.abs(z - med))
            if sigma > 0:
                keep = np.abs(z - med) <= k * sigma + 1e-6
        K = rec.K
        pc = np.stack([(us - K[0, 2]) * z / K[0, 0], (vs - K[1, 2]) * z / K[1, 1], z], axis=1)[keep]
        if outliers == "statistical" and pc.shape[0] > 9:
            d, _ = cKDTree(pc).query(pc, k=9)
            md = d[:, 1:].mean(axis=1)
            good = md <= md.mean() + k * md.std()
            keep_idx = np.nonzero(keep)[0]
            keep[keep_idx[~good]] = False
            pc = pc[good]
        if n_mask - n:
            notes.append(f"{n_mask - n} of {n_mask} mask pixels had no valid depth")
        dst = self._auto_frame(frame, i, backend)
        pts = self._convert(pc, "camera", dst, i, backend)
        return PointCloud(pts, self._frame_id(dst, i), int(self._ctx.stamps_ns[i]), i,
                          n_removed=int(n - keep.sum()), notes=notes + list(rec.notes))

    # -- shape summaries --------------------------------------------------------------------------

    def centroid(self, points: Any) -> Point:
        """Mean of a point set (of a PointCloud: its visible-surface centroid) as a Point in the same frame.

        Example: `c = tools.Geometry.centroid(cloud); print(c.xyz, c.frame)`
        """
        pts, kind, stamp, fi = self._points_of(points)
        if pts.shape[0] == 0:
            raise ValueError("cannot take the centroid of 0 points")
        return Point(pts.mean(axis=0), self._frame_name(points, kind, fi), stamp, fi)

    def aabb(self, points: Any) -> Box3D:
        """Axis-aligned bounding box (in the points' frame): center, size (x, y, z extents in metres).

        Example: `b = tools.Geometry.aabb(cloud); height_m = b.size[2]`
        """
        pts, kind, _, fi = self._points_of(points)
        if pts.shape[0] == 0:
            raise ValueError("cannot box 0 points")
        lo, hi = pts.min(axis=0), pts.max(axis=0)
        return Box3D((lo + hi) / 2, hi - lo, np.eye(3), self._frame_name(points, kind, fi), "aabb")

    def obb(self, points: Any, upright: bool = False) -> Box3D:
        """Oriented bounding box by PCA: size sorted largest first; R's columns are the box axes.

        upright=True keeps the box vertical (rotation only about z of the fixed frame; use for objects on
        a table or floor, with points in the fixed frame).
        Example: `b = tools.Geometry.obb(cloud, upright=True); length_m, width_m, height_m = b.size`
        """
        pts, kind, _, fi = self._points_of(points)
        if pts.shape[0] < 3:
            raise ValueError(f"an oriented box needs at least 3 points, got {pts.shape[0]}")
        mean = pts.mean(axis=0)
        q = pts - mean
        if upright:
            _, vec2 = np.linalg.eigh(np.cov(q[:, :2].T))
            a = vec2[:, ::-1]
            R = np.array([[a[0, 0], a[0, 1], 0.0], [a[1, 0], a[1, 1], 0.0], [0.0, 0.0, 1.0]])
        else:
            _, vec = np.linalg.eigh(np.cov(q.T))
            R = vec[:, ::-1]
        if np.linalg.det(R) < 0:
            R[:, 1] = -R[:, 1]
        local = q @ R
        lo, hi = local.min(axis=0), local.max(axis=0)
        center = mean + R @ ((lo + hi) / 2)
        size = hi - lo
        if upright and size[1] > size[0]:
            R = R[:, [1, 0, 2]] * np.array([1.0, -1.0, 1.0])
            size = size[[1, 0, 2]]
        elif not upright:
            order = np.argsort(-size, kind="stable")
            R, size = R[:, order], size[order]
            if np.linalg.det(R) < 0:
                R[:, 2] = -R[:, 2]
        return Box3D(center, size, R, self._frame_name(points, kind, fi), "obb")

    def amodal(self, points: Any, shape: str = "auto", support_z: Any = "auto") -> Amodal:
        """Whole-object centre and extent from its visible surface: an upright box, cylinder or sphere fitted to the points.

        Centroids of visible points lean toward the camera; this estimates the true centre. Points in
        the fixed frame (z up), e.g. mask_points clouds of several keyframes stacked.
        shape: "box" (min-area footprint of the points seen from above), "cylinder" (circle fit in
        x-y), "sphere" (sphere fit), or "auto" (the fit with the smallest residual).
        support_z: height of the surface the object stands on (table top, floor = 0): the bottom of
        box and cylinder; "auto" = the lowest visible point; None = no support (extent as seen).
        .uncertainty_m combines the fit residual and, for boxes seen from one side only, the
        unseen depth (read .notes).
        Example: `a = tools.Geometry.amodal(mug_cloud, "cylinder"); ReturnAnswer(a.center.tolist(), unit="m", frame=a.frame)`
        """
        pts, kind, _, fi = self._points_of(points)
        if pts.shape[0] < 10:
            raise ValueError(f"an amodal fit needs at least 10 points, got {pts.shape[0]}")
        frame = self._frame_name(points, kind, fi)
        if shape not in ("auto", "box", "cylinder", "sphere"):
            raise ValueError(f"shape must be auto, box, cylinder or sphere, got {shape!r}")
        if isinstance(support_z, str):
            if support_z != "auto":
                raise ValueError(f"support_z must be a height in metres, 'auto' or None, got {support_z!r}")
            sz = float(pts[:, 2].min())
        else:
            sz = None if support_z is None else float(support_z)
        fits = [fit_amodal(pts, s_, sz, frame) for s_ in
                (("box", "cylinder", "sphere") if shape == "auto" else (shape,))]
        best = min(fits, key=lambda a: a.residual_m)
        if shape == "auto":
            best.notes.append("auto: " + ", ".join(f"{a.shape} residual {a.residual_m * 100:.1f} cm"
                                                    for a in fits))
        return best

    # -- distances and angles ---------------------------------------------------------------------

    def closest_points(self, a: Any, b: Any) -> Closest:
        """Closest surface distance between two point sets (KD-tree), with the point on each set.

        Both inputs must be in the same frame (PointClouds from mask_points on different keyframes are
        comparable when both are in the fixed frame). Only visible surfaces count; on noisy depth the
        minimum is biased low by about the depth noise (often cm at 3 m): prefer keyframes where both
        objects are near the camera.
        Example: `c = tools.Geometry.closest_points(mug, laptop); ReturnAnswer(c.distance_m, unit="m")`
        """
        pa, ka, sa, fa = self._points_of(a)
        pb, kb, sb, fb = self._points_of(b)
        na, nb = self._frame_name(a, ka, fa), self._frame_name(b, kb, fb)
        if na != nb or (ka != "fixed" and fa >= 0 and fb >= 0 and fa != fb):
            where = f"({na!r} vs {nb!r})" if na != nb else f"({na!r} of keyframes {fa} and {fb})"
            raise ValueError(f"point sets are in different frames {where}; convert them with "
                             f"tools.Geometry.transform(..., 'fixed') or use frame='fixed' in mask_points")
        if pa.shape[0] == 0 or pb.shape[0] == 0:
            raise ValueError("closest_points needs two non-empty point sets")
        d, ia, jb = closest_pair(pa, pb)
        return Closest(d, Point(pa[ia], na, sa, fa), Point(pb[jb], nb, sb, fb))

    def distance_m(self, a: Any, b: Any) -> float:
        """Euclidean distance in metres between two single points (Point or 3-vector, same frame).

        For objects use closest_points (surfaces) or the distance between their centroids.
        Example: `d = tools.Geometry.distance_m(tools.Geometry.centroid(mug), tools.Geometry.centroid(laptop))`
        """
        pa, ka, _, fa = self._points_of(a)
        pb, kb, _, fb = self._points_of(b)
        if pa.shape[0] != 1 or pb.shape[0] != 1:
            raise ValueError("distance_m takes two single points; for point sets use closest_points() or "
                             "centroid() first")
        na, nb = self._frame_name(a, ka, fa), self._frame_name(b, kb, fb)
        if na != nb or (ka != "fixed" and fa >= 0 and fb >= 0 and fa != fb):
            raise ValueError(f"points are in different frames ({na!r} of keyframe {fa} vs {nb!r} of keyframe "
                             f"{fb}); transform them to 'fixed' first")
        return float(np.linalg.norm(pa[0] - pb[0]))

    def angle_deg(self, u: Any, v: Any, vertex: Any = None) -> float:
        """Angle in degrees between two vectors, or at `vertex` between points u and v (angle u-vertex-v).

        Example: `tools.Geometry.angle_deg([1, 0, 0], [0, 1, 0])  # 90.0`
        """
        a = np.asarray(self._points_of(u)[0][0], float)
        b = np.asarray(self._points_of(v)[0][0], float)
        if vertex is not None:
            o = np.asarray(self._points_of(vertex)[0][0], float)
            a, b = a - o, b - o
        na, nb = np.linalg.norm(a), np.linalg.norm(b)
        if na == 0 or nb == 0:
            raise ValueError("angle of a zero-length vector is undefined")
        c = float(np.clip(np.dot(a, b) / (na * nb), -1.0, 1.0))
        s = float(np.linalg.norm(np.cross(a, b)) / (na * nb))
        return math.degrees(math.atan2(s, c))

    def direction(self, target: Any, reference: Any, frame: str = "camera",
                  frame_index: int | None = None, tol_m: float = 0.01) -> Direction:
        """Where target is relative to reference (centroids), in words and metres, in one frame.

        frame="camera": as seen in keyframe frame_index: left/right, above/below (image up), and
        closer/farther (depth along the optical axis). frame="base": robot axes: front/behind (+x), left/right (+y),
        above/below (+z). frame="fixed": above/below by fixed z (gravity); left/right and closer/farther
        as seen from the camera of frame_index, on the horizontal plane. A component within tol_m reads
        "aligned" / "level" / "same_distance". frame_index defaults to the target's keyframe.
        components_m holds the signed metres ("right", "up", "farther" or "front", "left", "up").
        Example: `d = tools.Geometry.direction(mug, laptop, "camera", 0); print(d.left_right, d.dominant)`
        """
        kind = self._kind(frame)
        t = self.centroid(target)
        r = self.centroid(reference)
        tp, tk, _, tfi = self._points_of(t)
        rp, rk, _, rfi = self._points_of(r)
        fi = frame_index if frame_index is not None else (t.frame_index if t.frame_index >= 0 else
                                                          (r.frame_index if r.frame_index >= 0 else None))
        i = self._index_for(fi, -1, need=True)
        tf_ = self._convert(tp, tk, "fixed", i, src_index=tfi)[0]
        rf_ = self._convert(rp, rk, "fixed", i, src_index=rfi)[0]
        vec_fixed = tf_ - rf_
        if kind == "camera":
            R = self._pose(i)[:3, :3].T
            v = R @ vec_fixed
            comps = {"right": float(v[0]), "up": float(-v[1]), "farther": float(v[2])}
        elif kind == "base":
            T = self._base_pose(i)
            v = T[:3, :3].T @ vec_fixed
            comps = {"front": float(v[0]), "left": float(v[1]), "up": float(v[2])}
        else:
            fwd = self._pose(i)[:3, 2].copy()
            fwd[2] = 0.0
            if np.linalg.norm(fwd) < 1e-9:
                raise ValueError(f"camera of frame {i} looks straight up/down: left/right in the fixed frame "
                                 f"is undefined; use frame='camera'")
            fwd /= np.linalg.norm(fwd)
            left = np.cross([0.0, 0.0, 1.0], fwd)
            v = vec_fixed
            comps = {"right": float(-v @ left), "up": float(v[2]), "farther": float(v @ fwd)}
        words = {
            "right": ("right", "left"), "left": ("left", "right"), "up": ("above", "below"),
            "farther": ("farther", "closer"), "front": ("front", "behind"),
        }

        level = {"right": "aligned", "left": "aligned", "up": "level", "farther": "same_distance",
                 "front": "same_distance"}

        def word(key: str) -> str:
            pos, neg = words[key]
            if abs(comps[key]) < tol_m:
                return level[key]
            return pos if comps[key] > 0 else neg

        lr_key = "right" if "right" in comps else "left"
        fb_key = "farther" if "farther" in comps else "front"
        dom_key = max(comps, key=lambda k_: abs(comps[k_]))
        return Direction(
            vector=v, distance_m=float(np.linalg.norm(vec_fixed)), frame=kind, frame_id=self._frame_id(kind, i),
            left_right=word(lr_key), front_behind=word(fb_key), above_below=word("up"),
            dominant=word(dom_key), components_m=comps)

    # -- camera motion ----------------------------------------------------------------------------

    def camera_travel(self, from_index: int, to_index: int, backend: str = "auto") -> CameraMotion:
        """How far the camera moved (metres) and turned (degrees) between two keyframes.

        travel_m = straight line between the two positions; rotation_deg = net turn between them.
        path_m and turn_deg = length and total turning of the path: from every TF sample between the
        two stamps where the recording has TF (path_source "tf"), else summed over keyframes.
        Example: `m = tools.Geometry.camera_travel(0, len(InputImages) - 1); ReturnAnswer(m.travel_m, unit="m")`
        """
        i = check_frame_index(self._ctx, from_index)
        j = check_frame_index(self._ctx, to_index)
        cam = self._camera_names()
        if cam and cam[i] != cam[j]:          # several cameras: a motion is one camera's
            raise ValueError(
                f"keyframes {i} and {j} come from different cameras ({cam[i]!r}, {cam[j]!r}): pick two "
                f"keyframes of one camera, e.g. Metadata['frames_by_camera'][{cam[i]!r}][0] and [-1]")
        Ti, Tj = self._pose(i, backend, any_world=True), self._pose(j, backend, any_world=True)
        step = 1 if j >= i else -1
        poses = [Ti] + [self._pose(k, backend, any_world=True)
                        for k in (range(i + step, j + step, step) if i != j else [])
                        if not cam or cam[k] == cam[i]]
        source = "keyframes"
        track = self._track_between(i, j, Ti, Tj) if backend in ("auto", "sensor") else None
        if track is not None:
            poses, source = track, "tf"
        path = sum(float(np.linalg.norm(b[:3, 3] - a[:3, 3])) for a, b in zip(poses, poses[1:]))
        turn = sum(_rotation_angle_deg(a[:3, :3].T @ b[:3, :3]) for a, b in zip(poses, poses[1:]))
        rot = _rotation_angle_deg(Ti[:3, :3].T @ Tj[:3, :3])
        dt = (int(self._ctx.stamps_ns[j]) - int(self._ctx.stamps_ns[i])) * 1e-9
        tr = Tj[:3, 3] - Ti[:3, 3]
        return CameraMotion(i, j, float(np.linalg.norm(tr)), path, rot, dt, self._ctx.fixed_frame, tr,
                            turn_deg=float(turn), path_source=source)

    def _camera_names(self) -> list[str]:
        """Metadata['camera_names'] when the query has frames of several cameras, else []."""
        md = self._ctx.metadata if isinstance(self._ctx.metadata, dict) else {}
        names = md.get("camera_names") or []
        return list(names) if len(set(names)) > 1 and len(names) == len(self._ctx.images) else []

    def _track_between(self, i: int, j: int, Ti: np.ndarray, Tj: np.ndarray) -> list[np.ndarray] | None:
        """Poses from Metadata['camera_track'] (full-rate TF) strictly between keyframes i and j, with both ends."""
        c = self._ctx
        tr = c.metadata.get("camera_track") if isinstance(c.metadata, dict) else None
        if not tr or tr.get("frame") != c.fixed_frame or c.poses[i] is None or c.poses[j] is None:
            return None
        if tr.get("camera_frame") and c.cameras[i].frame_id and \
                tr["camera_frame"] != c.cameras[i].frame_id:
            return None                       # the track is another camera's path

        from transforms3d.quaternions import quat2mat

        a, b = sorted((int(c.stamps_ns[i]), int(c.stamps_ns[j])))
        mid = []
        for t, xyz, q in zip(tr.get("stamps_ns", []), tr.get("xyz", []), tr.get("quat_wxyz", [])):
            if a < int(t) < b:
                T = np.eye(4)
                T[:3, :3] = quat2mat(q)
                T[:3, 3] = xyz
                mid.append(T)
        if j < i:
            mid.reverse()
        return [Ti, *mid, Tj]

    # -- internals --------------------------------------------------------------------------------

    def _pose(self, i: int, backend: str = "auto", any_world: bool = False) -> np.ndarray:
        """T_fixed_camera of keyframe i: TF ("sensor"), Depth Anything 3 ("da3"), or TF then da3 ("auto").

        any_world=True also accepts da3 poses in another world frame (fine for relative motion).
        """
        c = self._ctx
        T = c.poses[i] if backend in ("auto", "sensor") else None
        da3_frame = ""
        if T is None and backend in ("auto", "da3"):
            cached = self._rec._cache.get((i, "da3"))
            if cached is None and backend == "da3":
                cached = self._rec.get(i, "da3")
            if cached is not None and cached.T_fixed_camera is not None:
                if cached.frame == c.fixed_frame or any_world:
                    T = cached.T_fixed_camera
                else:
                    da3_frame = cached.frame
        if T is None:
            hint = f"; Depth Anything 3 poses are in {da3_frame!r}, not the fixed frame" if da3_frame else \
                ("; tools.Reconstruct.run(backend='da3') can estimate poses" if c.call_parent is not None
                 and backend != "sensor" else "")
            raise NoTransformError(
                f"frame {i} has no camera pose in {c.fixed_frame!r} (no TF at its stamp){hint}; only "
                f"camera-frame geometry works on it (frame='camera')")
        return np.asarray(T, dtype=np.float64)

    def _base_pose(self, i: int) -> np.ndarray:
        poses = self._ctx.base_poses
        T = poses[i] if i < len(poses) else None
        if T is None:
            raise NoTransformError(
                f"no robot base pose for frame {i} (no base frame in TF for this query); use "
                f"frame='camera' or frame='fixed'")
        return np.asarray(T, dtype=np.float64)

    def _kind(self, name: str) -> str:
        c = self._ctx
        if name in FRAME_KINDS:
            return name
        if name and name == c.fixed_frame:
            return "fixed"
        if name and name == c.base_frame:
            return "base"
        if name and any(name == cam.frame_id for cam in c.cameras):
            return "camera"
        raise ValueError(f"unknown frame {name!r}; use 'camera', 'fixed' ({c.fixed_frame!r}) or 'base'"
                         + (f" ({c.base_frame!r})" if c.base_frame else ""))

    def _frame_id(self, kind: str, i: int) -> str:
        c = self._ctx
        if kind == "fixed":
            return c.fixed_frame
        if kind == "base":
            return c.base_frame or "base"
        return c.cameras[i].frame_id or "camera"

    def _frame_name(self, obj: Any, kind: str, fi: int) -> str:
        if isinstance(obj, (Point, PointCloud)):
            return obj.frame
        return self._frame_id(kind, max(fi, 0))

    def _auto_frame(self, frame: str, i: int, backend: str = "auto") -> str:
        if frame != "auto":
            return self._kind(frame)
        try:
            self._pose(i, backend)
            return "fixed"
        except NoTransformError:
            return "camera"

    def _index_for(self, frame_index: int | None, fallback: int, need: bool) -> int:
        if frame_index is not None:
            return check_frame_index(self._ctx, frame_index)
        if fallback >= 0:
            return fallback
        if need:
            raise ValueError("this conversion depends on the keyframe: pass frame_index=<int>")
        return 0

    def _convert(self, pts: np.ndarray, src: str, dst: str, i: int, backend: str = "auto",
                 src_index: int = -1) -> np.ndarray:
        """Points from frame kind src (of keyframe src_index, default i) to kind dst of keyframe i."""
        j = src_index if src_index >= 0 else i
        if src == dst and (src == "fixed" or j == i):
            return pts

        def to_fixed(kind: str, k: int) -> np.ndarray:
            if kind == "fixed":
                return np.eye(4)
            return self._pose(k, backend) if kind == "camera" else self._base_pose(k)

        T = _inv(to_fixed(dst, i)) @ to_fixed(src, j)
        return transform_points(T, pts)

    def _points_of(self, obj: Any) -> tuple[np.ndarray, str, int, int]:
        """(points (N, 3) float64, frame kind, stamp_ns, frame_index) of a Point, PointCloud or array."""
        if isinstance(obj, Point):
            return obj.xyz.reshape(1, 3), self._kind(obj.frame), obj.stamp_ns, obj.frame_index
        if isinstance(obj, PointCloud):
            return np.asarray(obj.points, float).reshape(-1, 3), self._kind(obj.frame), obj.stamp_ns, \
                obj.frame_index
        if isinstance(obj, (Segmentation,)) or (isinstance(obj, np.ndarray) and obj.dtype == bool):
            raise TypeError("got a mask/segmentation where 3-D points were expected; convert it first with "
                            "tools.Geometry.mask_points(frame_index, mask)")
        try:
            arr = np.asarray(obj, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"expected a Point, PointCloud or (N, 3) array, got {type(obj).__name__}") from exc
        if arr.ndim == 1 and arr.shape[0] == 3:
            return arr.reshape(1, 3), "fixed", 0, -1
        if arr.ndim == 2 and arr.shape[1] == 3:
            return arr, "fixed", 0, -1
        if arr.ndim == 3 and arr.shape[2] == 3:
            flat = arr.reshape(-1, 3)
            return flat[np.all(np.isfinite(flat), axis=1)], "fixed", 0, -1
        raise ValueError(f"expected points of shape (3,) or (N, 3), got {arr.shape}")

    @staticmethod
    def _mask_arg(mask: Any) -> np.ndarray:
        if isinstance(mask, Segmentation):
            if len(mask) != 1:
                raise ValueError(f"got a Segmentation with {len(mask)} masks; pick one with seg.mask(k) "
                                 f"or merge them with seg.union()")
            return mask.masks[0]
        m = np.asarray(mask)
        if m.ndim != 2:
            raise ValueError(f"mask must be (H, W), got shape {m.shape}; for (N, H, W) pick one: masks[k]")
        return m > 0.5 if np.issubdtype(m.dtype, np.floating) else m.astype(bool)
