"""The built-in launcher: bringup YAML files started as supervised processes (no ros2 launch needed)."""
from planner_ros.launcher.bringup import Bringup, BringupError, NodeSpec, load_bringup, resolve_bringup_path

__all__ = ["Bringup", "BringupError", "NodeSpec", "load_bringup", "resolve_bringup_path"]
