"""Frames named by index ("first", "last", 12, -2): the syntax of `query --frames` and a goal's `frames`."""
from __future__ import annotations

from spatialclaw_ros.errors import NoFramesError

FRAME_SPEC_FORMS = ("'first', 'last' or an index (0 = the first frame, -1 = the last), "
                    "comma-separated, e.g. \"last,12,-2\"")


def parse_frame_spec(spec: str, what: str = "--frames") -> list[int | str]:
    """'first,last,12,-2' -> ['first', 'last', 12, -2]; ValueError naming `what` and the accepted forms."""
    out: list[int | str] = []
    for part in str(spec).split(","):
        p = part.strip().lower()
        if not p:
            continue
        if p in ("first", "last"):
            out.append(p)
            continue
        try:
            out.append(int(p))
        except ValueError:
            raise ValueError(f"{what}: {part.strip()!r} is not a frame; use {FRAME_SPEC_FORMS}") from None
    if not out:
        raise ValueError(f"{what} is empty; use {FRAME_SPEC_FORMS}")
    return out


def resolve_frame_spec(spec: list[int | str], n: int, what: str = "the recording",
                       unit: str = "colour frames") -> list[int]:
    """Indices into `n` frames named by a parsed spec, sorted and unique; NoFramesError if one is out of range."""
    out = set()
    for x in spec:
        k = 0 if x == "first" else n - 1 if x == "last" else int(x)
        if k < 0:
            k += n
        if not 0 <= k < n:
            shown = f"0..{n - 1}; -1 = the last" if n else "none"
            raise NoFramesError(f"{_frame_word(what)} {x} does not exist: {what} has {n} {unit} ({shown})")
        out.add(k)
    return sorted(out)


def _frame_word(what: str) -> str:
    return "recording frame" if what == "the recording" else "frame"
