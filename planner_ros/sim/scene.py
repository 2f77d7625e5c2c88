"""Procedural MuJoCo kitchen: room, furniture, a Stretch-like mobile manipulator and seeded objects.

`build_scene` returns the compiled model and a `SceneIndex` naming everything the other layers need.
No asset files: everything is MuJoCo primitives built through `mujoco.MjSpec`.

Robot (modelled on Hello Robot Stretch, with the arm turned to face forward so the fixed head camera sees
what the gripper works on):
- base: planar joints `base_x_slide`, `base_y_slide` (world x/y, metres) on body `robot`, and
  `base_yaw_hinge` (world yaw, rad, unbounded) on body `base_link`; position actuators `base_x`, `base_y`,
  `base_yaw` take world coordinates directly.
- lift: `lift_slide`, the height of the arm above the floor, LIFT_RANGE_M; actuator `lift`.
- arm: `arm_slide`, telescoping along the base's +x (forward) on the base's centre line, ARM_RANGE_M;
  actuator `arm`. At zero extension the wrist axis is ARM_REACH_OFFSET_M ahead of the base centre.
- wrist: `wrist_yaw_hinge` about the vertical, WRIST_RANGE_RAD; actuator `wrist_yaw`. The gripper hangs
  below the wrist pointing down (top-down grasps); its grasp centre (site `grasp_center`) lies on the wrist
  axis GRASP_DROP_M below the arm.
- gripper: fingers `finger_left_slide` / `finger_right_slide`, each 0 (closed) to MAX_OPENING_M / 2, closing
  along the gripper's y axis; actuators `gripper_left` / `gripper_right`.
- cameras `head_rgbd` (fixed on the mast, looking forward and down) and `wrist_rgbd` (looking down past
  the fingers).

Articulated furniture: joints `fridge_door_hinge`, `cabinet_door_hinge` (rad) and `drawer_slide` (m), closed
at 0 and opening positively, each driven by a position actuator `<part>_drive` whose control is the target
joint value; the world layer drives it while the gripper is at the handle.

Grasping: one inactive weld `grasp_<object_id>` per object between `gripper` and the object body; the world
layer sets its relative pose and activates it to grasp, deactivates it to release.

Collisions: furniture, walls and floor touch objects only; objects touch everything else that collides;
of the robot only the gripper collides (with objects), so the base never catches on the floor or furniture.
"""
from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import mujoco
import numpy as np

from planner_ros.sim.catalog import KINDS, ObjectKind, UnknownKind, resolve_kind
from planner_ros.sim.layouts import (
    FOOTPRINT_M,
    PARTS,
    RECEPTACLES,
    ROOM_SIZE_M,
    Box3,
    Layout,
    PartSpec,
    Pose2D,
    UnknownLayout,
    get_layout,
)

__all__ = [
    "ARM_RANGE_M",
    "ARM_REACH_OFFSET_M",
    "CameraInfo",
    "GRASP_DROP_M",
    "LIFT_RANGE_M",
    "MAX_OPENING_M",
    "ObjectInfo",
    "ObjectPlacement",
    "PartInfo",
    "ReceptacleInfo",
    "RobotInfo",
    "SceneError",
    "SceneIndex",
    "TIMESTEP_S",
    "WRIST_RANGE_RAD",
    "build_scene",
]

RGBA = tuple[float, float, float, float]
Vec3 = tuple[float, float, float]

TIMESTEP_S = 0.004
CAMERA_FOVY_DEG = 60.0
LIFT_RANGE_M = (0.15, 1.3)  # grasp centre 0.03-1.18 m: floor to a little above counter objects
ARM_RANGE_M = (0.0, 0.6)
WRIST_RANGE_RAD = (-1.75, 1.75)
MAX_OPENING_M = 0.12
_MAST_X = -0.11  # mast position on the base's x axis (behind the centre, like Stretch's)
_ARM_TIP_X = 0.33  # wrist axis ahead of the mast at zero extension
ARM_REACH_OFFSET_M = _MAST_X + _ARM_TIP_X
GRASP_DROP_M = 0.12
_GRIPPER_Z = -0.06  # gripper body below the wrist; the grasp centre is as far again below it
_START_LIFT_M = 0.6
_START_OPENING_M = 0.06
_GRASP_SOLREF = (0.004, 1.0)  # stiff, so even light objects follow the gripper without lag
_SPAWN_DROP_M = 0.002  # objects start this far above their support and settle onto it
_SPAWN_GAP_M = 0.015  # minimum clearance between spawned footprints
_SPAWN_TRIES = 200
_WALL_HEIGHT_M = 0.8  # low, so the fixed cameras see over them
_ID_PATTERN = re.compile(r"[A-Za-z][A-Za-z0-9_]*")

# (contype, conaffinity): bit 1 static world, bit 2 objects, bit 4 gripper.
_STATIC = (1, 0)
_OBJECT = (2, 1 | 2 | 4)
_GRIPPER = (4, 0)
_VISUAL = (0, 0)

_WOOD = (0.62, 0.46, 0.3, 1.0)
_DARK_WOOD = (0.42, 0.3, 0.2, 1.0)
_WHITE = (0.93, 0.93, 0.91, 1.0)
_CREAM = (0.88, 0.85, 0.78, 1.0)
_STEEL = (0.72, 0.74, 0.77, 1.0)
_GREY = (0.5, 0.52, 0.55, 1.0)
_GREEN_GREY = (0.55, 0.62, 0.58, 1.0)
_BIN_BLUE = (0.2, 0.35, 0.6, 1.0)
_ROBOT_DARK = (0.12, 0.12, 0.13, 1.0)
_ROBOT_METAL = (0.78, 0.78, 0.8, 1.0)
_WALL = (0.85, 0.83, 0.8, 1.0)


class SceneError(ValueError):
    """A scene cannot be built as asked; the message names the offending id, kind or receptacle."""


@dataclass(frozen=True)
class ObjectPlacement:
    """An object to spawn: kind (name or synonym), receptacle id, colour (None: from the kind's palette)."""

    kind: str
    location: str
    rgba: RGBA | None = None


