#!/usr/bin/env python3
"""Merge the escape suite's outcome files into docs/sandbox.md (between the BEGIN/END markers).

    .venv/bin/python scripts/security_table.py --write     # after `make test-security-all`
    .venv/bin/python scripts/security_table.py --check     # docs list every probe of test/security

Input: build/security/outcomes-<hostclass>.json (written by test/security/conftest.py).
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "sandbox.md"
BEGIN, END = "<!-- BEGIN escape-suite table (scripts/security_table.py) -->", \
    "<!-- END escape-suite table -->"
ORDER = ["root", "uid65534", "root-no-userns", "uid65534-no-userns", "root-no-landlock-no-ns",
         "uid65534-no-landlock-no-userns"]
SHORT = {"held": "held", "escaped": "**ESCAPED**", "exposed": "exposed", "n/a": "n/a", "error": "error"}


def probe_names() -> list[str]:
    """Every probe test function name in test/security (parametrized ones once, by base name)."""
    names = []
    for f in sorted((ROOT / "test" / "security").glob("test_*.py")):
        text = f.read_text()
        aliases = set(re.findall(r"^(\w+) = pytest\.mark\.probe\(", text, re.M))
        for m in re.finditer(r"^((?:@.*\n)+)def (test_\w+)", text, re.M):
            decos = m.group(1)
            used = set(re.findall(r"^@(\w+)\s*$", decos, re.M))
            if "mark.probe" in decos or used & aliases:
                names.append(m.group(2))
    return names


def render(src: Path) -> str:
    """The markdown table for every outcome file in src."""
    runs: dict[str, dict[str, dict]] = {}
    for f in sorted(src.glob("outcomes-*.json")):
        hc = f.stem[len("outcomes-"):]
        runs[hc] = {r["name"]: r for r in json.loads(f.read_text())}
    classes = [c for c in ORDER if c in runs] + sorted(c for c in runs if c not in ORDER)
    probes: dict[str, str] = {}
    for hc in classes:
        for name, r in runs[hc].items():
            probes.setdefault(name, r["category"])
    lines = ["| category | probe | " + " | ".join(f"`{c}`" for c in classes) + " |",
             "|---|---|" + "---|" * len(classes)]
    for name, cat in sorted(probes.items(), key=lambda kv: (kv[1], kv[0])):
        cells = [SHORT.get(runs[c].get(name, {}).get("outcome", ""), "") for c in classes]
        lines.append(f"| {cat} | `{name}` | " + " | ".join(cells) + " |")
    tot = []
    for c in classes:
        rs = list(runs[c].values())
        tot.append(f"`{c}`: {sum(r['outcome'] == 'held' for r in rs)} held, "
                   f"{sum(r['outcome'] == 'escaped' for r in rs)} escaped, "
                   f"{sum(r['outcome'] == 'exposed' for r in rs)} exposed")
    return "\n".join(["Totals: " + "; ".join(tot) + ".", ""] + lines)


def main() -> int:
    """--write: update docs/sandbox.md; --check: every probe appears in it."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--write", action="store_true")
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--src", default=str(ROOT / "build" / "security"))
    a = ap.parse_args()
    doc = DOC.read_text()
    if BEGIN not in doc or END not in doc:
        print(f"{DOC} lacks the table markers", file=sys.stderr)
        return 1
    if a.write:
        table = render(Path(a.src))
        head, rest = doc.split(BEGIN, 1)
        doc = head + BEGIN + "\n" + table + "\n" + END + rest.split(END, 1)[1]
        DOC.write_text(doc)
        print(f"updated {DOC}")
    if a.check:
        section = doc.split(BEGIN, 1)[1].split(END, 1)[0]
        missing = [n for n in probe_names() if f"`{n}`" not in section and f"`{n}[" not in section]
        if missing:
            print("probes missing from docs/sandbox.md (run make test-security-all security-table): "
                  + ", ".join(missing), file=sys.stderr)
            return 1
        print(f"docs/sandbox.md lists all {len(probe_names())} probes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
