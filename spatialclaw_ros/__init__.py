"""spatialclaw_ros: spatial question answering for robots with a code-writing VLM agent.

The package directory is split in two on a venv install: our sources (an editable install) and
the colcon install tree, which holds the generated ``msg``, ``srv`` and ``action`` modules.
``extend_path`` merges every ``spatialclaw_ros`` directory on ``sys.path`` into this package, so
``import spatialclaw_ros.action`` and ``import spatialclaw_ros.agent`` both work without sys.path
edits. On an apt/colcon install there is only one directory and this is a no-op.
"""
from pkgutil import extend_path

__path__ = extend_path(__path__, __name__)

__version__ = "0.1.0"