@dataclass(frozen=True)
class ObjectInfo:
    id: str
    kind: str
    label: str
    body: str
    joint: str  # free joint
    geoms: tuple[str, ...]
    grasp_equality: str
    size_m: Vec3  # bounding box in the object frame, centred on the body origin
    mass_kg: float
    rgba: RGBA
    spawned_in: str  # receptacle id


@dataclass(frozen=True)
class ReceptacleInfo:
    id: str
    kind: str  # "surface" or "container"
    body: str
    region_local: Box3  # in the body frame (see layouts)
    volume_local: Box3
    region_world: Box3  # world-frame boxes at build time (all parts closed)
    volume_world: Box3
    part: str | None


@dataclass(frozen=True)
class PartInfo:
    id: str
    body: str
    joint: str
    joint_type: str  # "hinge" (rad) or "slide" (m)
    closed_q: float
    open_q: float
    actuator: str  # position actuator; its control is the target joint value
    handle_geom: str
    handle_site: str
    receptacle: str


@dataclass(frozen=True)
class CameraInfo:
    name: str
    fovy_deg: float  # vertical field of view
    mount: str  # "world" for fixed cameras, else the robot body carrying it


@dataclass(frozen=True)
class RobotInfo:
    root_body: str  # carries the x/y slides
    base_body: str  # carries the yaw hinge and the mast
    gripper_body: str
    grasp_site: str
    joints: Mapping[str, str]  # role -> joint name
    actuators: Mapping[str, str]  # role -> actuator name (same roles)
    lift_range_m: tuple[float, float]
    arm_range_m: tuple[float, float]
    wrist_range_rad: tuple[float, float]
    max_opening_m: float
    arm_reach_offset_m: float
    grasp_drop_m: float


@dataclass(frozen=True)
class SceneIndex:
    layout: str
    seed: int
    objects: Mapping[str, ObjectInfo]
    receptacles: Mapping[str, ReceptacleInfo]
    parts: Mapping[str, PartInfo]
    nav_poses: Mapping[str, Pose2D]
    look_poses: Mapping[str, Pose2D]      # where to stand to look into a container (layouts.LOOK_INTO)
    cameras: Mapping[str, CameraInfo]
    robot: RobotInfo


@dataclass(frozen=True)
class _Frame:
    """A body frame at build time: origin and yaw in the world."""

    origin: Vec3
    yaw: float

    def to_world(self, local: Vec3) -> np.ndarray:
        c, s = math.cos(self.yaw), math.sin(self.yaw)
        x, y, z = local
        return np.array([self.origin[0] + c * x - s * y, self.origin[1] + s * x + c * y, self.origin[2] + z])

    def box_to_world(self, box: Box3) -> Box3:
        (x0, y0, z0), (x1, y1, z1) = box
        corners = np.array([self.to_world((x, y, z)) for x in (x0, x1) for y in (y0, y1) for z in (z0, z1)])
        return tuple(corners.min(axis=0).round(9).tolist()), tuple(corners.max(axis=0).round(9).tolist())


@dataclass(frozen=True)
class _Placed:
    id: str
    kind: ObjectKind
    receptacle: str
    position: np.ndarray  # world
    yaw: float  # world
    rgba: RGBA


# ---------------------------------------------------------------------------------------------- helpers


def _quat_yaw(yaw: float) -> list[float]:
    """MuJoCo (w, x, y, z) quaternion of a rotation about +z."""
    return [math.cos(yaw / 2.0), 0.0, 0.0, math.sin(yaw / 2.0)]


def _look_at_quat(position: Vec3, target: Vec3, up: Vec3 = (0.0, 0.0, 1.0)) -> list[float]:
    """Camera orientation (w, x, y, z): MuJoCo cameras look along their -z with +y up in the image."""
    forward = np.asarray(target, float) - np.asarray(position, float)
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, np.asarray(up, float))
    right /= np.linalg.norm(right)
    image_up = np.cross(right, forward)
    mat = np.column_stack([right, image_up, -forward])
    quat = np.zeros(4)
    mujoco.mju_mat2Quat(quat, mat.flatten())
    return quat.tolist()


def _box(body: mujoco.MjsBody, name: str, lo: Vec3, hi: Vec3, rgba: RGBA,
         collision: tuple[int, int] = _STATIC, mass: float | None = None) -> mujoco.MjsGeom:
    """An axis-aligned box spanning lo..hi in the body frame."""
    lo_a, hi_a = np.asarray(lo, float), np.asarray(hi, float)
    geom = body.add_geom(
        name=name, type=mujoco.mjtGeom.mjGEOM_BOX, pos=((lo_a + hi_a) / 2).tolist(),
        size=((hi_a - lo_a) / 2).tolist(), rgba=list(rgba), contype=collision[0], conaffinity=collision[1],
    )
    if mass is not None:
        geom.mass = mass
    return geom


def _cylinder(body: mujoco.MjsBody, name: str, pos: Vec3, radius: float, half_height: float, rgba: RGBA,
              collision: tuple[int, int] = _STATIC, quat: list[float] | None = None) -> mujoco.MjsGeom:
    geom = body.add_geom(
        name=name, type=mujoco.mjtGeom.mjGEOM_CYLINDER, pos=list(pos), size=[radius, half_height, 0.0],
        rgba=list(rgba), contype=collision[0], conaffinity=collision[1],
    )
    if quat is not None:
        geom.quat = quat
    return geom


def _furniture_body(world: mujoco.MjsBody, name: str, pose: Pose2D) -> mujoco.MjsBody:
    return world.add_body(name=name, pos=[pose.x, pose.y, 0.0], quat=_quat_yaw(pose.yaw))


def _handle_site(body: mujoco.MjsBody, part: PartSpec) -> None:
    body.add_site(name=part.handle_site, pos=list(part.handle_m), size=[0.01, 0.0, 0.0],
                  rgba=[1.0, 0.2, 0.2, 0.0])


def _part_body(parent: mujoco.MjsBody, part: PartSpec, damping: float) -> mujoco.MjsBody:
    body = parent.add_body(name=part.body, pos=list(part.anchor_m))
    joint_type = mujoco.mjtJoint.mjJNT_HINGE if part.joint_type == "hinge" else mujoco.mjtJoint.mjJNT_SLIDE
    body.add_joint(name=part.joint, type=joint_type, axis=list(part.axis), range=[0.0, part.open_q],
                   limited=mujoco.mjtLimited.mjLIMITED_TRUE, damping=damping, armature=0.05)
    return body


