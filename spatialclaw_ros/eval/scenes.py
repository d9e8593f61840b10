"""Question sets: the questions of simulation sidecars (``<bag>.scene.json``), with their bags."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from spatialclaw_ros.agent.types import AnswerType, QueryRequest
from spatialclaw_ros.sim.generate import SIDECAR_SUFFIX, load_scene, sidecar_path


@dataclass
class EvalItem:
    """One question of a set, with the scene and the bag it is about."""

    qid: str
    question: dict[str, Any]
    scene: dict[str, Any]
    bag: Path

    @property
    def kind(self) -> str:
        """Question kind (distance_closest, count_colour, ...)."""
        return str(self.question.get("kind", "unknown"))

    @property
    def answer_type(self) -> str:
        """number | point | choice | count | boolean."""
        return str(self.question["answer_type"])

    def request(self) -> QueryRequest:
        """The QueryRequest the agent gets: the question text, its answer type and choices."""
        return QueryRequest(question=self.question["question"],
                            answer_type=AnswerType(self.question["answer_type"]),
                            choices=list(self.question.get("choices") or []))


def objects_metadata(scene: dict[str, Any]) -> list[dict[str, Any]]:
    """What the labels backend needs in Metadata['objects']: id, name, class, color."""
    return [{"id": int(o["id"]), "name": o["name"], "class": o["class"],
             "color": o.get("color", o.get("colour", ""))} for o in scene.get("objects", [])]


def sidecar_objects(bag: str | Path) -> list[dict[str, Any]]:
    """Metadata['objects'] for a bag that has a simulation sidecar next to it; [] when it has none."""
    side = sidecar_path(Path(bag))
    return objects_metadata(load_scene(side)) if side.exists() else []


def _sidecars(path: Path) -> list[Path]:
    if path.is_dir() and not (path / "metadata.yaml").exists():
        found = sorted(path.glob("*" + SIDECAR_SUFFIX))
        if not found:
            raise FileNotFoundError(f"no *{SIDECAR_SUFFIX} question sets in {path}")
        return found
    if path.name.endswith(SIDECAR_SUFFIX):
        return [path]
    return [sidecar_path(path)]


def load_items(paths: Iterable[str | Path], *, only: Iterable[str] = (),
               kinds: Iterable[str] = (), limit: int = 0) -> list[EvalItem]:
    """Questions from sidecars, bag paths or directories of sidecars; filtered by id prefix / kind."""
    only, kinds = list(only), set(kinds)
    items: list[EvalItem] = []
    for p in paths:
        for side in _sidecars(Path(p)):
            scene = load_scene(side)
            bag = side.parent / scene.get("bag", side.name[: -len(SIDECAR_SUFFIX)])
            if not bag.exists():
                raise FileNotFoundError(f"{side} names bag {bag}, which does not exist")
            for q in scene.get("questions", []):
                if only and not any(q["id"] == o or q["id"].startswith(o) for o in only):
                    continue
                if kinds and q.get("kind") not in kinds:
                    continue
                items.append(EvalItem(qid=q["id"], question=q, scene=scene, bag=bag))
    if limit > 0:
        items = items[:limit]
    return items


def program_path(programs_dir: Path, qid: str) -> Path:
    """Where the program for a question lives: ``<dir>/<scene>/<qNN>.py``.

    A scene without its own folder uses the folder whose name is the longest prefix of the scene
    name (``sim_a_noisy`` -> ``sim_a``): variants of one scene (noise, encoding) share programs.
    """
    root = Path(programs_dir)
    scene, _, q = qid.partition("/")
    folder = root / scene
    if not folder.is_dir() and root.is_dir():
        prefixes = [d.name for d in root.iterdir() if d.is_dir() and scene.startswith(d.name)]
        if prefixes:
            folder = root / max(prefixes, key=len)
    return folder / f"{q or scene}.py"
