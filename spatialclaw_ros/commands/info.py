"""`spatialclaw info --bag BAG`: what a rosbag holds and what is missing for queries."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from spatialclaw_ros.config import Config

NS_PER_S = 1_000_000_000


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Flags of `spatialclaw info`."""
    p.add_argument("--bag", required=True, metavar="BAG",
                   help="rosbag2 directory, or a .mcap / .db3 file")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    add_topic_arguments(p)


def add_topic_arguments(p: argparse.ArgumentParser) -> None:
    """Topic and frame overrides shared by `info` and `query` (default: config, then auto-detect)."""
    g = p.add_argument_group("topics (default: topics.* from the config, then usual camera names)")
    g.add_argument("--color-topic", metavar="TOPIC", help="sensor_msgs/Image or CompressedImage")
    g.add_argument("--depth-topic", metavar="TOPIC",
                   help="aligned depth, 16UC1 mm or 32FC1 m ('' = none)")
    g.add_argument("--camera-info-topic", metavar="TOPIC", help="sensor_msgs/CameraInfo")
    g.add_argument("--labels-topic", metavar="TOPIC", help="instance-label image (simulation)")
    p.add_argument("--fixed-frame", metavar="FRAME",
                   help="frame for poses and answers (default: fixed_frame in the config)")


def topic_overrides(args: argparse.Namespace) -> dict[str, str | None]:
    """load_bag keyword arguments from the topic flags."""
    return {"color_topic": args.color_topic, "depth_topic": args.depth_topic,
            "camera_info_topic": args.camera_info_topic, "labels_topic": args.labels_topic,
            "fixed_frame": args.fixed_frame}


def run(args: argparse.Namespace, cfg: Config) -> int:
    """Print the bag report; 0 when it could be read, 1 otherwise."""
    from spatialclaw_ros.bags.reader import load_bag
    from spatialclaw_ros.errors import SpatialClawError

    try:
        data = load_bag(args.bag, cfg, load_frames=False, **topic_overrides(args))
    except SpatialClawError as exc:
        if args.json:
            print(json.dumps({"error": {"code": int(exc.code), "name": exc.code.name,
                                        "message": exc.message}}, indent=2))
        else:
            print(f"error {exc.code.name}: {exc.message}")
        return 1
    report = data.report
    capabilities(report, cfg)
    cams = _cameras(args, cfg)
    if args.json:
        doc = report.to_dict()
        doc["cameras"] = cams
        print(json.dumps(doc, indent=2))
        return 0
    out = sys.stdout
    w = out.write
    w(f"bag: {report.path} ({report.storage}), {report.duration_s:.2f} s, "
      f"log time {report.start_ns / NS_PER_S:.3f} .. {report.end_ns / NS_PER_S:.3f} s\n")
    w("topics:\n")
    role_of = {v: k for k, v in report.roles.items() if v}
    width = max((len(t.name) for t in report.topics), default=10)
    for t in report.topics:
        role = f"  [{role_of[t.name]}]" if t.name in role_of else ""
        w(f"  {t.name:<{width}}  {t.msgtype:<32} {t.count:>6} msgs {t.rate_hz:>8.2f} Hz{role}\n")
    w("tf tree:\n")
    if not report.tf_edges:
        w("  (no /tf or /tf_static)\n")
    for e in report.tf_edges:
        kind = "static" if e.static else (
            f"dynamic, {e.count} samples, {e.first_ns / NS_PER_S:.3f} .. "
            f"{e.last_ns / NS_PER_S:.3f} s")
        w(f"  {e.parent} -> {e.child} ({kind})\n")
    w(f"tf frames: {', '.join(report.tf_frames) or 'none'}\n")
    if cams:
        w(f"cameras ({len(cams)}; a query uses every one, `query --cameras` picks):\n")
        for c in cams:
            w(f"  {c['name']}: colour {c['color']}, camera_info {c['camera_info']}, depth "
              f"{c['depth'] or 'none (DA3 only)'}" + (f", labels {c['labels']}" if c["labels"] else "")
              + (f", optical frame {c['camera_frame']}" if c.get("camera_frame") else "")
              + (f", mounted on {c['mount_frame']}" if c.get("mount_frame") else "") + "\n")
    w(f"camera frame: {report.camera_frame or '?'}; fixed frame: {report.fixed_frame}\n")
    rng = ""
    if report.sync is not None and report.matched_frames:
        rng = f", dropped {report.sync.dropped}" if report.sync.dropped else ""
    stamps = ""
    if report.color_stamps_range_ns:
        a, b = report.color_stamps_range_ns
        stamps = f", stamps {a / NS_PER_S:.3f} .. {b / NS_PER_S:.3f} s"
    w(f"frames: {report.matched_frames} matched colour frames{stamps}{rng}; "
      f"{report.keyframes_in_window} keyframes\n")
    for role, fmt in report.formats.items():
        w(f"{role} format: {fmt}\n")
    if report.legend_topic:
        names = ", ".join(o["name"] for o in report.objects[:12])
        more = f", ... ({len(report.objects)} in all)" if len(report.objects) > 12 else ""
        w(f"label legend: {report.legend_topic}: {names}{more}\n")
    w("a query can find:\n")
    for k, v in report.capabilities.items():
        w(f"  {k}: {v}\n")
    if report.missing:
        w("missing for queries:\n")
        for m in report.missing:
            w(f"  - {m}\n")
    else:
        w("missing for queries: nothing\n")
    for n in report.notes:
        w(f"note: {n}\n")
    return 0


