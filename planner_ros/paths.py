"""Where the package's config/ and launch/ folders are: the source tree, or share/ of a ROS install."""
from __future__ import annotations

from pathlib import Path

PACKAGE = "planner_ros"


def share_dir() -> Path:
    """The folder holding config/ and launch/.

    A source checkout (editable install, the project venv) wins because its files are the ones being
    edited; an installed colcon package is found through the ament index.
    """
    source_root = Path(__file__).resolve().parent.parent
    if (source_root / "config").is_dir() and (source_root / "package.xml").is_file():
        return source_root
    try:
        from ament_index_python.packages import get_package_share_directory
    except ImportError as err:  # pragma: no cover - ament_index_python ships with every ROS 2
        raise FileNotFoundError(f"cannot find {PACKAGE}'s config: not a source checkout and no ament index") from err
    return Path(get_package_share_directory(PACKAGE))


def config_dir() -> Path:
    return share_dir() / "config"


def runs_dir() -> Path:
    """Where run records go: runs/ in the current directory (the repository root under `make`)."""
    return Path.cwd() / "runs"
