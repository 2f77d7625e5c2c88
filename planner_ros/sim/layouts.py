"""Kitchen layouts: where the furniture stands, where the robot parks to use it, where objects may appear.

Furniture ids are a contract shared by every layout (task files name them): counter, table, shelf, sink,
bin, fridge, cabinet, drawer. Articulated parts: fridge_door, cabinet_door (hinges) and drawer (slide; it is
both a part and a container, mounted in the cabinet, so its pose follows the cabinet's).

Frames: the room spans x in [0, ROOM_SIZE_M[0]], y in [0, ROOM_SIZE_M[1]], z up. Every furniture frame sits
on the floor at the centre of its footprint with +x pointing out of its front (the side the robot uses and
doors open towards). Layout yaws are multiples of 90 degrees, so receptacle boxes stay axis-aligned in the
world. A receptacle's `region` is where objects rest when spawned or placed (a support surface or interior
floor, kept within the arm's reach from the receptacle's navigation pose); its `volume` is the whole top or
interior: an object whose centre is inside it is on/in the receptacle. Both are (min xyz, max xyz) in the
frame of the receptacle's body.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import NamedTuple

__all__ = [
    "Box3",
    "CameraPlacement",
    "FOOTPRINT_M",
    "FURNITURE_IDS",
    "LAYOUTS",
    "Layout",
    "PARTS",
    "PartSpec",
    "Pose2D",
    "RECEPTACLES",
    "ROOM_SIZE_M",
    "ReceptacleSpec",
    "UnknownLayout",
    "get_layout",
    "to_world",
]

Vec3 = tuple[float, float, float]
Box3 = tuple[Vec3, Vec3]

ROOM_SIZE_M = (6.0, 5.0)
FURNITURE_IDS = ("counter", "table", "shelf", "sink", "bin", "fridge", "cabinet", "drawer")
# Standalone pieces with a layout pose; the drawer rides in the cabinet.
_STANDALONE = ("counter", "table", "shelf", "sink", "bin", "fridge", "cabinet")


class UnknownLayout(KeyError):
    """A layout name that is not defined; the message names it and the known ones."""


class Pose2D(NamedTuple):
    """Planar pose: position in metres, yaw in radians about +z (0 = facing +x)."""

    x: float
    y: float
    yaw: float


@dataclass(frozen=True)
class ReceptacleSpec:
    id: str
    kind: str  # "surface" (objects go on it) or "container" (objects go in it)
    body: str  # body whose frame region and volume are expressed in
    region: Box3
    volume: Box3
    part: str | None = None  # articulated part that closes this container


@dataclass(frozen=True)
class PartSpec:
    """An articulated part; closed is q = 0, open is q = open_q (rad or m), positive opens."""

    id: str
    parent: str  # furniture body the part is mounted on
    body: str
    joint: str
    joint_type: str  # "hinge" or "slide"
    axis: Vec3  # joint axis in the parent frame (positive q opens)
    anchor_m: Vec3  # part body origin (on the joint axis) in the parent frame
    handle_m: Vec3  # handle centre in the part body frame
    open_q: float
    receptacle: str

    @property
    def actuator(self) -> str:
        return f"{self.id}_drive"

    @property
    def handle_geom(self) -> str:
        return f"{self.id}_handle"

    @property
    def handle_site(self) -> str:
        return f"{self.id}_handle_site"


@dataclass(frozen=True)
class CameraPlacement:
    position_m: Vec3
    target_m: Vec3  # the point on the optical axis


@dataclass(frozen=True)
class Layout:
    name: str
    furniture: Mapping[str, Pose2D]  # world pose of every furniture frame (the drawer's when closed)
    nav_poses: Mapping[str, Pose2D]  # robot base pose for every receptacle and articulated part
    look_poses: Mapping[str, Pose2D]  # robot base pose to look into a container from (LOOK_INTO)
    spawn_receptacles: tuple[str, ...]  # where random objects may appear
    robot_start: Pose2D
    cameras: Mapping[str, CameraPlacement]


# Footprint depth (x), width (y) and height (z) of each standalone piece, in its own frame.
FOOTPRINT_M: Mapping[str, Vec3] = MappingProxyType({
    "counter": (0.62, 1.62, 0.9),
    "table": (0.8, 1.2, 0.75),
    "shelf": (0.4, 1.0, 0.9),
    "sink": (0.62, 0.8, 0.9),
    "bin": (0.36, 0.36, 0.45),
    "fridge": (0.65, 0.7, 1.6),  # carcass; the closed door adds 0.03 m in front
    "cabinet": (0.5, 1.0, 0.9),
})

RECEPTACLES: Mapping[str, ReceptacleSpec] = MappingProxyType({
    r.id: r
    for r in (
        ReceptacleSpec("counter", "surface", "counter",
                       ((-0.05, -0.45, 0.9), (0.28, 0.45, 1.4)), ((-0.31, -0.81, 0.9), (0.31, 0.81, 1.4))),
        ReceptacleSpec("table", "surface", "table",
                       ((-0.02, -0.4, 0.75), (0.36, 0.4, 1.25)), ((-0.4, -0.6, 0.75), (0.4, 0.6, 1.25))),
        # An open, counter-height shelf unit: objects go on its top (seen by the head camera; boards under
        # a roof would be hidden from it); objects on its two inner boards count as on the shelf too.
        ReceptacleSpec("shelf", "surface", "shelf",
                       ((-0.15, -0.42, 0.9), (0.18, 0.42, 1.4)), ((-0.2, -0.5, 0.06), (0.2, 0.5, 1.4))),
        ReceptacleSpec("sink", "container", "sink",
                       ((-0.13, -0.24, 0.72), (0.19, 0.24, 1.05)),
                       ((-0.17, -0.28, 0.72), (0.21, 0.28, 1.05))),
        ReceptacleSpec("bin", "container", "bin",
                       ((-0.15, -0.15, 0.02), (0.15, 0.15, 0.6)),
                       ((-0.165, -0.165, 0.02), (0.165, 0.165, 0.6))),
        # Objects are placed on the fridge's interior shelf (top at 0.8 m); the whole interior counts.
        ReceptacleSpec("fridge", "container", "fridge",
                       ((-0.08, -0.24, 0.8), (0.26, 0.24, 1.57)), ((-0.295, -0.32, 0.1), (0.325, 0.32, 1.57)),
                       "fridge_door"),
        # The door compartment (y < 0) with its shelf at 0.45 m; the drawer is the other half.
        ReceptacleSpec("cabinet", "container", "cabinet",
                       ((-0.2, -0.44, 0.45), (0.2, -0.06, 0.86)), ((-0.23, -0.48, 0.08), (0.25, -0.02, 0.88)),
                       "cabinet_door"),
        ReceptacleSpec("drawer", "container", "drawer",
                       ((-0.19, -0.19, 0.015), (0.21, 0.19, 0.28)),
                       ((-0.205, -0.205, 0.015), (0.225, 0.205, 0.28)),
                       "drawer"),
    )
})

PARTS: Mapping[str, PartSpec] = MappingProxyType({
    p.id: p
    for p in (
        # Hinged on the fridge's +y front edge; the 0.7 m door spans -y from there.
        PartSpec("fridge_door", "fridge", "fridge_door", "fridge_door_hinge", "hinge", (0.0, 0.0, 1.0),
                 (0.34, 0.35, 0.0), (0.045, -0.64, 1.0), math.pi / 2, "fridge"),
        # Hinged on the cabinet's -y front edge; the axis points down so that positive q swings it out.
        PartSpec("cabinet_door", "cabinet", "cabinet_door", "cabinet_door_hinge", "hinge", (0.0, 0.0, -1.0),
                 (0.26, -0.5, 0.0), (0.035, 0.45, 0.7), math.pi / 2, "cabinet"),
        PartSpec("drawer", "cabinet", "drawer", "drawer_slide", "slide", (1.0, 0.0, 0.0),
                 (0.0, 0.25, 0.58), (0.275, 0.0, 0.14), 0.35, "drawer"),
    )
})


def to_world(frame: Pose2D, local: Pose2D) -> Pose2D:
    """A pose given in a planar frame, expressed in the frame's parent."""
    c, s = math.cos(frame.yaw), math.sin(frame.yaw)
    yaw = math.atan2(math.sin(frame.yaw + local.yaw), math.cos(frame.yaw + local.yaw))
    return Pose2D(frame.x + c * local.x - s * local.y, frame.y + s * local.x + c * local.y, yaw)


