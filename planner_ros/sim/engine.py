"""The simulation loop's core: world, skills, faults and cameras advanced one control period at a time.

SimEngine is single-threaded and free of ROS; SimRuntime runs it in a thread at a chosen real-time factor
and is the only way other threads reach it (through a command queue), so MjData is never touched
concurrently.
"""
from __future__ import annotations

import math
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from planner_ros.geometry import Pose3D
from planner_ros.sim.cameras import CameraFrame, CameraRig, corrupt_depth, optical_frame_id
from planner_ros.sim.faults import FaultSchedule, FaultSpec, FaultType
from planner_ros.sim.goals import WorldFacts
from planner_ros.sim.scenario import Scenario
from planner_ros.sim.skills import Progress, SimSkills, SkillRun
from planner_ros.sim.world import GroundTruth, World
from planner_ros.skills import FailureCode, SkillCall, SkillOutcome


MAP_FRAME, BASE_FRAME, GRIPPER_FRAME = "map", "base_link", "gripper"


@dataclass
class SkillJob:
    """A skill call in flight; written by the sim thread, read by the caller's thread."""

    call: SkillCall
    timeout_s: float = 0.0           # simulated seconds; 0: none
    started_s: float = 0.0
    progress: Progress = Progress("queued", 0.0)
    outcome: SkillOutcome | None = None
    done: threading.Event = field(default_factory=threading.Event)
    cancel_requested: bool = False


@dataclass(frozen=True)
class EpisodeConfig:
    layout: str = "kitchen_a"
    seed: int = 0
    random_objects: int = 8
    scenario: Scenario | None = None
    skill_self_checks: bool = True   # False: skills never notice their own failures (SimSkills.self_checks)


def facts_from_ground_truth(gt: GroundTruth, part_receptacles: dict[str, str]) -> WorldFacts:
    """Goal-checking view of the ground truth; a container's opening is also filed under its own id."""
    openings = dict(gt.openings)
    openings.update({rec: gt.openings[part] for part, rec in part_receptacles.items() if part in gt.openings})
    relations = {o.id: (o.relation, o.receptacle) for o in gt.objects}
    return WorldFacts(relations, openings, gt.held_object)


