"""The live 3D scene graph: fixed structure from the semantic map, objects from perception, part openings
from depth, relations from geometry, and a memory that behaves like a robot's.

- Objects keep stable ids (`apple_1`) across perception's track churn: an observation joins the node its
  track already belongs to, else the nearest node of the same label within a gate, else a node of that label
  with evidence that it left its place (missing, unseen in view, held): that is a move, not a new object.
  If same-label nodes exist with no such evidence yet, the observation waits a short hand-over window for
  it before it becomes a new object, so a move seen as it happens does not leave a duplicate behind.
- Out of view, an object keeps its last state (REMEMBERED). In view (inside a camera's image, large enough,
  not hidden according to that camera's depth) but not detected, it loses confidence and after
  `missing_after_s` is MISSING.
- Every change bumps `revision` and produces an event (appeared, moved, missing, reappeared, state changed).

Bad input never corrupts the graph: observations with non-finite or absurd boxes, unknown labels,
duplicated track ids or stamps older than what the graph holds are rejected with a reason.
"""
from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from planner_ros.names import normalise_name
from planner_ros.scene_graph.articulation import estimate_opening
from planner_ros.scene_graph.model import (DepthView, EventType, GraphEvent, NodeKind, NodeStatus,
                                           ObjectObservation, Relation, SceneNode, StateValue)
from planner_ros.scene_graph.relations import ROBOT_ID, compute_relations
from planner_ros.scene_graph.semantic_map import PartModel, SemanticMap
from planner_ros.scene_graph.visibility import Evidence, view_evidence_batch

__all__ = ["GraphSettings", "Rejection", "SceneGraph", "SnapshotError", "UpdateReport", "SNAPSHOT_VERSION"]

SNAPSHOT_VERSION = 1
REFERENCE_SYNC_S = 0.05  # a depth image this close in time to a detection shows the object
MAX_GRASP_OFFSET_M = 0.12  # an object's centre is at most this far from the grasp point holding it
GRASP_RADIUS_M = 0.25      # a closing hand grasped the object nearest to it within this distance


class SnapshotError(ValueError):
    """A snapshot cannot be loaded; the message says what is wrong with it."""


@dataclass(frozen=True)
class GraphSettings:
    association_gate_m: float = 0.15     # same label within this distance: the same object
    move_threshold_m: float = 0.05       # a node whose position changes more than this has moved
    fresh_s: float = 0.5                 # a detection this recent means "seen now" (perception lags the views)
    missing_after_s: float = 1.0         # in view and undetected this long (after fresh_s): missing
    handover_window_s: float = 3.0       # a new same-label object waits this long for a move to explain it
    unseen_decay_s: float = 2.0          # confidence time constant while in view and undetected
    depth_change_m: float = 0.008        # depth at an object's centre grown this much since it was seen: gone
    min_size_m: float = 0.005
    max_size_m: float = 1.5
    known_labels: frozenset[str] | None = None  # None: any label
    open_threshold: float = 0.5          # opening fraction from which a part is open
    min_opening_confidence: float = 0.5  # estimates less sure than this leave the state as it was
    opening_change: float = 0.25         # an amount change this large is a state change even if open stays


@dataclass(frozen=True)
class Rejection:
    track_id: str
    label: str
    reason: str


@dataclass
class UpdateReport:
    events: list[GraphEvent] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    repaired: list[Rejection] = field(default_factory=list)  # kept, with what was changed and why


_label = functools.lru_cache(maxsize=4096)(normalise_name)


def _fmt(p: Sequence[float]) -> str:
    return "(" + ", ".join(f"{v:.2f}" for v in p) + ")"