def _facing(x: float, y: float, target_x: float, target_y: float) -> Pose2D:
    return Pose2D(x, y, math.atan2(target_y - y, target_x - x))


def _handle_in_parent(part: PartSpec) -> tuple[float, float]:
    """Closed-position handle (x, y) in the parent frame; hinge axes are +-z, slides do not rotate."""
    return part.anchor_m[0] + part.handle_m[0], part.anchor_m[1] + part.handle_m[1]


# Local robot poses per target, in the frame of the furniture it serves (yaw pi faces the furniture).
# Door poses stand outside the door's sweep, facing the closed handle, so the arm can follow the handle
# along its whole arc (0.22-0.82 m from the base centre).
_LOCAL_NAV: Mapping[str, tuple[str, Pose2D]] = MappingProxyType({
    "counter": ("counter", Pose2D(0.58, 0.0, math.pi)),
    "table": ("table", Pose2D(0.67, 0.0, math.pi)),
    "shelf": ("shelf", Pose2D(0.47, 0.0, math.pi)),
    "sink": ("sink", Pose2D(0.58, 0.0, math.pi)),
    "bin": ("bin", Pose2D(0.45, 0.0, math.pi)),
    "fridge": ("fridge", Pose2D(0.63, 0.0, math.pi)),
    "fridge_door": ("fridge", _facing(1.05, -0.25, *_handle_in_parent(PARTS["fridge_door"]))),
    "cabinet": ("cabinet", Pose2D(0.53, -0.25, math.pi)),
    "cabinet_door": ("cabinet", _facing(0.95, 0.05, *_handle_in_parent(PARTS["cabinet_door"]))),
    "drawer": ("cabinet", Pose2D(0.89, 0.25, math.pi)),
})

