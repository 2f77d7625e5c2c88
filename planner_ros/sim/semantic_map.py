"""The embedded kitchen's semantic map (planner_ros.scene_graph.semantic_map) from its layout geometry.

Only what a robot would know before the run: furniture poses and sizes, receptacle volumes, how the doors
and the drawer move, where the robot stands to use each receptacle. No state (openings, objects) is read.
"""
from __future__ import annotations

import math

import numpy as np

from planner_ros.scene_graph.semantic_map import Box, PartModel, ReceptacleModel, SemanticMap, Viewpoint
from planner_ros.sim.layouts import FOOTPRINT_M, LOOK_INTO, PARTS, RECEPTACLES, Box3, Pose2D, get_layout
from planner_ros.sim.scene import part_panel_box

__all__ = ["semantic_map_for_layout"]


def _frame(pose: Pose2D, z: float = 0.0) -> np.ndarray:
    c, s = math.cos(pose.yaw), math.sin(pose.yaw)
    T = np.eye(4)
    T[:3, :3] = [[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]]
    T[:3, 3] = (pose.x, pose.y, z)
    return T


def _world_box(T: np.ndarray, box: Box3) -> Box:
    corners = np.array([[x, y, z] for x in (box[0][0], box[1][0]) for y in (box[0][1], box[1][1])
                        for z in (box[0][2], box[1][2])])
    world = corners @ T[:3, :3].T + T[:3, 3]
    return Box(tuple(world.min(axis=0).round(6)), tuple(world.max(axis=0).round(6)))


def semantic_map_for_layout(layout_name: str) -> SemanticMap:
    layout = get_layout(layout_name)
    part_frames = {}
    for pid, part in PARTS.items():
        parent = _frame(layout.furniture[part.parent])
        offset = np.eye(4)
        offset[:3, 3] = part.anchor_m
        part_frames[pid] = parent @ offset
    receptacles = {}
    for rid, spec in RECEPTACLES.items():
        if spec.body in PARTS:  # the drawer: its frame is the part's, closed
            T = part_frames[spec.body]
            furniture = _world_box(T, spec.volume)
        else:
            T = _frame(layout.furniture[rid])
            d, w, h = FOOTPRINT_M[rid]
            furniture = _world_box(T, ((-d / 2, -w / 2, 0.0), (d / 2, w / 2, h)))
        receptacles[rid] = ReceptacleModel(rid, rid.replace("_", " "), spec.kind, _world_box(T, spec.volume),
                                           furniture, spec.part, moves_with_part=spec.body in PARTS)
    parts = {}
    for pid, part in PARTS.items():
        T = part_frames[pid]
        axis = T[:3, :3] @ np.asarray(part.axis)
        parts[pid] = PartModel(pid, pid.replace("_", " "), part.parent, part.receptacle, part.joint_type,
                               tuple(axis.round(9).tolist()), tuple(T[:3, 3].round(6).tolist()), part.open_q,
                               _world_box(T, part_panel_box(pid)))
    viewpoints = {name: Viewpoint(name, p.x, p.y, p.yaw, name) for name, p in layout.nav_poses.items()}
    viewpoints.update({name: Viewpoint(name, p.x, p.y, p.yaw, LOOK_INTO[name], look_inside=True)
                       for name, p in layout.look_poses.items()})
    return SemanticMap("map", receptacles, parts, viewpoints)