class SceneGraph:
    def __init__(self, semantic_map: SemanticMap, settings: GraphSettings | None = None) -> None:
        self.map = semantic_map
        self.settings = settings or GraphSettings()
        self.revision = 0
        self.stamp_s = -math.inf
        self.nodes: dict[str, SceneNode] = {}
        self.held_id: str | None = None
        self._held_offset = np.zeros(3)
        self._track_node: dict[str, str] = {}
        self._track_stamp: dict[str, float] = {}
        self._pending: dict[str, float] = {}   # track id -> when it first waited for a hand-over
        self._counters: dict[str, int] = {}
        self._last_views_s: float | None = None
        self._relations: tuple[int, list[Relation]] = (-1, [])
        self.receptacle_seen_s: dict[str, float] = {}  # when some camera last saw into each receptacle
        for rec in semantic_map.receptacles.values():
            if rec.id not in semantic_map.parts:
                self.nodes[rec.id] = SceneNode(rec.id, rec.label, NodeKind.RECEPTACLE, rec.furniture.centre,
                                               rec.furniture.size, 1.0)
        # The robot, placed at its hand (held_by edges point there) once the hand's pose is known.
        self.nodes[ROBOT_ID] = SceneNode(ROBOT_ID, "robot", NodeKind.ROBOT, np.zeros(3), np.full(3, 0.1), 1.0,
                                         NodeStatus.REMEMBERED)
        for part in semantic_map.parts.values():
            panel = part.panel
            self.nodes[part.id] = SceneNode(part.id, part.label, NodeKind.ARTICULATED_PART, panel.centre, panel.size,
                                            0.0, NodeStatus.REMEMBERED, parent_id=part.parent)

    # -- queries ------------------------------------------------------------------------------------
    def objects(self) -> list[SceneNode]:
        return [n for n in self.nodes.values() if n.kind == NodeKind.OBJECT]

    def openings(self) -> dict[str, float]:
        """Estimated opening fraction per part (0 where never estimated)."""
        out = {}
        for pid in self.map.parts:
            state = self.nodes[pid].states.get("open")
            out[pid] = 0.0 if state is None or not math.isfinite(state.amount) else state.amount
        return out

    def relations(self) -> list[Relation]:
        if self._relations[0] != self.revision:
            self._relations = (self.revision, compute_relations(self.nodes.values(), self.map, self.openings(),
                                                                self.held_id))
        return self._relations[1]

    # -- perception ---------------------------------------------------------------------------------
    def _check(self, obs: ObjectObservation) -> str | None:
        # Plain Python on 3-vectors: numpy's per-call overhead would dominate an update of hundreds.
        s = self.settings
        try:
            position, size = tuple(float(v) for v in obs.position_m), tuple(float(v) for v in obs.size_m)
        except (TypeError, ValueError):
            return "position or size is not three finite numbers"
        if len(position) != 3 or len(size) != 3 or not all(map(math.isfinite, position + size)):
            return "position or size is not three finite numbers"
        if max(size) > s.max_size_m or max(size) < s.min_size_m:
            return f"size {_fmt(size)} m is outside [{s.min_size_m}, {s.max_size_m}] m"
        if not (math.isfinite(obs.confidence) and 0.0 <= obs.confidence <= 1.0):
            return f"confidence {obs.confidence} is not in [0, 1]"
        if not math.isfinite(obs.stamp_s):
            return "stamp is not finite"
        label = _label(obs.label)
        if not label:
            return "empty label"
        if s.known_labels is not None and label not in s.known_labels:
            return f"unknown label {obs.label!r} (known: {', '.join(sorted(s.known_labels))})"
        held = self._track_stamp.get(obs.track_id)
        if obs.track_id and held is not None and obs.stamp_s < held - 1e-9:
            return f"stamp {obs.stamp_s:.3f} s is older than this track's {held:.3f} s (out of order)"
        return None

    def update(self, observations: Sequence[ObjectObservation], stamp_s: float) -> UpdateReport:
        """Fold one perception message (all current tracks) into the graph."""
        report = UpdateReport()
        self.stamp_s = max(self.stamp_s, stamp_s)
        valid: dict[str, ObjectObservation] = {}
        for i, obs in enumerate(observations):
            reason = self._check(obs)
            key = obs.track_id or f"#untracked{i}"
            if reason is None and key in valid:
                keep = max(valid[key], obs, key=lambda o: (o.stamp_s, o.confidence))
                drop = obs if keep is valid[key] else valid[key]
                report.rejected.append(Rejection(drop.track_id, drop.label, "duplicated track id in one message"))
                valid[key] = keep
                continue
            if reason is not None:
                report.rejected.append(Rejection(obs.track_id, obs.label, reason))
                continue
            if min(obs.size_m) < self.settings.min_size_m:
                # A flat surface seen face-on has ~0 depth extent: keep it, with a minimal thickness.
                fixed = tuple(max(float(v), self.settings.min_size_m) for v in obs.size_m)
                report.repaired.append(Rejection(obs.track_id, obs.label, f"extent {_fmt(obs.size_m)} m raised to "
                                                 f"at least {self.settings.min_size_m} m"))
                obs = dataclasses.replace(obs, size_m=fixed)
            valid[key] = obs
        # Only observations newer than what the graph holds, and recent, are detections now.
        fresh = [o for k, o in valid.items() if o.stamp_s > self._track_stamp.get(k, -math.inf)
                 and stamp_s - o.stamp_s <= self.settings.fresh_s]
        for k, o in valid.items():
            self._track_stamp[k] = max(o.stamp_s, self._track_stamp.get(k, -math.inf))
        taken: set[str] = set()
        detected_now = {self._track_node[o.track_id] for o in fresh if o.track_id in self._track_node}
        for obs in sorted(fresh, key=lambda o: -o.confidence):
            node_id = self._associate(obs, taken, detected_now, stamp_s)
            if node_id is None:
                continue
            taken.add(node_id)
            if node_id in self.nodes:
                self._observe(self.nodes[node_id], obs, report)
            else:
                node = self._add_object(node_id, obs)
                report.events.append(self._event(EventType.APPEARED, node, f"{node.label} at {_fmt(node.position_m)}",
                                                 obs.stamp_s))
        for track in [t for t in self._pending if t not in valid]:
            del self._pending[track]  # perception forgot it before it was resolved
        return report

    def _associate(self, obs: ObjectObservation, taken: set[str], detected_now: set[str], now_s: float) -> str | None:
        """The node id the observation belongs to (a fresh id for a new object), or None while it waits."""
        s = self.settings
        known = self._track_node.get(obs.track_id) if obs.track_id else None
        if known is not None and known in self.nodes and known not in taken:
            return known
        label = _label(obs.label)
        position = np.asarray(obs.position_m, dtype=float)
        same = [n for n in self.objects() if _label(n.label) == label and n.id not in taken]
        near = [n for n in same if np.linalg.norm(n.position_m - position) <= s.association_gate_m]
        if near:
            return self._bind(obs, min(near, key=lambda n: np.linalg.norm(n.position_m - position)).id)
        # Gone from where they were (missing) or in the hand: this is one of them, moved.
        left = [n for n in same if n.status == NodeStatus.MISSING or n.id == self.held_id]
        if left:
            return self._bind(obs, min(left, key=lambda n: np.linalg.norm(n.position_m - position)).id)
        # Same-label objects not detected in this message may have moved here: wait (up to the hand-over
        # window) for the evidence that they left their place, or for them to be seen there again.
        undetected = [n for n in same if n.id not in detected_now]
        if undetected and obs.track_id:
            since = self._pending.setdefault(obs.track_id, now_s)
            if now_s - since < s.handover_window_s:
                return None
        self._pending.pop(obs.track_id, None)
        return self._bind(obs, self._fresh_id(obs.label))

    def _bind(self, obs: ObjectObservation, node_id: str) -> str:
        if obs.track_id:
            self._track_node[obs.track_id] = node_id
            self._pending.pop(obs.track_id, None)
        return node_id

    def _fresh_id(self, label: str) -> str:
        base = _label(label).replace(" ", "_")
        while True:  # never reuse an id, also one a loaded snapshot holds
            self._counters[base] = self._counters.get(base, 0) + 1
            node_id = f"{base}_{self._counters[base]}"
            if node_id not in self.nodes:
                return node_id

    def _add_object(self, node_id: str, obs: ObjectObservation) -> SceneNode:
        node = SceneNode(node_id, _label(obs.label).replace(" ", "_"), NodeKind.OBJECT,
                         np.asarray(obs.position_m, dtype=float), np.asarray(obs.size_m, dtype=float), obs.confidence,
                         first_seen_s=obs.stamp_s, last_seen_s=obs.stamp_s)
        self.nodes[node_id] = node
        self._observe(node, obs, UpdateReport())
        return node

    def _observe(self, node: SceneNode, obs: ObjectObservation, report: UpdateReport) -> None:
        position = np.array(obs.position_m, dtype=float)
        moved = math.dist(obs.position_m, node.position_m)
        if node.status == NodeStatus.MISSING and moved <= self.settings.move_threshold_m:
            report.events.append(self._event(EventType.REAPPEARED, node, f"seen again at {_fmt(position)}",
                                             obs.stamp_s))
        if moved > self.settings.move_threshold_m:
            node.depth_ref.clear()  # the reference depths were of the old place
            report.events.append(self._event(EventType.MOVED, node,
                                             f"{_fmt(node.position_m)} -> {_fmt(position)} ({moved:.2f} m)",
                                             obs.stamp_s))
        if node.status != NodeStatus.VISIBLE:
            self._changed()
        if obs.track_id:
            node.track_ids.add(obs.track_id)
        node.position_m, node.size_m = position, np.array(obs.size_m, dtype=float)
        node.confidence = obs.confidence
        node.status = NodeStatus.VISIBLE
        node.seen_by = tuple(sorted(set(obs.cameras)))
        node.last_seen_s = max(node.last_seen_s, obs.stamp_s) if math.isfinite(node.last_seen_s) else obs.stamp_s
        node.unseen_in_view_s = 0.0

    def _changed(self) -> None:
        self.revision += 1

    def _event(self, kind: EventType, node: SceneNode, detail: str, stamp_s: float) -> GraphEvent:
        self._changed()
        return GraphEvent(kind, node.id, node.label, detail, stamp_s)

    # -- depth views: visibility and part openings --------------------------------------------------
    def observe_views(self, views: Sequence[DepthView], stamp_s: float) -> list[GraphEvent]:
        """Age objects that should be visible in these views but were not detected; re-estimate openings."""
        events: list[GraphEvent] = []
        s = self.settings
        dt = 0.0 if self._last_views_s is None else max(0.0, stamp_s - self._last_views_s)
        self._last_views_s = stamp_s
        self.stamp_s = max(self.stamp_s, stamp_s)
        # Evidence for every object in place (not missing, not in the hand). Recently detected ones give each
        # camera a reference depth at their centre; for the others, the camera sees through the box, or the
        # depth there has grown by the object's thickness (a plate lifted off a table), or it has not.
        placed = [n for n in self.objects() if n.status != NodeStatus.MISSING and n.id != self.held_id]
        evidence: dict[str, tuple[list[Evidence], np.ndarray]] = {}
        view_stamps = {v.camera: v.stamp_s for v in views}
        if placed:
            positions = np.array([n.position_m for n in placed])
            sizes = np.array([n.size_m for n in placed])
            evidence = {v.camera: view_evidence_batch(positions, sizes, v) for v in views}
        for i, node in enumerate(placed):
            if stamp_s - node.last_seen_s <= s.fresh_s:
                node.unseen_in_view_s = 0.0
                for camera, (found, depth_at) in evidence.items():
                    # Only a depth image taken when the object was detected shows it there for sure.
                    if found[i] in (Evidence.OCCUPIED, Evidence.EMPTY) \
                            and abs(view_stamps[camera] - node.last_seen_s) <= REFERENCE_SYNC_S:
                        node.depth_ref[camera] = float(depth_at[i])
                continue
            gone, there = [], False
            for camera, (found, depth_at) in evidence.items():
                ref = node.depth_ref.get(camera)
                if found[i] == Evidence.EMPTY or (found[i] == Evidence.OCCUPIED and ref is not None
                                                  and depth_at[i] > ref + s.depth_change_m):
                    gone.append(camera)
                elif found[i] == Evidence.OCCUPIED:
                    there = True
            if gone and not there:
                node.unseen_in_view_s += min(dt, stamp_s - node.last_seen_s - s.fresh_s)
                node.confidence *= math.exp(-dt / s.unseen_decay_s)
                if node.unseen_in_view_s >= s.missing_after_s:
                    node.status = NodeStatus.MISSING
                    events.append(self._event(EventType.MISSING, node,
                                              f"{', '.join(sorted(gone))} see(s) where it was empty; not detected "
                                              f"for {stamp_s - node.last_seen_s:.1f} s", stamp_s))
            if node.status == NodeStatus.VISIBLE:  # not detected lately: what the graph holds is memory now
                node.status = NodeStatus.REMEMBERED
                self._changed()
        openings = self.openings()
        # Receptacles a camera sees into (a closed container's inside is hidden by its door).
        looked = [rec.id for rec in self.map.receptacles.values() if rec.part is None or rec.moves_with_part
                  or openings.get(rec.part, 0.0) >= s.open_threshold]
        boxes = [self.map.receptacle_volume(rid, openings.get(self.map.receptacles[rid].part, 0.0)) for rid in looked]
        if boxes:
            centres, sizes = np.array([b.centre for b in boxes]), np.array([b.size for b in boxes])
            seen = np.zeros(len(boxes), dtype=bool)
            for v in views:
                seen |= [e in (Evidence.OCCUPIED, Evidence.EMPTY) for e in view_evidence_batch(centres, sizes, v)[0]]
            for rid in np.asarray(looked)[seen]:
                self.receptacle_seen_s[str(rid)] = stamp_s
        for part in self.map.parts.values():
            estimate = estimate_opening(part, views)
            if estimate is None or estimate.confidence < s.min_opening_confidence:
                continue
            node = self.nodes[part.id]
            is_open = estimate.fraction >= s.open_threshold
            before = node.states.get("open")
            if before is not None:
                self._carry_contents(part, before.amount, estimate.fraction)
            node.states["open"] = StateValue("true" if is_open else "false", estimate.fraction, estimate.confidence)
            node.confidence, node.status, node.seen_by = estimate.confidence, NodeStatus.VISIBLE, estimate.cameras
            node.last_seen_s = stamp_s
            if before is None or (before.value == "true") != is_open \
                    or abs(before.amount - estimate.fraction) >= s.opening_change:
                was = "unknown" if before is None else f"{'open' if before.value == 'true' else 'closed'} {before.amount:.2f}"
                events.append(self._event(EventType.STATE_CHANGED, node,
                                          f"{part.id} {was} -> {'open' if is_open else 'closed'} "
                                          f"{estimate.fraction:.2f}", stamp_s))
        return events

    def _carry_contents(self, part: PartModel, was: float, now: float) -> None:
        """What lies in a drawer moves with it: objects in its volume at the old opening shift with the part,
        so what was put in a drawer is still in it, out of sight, once the drawer is closed."""
        rec = self.map.receptacles.get(part.closes)
        if rec is None or not rec.moves_with_part or abs(now - was) < 1e-3:
            return
        volume = self.map.receptacle_volume(rec.id, was)
        offset = part.transform(now)[:3, 3] - part.transform(was)[:3, 3]
        inside = [n for n in self.objects()
                  if n.id != self.held_id and n.status != NodeStatus.MISSING and volume.contains(n.position_m)]
        for node in inside:
            node.position_m = node.position_m + offset
            node.depth_ref.clear()  # depths measured at the old place say nothing about the new one
        if inside:
            self._changed()

    # -- the robot's hand ---------------------------------------------------------------------------
    def set_held(self, object_id: str | None, stamp_s: float) -> list[GraphEvent]:
        """The robot reports what its gripper holds (from its own grasp state); None: nothing.

        Letting go is itself an observation: the object is where the hand put it, as of now, so it is fresh
        (perception gets its usual time to see it there before its absence could count against it)."""
        if object_id == self.held_id:
            return []
        events = []
        for oid, value in ((self.held_id, "false"), (object_id, "true")):
            if oid is not None and oid in self.nodes:
                node = self.nodes[oid]
                node.states["held"] = StateValue(value)
                node.last_seen_s, node.unseen_in_view_s = stamp_s, 0.0
                node.depth_ref.clear()
                events.append(self._event(EventType.STATE_CHANGED, node, f"held {value}", stamp_s))
        self.held_id = object_id if object_id in self.nodes else None
        if self.held_id is not None:
            held = self.nodes[self.held_id]
            held.status = NodeStatus.VISIBLE  # found, if it looked gone: it is in the hand
            # Where the object sits relative to the grasp point, kept while it is carried.
            offset = held.position_m - self.nodes[ROBOT_ID].position_m
            known = self.nodes[ROBOT_ID].status == NodeStatus.VISIBLE and np.linalg.norm(offset) <= MAX_GRASP_OFFSET_M
            self._held_offset = offset if known else np.zeros(3)  # farther: the node lagged the grasp
        return events

    def follow_gripper(self, position_m: np.ndarray) -> None:
        """The hand's position: the robot node sits there, and a held object moves with it (perception
        rarely sees an object in the hand)."""
        position = np.asarray(position_m, dtype=float)
        robot = self.nodes[ROBOT_ID]
        moved = float(np.linalg.norm(robot.position_m - position)) > self.settings.move_threshold_m
        robot.position_m, robot.status = position, NodeStatus.VISIBLE
        if self.held_id is not None:
            self.nodes[self.held_id].position_m = position + self._held_offset
        if moved:
            self._changed()

    def update_hand(self, hand_m: np.ndarray, grasp_report: str | None, stamp_s: float) -> list[GraphEvent]:
        """The hand's position and the gripper's grasp report: "" holds nothing, else it holds something (a
        node id, if the robot knows it, else the object nearest the hand); None: no report yet."""
        self.follow_gripper(hand_m)
        if grasp_report == "":
            return self.set_held(None, stamp_s)
        if grasp_report is None or self.held_id is not None:
            return []
        grasped = grasp_report if grasp_report in self.nodes else self.nearest_object(hand_m, GRASP_RADIUS_M)
        return self.set_held(grasped, stamp_s)

    def nearest_object(self, position_m: np.ndarray, within_m: float) -> str | None:
        """The object nearest to a point, if within `within_m`: what a closing hand grasped. Missing ones
        count too: an object lifted before the hand reported its grasp looks gone from its place."""
        candidates = [(float(np.linalg.norm(n.position_m - position_m)), n.id) for n in self.objects()]
        best = min(candidates, default=None)
        return best[1] if best is not None and best[0] <= within_m else None

    # -- snapshots ----------------------------------------------------------------------------------
    def to_snapshot(self) -> dict:
        """Everything needed to inspect or resume the graph, as JSON-ready data (the map included)."""
        def node_json(n: SceneNode) -> dict:
            return {"id": n.id, "label": n.label, "kind": n.kind.name, "status": n.status.name,
                    "parent_id": n.parent_id, "position_m": [round(float(v), 5) for v in n.position_m],
                    "size_m": [round(float(v), 5) for v in n.size_m], "confidence": round(float(n.confidence), 5),
                    "states": {k: {"value": v.value, "amount": None if math.isnan(v.amount) else v.amount,
                                   "confidence": v.confidence} for k, v in sorted(n.states.items())},
                    "seen_by": list(n.seen_by), "first_seen_s": _json_float(n.first_seen_s),
                    "last_seen_s": _json_float(n.last_seen_s), "track_ids": sorted(n.track_ids),
                    "depth_ref": {k: round(v, 5) for k, v in sorted(n.depth_ref.items())},
                    "unseen_in_view_s": n.unseen_in_view_s}
        return {"version": SNAPSHOT_VERSION, "revision": self.revision, "stamp_s": _json_float(self.stamp_s),
                "held_id": self.held_id, "counters": dict(sorted(self._counters.items())),
                "map": self.map.to_json(), "nodes": [node_json(n) for n in sorted(self.nodes.values(), key=lambda n: n.id)],
                "relations": [[r.subject_id, r.predicate, r.object_id, round(r.confidence, 5)] for r in self.relations()]}

    @classmethod
    def from_snapshot(cls, data: Mapping, settings: GraphSettings | None = None) -> SceneGraph:
        if not isinstance(data, Mapping) or data.get("version") != SNAPSHOT_VERSION:
            raise SnapshotError(f"not a scene graph snapshot of version {SNAPSHOT_VERSION} "
                                f"(got version {data.get('version') if isinstance(data, Mapping) else None!r})")
        try:
            graph = cls(SemanticMap.from_json(data["map"]), settings)
            graph.nodes = {}
            for n in data["nodes"]:
                states = {k: StateValue(v["value"], math.nan if v.get("amount") is None else float(v["amount"]),
                                        float(v.get("confidence", 1.0))) for k, v in n.get("states", {}).items()}
                node = SceneNode(n["id"], n["label"], NodeKind[n["kind"]], np.asarray(n["position_m"], dtype=float),
                                 np.asarray(n["size_m"], dtype=float), float(n["confidence"]), NodeStatus[n["status"]],
                                 n.get("parent_id", ""), states, tuple(n.get("seen_by", ())),
                                 _from_json_float(n.get("first_seen_s")), _from_json_float(n.get("last_seen_s")),
                                 set(n.get("track_ids", ())),
                                 {str(k): float(v) for k, v in dict(n.get("depth_ref", {})).items()},
                                 float(n.get("unseen_in_view_s", 0.0)))
                if node.position_m.shape != (3,) or node.size_m.shape != (3,) or not np.isfinite(node.position_m).all():
                    raise SnapshotError(f"node {node.id!r}: position and size must be finite 3-vectors")
                graph.nodes[node.id] = node
                for track in node.track_ids:
                    graph._track_node[track] = node.id
            graph.revision = int(data["revision"])
            graph.stamp_s = _from_json_float(data.get("stamp_s"), -math.inf)
            held = data.get("held_id")
            graph.held_id = held if held in graph.nodes else None
            graph._counters = {str(k): int(v) for k, v in dict(data.get("counters", {})).items()}
        except (KeyError, TypeError, ValueError) as err:
            if isinstance(err, SnapshotError):
                raise
            raise SnapshotError(f"malformed scene graph snapshot: {type(err).__name__}: {err}") from None
        return graph


def _json_float(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _from_json_float(value: float | None, default: float = math.nan) -> float:
    return default if value is None else float(value)