# Poses to look into a container from, where its manipulation pose shows nothing inside: from the cabinet's
# pose the head camera (1.8 m up, looking down) sees over the cabinet's top; 0.9 m further back it sees the
# shelf through the open door (a cup on it: 0 pixels at the manipulation pose, 330-360 from 0.8-1.0 m back).
# The fridge (a taller opening) and the drawer (open at the top) are seen into from their own poses.
LOOK_INTO: Mapping[str, str] = MappingProxyType({"cabinet_view": "cabinet"})  # pose name -> container
_LOCAL_LOOK: Mapping[str, tuple[str, Pose2D]] = MappingProxyType({
    "cabinet_view": ("cabinet", Pose2D(1.43, -0.25, math.pi)),
})

_SPAWN = ("counter", "table", "shelf", "sink", "fridge", "cabinet", "drawer")
_NORTH, _SOUTH, _EAST, _WEST = -math.pi / 2, math.pi / 2, math.pi, 0.0  # yaw facing away from that wall


def _layout(
    name: str,
    furniture: dict[str, Pose2D],
    robot_start: Pose2D,
    cameras: dict[str, CameraPlacement],
) -> Layout:
    poses = dict(furniture)
    drawer = PARTS["drawer"]
    poses["drawer"] = to_world(poses["cabinet"], Pose2D(drawer.anchor_m[0], drawer.anchor_m[1], 0.0))
    nav = {target: to_world(poses[owner], local) for target, (owner, local) in _LOCAL_NAV.items()}
    look = {name: to_world(poses[owner], local) for name, (owner, local) in _LOCAL_LOOK.items()}
    return Layout(
        name,
        MappingProxyType({fid: poses[fid] for fid in FURNITURE_IDS}),
        MappingProxyType(nav),
        MappingProxyType(look),
        _SPAWN,
        robot_start,
        MappingProxyType(cameras),
    )


