"""Put Depth Anything 3 output into the ROS fixed frame, in metres (pure numpy).

DA3 predicts depth and camera poses in a world of its own (the first view's camera, arbitrary
scale). Three ways to fix that, tried in this order:

1. ``tf``: two or more frames carry TF camera poses with enough baseline. A similarity transform
   (Umeyama: scale, rotation, translation) maps DA3 camera centres onto the TF camera centres; the
   depth is multiplied by the scale. Residual: RMS distance between fitted and TF centres (m).
2. ``sensor_depth``: some frames carry valid sensor depth. Scale only, the median of
   sensor / DA3 over valid pixels. Residual: median absolute depth error after scaling (m).
3. ``metric``: neither. A DA3 metric model gives metres as ``focal_px * output / 300``; the result
   says "scale estimated" and its residual is unknown (NaN).

Poses: frames with TF keep their TF pose; the others get the DA3 pose carried into the fixed
frame by the fit (or, without any TF, are expressed in the first camera's optical frame).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

MIN_BASELINE_M = 0.03          # TF camera centres closer than this cannot fix a scale
MIN_VALID_DEPTH_PX = 100       # fewer valid sensor pixels than this cannot fix a scale
METRIC_FOCAL_DIVISOR = 300.0   # DA3METRIC: depth_m = focal_px * output / 300


@dataclass
class Similarity:
    """x_dst = scale * R @ x_src + t."""

    scale: float
    R: np.ndarray
    t: np.ndarray

    def apply(self, points: np.ndarray) -> np.ndarray:
        """Map (N, 3) points from the source to the destination frame."""
        return self.scale * np.asarray(points, float) @ self.R.T + self.t


@dataclass
class Alignment:
    """How DA3 output was put into metres and the fixed frame, with its uncertainty."""

    mode: str                          # "tf" | "sensor_depth" | "metric"
    scale: float                       # multiply DA3 depth (and translations) by this
    T_fixed_camera: list[np.ndarray]   # per frame, 4x4, camera optical frame -> `frame`
    frame: str                         # the frame the poses are in
    residual_m: float                  # fit residual (NaN when unknown)
    notes: list[str] = field(default_factory=list)


def umeyama(src: np.ndarray, dst: np.ndarray, with_scale: bool = True) -> Similarity:
    """Least-squares similarity (Umeyama 1991) mapping (N, 3) ``src`` onto ``dst``; N >= 3, non-collinear."""
    src = np.asarray(src, float)
    dst = np.asarray(dst, float)
    if src.shape != dst.shape or src.ndim != 2 or src.shape[1] != 3 or len(src) < 3:
        raise ValueError(f"umeyama needs two (N>=3, 3) arrays of equal shape, got {src.shape} and {dst.shape}")
    mu_s, mu_d = src.mean(0), dst.mean(0)
    xs, xd = src - mu_s, dst - mu_d
    var_s = float((xs ** 2).sum() / len(src))
    if var_s < 1e-18:
        raise ValueError("umeyama: source points coincide; scale and rotation are undetermined")
    cov = xd.T @ xs / len(src)
    U, D, Vt = np.linalg.svd(cov)
    S = np.eye(3)
    if np.linalg.det(U) * np.linalg.det(Vt) < 0:
        S[2, 2] = -1.0
    R = U @ S @ Vt
    scale = float(np.trace(np.diag(D) @ S) / var_s) if with_scale else 1.0
    t = mu_d - scale * R @ mu_s
    return Similarity(scale, R, t)


def rotation_average(rotations: list[np.ndarray]) -> np.ndarray:
    """The rotation closest (chordal L2) to the mean of ``rotations``."""
    M = np.sum([np.asarray(r, float) for r in rotations], axis=0)
    U, _, Vt = np.linalg.svd(M)
    S = np.eye(3)
    if np.linalg.det(U @ Vt) < 0:
        S[2, 2] = -1.0
    return U @ S @ Vt


def extrinsics_to_c2w(extrinsics: np.ndarray) -> np.ndarray:
    """DA3 world-to-camera (N, 3, 4) or (N, 4, 4) -> camera-to-world (N, 4, 4)."""
    E = np.asarray(extrinsics, float)
    out = np.tile(np.eye(4), (len(E), 1, 1))
    R, t = E[:, :3, :3], E[:, :3, 3]
    out[:, :3, :3] = np.transpose(R, (0, 2, 1))
    out[:, :3, 3] = -np.einsum("nji,nj->ni", R, t)
    return out


def metric_depth(output: np.ndarray, focal_px: float) -> np.ndarray:
    """DA3METRIC raw output -> metres: focal_px * output / 300."""
    return np.asarray(output, np.float32) * np.float32(focal_px / METRIC_FOCAL_DIVISOR)


METRIC_NOTE = "scale estimated (DA3METRIC: depth = focal * output / 300)"


def metric_focal_px(K: np.ndarray, image_hw: tuple[int, int], processed_hw: tuple[int, int]) -> float:
    """(fx + fy) / 2 of ``K`` (for an image of ``image_hw``) scaled to the network input ``processed_hw``."""
    (h, w), (ph, pw) = image_hw, processed_hw
    if min(h, w, ph, pw) <= 0:
        raise ValueError(f"image {h}x{w} and processed {ph}x{pw} sizes must be positive")
    K = np.asarray(K, float)
    if K.shape != (3, 3) or not np.isfinite(K).all() or K[0, 0] <= 0 or K[1, 1] <= 0:
        raise ValueError(f"camera K must be a finite 3x3 with positive fx, fy; got {K.tolist()}")
    return 0.5 * (K[0, 0] * pw / w + K[1, 1] * ph / h)


def has_scale_source(tf_poses: list[np.ndarray | None], sensor_depth: list[np.ndarray | None]) -> bool:
    """Whether TF camera centres with baseline or enough valid sensor-depth pixels can fix DA3's scale."""
    centres = np.array([np.asarray(T, float)[:3, 3] for T in tf_poses if T is not None]).reshape(-1, 3)
    if len(centres) >= 2 and float(np.max(np.linalg.norm(centres - centres.mean(0), axis=1))) >= MIN_BASELINE_M / 2:
        return True
    valid = 0
    for s in sensor_depth:
        if s is not None:
            s = np.asarray(s)
            valid += int((np.isfinite(s) & (s > 0)).sum())
    return valid >= MIN_VALID_DEPTH_PX