# --------------------------------------------------------------------------------------------- furniture


def _surface_z(receptacle: str) -> float:
    return RECEPTACLES[receptacle].region[0][2]


def _build_table(world: mujoco.MjsBody, pose: Pose2D) -> None:
    depth, width, _ = FOOTPRINT_M["table"]
    top = _surface_z("table")
    body = _furniture_body(world, "table", pose)
    _box(body, "table_top", (-depth / 2, -width / 2, top - 0.04), (depth / 2, width / 2, top), _WOOD)
    for i, (sx, sy) in enumerate(((1, 1), (1, -1), (-1, 1), (-1, -1))):
        cx, cy = sx * (depth / 2 - 0.06), sy * (width / 2 - 0.06)
        _box(body, f"table_leg_{i}", (cx - 0.025, cy - 0.025, 0.0), (cx + 0.025, cy + 0.025, top - 0.04),
             _DARK_WOOD)


def _build_counter(world: mujoco.MjsBody, pose: Pose2D) -> None:
    depth, width, _ = FOOTPRINT_M["counter"]
    top = _surface_z("counter")
    body = _furniture_body(world, "counter", pose)
    _box(body, "counter_base",
         (-depth / 2, -width / 2 + 0.01, 0.0), (depth / 2 - 0.04, width / 2 - 0.01, top - 0.04), _CREAM)
    _box(body, "counter_top", (-depth / 2, -width / 2, top - 0.04), (depth / 2, width / 2, top), _GREY)
    # Cabinet-front seams so the block reads as a counter in camera images; flush, so not colliding.
    for i, y in enumerate((-width / 4, 0.0, width / 4)):
        _box(body, f"counter_seam_{i}",
             (depth / 2 - 0.041, y - 0.004, 0.08), (depth / 2 - 0.038, y + 0.004, top - 0.08), _GREY, _VISUAL)


def _build_shelf(world: mujoco.MjsBody, pose: Pose2D) -> None:
    depth, width, _ = FOOTPRINT_M["shelf"]
    top = _surface_z("shelf")
    body = _furniture_body(world, "shelf", pose)
    panel = 0.02
    x0, y0, y1 = -depth / 2 + 0.01, -width / 2 + panel, width / 2 - panel
    _box(body, "shelf_back", (-depth / 2, -width / 2, 0.0), (x0, width / 2, top - 0.03), _DARK_WOOD)
    _box(body, "shelf_side_left", (x0, y1, 0.0), (depth / 2, width / 2, top - 0.03), _WOOD)
    _box(body, "shelf_side_right", (x0, -width / 2, 0.0), (depth / 2, y0, top - 0.03), _WOOD)
    _box(body, "shelf_top", (-depth / 2, -width / 2, top - 0.03), (depth / 2, width / 2, top), _WOOD)
    for i, board_top in enumerate((0.06, 0.46)):
        _box(body, f"shelf_board_{i}", (x0, y0, board_top - 0.025), (depth / 2, y1, board_top), _WOOD)


def _build_sink(world: mujoco.MjsBody, pose: Pose2D) -> None:
    depth, width, height = FOOTPRINT_M["sink"]
    (x0, y0, floor), (x1, y1, _) = RECEPTACLES["sink"].volume
    wall = 0.02
    body = _furniture_body(world, "sink", pose)
    _box(body, "sink_base",
         (-depth / 2, -width / 2 + 0.01, 0.0), (depth / 2 - 0.04, width / 2 - 0.01, floor - wall), _CREAM)
    _box(body, "sink_basin_floor",
         (x0 - wall, y0 - wall, floor - wall), (x1 + wall, y1 + wall, floor), _STEEL)
    _box(body, "sink_basin_back", (x0 - wall, y0 - wall, floor), (x0, y1 + wall, height), _STEEL)
    _box(body, "sink_basin_front", (x1, y0 - wall, floor), (x1 + wall, y1 + wall, height), _STEEL)
    _box(body, "sink_basin_left", (x0, y1, floor), (x1, y1 + wall, height), _STEEL)
    _box(body, "sink_basin_right", (x0, y0 - wall, floor), (x1, y0, height), _STEEL)
    deck = height - 0.02
    _box(body, "sink_deck_back", (-depth / 2, -width / 2, deck), (x0 - wall, width / 2, height), _GREY)
    _box(body, "sink_deck_front", (x1 + wall, -width / 2, deck), (depth / 2, width / 2, height), _GREY)
    _box(body, "sink_deck_left", (x0 - wall, y1 + wall, deck), (x1 + wall, width / 2, height), _GREY)
    _box(body, "sink_deck_right", (x0 - wall, -width / 2, deck), (x1 + wall, y0 - wall, height), _GREY)
    faucet_x = (-depth / 2 + x0 - wall) / 2
    _cylinder(body, "sink_faucet", (faucet_x, 0.0, height + 0.12), 0.015, 0.12, _STEEL)
    _box(body, "sink_spout",
         (faucet_x, -0.012, height + 0.22), (faucet_x + 0.14, 0.012, height + 0.245), _STEEL)


def _build_bin(world: mujoco.MjsBody, pose: Pose2D) -> None:
    depth, width, height = FOOTPRINT_M["bin"]
    (x0, y0, floor), (x1, y1, _) = RECEPTACLES["bin"].volume
    body = _furniture_body(world, "bin", pose)
    _box(body, "bin_floor", (-depth / 2, -width / 2, 0.0), (depth / 2, width / 2, floor), _BIN_BLUE)
    _box(body, "bin_wall_back", (-depth / 2, -width / 2, 0.0), (x0, width / 2, height), _BIN_BLUE)
    _box(body, "bin_wall_front", (x1, -width / 2, 0.0), (depth / 2, width / 2, height), _BIN_BLUE)
    _box(body, "bin_wall_left", (x0, y1, 0.0), (x1, width / 2, height), _BIN_BLUE)
    _box(body, "bin_wall_right", (x0, -width / 2, 0.0), (x1, y0, height), _BIN_BLUE)


_DRAWER_WALL_M = 0.015


