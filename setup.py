"""ament_python build of planner_ros (colcon on ROS installs, pip -e in the project venv)."""
from __future__ import annotations

from glob import glob
from pathlib import Path

from setuptools import find_packages, setup

PACKAGE = "planner_ros"
HERE = Path(__file__).parent
# Every module in planner_ros/nodes is a ROS node executable of the same name; the built-in launcher runs
# `python -m planner_ros.nodes.<name>` and ros2 launch runs lib/planner_ros/<name>: one list for both.
NODE_EXECUTABLES = sorted(
    p.stem for p in (HERE / PACKAGE / "nodes").glob("*.py") if not p.stem.startswith("_")
)


def _share(folder: str) -> list[tuple[str, list[str]]]:
    """data_files entries that mirror folder/ (recursively) under share/planner_ros/."""
    entries: dict[str, list[str]] = {}
    for path in sorted(glob(f"{folder}/**/*", recursive=True)):
        if Path(path).is_file():
            entries.setdefault(f"share/{PACKAGE}/{Path(path).parent}", []).append(path)
    return sorted(entries.items())


setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(include=[PACKAGE, f"{PACKAGE}.*"]),
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        *_share("launch"),
        *_share("config"),
        *_share("models"),
    ],
    install_requires=["setuptools", "numpy", "PyYAML"],
    zip_safe=False,
    maintainer="planner_ros maintainers",
    maintainer_email="maintainers@planner-ros.dev",
    description="Closed-loop household task planning for ROS 2 (Tree-Planner + RePLan).",
    license="Apache-2.0",
    python_requires=">=3.10",
    entry_points={
        "console_scripts": [
            f"{PACKAGE.replace('_', '-')} = {PACKAGE}.cli:main",
            *(f"{name} = {PACKAGE}.nodes.{name}:main" for name in NODE_EXECUTABLES),
        ],
    },
)