def metric_alignment(focal_px: list[float], tf_poses: list[np.ndarray | None], fixed_frame: str,
                     camera_frame: str) -> Alignment:
    """Poses and notes for per-frame DA3METRIC depth: the TF poses when every frame has one, else identity."""
    notes = [METRIC_NOTE, "no TF baseline and no valid sensor depth: metric depth from da3metric-large per frame "
             "(focal px " + ", ".join(f"{f:.1f}" for f in focal_px) + "); uncertainty unknown"]
    if tf_poses and all(T is not None for T in tf_poses):
        poses, frame = [np.asarray(T, float).copy() for T in tf_poses], fixed_frame
        notes.append("poses are the frames' TF poses")
    else:
        poses, frame = [np.eye(4) for _ in tf_poses], camera_frame
        notes.append(f"no TF pose: T_fixed_camera is identity and depth is in each frame's own camera frame "
                     f"({camera_frame})" + ("; the frames are NOT registered to each other" if len(tf_poses) > 1
                                            else ""))
    scale = float(np.mean(focal_px) / METRIC_FOCAL_DIVISOR) if focal_px else math.nan
    return Alignment("metric", scale, poses, frame, math.nan, notes)


def _fit_tf(c2w_da3: np.ndarray, tf_poses: list[np.ndarray | None]) -> tuple[Similarity, float] | None:
    idx = [i for i, T in enumerate(tf_poses) if T is not None]
    if len(idx) < 2:
        return None
    src = c2w_da3[idx, :3, 3]
    dst = np.array([np.asarray(tf_poses[i], float)[:3, 3] for i in idx])
    spread = float(np.max(np.linalg.norm(dst - dst.mean(0), axis=1)))
    src_spread = float(np.max(np.linalg.norm(src - src.mean(0), axis=1)))
    if spread < MIN_BASELINE_M / 2 or src_spread < 1e-9:
        return None
    centred = dst - dst.mean(0)
    sv = np.linalg.svd(centred, compute_uv=False)
    if len(idx) >= 3 and sv[1] > 1e-3 * sv[0]:
        sim = umeyama(src, dst)
    else:
        # Collinear centres leave the roll about the baseline free: take the rotation from the
        # camera orientations instead, then scale and translation by least squares.
        R = rotation_average([np.asarray(tf_poses[i], float)[:3, :3] @ c2w_da3[i, :3, :3].T for i in idx])
        a = (src - src.mean(0)) @ R.T
        b = dst - dst.mean(0)
        scale = float((a * b).sum() / max((a * a).sum(), 1e-18))
        sim = Similarity(scale, R, dst.mean(0) - scale * R @ src.mean(0))
    if sim.scale <= 0:
        return None
    resid = sim.apply(src) - dst
    return sim, float(np.sqrt((resid ** 2).sum(1).mean()))


