"""Robot skills in the MuJoCo world, with their preconditions checked against physics and state.

Each skill is a generator: it yields Progress after every control step (so a caller can publish
feedback, pace it in real time or cancel it by closing the generator) and returns a SkillOutcome. A
refusal names the specific failure code and what to do. Faults scheduled by rule fire when a matching
call starts; a slip fires during the call's transit phase.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass

import numpy as np

from planner_ros.sim.faults import FaultError, FaultSchedule, FaultSpec, FaultType
from planner_ros.sim.world import CONTROL_PERIOD_S, GraspError, Unreachable, UnknownId, World
from planner_ros.skills import FailureCode, SkillCall, SkillOutcome

OPEN_ENOUGH = 0.5            # a container whose door is open less than this is closed to the arm
OPEN_DONE = 0.9              # open() succeeds at or above this opening
CLOSED_DONE = 0.05           # close() succeeds at or below this opening; below this open() found it locked
TRAVEL_LIFT_M = 1.28         # lift height for driving: the fingers clear whatever stands on a counter
APPROACH_CLEARANCE_M = 0.1   # the gripper comes down onto objects and spots from this high ...
MIN_CLEARANCE_M = 0.02       # ... or at least this high where the lift tops out (tall objects)
MAX_DROP_M = 0.2             # a placed object may fall this far (into a bin below the gripper's reach)
PLACE_GAP_M = 0.03           # free space kept around a placed object's footprint
LIMBO_M = (-20.0, -20.0)     # where missing objects go: outside the house


@dataclass(frozen=True)
class Progress:
    phase: str
    fraction: float          # 0..1 of the whole skill


SkillRun = Generator[Progress, None, SkillOutcome]


class _Failed(Exception):
    """Ends a skill early with an outcome (raised inside the skill generators)."""

    def __init__(self, code: FailureCode, reason: str) -> None:
        super().__init__(reason)
        self.outcome = SkillOutcome.failed(code, reason)


class SimSkills:
    """Executes validated skill calls in a World. Not thread-safe: one caller drives the generators."""

    def __init__(self, world: World, faults: FaultSchedule, *, self_checks: bool = True) -> None:
        self.world = world
        self.faults = faults
        # A skill's check of its own result (the gripper still holds, the door moved, the object stayed put).
        # Off: a robot without that sensing reports success regardless, and only a verifier can notice.
        self.self_checks = self_checks
        self.missing: set[str] = set()
        self.camera_faults: dict[str, FaultSpec] = {}
        self._slip_pending: FaultSpec | None = None

    # -- faults ----------------------------------------------------------------------------------------
    def apply_fault(self, fault: FaultSpec) -> None:
        """Make a fault true in the world now (slips wait for the next transit). Raises FaultError for a
        target this world does not have."""
        try:
            self._apply_fault(fault)
        except _Failed as err:  # an unknown object, part or receptacle id: the fault is bad, not a skill
            raise FaultError(f"fault {fault.id}: {err}") from None

    def check_fault(self, fault: FaultSpec) -> None:
        """Raise FaultError now if a fault names something this world does not have (rules fire later)."""
        index = self.world.index
        try:
            if fault.type in (FaultType.CAMERA_DROP, FaultType.DEPTH_CORRUPT):
                if fault.target not in index.cameras:
                    raise FaultError(f"unknown camera '{fault.target}'; cameras: {sorted(index.cameras)}")
            elif fault.type in (FaultType.LOCKED, FaultType.JAMMED):
                self._part_id(fault.target)
            elif fault.type is FaultType.OBSTACLE:
                self._receptacle_id(fault.target)
            else:
                self._object_id(fault.target)
                if fault.type is FaultType.MOVED:
                    self._receptacle_id(str(fault.params["destination"]))
        except _Failed as err:
            raise FaultError(f"fault {fault.id or fault.describe()}: {err}") from None

    def _apply_fault(self, fault: FaultSpec) -> None:
        w, index = self.world, self.world.index
        if fault.type in (FaultType.CAMERA_DROP, FaultType.DEPTH_CORRUPT):
            if fault.target not in index.cameras:
                raise FaultError(f"fault {fault.id}: unknown camera '{fault.target}'; cameras: {sorted(index.cameras)}")
            self.camera_faults[fault.target] = FaultSpec(fault.type, fault.target, params={
                **fault.params, "start_s": w.time_s}, id=fault.id)
        elif fault.type is FaultType.SLIP:
            if w.held_object() == self._object_id(fault.target):
                w.detach()
        elif fault.type in (FaultType.LOCKED, FaultType.JAMMED):
            part = self._part_id(fault.target)
            info = index.parts[part]
            # A lock holds the part where it is now; a jam lets it open up to `fraction` (or where it is).
            now = info.closed_q + w.opening(part) * (info.open_q - info.closed_q)
            if fault.type is FaultType.LOCKED:
                limit = now + 0.01 * (info.open_q - info.closed_q)
                w.limit_articulation(part, min(now, limit), max(now, limit))
            else:
                reach = info.closed_q + float(fault.params.get("fraction", 0.2)) * (info.open_q - info.closed_q)
                limit = reach if abs(reach - info.closed_q) > abs(now - info.closed_q) else now
                w.limit_articulation(part, min(info.closed_q, limit), max(info.closed_q, limit))
        elif fault.type is FaultType.MISSING:
            oid = self._object_id(fault.target)
            if w.held_object() == oid:
                w.detach()
            w.teleport_object(oid, (LIMBO_M[0] - 0.5 * len(self.missing), LIMBO_M[1], 0.3))
            self.missing.add(oid)
        elif fault.type is FaultType.MOVED:
            oid = self._object_id(fault.target)
            dest = self._receptacle_id(str(fault.params["destination"]))
            spot = self._free_spot(oid, dest, offset_z=0.0, reachable_only=False)
            if spot is None:
                raise FaultError(f"fault {fault.id}: no free spot for '{oid}' on '{dest}'")
            if w.held_object() == oid:
                w.detach()
            w.teleport_object(oid, spot)
        elif fault.type is FaultType.OBSTACLE:
            w.place_obstacle(self._receptacle_id(fault.target))

    def camera_fault(self, camera: str, time_s: float) -> FaultSpec | None:
        """The fault affecting a camera at this time, if any (a drop ends after duration_s > 0)."""
        fault = self.camera_faults.get(camera)
        if fault and fault.type is FaultType.CAMERA_DROP:
            duration = float(fault.params.get("duration_s", 0.0))
            if duration > 0 and time_s > float(fault.params["start_s"]) + duration:
                del self.camera_faults[camera]
                return None
        return fault

    # -- id resolution -----------------------------------------------------------------------------------
    def _object_id(self, oid: str) -> str:
        if oid not in self.world.index.objects:
            raise _Failed(FailureCode.UNKNOWN_OBJECT, f"there is no object '{oid}' in this world")
        return oid

    def _receptacle_id(self, rid: str) -> str:
        index = self.world.index
        if rid in index.receptacles:
            return rid
        if rid in index.parts:
            return index.parts[rid].receptacle
        raise _Failed(FailureCode.UNKNOWN_OBJECT,
                      f"'{rid}' is not a receptacle; receptacles: {', '.join(sorted(index.receptacles))}")

    def _part_id(self, target: str) -> str:
        index = self.world.index
        if target in index.parts:
            return target
        rec = index.receptacles.get(target)
        if rec is not None and rec.part:
            return rec.part
        if target in index.receptacles or target in index.objects:
            raise _Failed(FailureCode.PRECONDITION_FAILED, f"'{target}' has no door, drawer or lid to open or close")
        raise _Failed(FailureCode.UNKNOWN_OBJECT,
                      f"'{target}' is not something that opens; parts: {', '.join(sorted(index.parts))}")

    def _check_present(self, oid: str) -> None:
        if oid in self.missing:
            raise _Failed(FailureCode.OBJECT_MISSING, f"'{oid}' is nowhere to be found in the house")

    # -- entry point -------------------------------------------------------------------------------------
    def run(self, call: SkillCall) -> SkillRun:
        """Execute call; yields Progress, returns the SkillOutcome (StopIteration.value)."""
        start_s = self.world.time_s
        try:
            for fault in self.faults.on_call(call.skill, tuple(v for _, v in call.arguments)):
                if fault.type is FaultType.SLIP:
                    self._slip_pending = fault  # drops the object during this call's transit
                else:
                    self.apply_fault(fault)
            body = getattr(self, f"_{call.skill}", None)
            if body is None:
                raise _Failed(FailureCode.UNKNOWN_SKILL, f"the MuJoCo world cannot run '{call.skill}'")
            yield from body(call)
            outcome = SkillOutcome(success=True)
        except _Failed as failed:
            outcome = failed.outcome
        except (FaultError, UnknownId, Unreachable, GraspError, ValueError) as err:
            outcome = SkillOutcome.failed(FailureCode.EXECUTION_ERROR, f"{call.text} failed: {err}")
        finally:
            self._slip_pending = None
        return SkillOutcome(outcome.success, outcome.code, outcome.reason, self.world.time_s - start_s)

    def _phases(self, names: tuple[str, ...]) -> Iterator[tuple[str, Callable[[float], float]]]:
        """(phase, progress-scaler) pairs splitting 0..1 evenly over the named phases."""
        for i, name in enumerate(names):
            yield name, (lambda f, i=i: (i + f) / len(names))

    def _drive(self, motion: Iterator[float], phase: str, scale: Callable[[float], float]) -> Iterator[Progress]:
        try:
            for fraction in motion:
                yield Progress(phase, scale(fraction))
        except Unreachable as err:
            raise _Failed(FailureCode.NOT_REACHABLE, str(err)) from None

    def _wait(self, seconds: float, phase: str, scale: Callable[[float], float]) -> Iterator[Progress]:
        """Let physics run (a released object falls and settles) while reporting progress."""
        n = max(1, round(seconds / CONTROL_PERIOD_S))
        for _ in range(n):
            self.world.control_step()
            yield Progress(phase, scale(1.0))

    def _slip_now(self) -> None:
        if self._slip_pending is not None and self.world.held_object() == self._slip_pending.target:
            self.world.detach()
            self._slip_pending = None

    def _travel_pose(self, scale: Callable[[float], float]) -> Iterator[Progress]:
        lift, extension, _ = self.world.arm_state()
        lift = max(lift, TRAVEL_LIFT_M)
        extension = float(np.clip(extension, *self.world.index.robot.arm_range_m))  # joints overshoot a hair
        # Up first, then in: retracting low would sweep the fingers through what was just put down.
        yield from self._drive(self.world.move_arm(lift, extension), "stow_arm", lambda f: scale(f / 2))
        if extension > 0.01:
            yield from self._drive(self.world.move_arm(lift, 0.0), "stow_arm", lambda f: scale(0.5 + f / 2))

    # -- skills ------------------------------------------------------------------------------------------
    def _navigate_to(self, call: SkillCall) -> Iterator[Progress]:
        target = call.arg("target")
        index, w = self.world.index, self.world
        if target in index.objects:
            self._check_present(target)
            relation, where = w.containment(target)
            if where not in index.nav_poses:
                raise _Failed(FailureCode.NOT_REACHABLE, f"'{target}' is {relation} {where or 'the floor'}; "
                                                         "there is no known place to stand near it")
            target = where
        places = {**index.nav_poses, **index.look_poses}
        if target not in places:
            raise _Failed(FailureCode.UNKNOWN_OBJECT, f"no known place '{target}' to navigate to; places: "
                                                      f"{', '.join(sorted(places))}")
        held = w.held_object()
        phases = dict(self._phases(("stow_arm", "drive")))
        yield from self._travel_pose(phases["stow_arm"])
        goal = places[target]
        for progress in self._drive(w.move_base_to(*goal), "drive", phases["drive"]):
            if progress.fraction >= 0.75:  # halfway through driving
                self._slip_now()
            yield progress
        pose = w.base_pose()
        if math.hypot(pose.x - goal.x, pose.y - goal.y) > 0.05:
            raise _Failed(FailureCode.BLOCKED, f"the base stopped {math.hypot(pose.x - goal.x, pose.y - goal.y):.2f} m "
                                               f"short of '{target}'")
        if held is not None and w.held_object() is None and self.self_checks:
            raise _Failed(FailureCode.SLIPPED, f"'{held}' slipped out of the gripper on the way to '{target}'; "
                                               f"it is now {self._whereabouts(held)}")

    def _pick(self, call: SkillCall) -> Iterator[Progress]:
        w, oid = self.world, self._object_id(call.arg("object"))
        self._check_present(oid)
        held = w.held_object()
        if held is not None:
            raise _Failed(FailureCode.HAND_FULL, f"the gripper already holds '{held}'; place it first")
        relation, where = w.containment(oid)
        rec = w.index.receptacles.get(where) if where else None
        if rec is not None and rec.part and w.opening(rec.part) < OPEN_ENOUGH:
            raise _Failed(FailureCode.CONTAINER_CLOSED, f"'{oid}' is in '{where}', which is closed; open it first")
        info = w.index.objects[oid]
        centre = np.asarray(w.object_pose(oid).position_m)
        top_z = centre[2] + info.size_m[2] / 2.0
        clearance = self._clearance(top_z)
        if clearance < MIN_CLEARANCE_M:
            raise _Failed(FailureCode.NOT_REACHABLE, f"'{oid}' is too tall to grasp from above where it stands: its "
                                                     f"top is at {top_z:.2f} m and the gripper reaches "
                                                     f"{self._grasp_z_range()[1]:.2f} m")
        above = (centre[0], centre[1], top_z + clearance)
        grasp = (centre[0], centre[1], centre[2] + min(info.size_m[2] / 4.0, 0.03))
        yaw = self._grasp_yaw(oid)
        for point in (above, grasp):
            try:
                w.solve_ik(point, yaw)
            except Unreachable as err:
                raise _Failed(FailureCode.NOT_REACHABLE, f"'{oid}' is out of reach from here: {err}; "
                                                         f"navigate_to({where or oid}) first") from None
        width = min(info.size_m[0], info.size_m[1])
        opening = min(w.index.robot.max_opening_m, width + 0.04)
        phases = dict(self._phases(("open_gripper", "approach", "descend", "grasp", "lift", "stow_arm")))
        yield from self._drive(w.set_gripper(opening), "open_gripper", phases["open_gripper"])
        yield from self._drive(w.move_gripper_to(above, yaw), "approach", phases["approach"])
        yield from self._drive(w.move_gripper_to(grasp, yaw), "descend", phases["descend"])
        yield from self._drive(w.set_gripper(max(0.0, width - 0.01)), "grasp", phases["grasp"])
        try:
            w.attach(oid)
        except GraspError as err:
            raise _Failed(FailureCode.EXECUTION_ERROR, f"grasp failed: {err}") from None
        yield from self._drive(w.move_gripper_to(above, yaw), "lift", phases["lift"])
        self._slip_now()
        yield from self._travel_pose(phases["stow_arm"])
        if w.held_object() != oid:
            yield from self._wait(1.0, "stow_arm", phases["stow_arm"])
            if not self.self_checks:
                return
            raise _Failed(FailureCode.SLIPPED, f"'{oid}' slipped out of the gripper while lifting; "
                                               f"it is now {self._whereabouts(oid)}")

    def _grasp_yaw(self, oid: str) -> float:
        """World yaw for the gripper frame's x axis so the fingers close across the object's narrow side."""
        pose = self.world.object_pose(oid)
        R = pose.as_matrix()[:3, :3]
        size = self.world.index.objects[oid].size_m
        # Fingers close along the gripper's y axis: align it with the object's narrower horizontal axis.
        narrow = R[:, 0] if size[0] <= size[1] else R[:, 1]
        return math.atan2(narrow[1], narrow[0]) - math.pi / 2

    def _place(self, call: SkillCall) -> Iterator[Progress]:
        w = self.world
        oid = self._object_id(call.arg("object"))
        target = self._receptacle_id(call.arg("target"))
        held = w.held_object()
        if held is None and not self.self_checks:
            # Without grasp sensing the robot does not know its hand is empty: it goes through the motion.
            yield from self._wait(2.0, "release", lambda f: f)
            return
        if held != oid:
            what = f"holds '{held}'" if held else "is empty"
            raise _Failed(FailureCode.HAND_EMPTY, f"cannot place '{oid}': the gripper {what}")
        rec = w.index.receptacles[target]
        if rec.part and w.opening(rec.part) < OPEN_ENOUGH:
            raise _Failed(FailureCode.CONTAINER_CLOSED, f"'{target}' is closed; open it first")
        # The gripper holds the object where it grasped it: move the grasp centre so the object lands on spot.
        offset = np.asarray(w.ee_position()) - np.asarray(w.object_pose(oid).position_m)
        spot = self._free_spot(oid, target, offset_z=float(offset[2]), reachable_only=True)
        if spot is None:
            if self._free_spot(oid, target, offset_z=float(offset[2]), reachable_only=False) is None:
                raise _Failed(FailureCode.BLOCKED, f"there is no free space for '{oid}' {self._prep(target)} '{target}'")
            raise _Failed(FailureCode.NOT_REACHABLE, f"no free spot {self._prep(target)} '{target}' is within reach "
                                                     f"from here; navigate_to({target}) first")
        release, above = self._place_heights(spot, float(offset[2]))
        release = (spot[0] + offset[0], spot[1] + offset[1], release)
        above = (release[0], release[1], above)
        phases = dict(self._phases(("approach", "lower", "release", "retreat")))
        yield from self._drive(w.move_gripper_to(above), "approach", phases["approach"])
        self._slip_now()
        if w.held_object() != oid and self.self_checks:
            raise _Failed(FailureCode.SLIPPED, f"'{oid}' slipped out of the gripper before it was placed")
        yield from self._drive(w.move_gripper_to(release), "lower", phases["lower"])
        w.detach()
        yield from self._drive(w.set_gripper(w.index.robot.max_opening_m), "release", phases["release"])
        yield from self._drive(w.move_gripper_to(above), "retreat", phases["retreat"])
        yield from self._wait(0.6, "release", phases["retreat"])
        if w.containment(oid)[1] != target and self.self_checks:
            raise _Failed(FailureCode.EXECUTION_ERROR,
                          f"'{oid}' did not stay {self._prep(target)} '{target}'; it is {self._whereabouts(oid)}")

    def _whereabouts(self, oid: str) -> str:
        relation, where = self.world.containment(oid)
        return "on the floor" if where is None else f"{relation.replace('_', ' ')} '{where}'"

    def _prep(self, receptacle: str) -> str:
        return "in" if self.world.index.receptacles[receptacle].kind == "container" else "on"

    def _grasp_z_range(self) -> tuple[float, float]:
        robot = self.world.index.robot
        return robot.lift_range_m[0] - robot.grasp_drop_m, robot.lift_range_m[1] - robot.grasp_drop_m

    def _clearance(self, z: float) -> float:
        """How high above z the gripper may hover on approach: APPROACH_CLEARANCE_M or what the lift allows."""
        return min(APPROACH_CLEARANCE_M, self._grasp_z_range()[1] - 0.005 - z)

    def _place_heights(self, spot: tuple[float, float, float], offset_z: float) -> tuple[float, float]:
        """Gripper heights (release, approach) for an object whose centre should end at spot. Spots below
        the gripper's reach (a bin's floor) get a short drop instead."""
        release = max(spot[2] + offset_z + 0.015, self._grasp_z_range()[0] + 0.005)
        return release, release + self._clearance(release)

    def _free_spot(self, oid: str, target: str, *, offset_z: float,
                   reachable_only: bool) -> tuple[float, float, float] | None:
        """A point on `target`'s support where `oid`'s centre can go without touching anything, or None."""
        w = self.world
        lo, hi = w.placement_region(target)
        size = w.index.objects[oid].size_m
        radius = math.hypot(size[0], size[1]) / 2 + PLACE_GAP_M
        occupied = [(np.asarray(w.object_pose(o).position_m)[:2], math.hypot(*w.index.objects[o].size_m[:2]) / 2)
                    for o in w.index.objects if o != oid and w.containment(o)[1] == target]
        blocker = w.obstacle_footprint(target)
        xs = np.linspace(lo[0] + radius, hi[0] - radius, 7) if hi[0] - lo[0] > 2 * radius else [(lo[0] + hi[0]) / 2]
        ys = np.linspace(lo[1] + radius, hi[1] - radius, 9) if hi[1] - lo[1] > 2 * radius else [(lo[1] + hi[1]) / 2]
        here = np.asarray(w.base_pose()[:2])
        candidates = sorted(((x, y) for x in xs for y in ys), key=lambda p: np.linalg.norm(np.asarray(p) - here))
        z = lo[2] + size[2] / 2 + 0.005
        for x, y in candidates:
            p = np.array([x, y])
            if any(np.linalg.norm(p - c) < radius + r for c, r in occupied):
                continue
            if blocker is not None and np.all(np.abs(p - blocker[0]) < blocker[1] + radius):
                continue
            if reachable_only:
                release, above = self._place_heights((x, y, z), offset_z)
                if release - z - offset_z > MAX_DROP_M or above - release < MIN_CLEARANCE_M:
                    continue
                try:
                    w.solve_ik((x, y, above))
                    w.solve_ik((x, y, release))
                except Unreachable:
                    continue
            return (float(x), float(y), float(z))
        return None

    def _open(self, call: SkillCall) -> Iterator[Progress]:
        yield from self._articulate(call, opening=True)

    def _close(self, call: SkillCall) -> Iterator[Progress]:
        yield from self._articulate(call, opening=False)

    def _articulate(self, call: SkillCall, *, opening: bool) -> Iterator[Progress]:
        w = self.world
        part = self._part_id(call.arg("target"))
        held = w.held_object()
        if held is not None:
            raise _Failed(FailureCode.HAND_FULL, f"the gripper holds '{held}'; it needs a free hand to "
                                                 f"{'open' if opening else 'close'} '{part}'")
        now = w.opening(part)
        if opening and now >= OPEN_DONE or not opening and now <= CLOSED_DONE:
            raise _Failed(FailureCode.PRECONDITION_FAILED, f"'{part}' is already {'open' if opening else 'closed'}")
        handle = w.handle_position(part)
        try:
            w.solve_ik(handle)
        except Unreachable as err:
            raise _Failed(FailureCode.NOT_REACHABLE, f"the handle of '{part}' is out of reach: {err}; "
                                                     f"navigate_to({part}) first") from None
        phases = dict(self._phases(("reach_handle", "pull" if opening else "push", "release")))
        yield from self._drive(w.move_gripper_to(handle), "reach_handle", phases["reach_handle"])
        yield from self._drive(w.drive_articulation(part, 1.0 if opening else 0.0),
                               "pull" if opening else "push", phases["pull" if opening else "push"])
        yield from self._travel_pose(phases["release"])
        result = w.opening(part)
        if not self.self_checks:
            return
        if opening and result < OPEN_DONE:
            if result <= CLOSED_DONE + 0.01:
                raise _Failed(FailureCode.LOCKED, f"'{part}' did not move: it is locked")
            raise _Failed(FailureCode.JAMMED, f"'{part}' opened only {result:.0%} and is stuck there")
        if not opening and result > CLOSED_DONE:
            raise _Failed(FailureCode.BLOCKED, f"'{part}' stopped {result:.0%} open; something is in the way")
