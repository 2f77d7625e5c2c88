"""A small TF buffer: transforms from /tf and /tf_static, looked up at a time (tf2_ros is not on PyPI).

Frames form a tree of child -> parent edges. Static edges hold one transform for all time; dynamic edges keep
a short history and are interpolated (linear position, spherical orientation) between the two samples around
the asked time. A time past the newest sample is answered with the newest only within `tolerance_s`, so a
camera whose pose stopped updating is reported, not silently used with an old pose.
"""
from __future__ import annotations

import bisect
import threading
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from planner_ros.geometry import Pose3D

__all__ = ["TfBuffer", "TfLookupError"]


class TfLookupError(LookupError):
    """No transform between two frames at the asked time; the message says which link is missing or late."""


def _slerp(q0: np.ndarray, q1: np.ndarray, t: float) -> np.ndarray:
    dot = float(np.dot(q0, q1))
    if dot < 0.0:
        q1, dot = -q1, -dot
    if dot > 0.9995:
        q = q0 + t * (q1 - q0)
        return q / np.linalg.norm(q)
    theta = np.arccos(dot)
    return (np.sin((1 - t) * theta) * q0 + np.sin(t * theta) * q1) / np.sin(theta)


@dataclass
class _Edge:
    parent: str
    static: bool
    stamps: list[float] = field(default_factory=list)
    poses: deque = field(default_factory=deque)

    def pose_at(self, stamp_s: float, tolerance_s: float, child: str) -> Pose3D:
        if self.static:
            return self.poses[-1]
        stamps = self.stamps
        i = bisect.bisect_left(stamps, stamp_s)
        if i < len(stamps) and stamps[i] == stamp_s:
            return self.poses[i]
        if i == len(stamps):
            if stamp_s - stamps[-1] <= tolerance_s:
                return self.poses[-1]
            raise TfLookupError(f"{self.parent} -> {child} is {stamp_s - stamps[-1]:.2f} s older than the asked "
                                f"time (tolerance {tolerance_s:.2f} s): is its publisher still running?")
        if i == 0:
            if stamps[0] - stamp_s <= tolerance_s:
                return self.poses[0]
            raise TfLookupError(f"{self.parent} -> {child}: the asked time is {stamps[0] - stamp_s:.2f} s before "
                                "the oldest transform kept")
        t0, t1 = stamps[i - 1], stamps[i]
        a, b = self.poses[i - 1], self.poses[i]
        w = (stamp_s - t0) / (t1 - t0)
        position = (1 - w) * np.asarray(a.position_m) + w * np.asarray(b.position_m)
        q = _slerp(np.asarray(a.orientation_xyzw), np.asarray(b.orientation_xyzw), w)
        return Pose3D(tuple(position), tuple(q))


class TfBuffer:
    def __init__(self, history_s: float = 10.0) -> None:
        self.history_s = history_s
        self._edges: dict[str, _Edge] = {}
        self._lock = threading.Lock()

    def add(self, parent: str, child: str, pose: Pose3D, stamp_s: float, *, static: bool = False) -> None:
        if not parent or not child or parent == child:
            raise ValueError(f"a transform needs two different frame ids, got {parent!r} -> {child!r}")
        with self._lock:
            edge = self._edges.get(child)
            if edge is None or edge.parent != parent or edge.static != static:
                # A frame has one parent; a re-parented frame starts a new history.
                edge = self._edges[child] = _Edge(parent, static)
            if static:
                edge.stamps, edge.poses = [stamp_s], deque([pose])
                return
            i = bisect.bisect_left(edge.stamps, stamp_s)
            if i < len(edge.stamps) and edge.stamps[i] == stamp_s:
                edge.poses[i] = pose
            else:
                edge.stamps.insert(i, stamp_s)
                edge.poses.insert(i, pose)
            while edge.stamps and edge.stamps[-1] - edge.stamps[0] > self.history_s:
                edge.stamps.pop(0)
                edge.poses.popleft()

    def frames(self) -> set[str]:
        with self._lock:
            return set(self._edges) | {e.parent for e in self._edges.values()}

    def _chain(self, frame: str) -> list[str]:
        chain = [frame]
        while chain[-1] in self._edges:
            chain.append(self._edges[chain[-1]].parent)
            if len(chain) > 64:
                raise TfLookupError(f"the TF tree has a loop through {frame}")
        return chain

    def lookup(self, target: str, source: str, stamp_s: float, tolerance_s: float = 0.1) -> Pose3D:
        """target_from_source at stamp_s: maps points in `source` coordinates into `target` coordinates."""
        with self._lock:
            if target == source:
                return Pose3D.identity()
            up_source, up_target = self._chain(source), self._chain(target)
            common = next((f for f in up_source if f in set(up_target)), None)
            if common is None:
                known = "" if source in self._edges or target in self._edges else " (neither frame is known yet)"
                raise TfLookupError(f"no TF path from {source} to {target}{known}")
            root_from_source = self._compose(up_source[:up_source.index(common)], stamp_s, tolerance_s)
            root_from_target = self._compose(up_target[:up_target.index(common)], stamp_s, tolerance_s)
        return Pose3D.from_matrix(np.linalg.inv(root_from_target) @ root_from_source)

    def _compose(self, frames: list[str], stamp_s: float, tolerance_s: float) -> np.ndarray:
        """common_from_frames[0] as a matrix, walking child -> parent."""
        T = np.eye(4)
        for child in frames:
            T = self._edges[child].pose_at(stamp_s, tolerance_s, child).as_matrix() @ T
        return T
