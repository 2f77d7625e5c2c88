"""The physics role: a MuJoCo kitchen with named state queries and stepwise robot motions.

State queries return fresh values (tuples, dataclasses, floats), never views into MjData. Robot motions
are generators that run one control step (CONTROL_PERIOD_S of simulated time) per iteration and yield the
fraction of the planned motion done so far, so a caller can publish feedback and stop early; closing a
motion early freezes the joints it drives where they are. Arguments are checked when a motion is created
(errors raise there); planning from the current state happens at its first step. Run one to the end with
`run_to_completion`.
"""
from __future__ import annotations

import math
from collections import deque
from collections.abc import Generator, Mapping
from dataclasses import dataclass
from types import MappingProxyType

import mujoco
import numpy as np

from planner_ros.geometry import Pose3D
from planner_ros.sim.catalog import KINDS
from planner_ros.sim.layouts import Pose2D
from planner_ros.sim.scene import OBSTACLE_BODY, ObjectPlacement, SceneIndex, build_scene

__all__ = [
    "CONTROL_PERIOD_S",
    "GRASP_RADIUS_M",
    "GraspError",
    "GroundTruth",
    "IkSolution",
    "Motion",
    "ObjectState",
    "UnknownId",
    "Unreachable",
    "Velocity",
    "World",
    "run_to_completion",
]

Vec3 = tuple[float, float, float]
Motion = Generator[float, None, None]

CONTROL_PERIOD_S = 0.02
_STATIC_BIT = 1  # contype of furniture, walls and floor (see scene.py)
GRASP_RADIUS_M = 0.05  # attach only when the grasp centre is this close to the object's bounding box
_YAW_RATE_RADPS = 1.0
_LIFT_SPEED_MPS = 0.25
_ARM_SPEED_MPS = 0.25
_WRIST_RATE_RADPS = 1.5
_FINGER_SPEED_MPS = 0.1
_HINGE_RATE_RADPS = 0.8
_SLIDE_SPEED_MPS = 0.2
_BASE_TOLERANCE_M = 0.005
_YAW_TOLERANCE_RAD = math.radians(0.5)
_JOINT_TOLERANCE = {"lift": 0.003, "arm": 0.003, "wrist_yaw": 0.02, "base_yaw": 0.01}
_SETTLE_LIMIT_S = 3.0  # how long a motion may wait after its ramp for the joints to arrive
_STALL_WINDOW_S = 0.3  # a driven joint that moves less than _STALL_EPS in this long has stopped
_STALL_EPS = 1e-3
_REST_LINEAR_MPS = 0.01
_REST_ANGULAR_RADPS = 0.1
_REST_STEPS = 5  # consecutive quiet control steps that count as at rest (not a bounce's apex)
_CONTAINMENT_MARGIN_M = 0.01
_CONTAINMENT_BELOW_M = 0.03  # an object sunk slightly into its support still counts


class Unreachable(RuntimeError):
    """A target is outside the robot's reach from where it stands; the message gives the limit crossed."""


class GraspError(RuntimeError):
    """attach() refused: the gripper is too far from the object, or it already holds one."""


class UnknownId(KeyError):
    """An object, part or receptacle id that this scene does not have; the message lists the known ones."""


@dataclass(frozen=True)
class Velocity:
    linear_mps: Vec3  # of the body origin, world frame
    angular_radps: Vec3  # world frame


@dataclass(frozen=True)
class ObjectState:
    id: str
    kind: str
    pose: Pose3D
    size_m: Vec3
    relation: str  # "on", "in", "held_by" or "none"
    receptacle: str | None  # receptacle id, "robot" when held, None when "none"


@dataclass(frozen=True)
class GroundTruth:
    time_s: float
    objects: tuple[ObjectState, ...]
    openings: Mapping[str, float]  # part id -> fraction open, 0..1
    held_object: str | None
    base_pose: Pose2D


@dataclass(frozen=True)
class IkSolution:
    """Joint targets that put the grasp centre at a point: the base turns in place to face it."""

    base_yaw: float
    lift_m: float
    extension_m: float
    wrist_yaw: float


def run_to_completion(motion: Motion) -> None:
    """Run a motion generator to its end."""
    for _ in motion:
        pass


