"""The embedded robot in one process: the MuJoCo world, its cameras, perception and the scene graph,
behind the planner's Executor and Observer ports. What the ROS nodes do over DDS, minus the transport:
the benchmark and the end-to-end tests run hundreds of steps here in minutes.

The planner names objects by scene-graph id. Like a real robot, the executor acts where perception says
the object is: the id's last known position picks the simulated object there (same kind, nearest, within
GRASP_MATCH_M). An object that has moved since is simply not found there; the world, not the planner's
belief, decides what happens.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from planner_ros.names import normalise_name
from planner_ros.perception.backends import catalog_aliases
from planner_ros.perception.detection import Detector
from planner_ros.planning.world import WorldView
from planner_ros.scene_graph.feeder import GraphFeeder
from planner_ros.scene_graph.planner_view import world_view
from planner_ros.scene_graph.queries import propose_viewpoints
from planner_ros.sim.engine import EpisodeConfig, SimEngine
from planner_ros.sim.scenario import Scenario
from planner_ros.sim.world import World
from planner_ros.skills import FailureCode, SkillCall, SkillOutcome

__all__ = ["DEFAULT_CAMERAS", "GRASP_MATCH_M", "SimRobot", "resolve_object", "translate_call"]

DEFAULT_CAMERAS = ("kitchen_overview", "table_cam", "head_rgbd")
GRASP_MATCH_M = 0.2          # how far the object may be from where the scene graph last had it
HELD_REPORT = "grasped"      # what the gripper reports while closed on something (not an id)


def resolve_object(world: World, position_m: Sequence[float], label: str) -> str | None:
    """The simulated object of this kind nearest to position, within GRASP_MATCH_M; None if there is none."""
    best, best_d = None, GRASP_MATCH_M
    key = normalise_name(label)
    for oid, info in world.index.objects.items():
        if normalise_name(info.kind) != key:
            continue
        d = float(np.linalg.norm(np.asarray(world.object_pose(oid).position_m) - np.asarray(position_m)))
        if d <= best_d:
            best, best_d = oid, d
    return best


def translate_call(call: SkillCall, world: World, graph_objects: Mapping[str, tuple[str, Sequence[float]]],
                   held_node: str | None) -> SkillCall | SkillOutcome:
    """Scene-graph object ids in call -> the simulated objects where the graph has them (the held node ->
    what the gripper holds). Receptacles and parts share their ids with the simulator and pass through;
    an id the graph does not hold passes through too (a simulator id, from a scripted caller)."""
    args = []
    for name, value in call.arguments:
        if value in graph_objects:
            held = world.held_object()
            if value == held_node and held:
                value = held
            else:
                label, position = graph_objects[value]
                found = resolve_object(world, position, label)
                if found is None:
                    return SkillOutcome.failed(FailureCode.OBJECT_MISSING,
                                               f"there is no {label} where the scene graph has '{value}'")
                value = found
        args.append((name, value))
    return SkillCall(call.skill, tuple(args))


class SimRobot:
    """Executor + Observer over an in-process SimEngine, perception pipeline and scene graph."""

    def __init__(self, scenario: Scenario, detector: Detector, *, cameras: Sequence[str] = DEFAULT_CAMERAS,
                 camera_rate_hz: float = 2.0, width: int = 640, height: int = 480, step_timeout_s: float = 120.0,
                 fresh_timeout_s: float = 3.0, warmup_s: float = 2.0, skill_self_checks: bool = True) -> None:
        self.scenario = scenario
        self.engine = SimEngine(EpisodeConfig(scenario=scenario, skill_self_checks=skill_self_checks),
                                cameras=tuple(cameras), width=width,
                                height=height, camera_rate_hz=camera_rate_hz, segmentation=detector.is_oracle)
        self.feeder = GraphFeeder(detector, self.engine.world)
        self.graph = self.feeder.graph
        self.synonyms = catalog_aliases()
        self.step_timeout_s = step_timeout_s
        self.fresh_timeout_s = fresh_timeout_s
        self._held: str | None = None
        self._grasping = ""
        self.resolved_ids: dict[str, str] = {}   # scene-graph id -> the simulated object it was last acted on as
        self._run_for(warmup_s)

    def close(self) -> None:
        self.engine.close()

    # -- time ---------------------------------------------------------------------------------------
    def now_s(self) -> float:
        return self.engine.time_s

    def _tick(self) -> None:
        frames = self.engine.tick()
        if frames:
            self.feeder.step(frames)
        world = self.engine.world
        held = world.held_object()
        # The hand reports its grasp at once (as sim_node's /robot/held_object does), before the arm lifts away.
        if frames or held != self._held:
            self._held = held
            # A robot knows what it was told to grasp: the scene-graph id of the pick in progress.
            report = (self._grasping if self._grasping in self.graph.nodes else HELD_REPORT) if held else ""
            self.graph.update_hand(np.asarray(world.ee_position()), report, self.engine.time_s)

    def _run_for(self, seconds: float) -> None:
        end = self.engine.time_s + seconds
        while self.engine.time_s < end:
            self._tick()

    # -- Observer -------------------------------------------------------------------------------------
    def observe(self, after_s: float | None = None) -> WorldView:
        if after_s is not None:
            deadline = self.engine.time_s + self.fresh_timeout_s
            while self.graph.stamp_s < after_s and self.engine.time_s < deadline:
                self._tick()
        return world_view(self.graph)

    def search_places(self, label: str) -> list[str]:
        places = [p.name for p in propose_viewpoints(self.graph, label, max_viewpoints=0, synonyms=self.synonyms)]
        return [p for p in dict.fromkeys(places) if p in self.graph.map.receptacles]

    # -- Executor ---------------------------------------------------------------------------------------
    def execute(self, call: SkillCall, step_id: str = "") -> SkillOutcome:
        translated = self._to_sim(call)
        if isinstance(translated, SkillOutcome):
            return translated
        self.resolved_ids.update((v, t) for (_, v), (_, t) in zip(call.arguments, translated.arguments) if v != t)
        self._grasping = call.arg("object", "") if call.skill == "pick" else self._grasping
        job = self.engine.start(translated, self.step_timeout_s)
        while not job.done.is_set():
            self._tick()
        return job.outcome

    def _to_sim(self, call: SkillCall) -> SkillCall | SkillOutcome:
        objects = {n.id: (n.label, n.position_m) for n in self.graph.objects()}
        return translate_call(call, self.engine.world, objects, self.graph.held_id)