def part_panel_box(part_id: str) -> Box3:
    """The moving panel of a part (door panel, drawer front) in the part's body frame: what a camera sees
    of it when closed. The builders below make these geoms; the semantic map uses them too."""
    if part_id == "fridge_door":
        _, width, height = FOOTPRINT_M["fridge"]
        return (-0.015, -width, 0.02), (0.015, 0.0, height)
    if part_id == "cabinet_door":
        (_, y0, floor), (_, y1, ceiling) = RECEPTACLES["cabinet"].volume
        return (-0.01, 0.0, floor), (0.01, -y1 - y0 + 0.015, ceiling)  # covers the compartment and half the divider
    if part_id == "drawer":
        (dx0, dy0, _), (dx1, dy1, _) = RECEPTACLES["drawer"].volume
        front = FOOTPRINT_M["cabinet"][0] / 2
        face_top = RECEPTACLES["cabinet"].volume[1][2] - PARTS["drawer"].anchor_m[2] - 0.005
        return (dx1, dy0 - _DRAWER_WALL_M - 0.01, -0.005), (front, dy1 + _DRAWER_WALL_M + 0.01, face_top)
    raise KeyError(f"no part {part_id!r}; parts: {sorted(PARTS)}")


def _build_fridge(world: mujoco.MjsBody, pose: Pose2D) -> None:
    depth, width, height = FOOTPRINT_M["fridge"]
    (x0, y0, floor), (x1, y1, ceiling) = RECEPTACLES["fridge"].volume
    shelf = _surface_z("fridge")
    body = _furniture_body(world, "fridge", pose)
    _box(body, "fridge_back", (-depth / 2, -width / 2, 0.0), (x0, width / 2, height), _WHITE)
    _box(body, "fridge_side_left", (x0, y1, 0.0), (depth / 2, width / 2, height), _WHITE)
    _box(body, "fridge_side_right", (x0, -width / 2, 0.0), (depth / 2, y0, height), _WHITE)
    _box(body, "fridge_bottom", (x0, y0, 0.0), (x1, y1, floor), _WHITE)
    _box(body, "fridge_top", (x0, y0, ceiling), (x1, y1, height), _WHITE)
    _box(body, "fridge_shelf", (x0, y0, shelf - 0.02), (x1 - 0.02, y1, shelf), _GREEN_GREY)

    part = PARTS["fridge_door"]
    door = _part_body(body, part, damping=3.0)
    _box(door, "fridge_door_panel", *part_panel_box("fridge_door"), _WHITE, mass=5.5)
    hx, hy, hz = part.handle_m
    _box(door, part.handle_geom,
         (hx - 0.01, hy - 0.012, hz - 0.15), (hx + 0.01, hy + 0.012, hz + 0.15), _STEEL, mass=0.3)
    for i, dz in enumerate((-0.13, 0.13)):
        _box(door, f"fridge_door_handle_mount_{i}", (0.015, hy - 0.008, hz + dz - 0.008),
             (hx - 0.01, hy + 0.008, hz + dz + 0.008), _STEEL, mass=0.05)
    _handle_site(door, part)


def _build_cabinet(world: mujoco.MjsBody, pose: Pose2D) -> None:
    depth, width, height = FOOTPRINT_M["cabinet"]
    (x0, y0, floor), (x1, y1, ceiling) = RECEPTACLES["cabinet"].volume
    body = _furniture_body(world, "cabinet", pose)
    front = depth / 2
    _box(body, "cabinet_back", (-depth / 2, -width / 2, 0.0), (x0, width / 2, height), _WOOD)
    _box(body, "cabinet_side_left", (x0, width / 2 - 0.02, 0.0), (front, width / 2, height), _WOOD)
    _box(body, "cabinet_side_right", (x0, -width / 2, 0.0), (front, y0, height), _WOOD)
    _box(body, "cabinet_plinth", (x0, -width / 2, 0.0), (front, width / 2, floor), _DARK_WOOD)
    _box(body, "cabinet_top", (x0, -width / 2, ceiling), (front, width / 2, height), _WOOD)
    _box(body, "cabinet_divider", (x0, y1, floor), (front, -y1, ceiling), _WOOD)
    shelf = _surface_z("cabinet")
    _box(body, "cabinet_shelf", (x0, y0, shelf - 0.02), (x1 - 0.01, y1, shelf), _WOOD)

    drawer_part = PARTS["drawer"]
    drawer_z = drawer_part.anchor_m[2]
    _box(body, "cabinet_drawer_support",
         (x0, -y1, drawer_z - 0.025), (front - 0.02, width / 2 - 0.02, drawer_z - 0.005), _WOOD)
    _box(body, "cabinet_lower_front", (front - 0.02, -y1, floor), (front, width / 2 - 0.02, drawer_z - 0.005),
         _DARK_WOOD)

    door_part = PARTS["cabinet_door"]
    door = _part_body(body, door_part, damping=1.0)
    _box(door, "cabinet_door_panel", *part_panel_box("cabinet_door"), _DARK_WOOD, mass=2.5)
    hx, hy, hz = door_part.handle_m
    _box(door, door_part.handle_geom,
         (hx - 0.008, hy - 0.008, hz - 0.08), (hx + 0.008, hy + 0.008, hz + 0.08), _STEEL, mass=0.1)
    for i, dz in enumerate((-0.065, 0.065)):
        _box(door, f"cabinet_door_handle_mount_{i}", (0.01, hy - 0.006, hz + dz - 0.006),
             (hx - 0.008, hy + 0.006, hz + dz + 0.006), _STEEL, mass=0.02)
    _handle_site(door, door_part)

    drawer = _part_body(body, drawer_part, damping=15.0)
    (dx0, dy0, dfloor), (dx1, dy1, _) = RECEPTACLES["drawer"].volume
    wall, wall_top = _DRAWER_WALL_M, 0.2
    _box(drawer, "drawer_floor", (dx0 - wall, dy0 - wall, 0.0), (dx1, dy1 + wall, dfloor), _CREAM, mass=1.0)
    _box(drawer, "drawer_wall_back",
         (dx0 - wall, dy0 - wall, dfloor), (dx0, dy1 + wall, wall_top), _CREAM, mass=0.4)
    _box(drawer, "drawer_wall_left", (dx0, dy1, dfloor), (dx1, dy1 + wall, wall_top), _CREAM, mass=0.4)
    _box(drawer, "drawer_wall_right", (dx0, dy0 - wall, dfloor), (dx1, dy0, wall_top), _CREAM, mass=0.4)
    _box(drawer, "drawer_front", *part_panel_box("drawer"), _WOOD, mass=0.8)
    hx, hy, hz = drawer_part.handle_m
    _box(drawer, drawer_part.handle_geom,
         (hx - 0.008, hy - 0.08, hz - 0.008), (hx + 0.008, hy + 0.08, hz + 0.008), _STEEL, mass=0.1)
    for i, dy in enumerate((-0.065, 0.065)):
        _box(drawer, f"drawer_handle_mount_{i}", (front, hy + dy - 0.006, hz - 0.006),
             (hx - 0.008, hy + dy + 0.006, hz + 0.006), _STEEL, mass=0.02)
    _handle_site(drawer, drawer_part)


