"""Find every camera in a bag without topic flags: colour + camera_info (+ depth, labels) per namespace.

Driver naming understood (each group is one camera, its name from the namespace):

- RealSense ``/camera/color/image_raw`` + ``/camera/aligned_depth_to_color/image_raw`` (also the 4.x
  wrapper's ``/camera/camera/...``), ``/camera/color/camera_info``;
- ZED ``/zed/zed_node/rgb/image_rect_color`` + ``/zed/zed_node/depth/depth_registered``;
- OAK-D ``/oak/rgb/image_raw`` + ``/oak/stereo/image_raw``;
- Orbbec ``/camera/color/image_raw`` + ``/camera/depth/image_raw`` (depth registered to colour);
- image_pipeline ``<ns>/image_rect`` / ``image_rect_color`` / ``image_raw`` + ``<ns>/camera_info``,
  depth ``<ns>/depth_registered/image_rect``.

A colour topic counts only with a CameraInfo next to it (``<dir>/camera_info``).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable

IMAGE = "sensor_msgs/msg/Image"
COMPRESSED = "sensor_msgs/msg/CompressedImage"
CAMERA_INFO = "sensor_msgs/msg/CameraInfo"

COLOR_LEAVES = ("image_rect_color", "image_raw", "image_color", "image_rect", "image")
# Directories that name a stream of a camera, not the camera: stripped to find the camera's root.
STREAM_DIRS = ("color", "rgb", "left", "right")
NOT_COLOR = re.compile(r"depth|stereo|disparit|label|mask|^ir\d*$|^infra|confidence|^points")
# Depth relative to the camera root, best first (aligned/registered to colour).
DEPTH_UNDER_ROOT = (
    "aligned_depth_to_color/image_raw", "depth_registered/image_rect", "depth_registered/image_raw",
    "depth/depth_registered", "stereo/image_raw", "depth/image_raw", "depth/image_rect",
    "depth/image",
)
LABELS_UNDER_ROOT = ("instance_labels",)


@dataclass(frozen=True)
class FoundCamera:
    """One camera found in a bag: its name, root namespace and topics ("" = none)."""

    name: str
    root: str
    color: str
    camera_info: str
    depth: str = ""
    labels: str = ""

    def to_dict(self) -> dict[str, str]:
        """JSON-friendly."""
        return {"name": self.name, "root": self.root, "color": self.color,
                "camera_info": self.camera_info, "depth": self.depth, "labels": self.labels}


def camera_root(color_topic: str) -> str:
    """/zed/zed_node/rgb/image_rect_color -> /zed/zed_node; /head/image_rect -> /head."""
    t = color_topic.removesuffix("/compressed")
    parent = t.rsplit("/", 1)[0]
    last = parent.rsplit("/", 1)[-1]
    if last in STREAM_DIRS and "/" in parent.strip("/"):
        parent = parent.rsplit("/", 1)[0]
    return parent or "/"


def camera_name(root: str) -> str:
    """A short identifier from a namespace: /camera/camera -> camera, /zed/zed_node -> zed."""
    parts = [p for p in root.strip("/").split("/") if p and not p.endswith("_node")]
    dedup: list[str] = []
    for p in parts:
        if not dedup or dedup[-1] != p:
            dedup.append(p)
    name = re.sub(r"[^A-Za-z0-9_]", "_", "_".join(dedup)) or "camera"
    return name if re.match(r"[A-Za-z_]", name) else "cam_" + name


def _is_color(topic: str, msgtype: str) -> bool:
    t = topic.removesuffix("/compressed") if msgtype == COMPRESSED else topic
    if msgtype == COMPRESSED and not topic.endswith("/compressed"):
        return False
    if msgtype not in (IMAGE, COMPRESSED):
        return False
    parts = t.strip("/").split("/")
    if parts[-1] not in COLOR_LEAVES:
        return False
    return not any(NOT_COLOR.search(p) for p in parts[:-1])


def _color_rank(topic: str, msgtype: str) -> tuple:
    parts = topic.removesuffix("/compressed").strip("/").split("/")
    stream = parts[-2] if len(parts) > 1 else ""
    return (0 if stream in ("color", "rgb") else 1 if stream == "left" else 2 if stream == "right"
            else 1, 0 if msgtype == IMAGE else 1, 0 if "rect" in parts[-1] else 1, topic)


def discover_cameras(topics: Iterable[tuple[str, str]]) -> list[FoundCamera]:
    """Every (colour, camera_info[, depth, labels]) group among (topic, msgtype) pairs, sorted by name."""
    types = dict(topics)
    best: dict[str, tuple[tuple, str, str]] = {}
    for topic, msgtype in types.items():
        if not _is_color(topic, msgtype):
            continue
        base = topic.removesuffix("/compressed") if msgtype == COMPRESSED else topic
        info = base.rsplit("/", 1)[0] + "/camera_info"
        if types.get(info) != CAMERA_INFO:
            continue
        root = camera_root(topic)
        rank = _color_rank(topic, msgtype)
        if root not in best or rank < best[root][0]:
            best[root] = (rank, base, info)       # the reader adds /compressed itself
    out: list[FoundCamera] = []
    for root, (_, color, info) in best.items():
        pre = root.rstrip("/")
        depth = ""
        for rel in DEPTH_UNDER_ROOT:
            cand = f"{pre}/{rel}"
            if types.get(cand) == IMAGE:
                depth = cand
                break
            if types.get(cand + "/compressedDepth") == COMPRESSED:
                depth = cand                 # the reader adds /compressedDepth itself
                break
        labels = next((f"{pre}/{rel}" for rel in LABELS_UNDER_ROOT
                       if types.get(f"{pre}/{rel}") == IMAGE), "")
        out.append(FoundCamera(camera_name(root), root, color, info, depth, labels))
    out.sort(key=lambda c: (c.root == "/", c.root))
    fixed: list[FoundCamera] = []
    taken: set[str] = set()
    for c in out:                     # two roots with one name (rare): the later ones numbered
        name, k = c.name, 2
        while name in taken:
            name, k = f"{c.name}_{k}", k + 1
        taken.add(name)
        fixed.append(FoundCamera(name, c.root, c.color, c.camera_info, c.depth, c.labels))
    return sorted(fixed, key=lambda c: c.name)