def _cameras(args: argparse.Namespace, cfg: Config) -> list[dict[str, str]]:
    """Every camera triplet in the bag (cameras.spec, else found by driver naming) with its TF frames."""
    from spatialclaw_ros.bags.multicam import bag_cameras, camera_frames

    try:
        found = bag_cameras(args.bag, cfg)
        frames = camera_frames(args.bag, cfg, found) if found else {}
    except Exception as exc:  # noqa: BLE001 - the listing is an extra; the report above stands
        print(f"note: cameras not listed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return []
    out = []
    for c in found:
        d = c.to_dict()
        d.update(frames.get(c.name, {}))
        out.append(d)
    return out


def capabilities(report: Any, cfg: Config) -> None:
    """Fill ``report.capabilities``: what a query on this bag can do (objects, depth, pose), one line each."""
    from spatialclaw_ros.perception.status import da3_status, sam3_status

    da3, sam3 = da3_status(cfg), sam3_status(cfg)
    depth = report.roles.get("depth")
    if depth:
        depth_how = f"sensor {report.formats.get('depth', '?')} on {depth}"
    elif da3.available:
        depth_how = f"Depth Anything 3 ({da3.detail})"
    else:
        depth_how = f"none -> needs Depth Anything 3: {da3.missing}"
    objs = []
    if report.roles.get("labels") and report.objects:
        objs.append(f"by label legend ({len(report.objects)} objects on {report.legend_topic})")
    elif report.roles.get("labels"):
        from spatialclaw_ros.sim.generate import sidecar_path

        side = sidecar_path(Path(report.path))
        objs.append(f"by label images + sidecar {side.name}" if side.is_file() else
                    "label images without a legend (point/box prompts only)")
    if sam3.available:
        objs.append("SAM 3")
    if depth or da3.available:
        objs.append("VLM grounding (backend='vlm': boxes from the VLM, masks from depth)")
    report.capabilities = {
        "objects": " / ".join(objs) if objs else
        "none (no label legend, no SAM 3, no depth for VLM grounding)",
        "depth": depth_how,
        "pose": "TF" if report.tf_edges else "none (no /tf)",
    }
    if not depth and not da3.available:
        report.missing.append("no depth and no Depth Anything 3: metric questions about objects "
                              f"cannot be answered ({da3.missing})")