def _wrap(angle: float) -> float:
    return math.atan2(math.sin(angle), math.cos(angle))


def _fold_gripper_yaw(relative: float) -> float:
    """A parallel gripper looks the same turned by pi: pick the equivalent wrist angle in [-pi/2, pi/2]."""
    relative = _wrap(relative)
    if relative > math.pi / 2:
        relative -= math.pi
    elif relative < -math.pi / 2:
        relative += math.pi
    return relative


class World:
    """One kitchen episode: the compiled model, its data and the scene index, behind named accessors."""

    def __init__(
        self,
        layout: str = "kitchen_a",
        seed: int = 0,
        objects: Mapping[str, ObjectPlacement] | None = None,
        num_random_objects: int = 8,
    ) -> None:
        self.reset(layout, seed, objects, num_random_objects)

    def reset(
        self,
        layout: str = "kitchen_a",
        seed: int = 0,
        objects: Mapping[str, ObjectPlacement] | None = None,
        num_random_objects: int = 8,
    ) -> None:
        """Rebuild the scene from scratch (a new model: ids from before do not carry over)."""
        self._model, self._index = build_scene(layout, seed, objects, num_random_objects)
        self._data = mujoco.MjData(self._model)
        self._substeps = max(1, round(CONTROL_PERIOD_S / self._model.opt.timestep))
        self._bind_names()
        mujoco.mj_forward(self._model, self._data)
        for role in self._actuator:
            self._hold(role)
        for part in self._index.parts.values():
            self._data.ctrl[self._part_actuator[part.id]] = part.closed_q

    def _bind_names(self) -> None:
        m = self._model

        def ident(kind: mujoco.mjtObj, name: str) -> int:
            return mujoco.mj_name2id(m, kind, name)

        body, joint, act = mujoco.mjtObj.mjOBJ_BODY, mujoco.mjtObj.mjOBJ_JOINT, mujoco.mjtObj.mjOBJ_ACTUATOR
        robot = self._index.robot
        # role -> (actuator id, qpos address, dof address) for the robot's joints.
        self._actuator = {}
        for role, joint_name in robot.joints.items():
            jid = ident(joint, joint_name)
            self._actuator[role] = (ident(act, robot.actuators[role]), m.jnt_qposadr[jid], m.jnt_dofadr[jid])
        self._gripper_body = ident(body, robot.gripper_body)
        self._grasp_site = ident(mujoco.mjtObj.mjOBJ_SITE, robot.grasp_site)
        objects, parts = self._index.objects.items(), self._index.parts.items()
        self._object_body = {oid: ident(body, o.body) for oid, o in objects}
        self._object_qpos = {oid: m.jnt_qposadr[ident(joint, o.joint)] for oid, o in objects}
        self._object_dof = {oid: m.jnt_dofadr[ident(joint, o.joint)] for oid, o in objects}
        self._grasp_eq = {oid: ident(mujoco.mjtObj.mjOBJ_EQUALITY, o.grasp_equality) for oid, o in objects}
        self._object_geoms = {oid: [ident(mujoco.mjtObj.mjOBJ_GEOM, g) for g in o.geoms] for oid, o in objects}
        self._part_actuator = {pid: ident(act, p.actuator) for pid, p in parts}
        self._part_joint = {pid: ident(joint, p.joint) for pid, p in parts}
        self._part_handle = {pid: ident(mujoco.mjtObj.mjOBJ_SITE, p.handle_site) for pid, p in parts}
        # Containers first: a drawer sits inside the cabinet's footprint, and "in" is the stronger claim.
        self._receptacle_body = {rid: ident(body, r.body) for rid, r in self._index.receptacles.items()}
        self._obstacle_geom = ident(mujoco.mjtObj.mjOBJ_GEOM, OBSTACLE_BODY)
        self._obstacle_mocap = int(m.body_mocapid[ident(body, OBSTACLE_BODY)])
        self._obstacle_on: str | None = None
        order = sorted(self._index.receptacles.values(), key=lambda r: r.kind != "container")
        self._receptacle_order = [(r.id, r.kind, self._receptacle_body[r.id], r.volume_local) for r in order]

    # ------------------------------------------------------------------------------------------ basics

    @property
    def model(self) -> mujoco.MjModel:
        return self._model

    @property
    def data(self) -> mujoco.MjData:
        return self._data

    @property
    def index(self) -> SceneIndex:
        return self._index

    @property
    def time_s(self) -> float:
        return float(self._data.time)

    @property
    def timestep_s(self) -> float:
        return float(self._model.opt.timestep)

    def step(self, n: int = 1) -> None:
        """Advance n physics steps with the current controls."""
        mujoco.mj_step(self._model, self._data, nstep=int(n))

    def settle(self, seconds: float = 1.0) -> bool:
        """Step (controls unchanged) until every object not held is at rest, for at most `seconds`.

        Returns whether they came to rest in time.
        """
        quiet = 0
        steps = max(1, math.ceil(seconds / CONTROL_PERIOD_S))
        held = self.held_object()
        for _ in range(steps):
            self.control_step()
            moving = any(self._is_moving(oid) for oid in self._object_body if oid != held)
            quiet = 0 if moving else quiet + 1
            if quiet >= _REST_STEPS:
                return True
        return False

    def control_step(self) -> None:
        """Advance one control period (CONTROL_PERIOD_S) with the current controls."""
        mujoco.mj_step(self._model, self._data, nstep=self._substeps)

    def _is_moving(self, object_id: str) -> bool:
        """Whether the object moves faster than the at-rest thresholds."""
        dof = self._object_dof[object_id]
        qvel = self._data.qvel
        return bool(np.linalg.norm(qvel[dof:dof + 3]) > _REST_LINEAR_MPS
                    or np.linalg.norm(qvel[dof + 3:dof + 6]) > _REST_ANGULAR_RADPS)

    # ------------------------------------------------------------------------------------ state queries

    def _object(self, object_id: str) -> int:
        try:
            return self._object_body[object_id]
        except KeyError:
            raise UnknownId(f"no object {object_id!r}; objects: {sorted(self._object_body)}") from None

    def _part(self, part_id: str) -> int:
        if part_id not in self._part_joint:
            raise UnknownId(f"no articulated part {part_id!r}; parts: {sorted(self._part_joint)}")
        return self._part_joint[part_id]

    def object_pose(self, object_id: str) -> Pose3D:
        body = self._object(object_id)
        w, x, y, z = self._data.xquat[body]
        return Pose3D(tuple(self._data.xpos[body].tolist()), (float(x), float(y), float(z), float(w)))

    def object_geom_ids(self, object_id: str) -> list[int]:
        """Model geom ids of an object's shape (what a segmentation render shows for it)."""
        self._object(object_id)
        return list(self._object_geoms[object_id])

    def instance_label_lookup(self) -> np.ndarray:
        """geom id -> instance label, indexed by a segmentation render (-1, no geom, hits the last entry).

        The label encoding shared with the oracle detector: 0 for no object, else (kind index in the
        catalogue + 1) * 256 + instance, instance counting the objects in id order (mod 256).
        """
        lut = np.zeros(self._model.ngeom + 1, np.uint16)
        kinds = list(KINDS)
        for instance, oid in enumerate(sorted(self._object_geoms)):
            lut[self._object_geoms[oid]] = (kinds.index(self._index.objects[oid].kind) + 1) * 256 + instance % 256
        return lut

    def object_velocity(self, object_id: str) -> Velocity:
        body = self._object(object_id)
        res = np.zeros(6)
        mujoco.mj_objectVelocity(self._model, self._data, mujoco.mjtObj.mjOBJ_BODY, body, res, 0)
        return Velocity(tuple(res[3:].tolist()), tuple(res[:3].tolist()))

    def opening(self, part_id: str) -> float:
        """How far open a part is, as a fraction 0..1 of its open range."""
        jid = self._part(part_id)
        part = self._index.parts[part_id]
        q = float(self._data.qpos[self._model.jnt_qposadr[jid]])
        return float(np.clip((q - part.closed_q) / (part.open_q - part.closed_q), 0.0, 1.0))

    def handle_position(self, part_id: str) -> Vec3:
        """World position of a part's handle (it moves as the part opens)."""
        self._part(part_id)
        return tuple(self._data.site_xpos[self._part_handle[part_id]].tolist())

    def held_object(self) -> str | None:
        for oid, eq in self._grasp_eq.items():
            if self._data.eq_active[eq]:
                return oid
        return None

    def containment(self, object_id: str) -> tuple[str, str | None]:
        """("held_by", "robot"), ("in", container), ("on", surface) or ("none", None), from geometry:
        the object's centre against each receptacle's volume in the receptacle's current frame."""
        body = self._object(object_id)
        if self.held_object() == object_id:
            return "held_by", "robot"
        position = self._data.xpos[body]
        for rid, kind, rbody, (lo, hi) in self._receptacle_order:
            local = self._data.xmat[rbody].reshape(3, 3).T @ (position - self._data.xpos[rbody])
            inside_xy = all(lo[i] - _CONTAINMENT_MARGIN_M <= local[i] <= hi[i] + _CONTAINMENT_MARGIN_M
                            for i in (0, 1))
            if inside_xy and lo[2] - _CONTAINMENT_BELOW_M <= local[2] <= hi[2]:
                return ("in" if kind == "container" else "on"), rid
        return "none", None

    def placement_region(self, receptacle_id: str) -> tuple[Vec3, Vec3]:
        """World (min xyz, max xyz) of a receptacle's placement region where it is now (an open drawer's
        region has moved out with it)."""
        if receptacle_id not in self._index.receptacles:
            raise UnknownId(f"no receptacle {receptacle_id!r}; "
                            f"receptacles: {sorted(self._index.receptacles)}")
        info = self._index.receptacles[receptacle_id]
        body = self._receptacle_body[receptacle_id]
        (x0, y0, z0), (x1, y1, z1) = info.region_local
        local = np.array([(x, y, z) for x in (x0, x1) for y in (y0, y1) for z in (z0, z1)])
        corners = local @ self._data.xmat[body].reshape(3, 3).T + self._data.xpos[body]
        return tuple(corners.min(axis=0).tolist()), tuple(corners.max(axis=0).tolist())

    def limit_articulation(self, part_id: str, lo: float, hi: float) -> None:
        """Clamp a part's joint range (a lock or a jam): driving it then stops at the limit."""
        jid = self._part(part_id)
        if not (math.isfinite(lo) and math.isfinite(hi) and lo <= hi):
            raise ValueError(f"joint range [{lo!r}, {hi!r}] for {part_id!r} is not a finite interval")
        self._model.jnt_range[jid] = (lo, hi)

    def place_obstacle(self, receptacle_id: str, height_m: float = 0.12) -> None:
        """Cover a receptacle's placement region with the obstacle box, laid over whatever is already
        there, so nothing more fits (the obstacle fault)."""
        lo, hi = self.placement_region(receptacle_id)
        tops = [self._data.xpos[self._object_body[oid]][2] + self._index.objects[oid].size_m[2] / 2
                for oid in self._index.objects if self.containment(oid)[1] == receptacle_id]
        bottom = max([lo[2], *tops]) + 0.005
        half = np.array([(hi[0] - lo[0]) / 2, (hi[1] - lo[1]) / 2, height_m / 2])
        geom = self._obstacle_geom
        self._model.geom_size[geom] = half
        self._model.geom_rbound[geom] = float(np.linalg.norm(half))
        self._model.geom_aabb[geom] = (0.0, 0.0, 0.0, *half)
        self._data.mocap_pos[self._obstacle_mocap] = ((lo[0] + hi[0]) / 2, (lo[1] + hi[1]) / 2, bottom + half[2])
        self._obstacle_on = receptacle_id
        mujoco.mj_forward(self._model, self._data)

    def obstacle_footprint(self, receptacle_id: str) -> tuple[np.ndarray, np.ndarray] | None:
        """(centre xy, half extents xy) of the obstacle if it covers this receptacle, else None."""
        if self._obstacle_on != receptacle_id:
            return None
        centre = np.array(self._data.mocap_pos[self._obstacle_mocap][:2])
        return centre, np.array(self._model.geom_size[self._obstacle_geom][:2])

    def base_pose(self) -> Pose2D:
        return Pose2D(self._q("base_x"), self._q("base_y"), _wrap(self._q("base_yaw")))

    def gripper_opening_m(self) -> float:
        return self._q("gripper_left") + self._q("gripper_right")

    def ee_position(self) -> Vec3:
        """World position of the grasp centre (between the fingers)."""
        return tuple(self._data.site_xpos[self._grasp_site].tolist())

    def arm_state(self) -> tuple[float, float, float]:
        """(lift_m, extension_m, wrist_yaw_rad) joint values."""
        return self._q("lift"), self._q("arm"), self._q("wrist_yaw")

    def ground_truth(self) -> GroundTruth:
        states = []
        for oid in sorted(self._index.objects):
            info = self._index.objects[oid]
            relation, where = self.containment(oid)
            states.append(ObjectState(oid, info.kind, self.object_pose(oid), info.size_m, relation, where))
        openings = MappingProxyType({pid: self.opening(pid) for pid in sorted(self._index.parts)})
        return GroundTruth(self.time_s, tuple(states), openings, self.held_object(), self.base_pose())

    # ----------------------------------------------------------------------------------- robot control

    def _q(self, role: str) -> float:
        return float(self._data.qpos[self._actuator[role][1]])

    def _qd(self, role: str) -> float:
        return float(self._data.qvel[self._actuator[role][2]])

    def _set(self, role: str, target: float) -> None:
        self._data.ctrl[self._actuator[role][0]] = target

    def _hold(self, role: str) -> None:
        self._set(role, self._q(role))

    def move_base_to(self, x: float, y: float, yaw: float, speed_mps: float = 0.4) -> Motion:
        """Drive like a differential base: turn towards the goal, drive straight, turn to `yaw`.

        There is no obstacle avoidance: the base passes through furniture (it does not collide), so callers
        should route through free space.
        """
        for name, value in (("x", x), ("y", y), ("yaw", yaw), ("speed_mps", speed_mps)):
            if not math.isfinite(value):
                raise ValueError(f"move_base_to: {name} must be finite, got {value!r}")
        if speed_mps <= 0.0:
            raise ValueError(f"move_base_to: speed_mps must be > 0, got {speed_mps!r}")
        return self._base_motion(x, y, yaw, speed_mps)

    def _base_motion(self, x: float, y: float, yaw: float, speed_mps: float) -> Motion:
        roles = ("base_x", "base_y", "base_yaw")
        start = np.array([self._q(r) for r in roles])
        waypoints = [start]
        if math.hypot(x - start[0], y - start[1]) > 0.05:
            heading = start[2] + _wrap(math.atan2(y - start[1], x - start[0]) - start[2])
            waypoints += [np.array([start[0], start[1], heading]), np.array([x, y, heading])]
        last = waypoints[-1][2]
        waypoints.append(np.array([x, y, last + _wrap(yaw - last)]))
        durations = [max(math.hypot(*(b - a)[:2]) / speed_mps, abs(b[2] - a[2]) / _YAW_RATE_RADPS)
                     for a, b in zip(waypoints, waypoints[1:])]
        total = max(sum(durations), CONTROL_PERIOD_S)
        goal = waypoints[-1]
        elapsed = 0.0
        try:
            for a, b, duration in zip(waypoints, waypoints[1:], durations):
                n = max(1, math.ceil(duration / CONTROL_PERIOD_S))
                for k in range(1, n + 1):
                    for role, value in zip(roles, a + (b - a) * k / n):
                        self._set(role, float(value))
                    self.control_step()
                    elapsed += duration / n
                    yield min(elapsed / total, 1.0)
            for _ in range(math.ceil(_SETTLE_LIMIT_S / CONTROL_PERIOD_S)):
                here = np.array([self._q(r) for r in roles])
                error = here - goal
                if math.hypot(error[0], error[1]) < _BASE_TOLERANCE_M and abs(error[2]) < _YAW_TOLERANCE_RAD:
                    return
                self.control_step()
                yield 1.0
        except GeneratorExit:
            for role in roles:
                self._hold(role)
            raise

    def _track(self, targets: Mapping[str, float], rates: Mapping[str, float]) -> Motion:
        """Ramp the named joints' set-points together to their targets, then wait for them to arrive."""
        start = {role: self._q(role) for role in targets}
        duration = max(abs(targets[r] - start[r]) / rates[r] for r in targets)
        n = max(1, math.ceil(duration / CONTROL_PERIOD_S))
        try:
            for k in range(1, n + 1):
                for role, target in targets.items():
                    self._set(role, start[role] + (target - start[role]) * k / n)
                self.control_step()
                yield k / n
            for _ in range(math.ceil(_SETTLE_LIMIT_S / CONTROL_PERIOD_S)):
                if all(abs(self._q(r) - t) < _JOINT_TOLERANCE[r] for r, t in targets.items()):
                    return
                self.control_step()
                yield 1.0
        except GeneratorExit:
            for role in targets:
                self._hold(role)
            raise

    def _check_arm(self, lift_m: float, extension_m: float, wrist_yaw: float | None) -> None:
        robot = self._index.robot
        checks = [("lift", lift_m, robot.lift_range_m, "m"),
                  ("extension", extension_m, robot.arm_range_m, "m")]
        if wrist_yaw is not None:
            checks.append(("wrist yaw", wrist_yaw, robot.wrist_range_rad, "rad"))
        for name, value, (lo, hi), unit in checks:
            if not math.isfinite(value) or not lo - 1e-9 <= value <= hi + 1e-9:
                raise Unreachable(f"{name} {value!r} {unit} is outside [{lo}, {hi}] {unit}")

    def move_arm(self, lift_m: float, extension_m: float, wrist_yaw: float | None = None) -> Motion:
        """Move lift, arm extension and (optionally) wrist yaw together; raises Unreachable out of range."""
        self._check_arm(lift_m, extension_m, wrist_yaw)
        targets = {"lift": lift_m, "arm": extension_m}
        if wrist_yaw is not None:
            targets["wrist_yaw"] = wrist_yaw
        rates = {"lift": _LIFT_SPEED_MPS, "arm": _ARM_SPEED_MPS, "wrist_yaw": _WRIST_RATE_RADPS}
        return self._track(targets, rates)

    def set_gripper(self, opening_m: float) -> Motion:
        """Open or close the fingers to a gap of `opening_m`; stops early when they stop (on an object)."""
        max_opening = self._index.robot.max_opening_m
        if not math.isfinite(opening_m) or not 0.0 <= opening_m <= max_opening:
            raise ValueError(f"gripper opening {opening_m!r} m is outside [0, {max_opening}] m")
        return self._gripper_motion(opening_m / 2.0)

    def _gripper_motion(self, half: float) -> Motion:
        fingers = ("gripper_left", "gripper_right")
        start = {f: self._q(f) for f in fingers}
        travel = max(abs(half - s) for s in start.values())
        n = max(1, math.ceil(travel / _FINGER_SPEED_MPS / CONTROL_PERIOD_S))
        window = max(1, round(_STALL_WINDOW_S / CONTROL_PERIOD_S))
        history: deque[float] = deque(maxlen=window + 1)
        try:
            for k in range(1, n + 1 + math.ceil(1.0 / CONTROL_PERIOD_S)):
                for f in fingers:
                    self._set(f, start[f] + (half - start[f]) * min(k / n, 1.0))
                self.control_step()
                yield min(k / n, 1.0)
                history.append(self.gripper_opening_m())
                arrived = all(abs(self._q(f) - half) < 1e-3 for f in fingers)
                stalled = len(history) > window and abs(history[-1] - history[0]) < _STALL_EPS
                if arrived or (k >= n and stalled):
                    return
        except GeneratorExit:
            for f in fingers:
                self._hold(f)
            raise

    def solve_ik(self, world_xyz: Vec3, gripper_yaw: float | None = None,
                 base_xy: tuple[float, float] | None = None) -> IkSolution:
        """Joint targets that put the grasp centre at `world_xyz` with the base at `base_xy` (default: where
        it is) turned to face the point.

        `gripper_yaw` is the world yaw of the gripper frame's x axis (the fingers close along its y axis);
        None keeps the wrist joint as it is. Raises Unreachable naming the limit the point is beyond.
        """
        robot = self._index.robot
        tx, ty, tz = (float(v) for v in world_xyz)
        bx, by = base_xy if base_xy is not None else (self._q("base_x"), self._q("base_y"))
        distance = math.hypot(tx - bx, ty - by)
        extension = distance - robot.arm_reach_offset_m
        lift = tz + robot.grasp_drop_m
        lo, hi = robot.arm_range_m
        if not lo - 1e-9 <= extension <= hi + 1e-9:
            raise Unreachable(
                f"point {(tx, ty, tz)} is {distance:.3f} m from the base centre; the gripper reaches "
                f"{robot.arm_reach_offset_m + lo:.2f}-{robot.arm_reach_offset_m + hi:.2f} m"
            )
        lo, hi = robot.lift_range_m
        if not lo - 1e-9 <= lift <= hi + 1e-9:
            raise Unreachable(
                f"point {(tx, ty, tz)} at height {tz:.3f} m is outside the gripper's "
                f"{lo - robot.grasp_drop_m:.2f}-{hi - robot.grasp_drop_m:.2f} m"
            )
        current_yaw = self._q("base_yaw")
        base_yaw = current_yaw + _wrap(math.atan2(ty - by, tx - bx) - current_yaw)
        wrist = self._q("wrist_yaw") if gripper_yaw is None else _fold_gripper_yaw(gripper_yaw - base_yaw)
        return IkSolution(base_yaw, float(np.clip(lift, *robot.lift_range_m)),
                          float(np.clip(extension, *robot.arm_range_m)), wrist)

    def move_gripper_to(self, world_xyz: Vec3, gripper_yaw: float | None = None) -> Motion:
        """Put the grasp centre at `world_xyz` (see solve_ik): raise the lift first if the target is
        higher, then turn the base in place, extend the arm and turn the wrist, then lower the lift if the
        target is lower, so the gripper never sweeps low across a surface. Approach an object from above
        with two calls (above it, then down)."""
        ik = self.solve_ik(world_xyz, gripper_yaw)
        rates = {"base_yaw": _YAW_RATE_RADPS, "lift": _LIFT_SPEED_MPS, "arm": _ARM_SPEED_MPS,
                 "wrist_yaw": _WRIST_RATE_RADPS}
        reach = {"base_yaw": ik.base_yaw, "arm": ik.extension_m, "wrist_yaw": ik.wrist_yaw}
        return self._phased(reach, ik.lift_m, rates)

    def _phased(self, reach: Mapping[str, float], lift_m: float, rates: Mapping[str, float]) -> Motion:
        if lift_m > self._q("lift"):
            phases = [{"lift": lift_m}, reach]
        else:
            phases = [reach, {"lift": lift_m}]
        for i, targets in enumerate(phases):
            for progress in self._track(targets, rates):
                yield (i + progress) / len(phases)

    def attach(self, object_id: str) -> None:
        """Grasp: weld the object to the gripper where it is now. Raises GraspError if the grasp centre is
        more than GRASP_RADIUS_M from the object's bounding box or something is already held."""
        body = self._object(object_id)
        held = self.held_object()
        if held is not None:
            raise GraspError(f"cannot attach {object_id!r}: already holding {held!r}")
        d = self._data
        local = d.xmat[body].reshape(3, 3).T @ (d.site_xpos[self._grasp_site] - d.xpos[body])
        half = np.asarray(self._index.objects[object_id].size_m) / 2.0
        gap = float(np.linalg.norm(np.maximum(np.abs(local) - half, 0.0)))
        if gap > GRASP_RADIUS_M:
            raise GraspError(f"cannot attach {object_id!r}: grasp centre is {gap:.3f} m from it "
                             f"(limit {GRASP_RADIUS_M} m)")
        # Weld data: anchor on the object (its origin), then the object's pose in the gripper frame.
        gripper_quat_inv = np.zeros(4)
        mujoco.mju_negQuat(gripper_quat_inv, d.xquat[self._gripper_body])
        rel_pos = np.zeros(3)
        mujoco.mju_rotVecQuat(rel_pos, d.xpos[body] - d.xpos[self._gripper_body], gripper_quat_inv)
        rel_quat = np.zeros(4)
        mujoco.mju_mulQuat(rel_quat, gripper_quat_inv, d.xquat[body])
        # Carried objects pass through furniture, as the robot itself does (there is no motion planning);
        # otherwise a swinging mug would slam doors shut on the way past. They still hit other objects.
        for geom in self._object_geoms[object_id]:
            self._model.geom_conaffinity[geom] &= ~_STATIC_BIT
        eq = self._grasp_eq[object_id]
        self._model.eq_data[eq, 0:3] = 0.0
        self._model.eq_data[eq, 3:6] = rel_pos
        self._model.eq_data[eq, 6:10] = rel_quat
        d.eq_active[eq] = 1

    def teleport_object(self, object_id: str, position_m: Vec3, yaw_rad: float = 0.0) -> None:
        """Scenario setup: put an object (its bounding-box centre) at a world position, upright, at rest."""
        self._object(object_id)
        if self.held_object() == object_id:
            raise GraspError(f"cannot teleport {object_id!r} while it is held")
        if len(position_m) != 3 or not all(math.isfinite(v) for v in (*position_m, yaw_rad)):
            raise ValueError(f"teleport {object_id!r}: position {position_m!r} and yaw {yaw_rad!r} "
                             f"must be finite")
        qadr, dof = self._object_qpos[object_id], self._object_dof[object_id]
        self._data.qpos[qadr:qadr + 3] = position_m
        self._data.qpos[qadr + 3:qadr + 7] = (math.cos(yaw_rad / 2), 0.0, 0.0, math.sin(yaw_rad / 2))
        self._data.qvel[dof:dof + 6] = 0.0
        mujoco.mj_forward(self._model, self._data)

    def detach(self) -> str | None:
        """Release the held object (it falls under physics); returns its id, or None if nothing was held."""
        held = self.held_object()
        if held is not None:
            self._data.eq_active[self._grasp_eq[held]] = 0
            for geom in self._object_geoms[held]:
                self._model.geom_conaffinity[geom] |= _STATIC_BIT
        return held

    def drive_articulation(self, part_id: str, target_fraction: float) -> Motion:
        """Drive a part's joint towards `target_fraction` (0 closed, 1 open) at a steady rate.

        Stops when the joint arrives or stops moving (a locked or blocked part simply stays put: measure the
        result with opening()), then holds the joint where it ended.
        """
        jid = self._part(part_id)
        if not math.isfinite(target_fraction) or not 0.0 <= target_fraction <= 1.0:
            raise ValueError(f"target_fraction {target_fraction!r} for {part_id!r} is outside [0, 1]")
        return self._drive(part_id, jid, target_fraction)

    def _drive(self, part_id: str, jid: int, target_fraction: float) -> Motion:
        part = self._index.parts[part_id]
        act = self._part_actuator[part_id]
        qadr, dadr = self._model.jnt_qposadr[jid], self._model.jnt_dofadr[jid]
        target = part.closed_q + target_fraction * (part.open_q - part.closed_q)
        start = float(self._data.qpos[qadr])
        rate = _HINGE_RATE_RADPS if part.joint_type == "hinge" else _SLIDE_SPEED_MPS
        tolerance = 0.01 if part.joint_type == "hinge" else 0.003
        n = max(1, math.ceil(abs(target - start) / rate / CONTROL_PERIOD_S))
        window = max(1, round(_STALL_WINDOW_S / CONTROL_PERIOD_S))
        history: deque[float] = deque(maxlen=window + 1)
        try:
            for k in range(1, n + 1 + math.ceil(_SETTLE_LIMIT_S / CONTROL_PERIOD_S)):
                self._data.ctrl[act] = start + (target - start) * min(k / n, 1.0)
                self.control_step()
                yield min(k / n, 1.0)
                q = float(self._data.qpos[qadr])
                history.append(q)
                arrived = k >= n and abs(q - target) < tolerance and abs(self._data.qvel[dadr]) < 1e-2
                stalled = len(history) > window and abs(history[-1] - history[0]) < _STALL_EPS
                if arrived or stalled:
                    break
        finally:
            self._data.ctrl[act] = self._data.qpos[qadr]
