"""The perception service: one object per node that owns a model worker process and serves every query.

Models are loaded once, in a worker subprocess (perception/worker.py), not per query. Requests from
any thread go through one FIFO queue to the worker; frames and outputs travel through shared memory.
One Reconstruct call sends all of a query's keyframes as a single multi-view DA3 batch. Every reply
carries its timings. If the worker dies (crash, OOM kill) or stops answering, the request in flight
fails with a PerceptionError that says so, and the worker is started again for the next request.
"""
from __future__ import annotations

import collections
import hashlib
import json
import logging
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from spatialclaw_ros.config import Config
from spatialclaw_ros.errors import PerceptionError
from spatialclaw_ros.frames.types import Frame
from spatialclaw_ros.perception import da3 as da3c
from spatialclaw_ros.perception import engines
from spatialclaw_ros.perception.alignment import (
    METRIC_FOCAL_DIVISOR,
    align_da3,
    has_scale_source,
    metric_alignment,
    metric_depth,
    metric_focal_px,
)
from spatialclaw_ros.perception.transport import discard, pack, read_message

log = logging.getLogger("spatialclaw.perception")
# Prints where an interpreter's open_clip keeps the CLIP BPE vocabulary (without importing open_clip).
_FIND_VOCAB = ("import importlib.util as u, os; print(os.path.join(u.find_spec('open_clip')"
               ".submodule_search_locations[0], 'bpe_simple_vocab_16e6.txt.gz'))")
REPO_ROOT = Path(__file__).resolve().parents[2]


def sam3_python() -> str:
    """The interpreter of .venv-sam3 (env SPATIALCLAW_SAM3_PYTHON overrides)."""
    return os.environ.get("SPATIALCLAW_SAM3_PYTHON") or str(REPO_ROOT / ".venv-sam3" / "bin" / "python")


def models_python() -> str:
    """The interpreter of .venv-models (env SPATIALCLAW_MODELS_PYTHON overrides)."""
    env = os.environ.get("SPATIALCLAW_MODELS_PYTHON")
    if env:
        return env
    return str(REPO_ROOT / ".venv-models" / "bin" / "python")


@dataclass
class ReconstructResult:
    """Metric depth and fixed-frame poses for a query's frames (the perception.reconstruct reply)."""

    depth: list[np.ndarray]
    conf: list[np.ndarray]
    T_fixed_camera: list[np.ndarray]
    K: list[np.ndarray]
    frame: str
    backend: str
    notes: list[str]
    residual_m: float
    mode: str
    scale: float
    timings_ms: dict[str, float] = field(default_factory=dict)

    def to_reply(self) -> dict[str, Any]:
        """The reply dict of docs/CONTRACTS.md (plus mode, scale and timings_ms)."""
        return {"depth": self.depth, "conf": self.conf, "T_fixed_camera": self.T_fixed_camera, "K": self.K,
                "frame": self.frame, "units": "m", "backend": self.backend, "notes": list(self.notes),
                "residual_m": self.residual_m, "mode": self.mode, "scale": self.scale,
                "timings_ms": dict(self.timings_ms)}


@dataclass
class SegmentResult:
    """Masks for one prompt on one frame (the perception.segment reply)."""

    masks: np.ndarray          # (N, H, W) bool
    scores: np.ndarray         # (N,) float32
    boxes: np.ndarray          # (N, 4) float32 xyxy pixels
    backend: str
    notes: list[str] = field(default_factory=list)
    timings_ms: dict[str, float] = field(default_factory=dict)

    def to_reply(self) -> dict[str, Any]:
        """The reply dict of docs/CONTRACTS.md (plus backend, notes and timings_ms)."""
        return {"masks": self.masks, "scores": self.scores, "boxes": self.boxes, "backend": self.backend,
                "notes": list(self.notes), "timings_ms": dict(self.timings_ms)}


class _Job:
    def __init__(self, header: dict[str, Any], arrays: dict[str, np.ndarray], timeout_s: float) -> None:
        self.header, self.arrays, self.timeout_s = header, arrays, timeout_s
        self.future: Future = Future()
        self.queued_at = time.perf_counter()