def _fit_depth_scale(da3_depth: list[np.ndarray], sensor: list[np.ndarray | None]) -> tuple[float, float, int] | None:
    ratios, pairs = [], []
    for d, s in zip(da3_depth, sensor):
        if s is None:
            continue
        if s.shape != d.shape:
            raise ValueError(f"sensor depth {s.shape} and DA3 depth {d.shape} differ in size; resize first")
        ok = np.isfinite(s) & (s > 0) & np.isfinite(d) & (d > 1e-6)
        if ok.any():
            ratios.append(s[ok] / d[ok])
            pairs.append((d[ok], s[ok]))
    n = int(sum(len(r) for r in ratios))
    if n < MIN_VALID_DEPTH_PX:
        return None
    scale = float(np.median(np.concatenate(ratios)))
    err = np.concatenate([np.abs(scale * d - s) for d, s in pairs])
    return scale, float(np.median(err)), n


def align_da3(extrinsics: np.ndarray, depth: list[np.ndarray], *, tf_poses: list[np.ndarray | None],
              sensor_depth: list[np.ndarray | None], fixed_frame: str, camera_frame: str = "camera",
              metric_scale: list[float] | None = None) -> Alignment:
    """Choose and fit the alignment of DA3 output (w2c ``extrinsics``, relative ``depth``) to metres and TF.

    ``metric_scale`` (per frame focal_px / 300, only for a DA3METRIC model) is used when neither TF
    nor sensor depth can fix the scale; without it that case raises ValueError.
    """
    n = len(depth)
    if len(extrinsics) != n or len(tf_poses) != n or len(sensor_depth) != n:
        raise ValueError(f"align_da3: {len(extrinsics)} poses, {n} depth maps, {len(tf_poses)} TF poses and "
                         f"{len(sensor_depth)} sensor depth maps must be one per frame")
    c2w = extrinsics_to_c2w(extrinsics)
    notes: list[str] = []
    fit = _fit_tf(c2w, tf_poses)
    if fit is not None:
        sim, resid = fit
        notes.append(f"aligned to TF by a similarity fit over {sum(T is not None for T in tf_poses)} camera "
                     f"centres (scale {sim.scale:.4g}, RMS residual {resid:.3f} m)")
        return Alignment("tf", sim.scale, _poses(c2w, sim, tf_poses), fixed_frame, resid, notes)
    ds = _fit_depth_scale(depth, sensor_depth)
    if ds is not None:
        scale, resid, npx = ds
        notes.append(f"scale {scale:.4g} fitted on {npx} valid sensor-depth pixels "
                     f"(median abs error {resid:.3f} m)")
        sim, frame = _anchor(c2w, scale, tf_poses, fixed_frame, camera_frame, notes)
        return Alignment("sensor_depth", scale, _poses(c2w, sim, tf_poses), frame, resid, notes)
    if metric_scale is None:
        raise ValueError("DA3 scale is undetermined: no two TF camera poses with baseline and no valid sensor "
                         "depth, and no metric model exported for the fallback; use frames with TF poses or sensor "
                         "depth, or export it with `spatialclaw build-engines --model da3metric-large "
                         "--checkpoint DIR`")
    notes.append("scale estimated: DA3METRIC depth = focal * output / 300 (no TF baseline, no sensor depth); "
                 "uncertainty unknown")
    scale = float(np.mean(metric_scale))
    sim, frame = _anchor(c2w, scale, tf_poses, fixed_frame, camera_frame, notes)
    return Alignment("metric", scale, _poses(c2w, sim, tf_poses), frame, math.nan, notes)


def _anchor(c2w: np.ndarray, scale: float, tf_poses: list[np.ndarray | None], fixed_frame: str,
            camera_frame: str, notes: list[str]) -> tuple[Similarity, str]:
    """A similarity that puts the DA3 world in the fixed frame via one TF pose, else the first camera."""
    for i, T in enumerate(tf_poses):
        if T is not None:
            T = np.asarray(T, float)
            R = T[:3, :3] @ c2w[i, :3, :3].T
            t = T[:3, 3] - scale * R @ c2w[i, :3, 3]
            return Similarity(scale, R, t), fixed_frame
    notes.append(f"no TF pose: poses are relative to the first camera ({camera_frame})")
    R = c2w[0, :3, :3].T
    return Similarity(scale, R, -scale * R @ c2w[0, :3, 3]), camera_frame


def _poses(c2w: np.ndarray, sim: Similarity, tf_poses: list[np.ndarray | None]) -> list[np.ndarray]:
    out = []
    for i, T in enumerate(tf_poses):
        if T is not None:
            out.append(np.asarray(T, float).copy())
            continue
        P = np.eye(4)
        P[:3, :3] = sim.R @ c2w[i, :3, :3]
        P[:3, 3] = sim.apply(c2w[i, :3, 3][None])[0]
        out.append(P)
    return out
