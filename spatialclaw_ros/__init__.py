"""spatialclaw_ros: spatial question answering for robots with a code-writing VLM agent.

The package directory is split in two on a venv install: our sources (an editable install) and
the colcon install tree, which holds the generated ``msg``, ``srv`` and ``action`` modules.
``extend_path`` merges every ``spatialclaw_ros`` directory on ``sys.path`` into this package, so
``import spatialclaw_ros.action`` and ``import spatialclaw_ros.agent`` both work without sys.path
edits. A ``colcon build --symlink-install`` tree links only the files that existed at build time,
so the real source directory (where this file's link points) goes first: modules added since the
last build are found too. On a plain apt/colcon install both are the same directory.
"""
import os as _os
from pkgutil import extend_path

__path__ = extend_path(__path__, __name__)
_source_dir = _os.path.dirname(_os.path.realpath(__file__))
if _source_dir in __path__:
    __path__.remove(_source_dir)
__path__.insert(0, _source_dir)
del _os, _source_dir

__version__ = "0.1.0"
