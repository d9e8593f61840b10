"""One configuration for the node and the CLI, read from the node's ROS parameter YAML.

``config/agent.yaml`` is a normal ROS 2 parameter file (``/**: ros__parameters:``, so a node keeps it
under any name and namespace; the CLI also reads the older ``spatialclaw_agent:`` key);
nested keys become dotted parameter names (``vlm.base_url``). The CLI reads the same file, so a
setting means the same thing in ``ros2 launch`` and in ``spatialclaw query``.
"""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

NODE_NAME = "spatialclaw_agent"
DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "config" / "agent.yaml"


@dataclass
class TopicsConfig:
    """Input topics: relative names (they follow the node's namespace; remap them as image_pipeline
    nodes are remapped) or absolute ones."""

    color: str = "color"
    depth: str = "depth"
    camera_info: str = "camera_info"
    labels: str = ""            # instance-label image (simulation); "" = none
    compressed: bool = False    # legacy: same as color_transport: compressed
    color_transport: str = "raw"        # raw | compressed (<color>/compressed)
    depth_transport: str = "raw"        # raw | compressedDepth (<depth>/compressedDepth)
    image_model: str = "auto"           # auto | rectified (use P) | raw (undistort with D, K)


@dataclass
class VlmConfig:
    """The OpenAI-compatible VLM endpoint (vLLM first)."""

    base_url: str = "http://127.0.0.1:8000/v1"
    model: str = ""             # "": the first model the server lists
    api_key_env: str = "SPATIALCLAW_VLM_API_KEY"
    temperature: float = 0.2
    max_tokens: int = 1024
    timeout_s: float = 60.0
    retries: int = 3
    max_images_per_step: int = 2
    max_images_per_query: int = 16
    image_max_side: int = 640
    extra_body: str = ""        # JSON object merged into every chat request (server-specific extras)
    tool_choice: str = "auto"   # tool_call executor: auto (vLLM --tool-call-parser) | required (guided)


@dataclass
class AgentConfig:
    """The agent loop."""

    executor: str = "code"
    max_steps: int = 30
    query_timeout_s: float = 300.0
    cell_timeout_s: float = 30.0
    max_concurrent_queries: int = 1
    max_queued_queries: int = 4
    transcript_dir: str = "~/.spatialclaw/transcripts"
    output_max_chars: int = 4000
    transcript_max_mb: int = 1000               # 0 = no cap; oldest successes go first
    transcript_max_age_days: float = 14.0       # successful transcripts; 0 = keep
    transcript_keep_failures_days: float = 60.0  # failed ones (kept longer); 0 = keep


@dataclass
class SandboxConfig:
    """Isolation of the kernel that runs model-written code."""

    mode: str = "auto"          # auto: use every layer the OS offers; strict: refuse if one is missing; off
    pool_size: int = 1          # pre-warmed kernels
    memory_mb: int = 4096       # RLIMIT_AS
    cpu_s: int = 120            # RLIMIT_CPU per kernel
    max_open_files: int = 256
    max_file_mb: int = 256      # RLIMIT_FSIZE
    max_processes: int = 64     # RLIMIT_NPROC (per user; effective in a user namespace)


@dataclass
class KeyframeConfig:
    """Which frames are kept for queries."""

    min_interval_s: float = 0.5
    min_translation_m: float = 0.05
    min_rotation_deg: float = 5.0
    max_frames: int = 64
    memory_cap_mb: int = 512
    sync_tolerance_s: float = 0.02
    max_query_frames: int = 8   # frames handed to one query (evenly spread over the window)


@dataclass
class PerceptionConfig:
    """Where depth and masks come from."""

    depth_backend: str = "auto"     # auto (sensor where depth exists, else da3), sensor, da3
    segment_backend: str = "auto"   # auto (labels where a label topic exists, else sam3), labels, sam3, vlm
    runtime: str = "onnxruntime"    # tensorrt, onnxruntime, torch
    engine_dir: str = "~/.spatialclaw/engines"
    da3_model: str = "da3-small"
    sam3_bpe_path: str = ""