class SimEngine:
    def __init__(self, episode: EpisodeConfig, *, cameras: tuple[str, ...] = (), width: int = 640,
                 height: int = 480, camera_rate_hz: float = 2.0, segmentation: bool = False) -> None:
        self.camera_names = tuple(cameras)
        self.segmentation = segmentation  # also render instance labels (for the oracle detector)
        self.width, self.height = width, height
        self.camera_period_s = 1.0 / camera_rate_hz if camera_rate_hz > 0 else math.inf
        self.world: World | None = None
        self.rig: CameraRig | None = None
        self.load(episode)

    def load(self, episode: EpisodeConfig) -> None:
        """(Re)build the world for an episode and arm its scenario's faults."""
        sc = episode.scenario
        if self.rig is not None:
            self.rig.close()
        objects = dict(sc.objects) if sc else None
        self.world = World(sc.layout if sc else episode.layout, sc.seed if sc else episode.seed, objects,
                           sc.random_objects if sc else episode.random_objects)
        self.world.settle(2.0)
        self.episode = episode
        self.schedule = FaultSchedule()
        self.skills = SimSkills(self.world, self.schedule, self_checks=episode.skill_self_checks)
        self._depth_rng = np.random.default_rng(self.world.index.seed + 11)
        for fault in sc.faults if sc else ():
            self.skills.check_fault(fault)
            self.schedule.add(fault)
        for fault in self.schedule.take_immediate():
            self.skills.apply_fault(fault)
        self.job: SkillJob | None = None
        self._run: SkillRun | None = None
        self._next_frame_s = self.world.time_s
        self.rig = CameraRig(self.world.model, self.camera_names, width=self.width, height=self.height) \
            if self.camera_names else None
        self._instance_lut = self.world.instance_label_lookup()

    @property
    def time_s(self) -> float:
        return self.world.time_s

    def inject(self, fault: FaultSpec) -> FaultSpec:
        self.skills.check_fault(fault)
        stored = self.schedule.add(fault)
        for now in self.schedule.take_immediate():
            self.skills.apply_fault(now)
        return stored

    def clear_faults(self) -> None:
        self.schedule.clear()

    def start(self, call: SkillCall, timeout_s: float = 0.0) -> SkillJob:
        """Begin a skill; it fails with TIMEOUT if it runs longer than timeout_s simulated seconds (0: never)."""
        job = SkillJob(call, timeout_s, self.world.time_s)
        if self.job is not None:
            job.outcome = SkillOutcome.failed(FailureCode.BUSY, f"{call.text} arrived while {self.job.call.text} "
                                                                "was running; wait for its result or cancel it")
            job.done.set()
            return job
        self.job, self._run = job, self.skills.run(call)
        return job

    def tick(self) -> list[CameraFrame]:
        """Advance one control period (driving the running skill, if any); return frames that fell due."""
        if self.job is not None:
            self._advance_job()
        else:
            self.world.control_step()
        if self.rig is None or self.world.time_s + 1e-9 < self._next_frame_s:
            return []
        self._next_frame_s += self.camera_period_s
        return [frame for name in self.camera_names if (frame := self._render(name)) is not None]

    def _advance_job(self) -> None:
        job = self.job
        timed_out = job.timeout_s > 0 and self.world.time_s - job.started_s > job.timeout_s
        if job.cancel_requested or timed_out:
            self._run.close()  # motions hold their joints where they are
            if job.cancel_requested:
                outcome = SkillOutcome.failed(FailureCode.CANCELED, f"{job.call.text} was canceled; the robot "
                                                                    "stopped where it was")
            else:
                outcome = SkillOutcome.failed(FailureCode.TIMEOUT, f"{job.call.text} took longer than "
                                                                   f"{job.timeout_s:g} s and was stopped")
            self._finish(outcome)
            return
        try:
            job.progress = next(self._run)
        except StopIteration as stop:
            self._finish(stop.value)
        except Exception as err:  # a simulator bug: answer the caller, then let the sim thread fail loudly
            self._finish(SkillOutcome.failed(FailureCode.EXECUTION_ERROR, f"internal simulator error: {err!r}"))
            raise

    def _finish(self, outcome: SkillOutcome) -> None:
        self.job.outcome = outcome
        self.job.done.set()
        self.job, self._run = None, None

    def _render(self, name: str) -> CameraFrame | None:
        fault = self.skills.camera_fault(name, self.world.time_s)
        if fault is not None and fault.type is FaultType.CAMERA_DROP:
            return None
        frame = self.rig.render(self.world.data, name, segmentation=self.segmentation)
        if fault is not None and fault.type is FaultType.DEPTH_CORRUPT:
            depth = corrupt_depth(frame.depth_m, float(fault.params.get("fraction", 0.3)), self._depth_rng)
            frame = CameraFrame(frame.name, frame.stamp_s, frame.rgb, depth, frame.intrinsics,
                                frame.world_from_optical, frame.segmentation)
        return frame

    def instance_labels(self, frame: CameraFrame) -> np.ndarray:
        """The frame's segmentation as instance labels (World.instance_label_lookup's encoding)."""
        if frame.segmentation is None:
            raise ValueError("this engine renders no segmentation (construct it with segmentation=True)")
        return self._instance_lut[frame.segmentation]

    def ground_truth(self) -> GroundTruth:
        return self.world.ground_truth()

    def tf_edges(self, frames: list[CameraFrame]) -> list[tuple[str, str, Pose3D]]:
        """(parent, child, pose) TF edges now: map->base_link, base_link->gripper and base_link->each robot
        camera in frames."""
        base = self.world.base_pose()
        world_from_base = Pose3D((base.x, base.y, 0.0), (0.0, 0.0, math.sin(base.yaw / 2), math.cos(base.yaw / 2)))
        base_from_world = np.linalg.inv(world_from_base.as_matrix())
        edges = [(MAP_FRAME, BASE_FRAME, world_from_base)]
        # The grasp point, so that what the hand holds can be followed (orientation: the base's).
        world_from_gripper = Pose3D(self.world.ee_position(), world_from_base.orientation_xyzw)
        edges.append((BASE_FRAME, GRIPPER_FRAME, Pose3D.from_matrix(base_from_world @ world_from_gripper.as_matrix())))
        for frame in frames:
            if self.world.index.cameras[frame.name].mount != "world":
                pose = Pose3D.from_matrix(base_from_world @ frame.world_from_optical.as_matrix())
                edges.append((BASE_FRAME, optical_frame_id(frame.name), pose))
        return edges

    def static_tf_edges(self) -> list[tuple[str, str, Pose3D]]:
        """(parent, child, pose) for the fixed cameras: map->optical frame."""
        return [(MAP_FRAME, optical_frame_id(c), self.rig.world_from_optical(self.world.data, c))
                for c in self.camera_names if self.world.index.cameras[c].mount == "world"]

    def receptacle_boxes(self) -> dict[str, tuple[str, tuple, tuple, str | None]]:
        """id -> (kind, current placement-region min xyz, max xyz, articulated part or None)."""
        return {rid: (r.kind, *self.world.placement_region(rid), r.part)
                for rid, r in self.world.index.receptacles.items()}

    def facts(self) -> WorldFacts:
        parts = {pid: p.receptacle for pid, p in self.world.index.parts.items()}
        return facts_from_ground_truth(self.ground_truth(), parts)

    def close(self) -> None:
        if self.rig is not None:
            self.rig.close()
            self.rig = None


class SimRuntime:
    """Runs a SimEngine in its own thread, paced at real_time_factor (0: as fast as it goes)."""

    def __init__(self, engine: SimEngine, *, real_time_factor: float = 1.0,
                 on_tick: Callable[[SimEngine, list[CameraFrame]], None] | None = None) -> None:
        self.engine = engine
        self.real_time_factor = real_time_factor
        self.on_tick = on_tick
        self._commands: queue.Queue[tuple[Callable[[SimEngine], Any], Future]] = queue.Queue()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="sim", daemon=True)
        self.error: BaseException | None = None

    def start(self) -> None:
        self._thread.start()

    def call(self, fn: Callable[[SimEngine], Any], timeout_s: float | None = 30.0) -> Any:
        """Run fn(engine) on the sim thread and return its result (exceptions propagate)."""
        future: Future = Future()
        self._commands.put((fn, future))
        return future.result(timeout=timeout_s)

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5.0)
        self.engine.close()

    def _loop(self) -> None:
        wall0, sim0 = time.monotonic(), self.engine.time_s
        try:
            while not self._stop.is_set():
                while not self._commands.empty():
                    fn, future = self._commands.get_nowait()
                    try:
                        future.set_result(fn(self.engine))
                    except Exception as err:  # handed to the caller's thread
                        future.set_exception(err)
                    wall0, sim0 = time.monotonic(), self.engine.time_s  # a reset restarts the clock
                frames = self.engine.tick()
                if self.on_tick is not None:
                    self.on_tick(self.engine, frames)
                if self.real_time_factor > 0:
                    ahead = (self.engine.time_s - sim0) / self.real_time_factor - (time.monotonic() - wall0)
                    if ahead > 0:
                        self._stop.wait(ahead)
        except BaseException as err:  # surfaced by the node, which then exits
            self.error = err
            raise
