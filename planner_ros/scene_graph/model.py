"""Scene graph types: what goes in (object observations, depth views), what is kept (nodes, relations) and
what comes out (events). Positions are in the semantic map's frame (`map`), times in seconds of the
stamps' clock (simulated time in simulation)."""
from __future__ import annotations

import enum
from dataclasses import dataclass, field

import numpy as np

from planner_ros.geometry import CameraIntrinsics, Pose3D

__all__ = ["DepthView", "EventType", "GraphEvent", "NodeKind", "NodeStatus", "ObjectObservation", "Relation",
           "SceneNode", "StateValue"]


class NodeKind(enum.IntEnum):
    """Mirrors SceneObject.KIND_*."""

    OBJECT = 0        # movable, graspable
    RECEPTACLE = 1    # furniture or container from the semantic map
    ARTICULATED_PART = 2  # door or drawer; parent_id names the receptacle it closes
    ROBOT = 3


class NodeStatus(enum.IntEnum):
    """Mirrors SceneObject.STATUS_*."""

    VISIBLE = 0       # confirmed by recent observations
    REMEMBERED = 1    # out of view, or in view but not yet expected to be seen: last known state kept
    MISSING = 2       # should have been seen (in a camera's view, not occluded) but was not, long enough


class EventType(enum.IntEnum):
    """Mirrors SceneGraphEvent.*."""

    APPEARED = 0
    MOVED = 1
    MISSING = 2
    REAPPEARED = 3
    STATE_CHANGED = 4
    REMOVED = 5


@dataclass(frozen=True)
class StateValue:
    value: str                 # "true"/"false" or a symbolic value
    amount: float = float("nan")  # e.g. opening fraction 0..1
    confidence: float = 1.0


@dataclass
class SceneNode:
    id: str
    label: str
    kind: NodeKind
    position_m: np.ndarray     # box centre
    size_m: np.ndarray         # box extent (axis-aligned in the map frame)
    confidence: float
    status: NodeStatus = NodeStatus.VISIBLE
    parent_id: str = ""
    states: dict[str, StateValue] = field(default_factory=dict)
    seen_by: tuple[str, ...] = ()
    first_seen_s: float = float("nan")
    last_seen_s: float = float("nan")
    track_ids: set[str] = field(default_factory=set)   # perception tracks that were this object
    depth_ref: dict[str, float] = field(default_factory=dict)  # camera -> depth at its centre when last detected
    unseen_in_view_s: float = 0.0  # how long it has been expected in some view and not detected


@dataclass(frozen=True)
class Relation:
    subject_id: str
    predicate: str             # on, in, next_to, held_by, part_of
    object_id: str
    confidence: float = 1.0


@dataclass(frozen=True)
class GraphEvent:
    type: EventType
    object_id: str
    label: str
    detail: str
    stamp_s: float


@dataclass(frozen=True)
class ObjectObservation:
    """One fused perception track (a Detection3D): label, box centre and extent in the map frame."""

    track_id: str
    label: str
    position_m: tuple[float, float, float]
    size_m: tuple[float, float, float]
    confidence: float
    cameras: tuple[str, ...]
    stamp_s: float             # latest observation of this track


@dataclass(frozen=True)
class DepthView:
    """One camera's depth image with its pose: the evidence for visibility and door openings."""

    camera: str
    stamp_s: float
    depth_m: np.ndarray        # (H, W) float, metres; NaN or 0 where unknown
    intrinsics: CameraIntrinsics
    world_from_optical: Pose3D
