#!/usr/bin/env python3
"""Thin wrapper: `python scripts/bench_kernel.py [--out FILE] ...` = `spatialclaw bench kernel ...`."""
from __future__ import annotations

import sys

from spatialclaw_ros.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", "kernel", *sys.argv[1:]]))