@dataclass
class MemoryConfig:
    """Long-horizon spatial memory: keyframes on disk (rosbag2 MCAP segments + SQLite index)."""

    enabled: bool = False           # the node records keyframes into memory.dir while it runs
    dir: str = "~/.spatialclaw/memory"
    max_disk_mb: int = 2048         # disk budget; old periods are thinned first, last views are kept
    segment_max_mb: int = 16        # a segment (one MCAP bag) is closed at this size...
    segment_max_s: float = 120.0    # ...or after this many seconds of recording
    min_interval_s: float = 2.0     # a keyframe at least this often while the view changes...
    min_translation_m: float = 0.3  # ...or when the camera moved this far
    min_rotation_deg: float = 20.0  # ...or turned this much
    place_cell_m: float = 1.0       # places: cells of this size (x, y) and 8 heading sectors
    revisit_s: float = 60.0         # a place seen longer ago than this gets a new keyframe
    jpeg_quality: int = 90          # colour; depth and labels are stored lossless (PNG)
    keep_recent_s: float = 600.0    # retention never thins the last this-many seconds
    captions_per_hour: float = 0.0  # VLM captions of keyframes in idle time (FTS5-searchable); 0 = off


@dataclass
class DiagnosticsConfig:
    """/diagnostics thresholds."""

    frame_warn_age_s: float = 2.0    # newest frame older than this (node clock): WARN
    frame_error_age_s: float = 10.0  # ...older than this: ERROR


@dataclass
class CamerasConfig:
    """Several cameras in one query (head, wrist, a colour-only side camera...).

    ``spec`` is a JSON list (a ROS parameter cannot hold a list of mappings) of
    ``{"name", "color", "depth", "camera_info", "labels", "image_model"}`` objects; "" = one camera
    named "camera" built from ``topics.*`` (the single-camera behaviour). See spatialclaw_ros/cameras.py.
    """

    spec: str = ""                        # JSON list of cameras; "" = the one camera of topics.*
    max_query_frames_per_camera: int = 0  # frames per camera given to one query; 0 = keyframes.max_query_frames
    moment_tolerance_s: float = 0.1       # frames of different cameras this close in time share a "moment"


@dataclass
class Config:
    """Everything the node and the CLI are configured with."""

    fixed_frame: str = "odom"
    base_frame: str = "base_link"   # robot base (REP-105) for frame="base" in tools.Geometry; "" = none
    topics: TopicsConfig = field(default_factory=TopicsConfig)
    vlm: VlmConfig = field(default_factory=VlmConfig)
    agent: AgentConfig = field(default_factory=AgentConfig)
    sandbox: SandboxConfig = field(default_factory=SandboxConfig)
    keyframes: KeyframeConfig = field(default_factory=KeyframeConfig)
    perception: PerceptionConfig = field(default_factory=PerceptionConfig)
    memory: MemoryConfig = field(default_factory=MemoryConfig)
    diagnostics: DiagnosticsConfig = field(default_factory=DiagnosticsConfig)
    cameras: CamerasConfig = field(default_factory=CamerasConfig)

    def to_flat(self) -> dict[str, Any]:
        """Dotted parameter names to values, as the node declares them."""
        return _flatten(dataclasses.asdict(self))

    @classmethod
    def from_flat(cls, flat: dict[str, Any]) -> "Config":
        """Build from dotted parameter names; unknown names or bad values raise ConfigError."""
        cfg = cls()
        for key, value in flat.items():
            _set_dotted(cfg, key, value)
        validate(cfg)
        return cfg


class ConfigError(ValueError):
    """The configuration file or an override is invalid."""


def validate(cfg: Config) -> None:
    """Check every value against `param_specs.SPECS` and the cross-key rules (ConfigError)."""
    from spatialclaw_ros.param_specs import check_value  # noqa: PLC0415 - no import cycle

    for key, value in cfg.to_flat().items():
        why = check_value(key, value)
        if why:
            raise ConfigError(why)
    d = cfg.diagnostics
    if d.frame_error_age_s < d.frame_warn_age_s:
        raise ConfigError(
            f"parameter 'diagnostics.frame_error_age_s' ({d.frame_error_age_s:g}) must be >= "
            f"'diagnostics.frame_warn_age_s' ({d.frame_warn_age_s:g})")
    if cfg.cameras.spec:
        from spatialclaw_ros.cameras import camera_specs  # noqa: PLC0415 - no import cycle

        camera_specs(cfg)                 # raises ConfigError naming what is wrong


