"""What each configuration key means and which values it takes (shared by the node and the CLI).

`SPECS` maps every dotted key of `config.Config` to a `ParamSpec`: a one-line description, the
allowed choices or numeric range, and whether a running node can apply a change (`read_only`
keys are fixed at start: subscriptions, the kernel pool, buffers). The node turns these into ROS
parameter descriptors; `check_value` is the one validation both the node and the CLI use, so a bad
value is a configuration error that names the parameter and what it accepts.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ParamSpec:
    """Description, allowed values and mutability of one configuration key."""

    description: str
    choices: tuple[str, ...] = ()
    min: float | None = None
    max: float | None = None
    read_only: bool = False


_RO = True
SPECS: dict[str, ParamSpec] = {
    "fixed_frame": ParamSpec("frame answers are expressed in (REP-105 odom or map)", read_only=_RO),
    "base_frame": ParamSpec("robot base frame looked up at each keyframe ('' = none)", read_only=_RO),
    "topics.color": ParamSpec("colour image topic (relative: follows the namespace)", read_only=_RO),
    "topics.depth": ParamSpec("depth image aligned to colour ('' = none)", read_only=_RO),
    "topics.camera_info": ParamSpec("CameraInfo of the colour camera", read_only=_RO),
    "topics.labels": ParamSpec("instance-label image (simulation; '' = none)", read_only=_RO),
    "topics.compressed": ParamSpec("legacy: same as topics.color_transport=compressed",
                                   read_only=_RO),
    "topics.color_transport": ParamSpec("colour transport: raw (Image) or compressed "
                                        "(<color>/compressed)", ("raw", "compressed"),
                                        read_only=_RO),
    "topics.depth_transport": ParamSpec("depth transport: raw (Image) or compressedDepth "
                                        "(<depth>/compressedDepth)", ("raw", "compressedDepth"),
                                        read_only=_RO),
    "topics.image_model": ParamSpec("colour image geometry: rectified (use P), raw (undistort "
                                    "with D and K), auto (from the topic name: *rect* = rectified)",
                                    ("auto", "rectified", "raw"), read_only=_RO),
    "vlm.base_url": ParamSpec("OpenAI-compatible endpoint, e.g. http://host:8000/v1"),
    "vlm.model": ParamSpec("served model name ('' = the first the server lists)"),
    "vlm.api_key_env": ParamSpec("name of the environment variable holding the API key"),
    "vlm.temperature": ParamSpec("sampling temperature", min=0.0, max=2.0),
    "vlm.max_tokens": ParamSpec("tokens per reply", min=1, max=1_000_000),
    "vlm.timeout_s": ParamSpec("seconds per VLM call", min=0.1, max=3600.0),
    "vlm.retries": ParamSpec("retries on 429/5xx/connection errors/bad bodies", min=0, max=20),
    "vlm.max_images_per_step": ParamSpec("images shown to the model per step", min=0, max=64),
    "vlm.max_images_per_query": ParamSpec("images in the whole conversation", min=0, max=1024),
    "vlm.image_max_side": ParamSpec("longest image side sent to the VLM, pixels", min=32,
                                    max=8192),
    "vlm.extra_body": ParamSpec("JSON object merged into every chat request ('' = none)"),
    "vlm.tool_choice": ParamSpec("tool_call executor's tool_choice", ("auto", "required")),
    "agent.executor": ParamSpec("how the agent answers",
                                ("code", "tool_call", "single_pass", "no_tool")),
    "agent.max_steps": ParamSpec("VLM steps per query", min=1, max=1000),
    "agent.query_timeout_s": ParamSpec("seconds per query", min=1.0, max=86400.0),
    "agent.cell_timeout_s": ParamSpec("seconds per code cell", min=0.1, max=3600.0),
    "agent.max_concurrent_queries": ParamSpec("queries running at once", min=1, max=64,
                                              read_only=_RO),
    "agent.max_queued_queries": ParamSpec("further goals that wait (FIFO); beyond: BUSY", min=0,
                                          max=1024, read_only=_RO),
    "agent.transcript_dir": ParamSpec("where each query's JSONL + HTML transcript goes"),
    "agent.output_max_chars": ParamSpec("stdout/stderr shown to the model per step", min=100,
                                        max=1_000_000),
    "agent.transcript_max_mb": ParamSpec("cap on the transcript directory, MB (0 = no cap); "
                                         "oldest successes go first", min=0, max=10_000_000),
    "agent.transcript_max_age_days": ParamSpec("delete successful transcripts older than this "
                                               "(0 = keep)", min=0.0, max=36500.0),
    "agent.transcript_keep_failures_days": ParamSpec("delete failed transcripts older than this "
                                                     "(0 = keep)", min=0.0, max=36500.0),
    "sandbox.mode": ParamSpec("kernel isolation", ("auto", "strict", "off"), read_only=_RO),
    "sandbox.pool_size": ParamSpec("pre-warmed kernels", min=0, max=64, read_only=_RO),
    "sandbox.memory_mb": ParamSpec("address-space limit of a kernel, MB", min=64, max=10_000_000,
                                   read_only=_RO),
    "sandbox.cpu_s": ParamSpec("CPU seconds per kernel", min=1, max=10_000_000, read_only=_RO),
    "sandbox.max_open_files": ParamSpec("open files per kernel", min=16, max=1_048_576,
                                        read_only=_RO),
    "sandbox.max_file_mb": ParamSpec("largest file a kernel may write, MB", min=1,
                                     max=10_000_000, read_only=_RO),
    "sandbox.max_processes": ParamSpec("processes per kernel user", min=1, max=65536,
                                       read_only=_RO),
    "keyframes.min_interval_s": ParamSpec("keep a frame at least this often, s", min=0.0,
                                          max=3600.0, read_only=_RO),
    "keyframes.min_translation_m": ParamSpec("...or when the camera moved this far, m", min=0.0,
                                             max=1000.0, read_only=_RO),
    "keyframes.min_rotation_deg": ParamSpec("...or turned this much, degrees", min=0.0, max=360.0,
                                            read_only=_RO),
    "keyframes.max_frames": ParamSpec("keyframes buffered", min=1, max=100_000, read_only=_RO),
    "keyframes.memory_cap_mb": ParamSpec("buffer memory cap, MB", min=1, max=1_000_000,
                                         read_only=_RO),
    "keyframes.sync_tolerance_s": ParamSpec("colour/depth/camera_info stamp matching, s",
                                            min=0.0, max=10.0, read_only=_RO),
    "keyframes.max_query_frames": ParamSpec("frames given to one query", min=1, max=1024),
    "perception.depth_backend": ParamSpec("where depth comes from", ("auto", "sensor", "da3"),
                                          read_only=_RO),
    "perception.segment_backend": ParamSpec("where masks come from", ("auto", "labels", "sam3", "vlm"),
                                            read_only=_RO),
    "perception.runtime": ParamSpec("model runtime", ("tensorrt", "onnxruntime", "torch"),
                                    read_only=_RO),
    "perception.engine_dir": ParamSpec("exported models (spatialclaw build-engines)",
                                       read_only=_RO),
    "perception.da3_model": ParamSpec("Depth Anything 3 preset", read_only=_RO),
    "perception.sam3_bpe_path": ParamSpec("SAM 3 BPE vocabulary file", read_only=_RO),
    "memory.enabled": ParamSpec("record keyframes into memory.dir while the node runs",
                                read_only=_RO),
    "memory.dir": ParamSpec("spatial memory directory (MCAP segments + SQLite index)",
                            read_only=_RO),
    "memory.max_disk_mb": ParamSpec("memory disk budget, MB (old periods thinned first)", min=1,
                                    max=100_000_000, read_only=_RO),
    "memory.segment_max_mb": ParamSpec("close a memory segment at this size, MB", min=1,
                                       max=100_000, read_only=_RO),
    "memory.segment_max_s": ParamSpec("...or after this long, s", min=1.0, max=86400.0,
                                      read_only=_RO),
    "memory.min_interval_s": ParamSpec("memory keyframes at most this often, s", min=0.0,
                                       max=3600.0, read_only=_RO),
    "memory.min_translation_m": ParamSpec("new memory keyframe when the camera moved this far, m",
                                          min=0.0, max=1000.0, read_only=_RO),
    "memory.min_rotation_deg": ParamSpec("...or turned this much, degrees", min=0.0, max=360.0,
                                         read_only=_RO),
    "memory.place_cell_m": ParamSpec("place cell size, m", min=0.01, max=1000.0, read_only=_RO),
    "memory.revisit_s": ParamSpec("a place not seen for this long gets a new keyframe, s",
                                  min=0.0, max=1e7, read_only=_RO),
    "memory.jpeg_quality": ParamSpec("memory colour JPEG quality", min=1, max=100, read_only=_RO),
    "memory.keep_recent_s": ParamSpec("retention never thins the last this-many seconds",
                                      min=0.0, max=1e9, read_only=_RO),
    "memory.captions_per_hour": ParamSpec("idle-time VLM captions per hour (0 = off)", min=0.0,
                                          max=3600.0, read_only=_RO),
    "diagnostics.frame_warn_age_s": ParamSpec("frames status WARN when the newest frame is older, "
                                              "s (node clock)", min=0.1, max=86400.0),
    "diagnostics.frame_error_age_s": ParamSpec("frames status ERROR when the newest frame is "
                                               "older, s", min=0.1, max=86400.0),
    "cameras.spec": ParamSpec("JSON list of cameras [{name, color, depth, camera_info, labels, "
                              "image_model}] ('' = one camera 'camera' from topics.*)", read_only=_RO),
    "cameras.max_query_frames_per_camera": ParamSpec(
        "frames per camera given to one query (0 = keyframes.max_query_frames)", min=0, max=1024),
    "cameras.moment_tolerance_s": ParamSpec("frames of different cameras this close share a moment, s",
                                            min=0.0, max=10.0),
}


def allowed(spec: ParamSpec) -> str:
    """The allowed values of `spec` in words ('one of a, b' or 'from 1 to 64')."""
    if spec.choices:
        return "one of " + ", ".join(spec.choices)
    if spec.min is not None and spec.max is not None:
        return f"from {spec.min:g} to {spec.max:g}"
    if spec.min is not None:
        return f">= {spec.min:g}"
    return "any value"


def check_value(key: str, value: Any) -> str | None:
    """Why `value` is not allowed for `key` (naming the parameter and what it accepts), or None."""
    spec = SPECS.get(key)
    if spec is None:
        return None
    if spec.choices and isinstance(value, str) and value not in spec.choices:
        return f"parameter '{key}' must be {allowed(spec)}, got {value!r}"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if isinstance(value, float) and not math.isfinite(value):
            return f"parameter '{key}' must be a finite number ({allowed(spec)}), got {value!r}"
        if (spec.min is not None and value < spec.min) or (spec.max is not None
                                                           and value > spec.max):
            return f"parameter '{key}' must be {allowed(spec)}, got {value!r}"
    return None