_BUILDERS = {
    "counter": _build_counter,
    "table": _build_table,
    "shelf": _build_shelf,
    "sink": _build_sink,
    "bin": _build_bin,
    "fridge": _build_fridge,
    "cabinet": _build_cabinet,  # with its door and the drawer
}


def _build_room(spec: mujoco.MjSpec) -> None:
    world = spec.worldbody
    width, length = ROOM_SIZE_M
    spec.add_texture(name="sky_tex", type=mujoco.mjtTexture.mjTEXTURE_SKYBOX,
                     builtin=mujoco.mjtBuiltin.mjBUILTIN_GRADIENT, width=64, height=64,
                     rgb1=[0.85, 0.88, 0.92], rgb2=[0.55, 0.6, 0.68])
    spec.add_texture(name="floor_tex", type=mujoco.mjtTexture.mjTEXTURE_2D,
                     builtin=mujoco.mjtBuiltin.mjBUILTIN_CHECKER, width=256, height=256,
                     rgb1=[0.72, 0.7, 0.66], rgb2=[0.66, 0.64, 0.6])
    floor_mat = spec.add_material(name="floor_mat", texrepeat=[width / 0.5, length / 0.5])
    floor_mat.textures[mujoco.mjtTextureRole.mjTEXROLE_RGB] = "floor_tex"
    world.add_geom(name="floor", type=mujoco.mjtGeom.mjGEOM_PLANE, pos=[width / 2, length / 2, 0.0],
                   size=[width / 2, length / 2, 0.05], material="floor_mat", contype=_STATIC[0],
                   conaffinity=_STATIC[1])
    t = 0.1
    walls = {
        "wall_north": ((-t, length, 0.0), (width + t, length + t, _WALL_HEIGHT_M)),
        "wall_south": ((-t, -t, 0.0), (width + t, 0.0, _WALL_HEIGHT_M)),
        "wall_east": ((width, 0.0, 0.0), (width + t, length, _WALL_HEIGHT_M)),
        "wall_west": ((-t, 0.0, 0.0), (0.0, length, _WALL_HEIGHT_M)),
    }
    for name, (lo, hi) in walls.items():
        _box(world, name, lo, hi, _WALL)
    directional = mujoco.mjtLightType.mjLIGHT_DIRECTIONAL
    above = [width / 2, length / 2, 4.0]
    world.add_light(name="light_sun", type=directional, pos=above, dir=[0.25, 0.35, -1.0],
                    diffuse=[0.55, 0.55, 0.52], specular=[0.1, 0.1, 0.1], castshadow=True)
    world.add_light(name="light_fill", type=directional, pos=above, dir=[-0.3, -0.2, -1.0],
                    diffuse=[0.3, 0.3, 0.32], specular=[0.0, 0.0, 0.0], castshadow=False)
    spec.visual.headlight.ambient = [0.35, 0.35, 0.35]
    spec.visual.headlight.diffuse = [0.15, 0.15, 0.15]


def _build_cameras(spec: mujoco.MjSpec, layout: Layout) -> dict[str, CameraInfo]:
    cameras = {}
    for name, placement in layout.cameras.items():
        spec.worldbody.add_camera(name=name, pos=list(placement.position_m),
                                  quat=_look_at_quat(placement.position_m, placement.target_m),
                                  fovy=CAMERA_FOVY_DEG)
        cameras[name] = CameraInfo(name, CAMERA_FOVY_DEG, "world")
    return cameras


# ------------------------------------------------------------------------------------------------- robot

_ROBOT_JOINTS = {
    "base_x": "base_x_slide",
    "base_y": "base_y_slide",
    "base_yaw": "base_yaw_hinge",
    "lift": "lift_slide",
    "arm": "arm_slide",
    "wrist_yaw": "wrist_yaw_hinge",
    "gripper_left": "finger_left_slide",
    "gripper_right": "finger_right_slide",
}
# role -> (kp, forcerange); damping is critical (dampratio 1) at the model's reference configuration.
_ROBOT_GAINS = {
    "base_x": (5000.0, 2000.0),
    "base_y": (5000.0, 2000.0),
    "base_yaw": (400.0, 300.0),
    "lift": (20000.0, 600.0),
    "arm": (5000.0, 300.0),
    "wrist_yaw": (20.0, 10.0),
    "gripper_left": (400.0, 40.0),
    "gripper_right": (400.0, 40.0),
}


def _slide(body: mujoco.MjsBody, name: str, axis: Vec3, ref: float, lo: float | None = None,
           hi: float | None = None, armature: float = 0.0) -> None:
    joint = body.add_joint(name=name, type=mujoco.mjtJoint.mjJNT_SLIDE, axis=list(axis), ref=ref,
                           armature=armature)
    if lo is not None:
        joint.range = [lo, hi]
        joint.limited = mujoco.mjtLimited.mjLIMITED_TRUE
    else:
        joint.limited = mujoco.mjtLimited.mjLIMITED_FALSE


