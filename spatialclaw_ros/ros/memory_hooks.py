"""The node's memory hooks (kept out of node.py): start the recorder, add memory.* to a query, report in /diagnostics."""
from __future__ import annotations

import contextlib
from typing import Any, Iterator

from diagnostic_msgs.msg import DiagnosticStatus, KeyValue

from spatialclaw_ros.config import Config


def start_memory(cfg: Config, logger: Any, is_idle: Any = None) -> Any:
    """A MemoryRecorder when memory.enabled (None otherwise, or when it cannot start: logged, the node runs on).

    ``is_idle()`` says no query runs: idle-time captions (memory.captions_per_hour) only run then."""
    if not cfg.memory.enabled:
        return None
    try:
        from spatialclaw_ros.memory.recorder import MemoryRecorder

        rec = MemoryRecorder(cfg, is_idle=is_idle)
    except Exception as exc:  # noqa: BLE001 - the node serves live queries without a memory
        logger.error(f"memory disabled: cannot open memory.dir {cfg.memory.dir!r}: {exc}")
        return None
    for line in rec.store.recovered:
        logger.warning(f"memory: recovered after a crash: {line}")
    st = rec.status()
    logger.info(f"memory: recording into {rec.directory} ({st['keyframes']} keyframes kept, "
                f"{st['disk_mb']:.1f}/{cfg.memory.max_disk_mb} MB)")
    return rec


def subscribe_legend(node: Any, recorder: Any, labels_topic: str, qos: Any) -> Any:
    """Subscribe to ``<labels topic>/legend`` (std_msgs/String JSON, as `spatialclaw sim` bags and simulators
    publish it): the legend names the label ids, so keyframes get object-name tags and queries over the memory
    get Metadata['objects']. None without a recorder or a labels topic."""
    if recorder is None or not labels_topic:
        return None
    from std_msgs.msg import String

    from spatialclaw_ros.bags.legend import LegendError, parse_legend

    log = node.get_logger()

    def on_legend(msg: Any) -> None:
        try:
            objects = parse_legend(str(msg.data))
        except LegendError as exc:
            log.warning(f"memory: label legend not used: {exc}")
            return
        try:
            recorder.set_objects(objects)
        except Exception as exc:  # noqa: BLE001 - the node records on without names
            log.warning(f"memory: could not store the label legend: {exc!r}")
            return
        log.info(f"memory: label legend with {len(objects)} objects")

    topic = node.resolve_topic_name(labels_topic).rstrip("/") + "/legend"
    return node.create_subscription(String, topic, on_legend, qos)


@contextlib.contextmanager
def memory_for_query(recorder: Any, frames: list, kwargs: dict[str, Any]) -> Iterator[None]:
    """Add the memory.* handlers and Metadata['memory'] to run_query's kwargs for one query."""
    if recorder is None:
        yield
        return
    from spatialclaw_ros.memory.query import memory_frames_and_handlers

    _frames, handlers, extra, reader = memory_frames_and_handlers(recorder.directory, frames=frames)
    kwargs["handlers"] = {**(kwargs.get("handlers") or {}), **handlers}
    kwargs["extra_metadata"] = {**extra, **(kwargs.get("extra_metadata") or {})}
    try:
        yield
    finally:
        reader.close()


def memory_diagnostic(recorder: Any, node_name: str) -> DiagnosticStatus:
    """The memory status: keyframes, span, disk used of the budget, drops and errors."""
    s = recorder.status()
    level = DiagnosticStatus.OK
    msg = f"{s['keyframes']} keyframes over {s['span_s']:.0f} s, {s['disk_mb']:.1f}/{s['max_disk_mb']:.0f} MB"
    if s["errors"]:
        level, msg = DiagnosticStatus.WARN, msg + f"; {s['errors']} frames not recorded: {s['last_error']}"
    elif s["disk_mb"] > s["max_disk_mb"]:
        level, msg = DiagnosticStatus.WARN, msg + "; over budget (only last views of places left)"
    keys = ("keyframes", "segments", "span_s", "disk_mb", "max_disk_mb", "first_ns", "last_ns", "thinned",
            "dropped", "offered", "recorder_dropped", "errors", "queue", "dir", "objects", "captioned",
            "captions_preempted")
    keys = tuple(k for k in keys if k in s)
    return DiagnosticStatus(level=level, name=f"{node_name}: memory", message=msg, hardware_id=node_name,
                            values=[KeyValue(key=k, value=str(s.get(k))) for k in keys])
