"""Python packaging for the venv (pip) path; colcon/ament uses CMakeLists.txt instead."""
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent


def _requirements() -> list[str]:
    lines = (HERE / "requirements" / "core.txt").read_text().splitlines()
    return [ln.strip() for ln in lines if ln.strip() and not ln.startswith("#")]


setup(
    name="spatialclaw_ros",
    version="0.1.0",
    description="Spatial question answering for robots with a code-writing VLM agent",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=find_packages(include=["spatialclaw_ros", "spatialclaw_ros.*"]),
    package_data={"spatialclaw_ros": ["py.typed", "data/*", "data/**/*"]},
    install_requires=_requirements(),
    entry_points={"console_scripts": ["spatialclaw = spatialclaw_ros.cli:main"]},
)