def _build_robot(spec: mujoco.MjSpec, start: Pose2D) -> tuple[RobotInfo, dict[str, CameraInfo]]:
    # The x/y slides sit on a world-aligned body and the yaw hinge on its child, so the slides move along
    # world axes whatever the heading; each joint's ref equals its start value, making qpos0 the start pose.
    root = spec.worldbody.add_body(name="robot", pos=[start.x, start.y, 0.0], mass=1.0,
                                   inertia=[0.05, 0.05, 0.05], explicitinertial=True)
    _slide(root, "base_x_slide", (1.0, 0.0, 0.0), start.x)
    _slide(root, "base_y_slide", (0.0, 1.0, 0.0), start.y)
    base = root.add_body(name="base_link", quat=_quat_yaw(start.yaw))
    base.add_joint(name="base_yaw_hinge", type=mujoco.mjtJoint.mjJNT_HINGE, axis=[0.0, 0.0, 1.0],
                   ref=start.yaw, limited=mujoco.mjtLimited.mjLIMITED_FALSE)
    _box(base, "base_chassis", (-0.17, -0.165, 0.03), (0.17, 0.165, 0.18), _ROBOT_DARK, _VISUAL, mass=18.0)
    for i, y in enumerate((-0.15, 0.15)):
        _cylinder(base, f"base_wheel_{i}", (0.08, y, 0.05), 0.05, 0.015, _GREY, _VISUAL,
                  quat=[math.cos(math.pi / 4), math.sin(math.pi / 4), 0.0, 0.0]).mass = 0.5
    _box(base, "mast", (_MAST_X - 0.03, -0.03, 0.18), (_MAST_X + 0.03, 0.03, 1.8), _ROBOT_METAL, _VISUAL,
         mass=2.0)
    _box(base, "head", (_MAST_X - 0.03, -0.09, 1.8), (_MAST_X + 0.08, 0.09, 1.87), _ROBOT_DARK, _VISUAL,
         mass=0.5)
    # Higher than a real Stretch head, so the arm stowed high for driving hides only ~3% of the view.
    head_cam = (_MAST_X + 0.09, 0.0, 1.835)
    base.add_camera(name="head_rgbd", pos=list(head_cam), quat=_look_at_quat(head_cam, (0.85, 0.0, 0.55)),
                    fovy=CAMERA_FOVY_DEG)

    lift = base.add_body(name="lift", pos=[_MAST_X, 0.0, _START_LIFT_M], gravcomp=1.0)
    _slide(lift, "lift_slide", (0.0, 0.0, 1.0), _START_LIFT_M, *LIFT_RANGE_M, armature=1.0)
    _box(lift, "lift_carriage", (-0.045, -0.05, -0.05), (0.06, 0.05, 0.05), _ROBOT_DARK, _VISUAL, mass=1.0)

    arm = lift.add_body(name="arm", gravcomp=1.0)
    _slide(arm, "arm_slide", (1.0, 0.0, 0.0), 0.0, *ARM_RANGE_M, armature=1.0)
    _box(arm, "arm_link", (_ARM_TIP_X - 0.68, -0.022, -0.018), (_ARM_TIP_X + 0.02, 0.022, 0.018), _ROBOT_DARK,
         _VISUAL, mass=0.8)

    wrist = arm.add_body(name="wrist", pos=[_ARM_TIP_X, 0.0, 0.0], gravcomp=1.0)
    wrist.add_joint(name="wrist_yaw_hinge", type=mujoco.mjtJoint.mjJNT_HINGE, axis=[0.0, 0.0, 1.0],
                    range=list(WRIST_RANGE_RAD), limited=mujoco.mjtLimited.mjLIMITED_TRUE, armature=0.01)
    _cylinder(wrist, "wrist_link", (0.0, 0.0, -0.03), 0.018, 0.03, _ROBOT_METAL, _VISUAL).mass = 0.2

    gripper = wrist.add_body(name="gripper", pos=[0.0, 0.0, _GRIPPER_Z], gravcomp=1.0)
    _box(gripper, "gripper_palm", (-0.02, -0.08, -0.01), (0.02, 0.08, 0.01), _ROBOT_DARK, _GRIPPER, mass=0.2)
    gripper.add_site(name="grasp_center", pos=[0.0, 0.0, -(GRASP_DROP_M + _GRIPPER_Z)],
                     size=[0.008, 0.0, 0.0], rgba=[0.1, 0.9, 0.1, 0.0])
    wrist_cam = (-0.035, 0.0, -0.012)
    gripper.add_camera(name="wrist_rgbd", pos=list(wrist_cam),
                       quat=_look_at_quat(wrist_cam, (0.0, 0.0, -0.2), up=(1.0, 0.0, 0.0)),
                       fovy=CAMERA_FOVY_DEG)
    half_open = _START_OPENING_M / 2
    for side, sign in (("left", 1.0), ("right", -1.0)):
        finger = gripper.add_body(name=f"finger_{side}", pos=[0.0, sign * half_open, 0.0], gravcomp=1.0)
        _slide(finger, f"finger_{side}_slide", (0.0, sign, 0.0), half_open, 0.0, MAX_OPENING_M / 2,
               armature=0.01)
        pad = _box(finger, f"finger_{side}_pad", (-0.012, min(0.0, sign * 0.012), -0.09),
                   (0.012, max(0.0, sign * 0.012), -0.01), _ROBOT_METAL, _GRIPPER, mass=0.05)
        pad.friction = [1.5, 0.01, 0.001]

    actuators = {}
    for role, joint in _ROBOT_JOINTS.items():
        kp, force = _ROBOT_GAINS[role]
        act = spec.add_actuator(name=role, target=joint, trntype=mujoco.mjtTrn.mjTRN_JOINT)
        act.set_to_position(kp=kp, dampratio=1.0)
        act.forcerange = [-force, force]
        act.forcelimited = mujoco.mjtLimited.mjLIMITED_TRUE
        actuators[role] = role
    robot = RobotInfo(
        root_body="robot",
        base_body="base_link",
        gripper_body="gripper",
        grasp_site="grasp_center",
        joints=MappingProxyType(dict(_ROBOT_JOINTS)),
        actuators=MappingProxyType(actuators),
        lift_range_m=LIFT_RANGE_M,
        arm_range_m=ARM_RANGE_M,
        wrist_range_rad=WRIST_RANGE_RAD,
        max_opening_m=MAX_OPENING_M,
        arm_reach_offset_m=ARM_REACH_OFFSET_M,
        grasp_drop_m=GRASP_DROP_M,
    )
    cameras = {
        "head_rgbd": CameraInfo("head_rgbd", CAMERA_FOVY_DEG, "base_link"),
        "wrist_rgbd": CameraInfo("wrist_rgbd", CAMERA_FOVY_DEG, "gripper"),
    }
    return robot, cameras