class WorkerProcess:
    """One model worker subprocess behind a FIFO queue, restarted after a crash or a hang."""

    def __init__(self, name: str, python: str, load: dict[str, Any], *, timeout_s: float = 300.0,
                 load_timeout_s: float = 600.0, env: dict[str, str] | None = None) -> None:
        self.name, self.python, self.load_header = name, python, load
        self.timeout_s, self.load_timeout_s = timeout_s, load_timeout_s
        self.env = env
        self.restarts = 0
        self.info: dict[str, Any] = {}
        self._proc: subprocess.Popen | None = None
        self._replies: queue.Queue = queue.Queue()
        self._stderr: collections.deque[str] = collections.deque(maxlen=40)
        self._jobs: queue.Queue = queue.Queue()
        self._seq = 0
        self._closed = False
        self._start_error: PerceptionError | None = None
        self._thread = threading.Thread(target=self._dispatch, name=f"perception-{name}", daemon=True)
        self._thread.start()

    # -- public ---------------------------------------------------------------------------------
    def request(self, op: str, header: dict[str, Any] | None = None, arrays: dict[str, np.ndarray] | None = None,
                timeout_s: float | None = None) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """Queue a request and wait for its reply; PerceptionError on failure."""
        if self._closed:
            raise PerceptionError(f"perception service ({self.name}) is closed")
        job = _Job({"op": op, **(header or {})}, arrays or {}, timeout_s or self.timeout_s)
        self._jobs.put(job)
        return job.future.result()

    def ensure_started(self) -> dict[str, Any]:
        """Start and load the worker now (normally done lazily by the first request)."""
        self.request("ping")
        return self.info

    @property
    def pid(self) -> int | None:
        """The worker's process id, or None when it is not running."""
        return self._proc.pid if self._proc and self._proc.poll() is None else None

    def close(self) -> None:
        """Stop the worker and the dispatcher."""
        self._closed = True
        self._jobs.put(None)
        self._thread.join(timeout=10)
        self._stop_proc()

    # -- internals --------------------------------------------------------------------------------
    def _spawn(self) -> None:
        env = dict(os.environ if self.env is None else self.env)
        for name in [k for k in env if k.startswith("SPATIALCLAW_VLM_") or k == "OPENAI_API_KEY"]:
            del env[name]        # the worker never talks to the VLM: keep its credentials out
        env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT)] + [p for p in [env.get("PYTHONPATH", "")] if p])
        env.setdefault("HF_HUB_OFFLINE", "1")
        if not Path(self.python).exists():
            raise PerceptionError(f"perception runtime interpreter {self.python} not found: run `make setup-models` "
                                  "(the torch runtime lives in .venv-models)")
        self._replies = queue.Queue()
        self._proc = subprocess.Popen([self.python, "-m", "spatialclaw_ros.perception.worker"], stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=str(REPO_ROOT))
        proc, replies = self._proc, self._replies
        threading.Thread(target=self._read_replies, args=(proc, replies), daemon=True).start()
        threading.Thread(target=self._read_stderr, args=(proc,), daemon=True).start()
        reply, _ = self._roundtrip({"op": "load", **self.load_header}, {}, self.load_timeout_s)
        self.info = reply
        if reply.get("manifest", {}).get("random_weights"):
            log.warning("%s: %s (%s)", self.name, engines.RANDOM_WEIGHTS_LABEL, reply["manifest"].get("model"))

    def _read_replies(self, proc: subprocess.Popen, replies: queue.Queue) -> None:
        try:
            while True:
                msg = read_message(proc.stdout)
                replies.put(msg)
                if msg is None:
                    return
        except Exception as exc:  # noqa: BLE001 - a torn message ends the stream
            replies.put(exc)

    def _read_stderr(self, proc: subprocess.Popen) -> None:
        for raw in proc.stderr:
            line = raw.decode(errors="replace").rstrip()
            self._stderr.append(line)
            log.debug("%s worker: %s", self.name, line)

    def _roundtrip(self, header: dict[str, Any], arrays: dict[str, np.ndarray],
                   timeout_s: float) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        assert self._proc is not None
        self._seq += 1
        header = {**header, "id": self._seq}
        header["arrays"] = pack(arrays)
        try:
            self._proc.stdin.write(json.dumps(header).encode() + b"\n")
            self._proc.stdin.flush()
        except (BrokenPipeError, OSError):
            discard(header["arrays"])
            raise self._died("while sending a request") from None
        try:
            msg = self._replies.get(timeout=timeout_s)
        except queue.Empty:
            discard(header["arrays"])
            self._stop_proc()
            raise PerceptionError(f"perception worker ({self.name}) gave no reply to '{header['op']}' within "
                                  f"{timeout_s:.0f} s; it was stopped and will restart") from None
        if msg is None or isinstance(msg, Exception):
            discard(header["arrays"])
            raise self._died(f"during '{header['op']}'")
        reply, out = msg
        if reply.get("id") != header["id"]:
            raise self._died(f"(reply out of order: {reply.get('id')} for {header['id']})")
        if not reply.get("ok"):
            err = reply.get("error", "unknown error")
            raise PerceptionError(f"perception ({self.name}): {err}")
        return reply, out

    def _died(self, when: str) -> PerceptionError:
        rc = None
        if self._proc is not None:
            try:
                rc = self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._stop_proc()
        why = {-signal.SIGKILL: "killed (SIGKILL; the usual sign of running out of memory)",
               -signal.SIGSEGV: "crashed (segmentation fault)",
               3: "ran out of memory"}.get(rc, f"exited with code {rc}")
        time.sleep(0.05)
        tail = " | ".join(list(self._stderr)[-3:])
        self._proc = None
        return PerceptionError(f"perception worker ({self.name}) {why} {when}; the request failed and the worker "
                               f"restarts for the next one" + (f". Last output: {tail}" if tail else ""))

    def _stop_proc(self) -> None:
        p, self._proc = self._proc, None
        if p is None:
            return
        try:
            p.stdin.close()
        except OSError:
            pass
        try:
            p.wait(timeout=3)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=10)

    def _dispatch(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            if job.future.set_running_or_notify_cancel() is False:
                continue
            queue_ms = (time.perf_counter() - job.queued_at) * 1000
            try:
                if self._proc is None or self._proc.poll() is not None:
                    if self._proc is not None:          # died between requests
                        self._proc = None
                    restarting = self.restarts > 0 or bool(self.info)
                    try:
                        self._spawn()
                    except PerceptionError:
                        self._stop_proc()
                        raise
                    if restarting:
                        log.warning("perception worker (%s) restarted", self.name)
                if job.header["op"] == "ping":
                    reply, out = self.info, {}
                else:
                    reply, out = self._roundtrip(job.header, job.arrays, job.timeout_s)
                reply = dict(reply)
                reply["queue_ms"] = queue_ms
                job.future.set_result((reply, out))
            except PerceptionError as exc:
                if self._proc is None:
                    self.restarts += 1
                job.future.set_exception(exc)
            except Exception as exc:  # noqa: BLE001 - never leave a caller waiting
                job.future.set_exception(PerceptionError(f"perception ({self.name}) failed: {exc}"))


def frame_key(frame: Frame) -> tuple[int, str]:
    """Identity of a frame's image for result caching."""
    return frame.stamp_ns, hashlib.blake2b(np.ascontiguousarray(frame.rgb).data, digest_size=12).hexdigest()


class PerceptionService:
    """Owns the perception workers of a node (or of one CLI run) and serves every query."""

    def __init__(self, cfg: Config, *, runtime: str | None = None, engine_dir: str | None = None,
                 threads: int = 0, precision: str = "fp16", timeout_s: float = 300.0, cache_size: int = 4,
                 sam3_checkpoint: str | None = None, sam3_random_weights: bool = False,
                 sam3_confidence: float = 0.5) -> None:
        self.cfg = cfg
        self.runtime = runtime or cfg.perception.runtime
        if self.runtime not in ("tensorrt", "onnxruntime", "torch"):
            raise PerceptionError(f"perception.runtime must be tensorrt, onnxruntime or torch, got {self.runtime!r}")
        self.engine_dir = engine_dir or cfg.perception.engine_dir
        self.threads, self.precision, self.timeout_s = threads, precision, timeout_s
        self._workers: dict[str, WorkerProcess] = {}
        self._lock = threading.Lock()
        self._cache: collections.OrderedDict[Any, ReconstructResult] = collections.OrderedDict()
        self._cache_size = cache_size
        self.sam3_checkpoint = sam3_checkpoint if sam3_checkpoint is not None else os.environ.get(
            "SPATIALCLAW_SAM3_CHECKPOINT", str(engines.model_dir(self.engine_dir, "sam3") / "sam3.pt"))
        self.sam3_random_weights = sam3_random_weights      # TESTS ONLY
        self.sam3_confidence = sam3_confidence
        self._tokenizer: Any = None

    def da3_worker(self) -> WorkerProcess:
        """The DA3 worker (created on first use)."""
        with self._lock:
            w = self._workers.get("da3")
            if w is None:
                model = self.cfg.perception.da3_model
                python = models_python() if self.runtime == "torch" else sys.executable
                load = {"da3": {"dir": str(engines.model_dir(self.engine_dir, model)), "runtime": self.runtime,
                                "precision": self.precision, "threads": self.threads}}
                w = self._workers["da3"] = WorkerProcess("da3", python, load, timeout_s=self.timeout_s)
            return w

    def metric_worker(self) -> WorkerProcess | None:
        """The da3metric-large worker when ``<engine_dir>/da3metric-large`` holds an export; else None."""
        d = engines.model_dir(self.engine_dir, da3c.METRIC_MODEL)
        if not (d / engines.MANIFEST).is_file():
            return None
        with self._lock:
            w = self._workers.get("da3metric")
            if w is None:
                python = models_python() if self.runtime == "torch" else sys.executable
                load = {"da3": {"dir": str(d), "runtime": self.runtime, "precision": self.precision,
                                "threads": self.threads}}
                w = self._workers["da3metric"] = WorkerProcess("da3metric", python, load, timeout_s=self.timeout_s)
            return w

    def reconstruct(self, frames: list[Frame], fixed_frame: str | None = None) -> ReconstructResult:
        """Depth (m), confidence and fixed-frame poses for ``frames`` from one multi-view DA3 call.

        Without a scale source (TF baseline or valid sensor depth) the metric model, when exported,
        gives per-frame metric depth instead (mode "metric", notes say "scale estimated").
        """
        if not frames:
            raise PerceptionError("Reconstruct needs at least one frame")
        key = (tuple(frame_key(f) for f in frames), fixed_frame)
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                hit = self._cache[key]
                return ReconstructResult(**{**hit.__dict__, "timings_ms": {"total_ms": 0.0, "cached": 1.0}})
        ff = fixed_frame or self.cfg.fixed_frame
        metric = None
        if not has_scale_source([f.T_fixed_camera for f in frames], [f.depth for f in frames]):
            metric = self.metric_worker()
        if metric is not None:
            result = self._reconstruct_metric(frames, metric, ff)
        else:
            result = self._reconstruct_multiview(frames, ff)
        with self._lock:
            self._cache[key] = result
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return result

    def _reconstruct_metric(self, frames: list[Frame], worker: WorkerProcess, ff: str) -> ReconstructResult:
        """Per-frame da3metric-large depth in metres (focal_px * output / 300); poses from TF or identity."""
        t0 = time.perf_counter()
        info = worker.ensure_started()
        man = info["manifest"]
        shape = man["input_shapes"][da3c.INPUT_NAME]
        views, h, w = int(shape[1]), int(shape[3]), int(shape[4])
        focal, raw, sky = [], [], []
        infer_ms = queue_ms = 0.0
        for start in range(0, len(frames), views):       # one call per `views` frames (1 for the default export)
            chunk = frames[start:start + views]
            x = da3c.preprocess([f.rgb for f in chunk] + [chunk[-1].rgb] * (views - len(chunk)), (h, w))
            reply, out = worker.request("da3", arrays={da3c.INPUT_NAME: x})
            infer_ms += float(reply.get("infer_ms", 0.0))
            queue_ms += float(reply.get("queue_ms", 0.0))
            try:
                res = da3c.MetricOutput.from_outputs(out)
            except ValueError as exc:
                raise PerceptionError(f"{man['model']}: {exc}") from None
            if res.raw.shape != (views, h, w):
                raise PerceptionError(f"{man['model']} returned depth {res.raw.shape}, expected {(views, h, w)}: "
                                      f"re-export with `spatialclaw build-engines --model {da3c.METRIC_MODEL}`")
            raw += list(res.raw[:len(chunk)])
            sky += [None] * len(chunk) if res.sky is None else list(res.sky[:len(chunk)])
        t1 = time.perf_counter()
        depth, conf, n_sky = [], [], 0
        for f, r, s in zip(frames, raw, sky):
            H, W = f.rgb.shape[:2]
            cam_hw = (f.camera.height, f.camera.width) if f.camera.height > 0 and f.camera.width > 0 else (H, W)
            try:
                fp = metric_focal_px(f.camera.K, cam_hw, (h, w))
            except ValueError as exc:
                raise PerceptionError(f"DA3 metric fallback: {exc}") from None
            focal.append(fp)
            d = da3c.to_size(metric_depth(r, fp), H, W)
            if s is None:
                c = np.ones((H, W), np.float32)
            else:
                s = da3c.to_size(s, H, W)
                is_sky = s >= da3c.SKY_THRESHOLD
                n_sky += int(is_sky.sum())
                d = np.where(is_sky, np.float32(np.nan), d).astype(np.float32)
                c = np.clip(1.0 - s, 0.0, 1.0).astype(np.float32)
            depth.append(d.astype(np.float32))
            conf.append(c)
        al = metric_alignment(focal, [f.T_fixed_camera for f in frames], ff, frames[0].camera.frame_id or "camera")
        notes = list(al.notes)
        if n_sky:
            notes.append(f"{n_sky} sky pixel(s) (sky score >= {da3c.SKY_THRESHOLD}) have NaN depth")
        if all(s is None for s in sky):
            notes.append("the metric model gives no confidence: conf is 1 everywhere")
        else:
            notes.append("conf = 1 - sky score (the metric model gives no depth confidence)")
        if man.get("random_weights"):
            notes.insert(0, f"{engines.RANDOM_WEIGHTS_LABEL}: depth is meaningless")
        t2 = time.perf_counter()
        return ReconstructResult(
            depth=depth, conf=conf, T_fixed_camera=al.T_fixed_camera,
            K=[np.asarray(f.camera.K, float) for f in frames], frame=al.frame,
            backend=f"da3:{man['model']}:{info.get('backend', self.runtime)}", notes=notes,
            residual_m=al.residual_m, mode=al.mode, scale=al.scale,
            timings_ms={"preprocess_ms": 0.0, "queue_ms": queue_ms, "infer_ms": infer_ms,
                        "roundtrip_ms": (t1 - t0) * 1000, "align_ms": (t2 - t1) * 1000, "total_ms": (t2 - t0) * 1000})

    def _reconstruct_multiview(self, frames: list[Frame], ff: str) -> ReconstructResult:
        """One multi-view DA3 call aligned to TF or sensor depth."""
        t0 = time.perf_counter()
        worker = self.da3_worker()
        info = worker.ensure_started()
        man = info["manifest"]
        shape = man["input_shapes"][da3c.INPUT_NAME]
        views, h, w = int(shape[1]), int(shape[3]), int(shape[4])
        if len(frames) > views:
            raise PerceptionError(f"{len(frames)} frames in one Reconstruct call, but {man['model']} was exported for "
                                  f"{views} views: pass at most {views} frames or re-export with "
                                  f"`spatialclaw build-engines --model {man['model']} --views {len(frames)}`")
        images = [f.rgb for f in frames] + [frames[-1].rgb] * (views - len(frames))
        x = da3c.preprocess(images, (h, w))
        t1 = time.perf_counter()
        reply, out = worker.request("da3", arrays={da3c.INPUT_NAME: x})
        t2 = time.perf_counter()
        res = da3c.Da3Output.from_outputs(out)
        n = len(frames)
        depth = [da3c.to_size(res.depth[i], f.rgb.shape[0], f.rgb.shape[1]) for i, f in enumerate(frames)]
        conf = [da3c.to_size(res.conf[i], f.rgb.shape[0], f.rgb.shape[1]) for i, f in enumerate(frames)]
        metric_scale = None
        if man.get("metric"):
            metric_scale = [f.camera.fx * w / f.rgb.shape[1] / METRIC_FOCAL_DIVISOR for f in frames]
        try:
            al = align_da3(res.extrinsics[:n], depth, tf_poses=[f.T_fixed_camera for f in frames],
                           sensor_depth=[f.depth for f in frames], fixed_frame=ff,
                           camera_frame=frames[0].camera.frame_id or "camera", metric_scale=metric_scale)
        except ValueError as exc:
            raise PerceptionError(f"DA3 alignment: {exc}") from None
        notes = list(al.notes)
        if man.get("random_weights"):
            notes.insert(0, f"{engines.RANDOM_WEIGHTS_LABEL}: depth is meaningless")
        if views > n:
            notes.append(f"{views - n} padding view(s) repeated the last frame (export has {views} views)")
        t3 = time.perf_counter()
        result = ReconstructResult(
            depth=[(d * np.float32(al.scale)).astype(np.float32) for d in depth], conf=conf,
            T_fixed_camera=al.T_fixed_camera, K=[np.asarray(f.camera.K, float) for f in frames], frame=al.frame,
            backend=f"da3:{man['model']}:{info.get('backend', self.runtime)}", notes=notes,
            residual_m=al.residual_m, mode=al.mode, scale=al.scale,
            timings_ms={"preprocess_ms": (t1 - t0) * 1000, "queue_ms": float(reply.get("queue_ms", 0.0)),
                        "infer_ms": float(reply.get("infer_ms", 0.0)), "roundtrip_ms": (t2 - t1) * 1000,
                        "align_ms": (t3 - t2) * 1000, "total_ms": (t3 - t0) * 1000})
        return result

    def sam3_worker(self) -> WorkerProcess:
        """The SAM 3 worker (torch, in .venv-sam3; created on first use)."""
        with self._lock:
            w = self._workers.get("sam3")
            if w is None:
                python = sam3_python()
                if not Path(python).exists():
                    raise _segment_unavailable(python)
                from spatialclaw_ros.perception.bpe import find_vocab
                try:
                    bpe = str(find_vocab(self.cfg.perception.sam3_bpe_path))
                except FileNotFoundError:
                    bpe = ""      # resolved in the worker, whose open_clip ships the vocabulary
                if not bpe:
                    bpe = subprocess.run([python, "-c", _FIND_VOCAB], capture_output=True, text=True,
                                         timeout=120).stdout.strip()
                ck = "" if self.sam3_random_weights else self.sam3_checkpoint
                if not self.sam3_random_weights and not Path(ck).is_file():
                    raise PerceptionError(f"SAM 3 checkpoint {ck} not found (never downloaded): put sam3.pt there or "
                                          "set SPATIALCLAW_SAM3_CHECKPOINT; its licence is Meta's SAM License")
                load = {"sam3": {"bpe_path": bpe, "checkpoint": ck, "random_weights": self.sam3_random_weights,
                                 "confidence": self.sam3_confidence, "threads": self.threads}}
                w = self._workers["sam3"] = WorkerProcess("sam3", python, load, timeout_s=max(self.timeout_s, 600))
                self._bpe_path = bpe
            return w

    def segment(self, frame: Frame, prompt: dict[str, Any]) -> SegmentResult:
        """Masks for a text and/or box prompt on one frame (SAM 3); the frame's encoding is reused."""
        t0 = time.perf_counter()
        worker = self.sam3_worker()
        notes: list[str] = []
        text = prompt.get("text")
        if text:
            if self._tokenizer is None and getattr(self, "_bpe_path", ""):
                from spatialclaw_ros.perception.bpe import ClipBpeTokenizer
                self._tokenizer = ClipBpeTokenizer(self._bpe_path)
            if self._tokenizer is not None and len(self._tokenizer.encode(text)) > 30:
                notes.append("text prompt longer than SAM 3's 32-token context: truncated")
        box = prompt.get("box")
        header = {"image_key": "%d:%s" % frame_key(frame), "text": text,
                  "box": None if box is None else [float(b) for b in box],
                  "points": None if prompt.get("points") is None else np.asarray(prompt["points"]).tolist()}
        reply, out = worker.request("sam3.segment", header, {"image": np.ascontiguousarray(frame.rgb)})
        if worker.info.get("sam3_random_weights"):
            notes.insert(0, f"{engines.RANDOM_WEIGHTS_LABEL}: masks are meaningless")
        timings = {k: float(v) for k, v in reply.get("timings", {}).items()}
        timings.update({"queue_ms": float(reply.get("queue_ms", 0.0)), "total_ms": (time.perf_counter() - t0) * 1000})
        return SegmentResult(out["masks"].astype(bool), out["scores"], out["boxes"], "sam3:torch", notes, timings)

    def close(self) -> None:
        """Stop every worker."""
        with self._lock:
            workers, self._workers = list(self._workers.values()), {}
        for w in workers:
            w.close()

    def __enter__(self) -> "PerceptionService":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _segment_unavailable(python: str) -> PerceptionError:
    return PerceptionError(
        f"SAM 3 is not available: its runtime interpreter {python} is missing. SAM 3 runs on torch only (no "
        "ONNX/TensorRT export yet; the image model is ~840M parameters) from .venv-sam3: run "
        "`bash scripts/setup_models.sh sam3` (~5.5 GB), or use perception.segment_backend=labels where a label "
        "topic exists")
