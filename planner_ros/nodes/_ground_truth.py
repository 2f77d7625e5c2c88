"""Judging a task on the simulator's ground truth: for evaluation clients only (the planner never reads it)."""
from __future__ import annotations

import time

import rclpy
from rclpy.node import Node

from planner_ros import conversions as cs
from planner_ros.nodes._common import LATCHED_QOS
from planner_ros.sim.goals import GoalReport, evaluate
from planner_ros_interfaces.msg import SceneGraph


def check_goal(node: Node, goal, after_s: float, timeout_s: float) -> tuple[GoalReport | None, str]:
    """Spin node until /sim/ground_truth newer than after_s arrives; evaluate goal on it."""
    latest: list[SceneGraph] = []
    sub = node.create_subscription(SceneGraph, "/sim/ground_truth", latest.append, LATCHED_QOS)
    try:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            rclpy.spin_once(node, timeout_sec=0.1)
            if latest and cs.time_to_seconds(latest[-1].header.stamp) > after_s:
                report = evaluate(goal, cs.facts_from_scene_graph(latest[-1]))
                unmet = ", ".join(c.text for c in report.unsatisfied)
                return report, (f"goal holds in ground truth ({len(report.satisfied)} conditions)" if report.success
                                else f"goal NOT met in ground truth: {unmet}")
        return None, "no fresh /sim/ground_truth message; is the simulator running?"
    finally:
        node.destroy_subscription(sub)