# ------------------------------------------------------------------------------------------- articulation

# part -> (kp, forcerange): slow, well-damped motions that carry a drawer's contents along.
_DRIVE_GAINS = {"fridge_door": (40.0, 60.0), "cabinet_door": (15.0, 30.0), "drawer": (300.0, 150.0)}


def _build_drives(spec: mujoco.MjSpec) -> dict[str, PartInfo]:
    parts = {}
    for part in PARTS.values():
        kp, force = _DRIVE_GAINS[part.id]
        act = spec.add_actuator(name=part.actuator, target=part.joint, trntype=mujoco.mjtTrn.mjTRN_JOINT)
        act.set_to_position(kp=kp, dampratio=1.0)
        act.ctrlrange = [0.0, part.open_q]
        act.ctrllimited = mujoco.mjtLimited.mjLIMITED_TRUE
        act.forcerange = [-force, force]
        act.forcelimited = mujoco.mjtLimited.mjLIMITED_TRUE
        parts[part.id] = PartInfo(part.id, part.body, part.joint, part.joint_type, 0.0, part.open_q,
                                  part.actuator, part.handle_geom, part.handle_site, part.receptacle)
    return parts


# ----------------------------------------------------------------------------------------------- objects


def _receptacle_frames(layout: Layout) -> dict[str, _Frame]:
    frames = {}
    for rid, rec in RECEPTACLES.items():
        pose = layout.furniture[rid]
        z = PARTS[rec.body].anchor_m[2] if rec.body in PARTS else 0.0
        frames[rid] = _Frame((pose.x, pose.y, z), pose.yaw)
    return frames


def _check_placement(oid: str, placement: ObjectPlacement) -> tuple[ObjectKind, RGBA | None]:
    if not isinstance(placement, ObjectPlacement):
        raise SceneError(f"object {oid!r}: expected an ObjectPlacement, got {placement!r}")
    if not isinstance(oid, str) or not _ID_PATTERN.fullmatch(oid):
        raise SceneError(f"object id {oid!r} must start with a letter and use only letters, digits and '_'")
    if oid in RECEPTACLES or oid in PARTS:
        raise SceneError(f"object id {oid!r} clashes with a furniture or part id")
    try:
        kind = KINDS[resolve_kind(placement.kind)]
    except UnknownKind as exc:
        raise SceneError(f"object {oid!r}: {exc.args[0]}") from None
    if placement.location not in RECEPTACLES:
        raise SceneError(f"object {oid!r}: location {placement.location!r} is not a receptacle; "
                         f"receptacles: {sorted(RECEPTACLES)}")
    rgba = placement.rgba
    if rgba is not None:
        rgba = tuple(float(c) for c in rgba)
        if len(rgba) != 4 or not all(0.0 <= c <= 1.0 for c in rgba):
            raise SceneError(f"object {oid!r}: rgba must be 4 values in [0, 1], got {placement.rgba!r}")
    return kind, rgba


class _Packer:
    """Rejection-samples non-overlapping object footprints inside receptacle regions."""

    def __init__(self, rng: np.random.Generator, layout: Layout) -> None:
        self._rng = rng
        self._frames = _receptacle_frames(layout)
        self._taken: dict[str, list[tuple[float, float, float, float]]] = {rid: [] for rid in RECEPTACLES}

    def place(self, kind: ObjectKind, receptacle: str) -> tuple[np.ndarray, float] | None:
        """World position and yaw of a free spot for `kind` in `receptacle`, or None if none was found."""
        (x0, y0, z0), (x1, y1, z1) = RECEPTACLES[receptacle].region
        sx, sy, sz = kind.size_m
        if sz > z1 - z0:
            return None
        for _ in range(_SPAWN_TRIES):
            yaw = float(self._rng.uniform(-math.pi, math.pi))
            c, s = abs(math.cos(yaw)), abs(math.sin(yaw))
            hx, hy = (c * sx + s * sy) / 2, (s * sx + c * sy) / 2
            if 2 * hx > x1 - x0 or 2 * hy > y1 - y0:
                continue
            x = float(self._rng.uniform(x0 + hx, x1 - hx))
            y = float(self._rng.uniform(y0 + hy, y1 - hy))
            if any(abs(x - ox) < hx + ohx + _SPAWN_GAP_M and abs(y - oy) < hy + ohy + _SPAWN_GAP_M
                   for ox, oy, ohx, ohy in self._taken[receptacle]):
                continue
            self._taken[receptacle].append((x, y, hx, hy))
            frame = self._frames[receptacle]
            return frame.to_world((x, y, z0 + sz / 2 + _SPAWN_DROP_M)), frame.yaw + yaw
        return None


def _pick_colour(rng: np.random.Generator, kind: ObjectKind) -> RGBA:
    return kind.palette[int(rng.integers(len(kind.palette)))]


def _place_objects(
    rng: np.random.Generator,
    layout: Layout,
    objects: Mapping[str, ObjectPlacement],
    num_random_objects: int,
) -> list[_Placed]:
    packer = _Packer(rng, layout)
    placed = []
    for oid, placement in objects.items():
        kind, rgba = _check_placement(oid, placement)
        colour = rgba if rgba is not None else _pick_colour(rng, kind)
        spot = packer.place(kind, placement.location)
        if spot is None:
            raise SceneError(
                f"object {oid!r} ({kind.name}, {kind.size_m} m) does not fit in {placement.location!r} "
                f"next to the objects already there"
            )
        placed.append(_Placed(oid, kind, placement.location, spot[0], spot[1], colour))

    used = set(objects)
    kind_names = sorted(KINDS)
    for n in range(num_random_objects):
        kind = KINDS[kind_names[int(rng.integers(len(kind_names)))]]
        colour = _pick_colour(rng, kind)
        for receptacle in rng.permutation(layout.spawn_receptacles).tolist():
            spot = packer.place(kind, receptacle)
            if spot is not None:
                break
        else:
            raise SceneError(f"random object {n + 1} of {num_random_objects} ({kind.name}) fits in none of "
                             f"{list(layout.spawn_receptacles)}: too many objects")
        number = 1
        while f"{kind.name}_{number}" in used:
            number += 1
        oid = f"{kind.name}_{number}"
        used.add(oid)
        placed.append(_Placed(oid, kind, receptacle, spot[0], spot[1], colour))
    return placed