def _cam(position: Vec3, target: Vec3) -> CameraPlacement:
    return CameraPlacement(position, target)


LAYOUTS: Mapping[str, Layout] = MappingProxyType({
    layout.name: layout
    for layout in (
        # L-kitchen: fridge, counter, sink and cabinet along the north wall, shelf on the east wall,
        # bin by the west wall, table in the middle.
        _layout(
            "kitchen_a",
            {
                "fridge": Pose2D(0.55, 4.665, _NORTH),
                "counter": Pose2D(1.85, 4.68, _NORTH),
                "sink": Pose2D(3.07, 4.68, _NORTH),
                "cabinet": Pose2D(4.1, 4.74, _NORTH),
                "shelf": Pose2D(5.79, 2.5, _EAST),
                "table": Pose2D(3.0, 2.2, 0.0),
                "bin": Pose2D(0.19, 1.2, _WEST),
            },
            Pose2D(1.5, 2.2, 0.0),
            {
                "kitchen_overview": _cam((2.5, -0.5, 4.2), (3.0, 2.5, 0.4)),
                "counter_cam": _cam((2.45, 2.6, 2.1), (2.45, 4.6, 0.8)),
                "table_cam": _cam((4.5, 0.9, 1.9), (3.0, 2.2, 0.7)),
                "storage_cam": _cam((2.4, 2.2, 2.3), (0.7, 4.0, 0.8)),
            },
        ),
        # Galley: counter and sink along the south wall, fridge and cabinet opposite them on the north
        # wall, shelf on the west wall, table at the east end, bin in the south-east corner.
        _layout(
            "kitchen_b",
            {
                "counter": Pose2D(1.6, 0.32, _SOUTH),
                "sink": Pose2D(2.82, 0.32, _SOUTH),
                "fridge": Pose2D(1.0, 4.665, _NORTH),
                "cabinet": Pose2D(2.6, 4.74, _NORTH),
                "shelf": Pose2D(0.21, 2.5, _WEST),
                "table": Pose2D(4.6, 2.5, _SOUTH),
                "bin": Pose2D(5.5, 0.19, _SOUTH),
            },
            Pose2D(3.0, 2.5, 0.0),
            {
                "kitchen_overview": _cam((3.0, -0.5, 4.8), (3.0, 2.5, 0.4)),
                "counter_cam": _cam((2.2, 2.4, 2.1), (2.2, 0.4, 0.8)),
                "table_cam": _cam((4.6, 4.6, 2.0), (4.6, 2.6, 0.7)),
                "storage_cam": _cam((1.8, 2.3, 2.3), (1.8, 4.5, 0.8)),
            },
        ),
        # Island: counter and sink on the east wall, fridge and bin on the south wall, cabinet on the
        # west wall, shelf on the north wall, table in the middle.
        _layout(
            "kitchen_c",
            {
                "counter": Pose2D(5.68, 1.6, _EAST),
                "sink": Pose2D(5.68, 2.82, _EAST),
                "fridge": Pose2D(0.8, 0.335, _SOUTH),
                "cabinet": Pose2D(0.26, 3.0, _WEST),
                "shelf": Pose2D(3.0, 4.79, _NORTH),
                "table": Pose2D(3.0, 2.5, 0.0),
                "bin": Pose2D(2.3, 0.19, _SOUTH),
            },
            Pose2D(2.0, 3.6, 0.0),
            {
                "kitchen_overview": _cam((1.5, 5.5, 4.2), (3.0, 2.5, 0.4)),
                "counter_cam": _cam((3.6, 2.2, 2.1), (5.6, 2.2, 0.8)),
                "table_cam": _cam((4.3, 4.1, 2.0), (3.0, 2.5, 0.7)),
                "storage_cam": _cam((2.5, 2.2, 2.3), (0.5, 2.2, 0.8)),
            },
        ),
    )
})


def get_layout(name: str) -> Layout:
    try:
        return LAYOUTS[name]
    except KeyError:
        raise UnknownLayout(f"no layout {name!r}; layouts: {sorted(LAYOUTS)}") from None
