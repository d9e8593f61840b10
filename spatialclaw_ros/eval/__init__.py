"""Question sets, scoring (MRA, exact match), eval runs and reports, and the demo (`spatialclaw eval`)."""
from __future__ import annotations

import os as _os

# A colcon --symlink-install tree links only the modules that existed at build time: also look next
# to the real file, so modules added since need no rebuild.
_real = _os.path.dirname(_os.path.realpath(__file__))
if _real not in __path__:
    __path__.append(_real)
