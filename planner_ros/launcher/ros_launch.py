"""`ros2 launch` descriptions built from the same bringup YAML files as the built-in launcher.

Imported only by launch/*.launch.py on machines with a ROS 2 install (launch and launch_ros are not on
PyPI), so the rest of the package never depends on them.
"""
from __future__ import annotations

from launch import LaunchDescription
from launch.actions import EmitEvent, LogInfo, RegisterEventHandler
from launch.event_handlers import OnProcessExit
from launch.events import Shutdown as ShutdownEvent
from launch_ros.actions import Node

from planner_ros.launcher.bringup import NodeSpec, load_bringup, resolve_bringup_path
from planner_ros.paths import PACKAGE, config_dir


def _node_action(spec: NodeSpec) -> Node:
    return Node(
        package=PACKAGE,
        executable=spec.executable,
        name=spec.name,
        namespace=spec.namespace or None,
        parameters=[str(f) for f in spec.parameter_files] + [spec.parameter_overrides],
        remappings=list(spec.remappings),
        arguments=list(spec.arguments),
        output="screen",
        emulate_tty=True,
    )


def _on_exit(action: Node, spec: NodeSpec) -> RegisterEventHandler:
    # Same policy as the built-in launcher: a required node's exit or an exit_with node's exit ends it all.
    reason = f"{spec.name} exited" if spec.exit_with else f"required node '{spec.name}' exited"
    return RegisterEventHandler(OnProcessExit(
        target_action=action,
        on_exit=[LogInfo(msg=f"[planner_ros] {reason}; shutting down"), EmitEvent(event=ShutdownEvent(reason=reason))],
    ))


def launch_description(bringup_name: str) -> LaunchDescription:
    """The LaunchDescription of config/bringup/<bringup_name>.yaml."""
    path = resolve_bringup_path(bringup_name, config_dir() / "bringup")
    bringup = load_bringup(path, param_root=config_dir())
    entities = []
    for spec in bringup.nodes:
        action = _node_action(spec)
        entities.append(action)
        if spec.required or spec.exit_with:
            entities.append(_on_exit(action, spec))
    return LaunchDescription(entities)