_ROUND_SHAPES = ("sphere", "ellipsoid", "capsule")


def _build_object(spec: mujoco.MjSpec, obj: _Placed) -> ObjectInfo:
    body_name = f"obj_{obj.id}"
    body = spec.worldbody.add_body(name=body_name, pos=obj.position.tolist(), quat=_quat_yaw(obj.yaw))
    joint = f"{body_name}_free"
    body.add_freejoint(name=joint)
    kind = obj.kind
    # A round body rests only with its centre of mass at or below its centre of curvature: an apple whose stem
    # carried mass was top-heavy and slowly rolled over (and off the counter). Parts on a round body are shape only.
    weighed = 1 if kind.parts[0].shape in _ROUND_SHAPES else len(kind.parts)
    total_volume = sum(p.volume_m3 for p in kind.parts[:weighed])
    geoms = []
    for k, part in enumerate(kind.parts):
        name = f"{body_name}_geom{k}"
        x, y, z, w = part.quat_xyzw
        round_shape = part.shape in _ROUND_SHAPES
        body.add_geom(
            name=name, type=getattr(mujoco.mjtGeom, f"mjGEOM_{part.shape.upper()}"),
            size=list(part.size) + [0.0] * (3 - len(part.size)), pos=list(part.pos), quat=[w, x, y, z],
            rgba=list(obj.rgba if part.tinted else kind.accent_rgba),
            mass=kind.mass_kg * part.volume_m3 / total_volume if k < weighed else 0.0,
            contype=_OBJECT[0], conaffinity=_OBJECT[1],
            # Rolling friction (condim 6) stops round things rolling away on a nudge; torsional (4) for
            # the rest.
            condim=6 if round_shape else 4, friction=[1.0, 0.01, 0.002 if round_shape else 0.0001],
        )
        geoms.append(name)
    eq_name = f"grasp_{obj.id}"
    eq = spec.add_equality(name=eq_name, type=mujoco.mjtEq.mjEQ_WELD, name1="gripper", name2=body_name,
                           objtype=mujoco.mjtObj.mjOBJ_BODY, active=False, solref=list(_GRASP_SOLREF))
    data = list(eq.data)
    data[0:3] = [0.0, 0.0, 0.0]  # weld at the object's origin; the world layer sets the relative pose
    eq.data = data
    return ObjectInfo(obj.id, kind.name, kind.label, body_name, joint, tuple(geoms), eq_name, kind.size_m,
                      kind.mass_kg, obj.rgba, obj.receptacle)


# ------------------------------------------------------------------------------------------------- scene


OBSTACLE_BODY = "obstacle"
OBSTACLE_PARK_M = (-10.0, -10.0, 0.1)  # outside the house until an obstacle fault puts it on a receptacle


def _build_obstacle(spec: mujoco.MjSpec) -> None:
    """A kinematic box for the obstacle fault; the world resizes it to cover a receptacle's region."""
    body = spec.worldbody.add_body(name=OBSTACLE_BODY, pos=list(OBSTACLE_PARK_M))
    body.mocap = True
    _box(body, OBSTACLE_BODY, (-0.1, -0.1, -0.06), (0.1, 0.1, 0.06), (0.55, 0.42, 0.28, 1.0))


def build_scene(
    layout: str,
    seed: int,
    objects: Mapping[str, ObjectPlacement] | None = None,
    num_random_objects: int = 8,
) -> tuple[mujoco.MjModel, SceneIndex]:
    """Compile the kitchen `layout` with the given objects plus `num_random_objects` random ones.

    All randomness (random kinds and receptacles, positions in the regions, yaws, palette colours) comes from
    numpy.random.default_rng(seed), in a fixed order, so equal arguments give identical models.
    """
    try:
        plan = get_layout(layout)
    except UnknownLayout as exc:
        raise SceneError(exc.args[0]) from None
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise SceneError(f"seed must be an integer, got {seed!r}")
    if isinstance(num_random_objects, bool) or not isinstance(num_random_objects, (int, np.integer)) \
            or num_random_objects < 0:
        raise SceneError(f"num_random_objects must be a non-negative integer, got {num_random_objects!r}")
    rng = np.random.default_rng(seed)
    placed = _place_objects(rng, plan, dict(objects or {}), int(num_random_objects))

    spec = mujoco.MjSpec()
    spec.modelname = f"{layout}_seed{seed}"
    spec.compiler.degree = False
    spec.option.timestep = TIMESTEP_S
    spec.option.integrator = mujoco.mjtIntegrator.mjINT_IMPLICITFAST
    spec.visual.global_.offwidth = 640
    spec.visual.global_.offheight = 480
    spec.visual.quality.shadowsize = 2048
    _build_room(spec)
    for fid, build in _BUILDERS.items():
        build(spec.worldbody, plan.furniture[fid])
    parts = _build_drives(spec)
    robot, robot_cameras = _build_robot(spec, plan.robot_start)
    cameras = {**_build_cameras(spec, plan), **robot_cameras}
    infos = {obj.id: _build_object(spec, obj) for obj in placed}
    _build_obstacle(spec)
    model = spec.compile()

    frames = _receptacle_frames(plan)
    receptacles = {
        rid: ReceptacleInfo(rid, r.kind, r.body, r.region, r.volume, frames[rid].box_to_world(r.region),
                            frames[rid].box_to_world(r.volume), r.part)
        for rid, r in RECEPTACLES.items()
    }
    index = SceneIndex(
        layout=layout,
        seed=int(seed),
        objects=MappingProxyType(infos),
        receptacles=MappingProxyType(receptacles),
        parts=MappingProxyType(parts),
        nav_poses=plan.nav_poses,
        look_poses=plan.look_poses,
        cameras=MappingProxyType(cameras),
        robot=robot,
    )
    return model, index