def _flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        name = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, name + "."))
        else:
            out[name] = v
    return out


def _set_dotted(cfg: Any, key: str, value: Any) -> None:
    obj = cfg
    parts = key.split(".")
    for part in parts[:-1]:
        if not hasattr(obj, part) or not dataclasses.is_dataclass(getattr(obj, part)):
            raise ConfigError(f"unknown parameter '{key}'")
        obj = getattr(obj, part)
    names = {f.name: f for f in fields(obj)}
    leaf = parts[-1]
    if leaf not in names or dataclasses.is_dataclass(getattr(obj, leaf)):
        raise ConfigError(f"unknown parameter '{key}'")
    current = getattr(obj, leaf)
    try:
        if isinstance(current, bool):
            if not isinstance(value, bool):
                raise TypeError
        elif isinstance(current, int):
            if isinstance(value, (bool, str)) or int(value) != value:
                raise TypeError
            value = int(value)
        elif isinstance(current, float):
            if isinstance(value, (bool, str)):
                raise TypeError
            value = float(value)          # an int where a double is expected is fine
        elif isinstance(current, str):
            if not isinstance(value, str):
                raise TypeError
    except (TypeError, ValueError):
        hint = ""
        if isinstance(current, str) and isinstance(value, bool):
            hint = (" (YAML reads unquoted on/off/yes/no/true/false as booleans: quote the value, "
                    f"e.g. {leaf}: \"off\")")
        raise ConfigError(
            f"parameter '{key}' must be {type(current).__name__}, got {value!r}{hint}") from None
    from spatialclaw_ros.param_specs import check_value  # noqa: PLC0415 - no import cycle

    why = check_value(key, value)
    if why:
        raise ConfigError(why)
    setattr(obj, leaf, value)


def params_section(doc: Any) -> dict[str, Any] | None:
    """The `ros__parameters` of a parameter YAML: under `/**`, the node's name (also with a
    namespace, `/robot1/spatialclaw_agent`), or a bare mapping; None if it has none."""
    if not isinstance(doc, dict):
        return None
    node: Any = None
    for key in ("/**", NODE_NAME, f"/{NODE_NAME}"):
        if isinstance(doc.get(key), dict):
            node = doc[key]
            break
    if node is None:
        named = [v for k, v in doc.items() if isinstance(k, str) and isinstance(v, dict)
                 and k.rstrip("/").endswith("/" + NODE_NAME) and "ros__parameters" in v]
        node = named[0] if named else doc
    params = node.get("ros__parameters", node) if isinstance(node, dict) else None
    return params if isinstance(params, dict) else None


def load_config(path: str | os.PathLike[str] | None = None,
                overrides: dict[str, Any] | None = None) -> Config:
    """Read a ROS parameter YAML (default: config/agent.yaml) and apply dotted overrides."""
    p = Path(path) if path else DEFAULT_CONFIG
    flat: dict[str, Any] = {}
    if p.exists():
        try:
            doc = yaml.safe_load(p.read_text()) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"{p}: not valid YAML: {exc}") from None
        params = params_section(doc)
        if params is None:
            raise ConfigError(f"{p}: expected '/**: ros__parameters: ...' (or "
                              f"'{NODE_NAME}: ros__parameters: ...')")
        flat = _flatten(params)
    elif path:
        raise ConfigError(f"config file not found: {p}")
    flat.update(overrides or {})
    cfg = Config.from_flat(flat)
    env_url = os.environ.get("SPATIALCLAW_VLM_URL")
    env_model = os.environ.get("SPATIALCLAW_VLM_MODEL")
    if env_url and "vlm.base_url" not in (overrides or {}):
        cfg.vlm.base_url = env_url
    if env_model and "vlm.model" not in (overrides or {}):
        cfg.vlm.model = env_model
    return cfg
