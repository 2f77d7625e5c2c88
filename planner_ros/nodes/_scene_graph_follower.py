"""The latest /scene_graph as the planner's WorldView, for nodes that plan or verify against it."""
from __future__ import annotations

import math
import threading
import time

from rclpy.node import Node

from planner_ros import conversions as cs
from planner_ros.nodes._common import LATCHED_QOS
from planner_ros.planning.world import WorldView
from planner_ros_interfaces.msg import SceneGraph


class SceneGraphFollower:
    """Keeps the newest graph; observe(after_s) waits (up to fresh_timeout_s of wall time) for one built from
    observations after after_s, and returns the newest it has either way (its stamp tells the caller)."""

    def __init__(self, node: Node, semantic_map, *, fresh_timeout_s: float = 3.0, first_graph_timeout_s: float = 30.0,
                 callback_group=None) -> None:
        self.node = node
        self.map = semantic_map
        self.fresh_timeout_s = fresh_timeout_s
        self.first_graph_timeout_s = first_graph_timeout_s
        self._msg: SceneGraph | None = None
        self._changed = threading.Condition()
        node.create_subscription(SceneGraph, "/scene_graph", self._on_graph, LATCHED_QOS,
                                 callback_group=callback_group)

    def _on_graph(self, msg: SceneGraph) -> None:
        with self._changed:
            self._msg = msg
            self._changed.notify_all()

    @property
    def latest(self) -> SceneGraph | None:
        return self._msg

    def _stamp(self) -> float:
        return -math.inf if self._msg is None else cs.time_to_seconds(self._msg.header.stamp)

    def observe(self, after_s: float | None = None) -> WorldView:
        with self._changed:
            if self._msg is None:  # the scene graph node may still be starting
                self._changed.wait_for(lambda: self._msg is not None, timeout=self.first_graph_timeout_s)
            if after_s is not None:
                deadline = time.monotonic() + self.fresh_timeout_s
                while self._stamp() < after_s and (left := deadline - time.monotonic()) > 0:
                    self._changed.wait(left)
            msg = self._msg
        if msg is None:
            return WorldView({}, {}, stamp_s=-math.inf)
        return cs.world_view_from_msg(msg, self.map)

    def now_s(self) -> float:
        return self.node.get_clock().now().nanoseconds * 1e-9
