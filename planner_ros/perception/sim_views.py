"""Labelled RGB-D views of randomised simulator kitchens: training data for the embedded detector and the
ground truth of the perception evaluation.

A view is one rendered camera frame plus, for every object kind instance it shows, the tight 2D box of its
visible pixels (from the segmentation render, so occlusion is exact) and its true 3D box. Scenes are drawn
from a seed: layout, objects, the robot's pose (parked at a random receptacle with jitter, arm at a random
height), door openings, fixed-camera jitter and light strength all follow from it, so a seed range is a
reproducible data set. Training uses seeds from TRAIN_SEEDS, evaluation from EVAL_SEEDS; both are disjoint
from each other and from the task suite's seeds (101-155).
"""
from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import planner_ros.sim  # noqa: F401,I001  (sets MUJOCO_GL before mujoco is first imported)
import mujoco
import numpy as np

from planner_ros.sim.cameras import CameraFrame, CameraRig
from planner_ros.sim.catalog import KINDS
from planner_ros.sim.layouts import LAYOUTS
from planner_ros.sim.scene import ObjectPlacement, SceneError
from planner_ros.sim.world import World, run_to_completion

__all__ = ["BIN_OBJECT_PREFIX", "CLASS_NAMES", "EVAL_SEEDS", "FIXED_CAMERAS", "GtObject", "LabelledView",
           "MIN_LABEL_PIXELS", "ROBOT_CAMERAS", "TRAIN_SEEDS", "labelled_views", "random_robot_pose", "random_scene",
           "scene_views"]

# The detector's classes: every graspable kind of the catalogue, in catalogue order (class id = index).
CLASS_NAMES: tuple[str, ...] = tuple(KINDS)
TRAIN_SEEDS = range(10_000, 20_000)
EVAL_SEEDS = range(20_000, 30_000)
# An object with fewer visible pixels than this (at 640x480) is not labelled: a sliver is not an object a
# detector can be asked to find, and labelling it would teach the model to hallucinate from noise.
MIN_LABEL_PIXELS = 30
BIN_OBJECT_PREFIX = "binned_"   # ids of the objects `objects_in_bin` adds
FIXED_CAMERAS = ("kitchen_overview", "counter_cam", "table_cam", "storage_cam")
ROBOT_CAMERAS = ("head_rgbd", "wrist_rgbd")


@dataclass(frozen=True)
class GtObject:
    object_id: str
    kind: str
    class_id: int
    box_xyxy: tuple[float, float, float, float]  # pixel edges of the visible pixels (x1, y1, x2+1, y2+1)
    visible_px: int
    centre_m: tuple[float, float, float]  # world position of the object's bounding-box centre
    size_m: tuple[float, float, float]


@dataclass(frozen=True)
class LabelledView:
    seed: int
    frame: CameraFrame
    objects: tuple[GtObject, ...]  # every object with at least MIN_LABEL_PIXELS visible pixels
    instance_labels: np.ndarray    # (H, W) uint16, World.instance_label_lookup's encoding (for the oracle)


def _jitter_fixed_cameras(model: mujoco.MjModel, rng: np.random.Generator) -> None:
    for name in FIXED_CAMERAS:
        cam = model.camera(name)
        cam.pos[:] = cam.pos + rng.normal(0.0, 0.04, 3)
        # A small random rotation about a random axis (quaternion w, x, y, z in MuJoCo).
        axis = rng.normal(size=3)
        axis /= np.linalg.norm(axis)
        half = math.radians(rng.normal(0.0, 2.0)) / 2.0
        dq = np.concatenate([[math.cos(half)], math.sin(half) * axis])
        out = np.zeros(4)
        mujoco.mju_mulQuat(out, dq, cam.quat.copy())
        cam.quat[:] = out


def _scale_lights(model: mujoco.MjModel, rng: np.random.Generator) -> None:
    gain = rng.uniform(0.75, 1.25)
    model.light_diffuse[:] = np.clip(model.light_diffuse * gain, 0.0, 1.0)


def _ground_truth(world: World, frame: CameraFrame, seed: int, lut: np.ndarray) -> LabelledView:
    seg = frame.segmentation
    objects = []
    for oid, info in world.index.objects.items():
        mask = np.isin(seg, world.object_geom_ids(oid))
        count = int(mask.sum())
        if count < MIN_LABEL_PIXELS:
            continue
        rows = np.flatnonzero(mask.any(axis=1))
        cols = np.flatnonzero(mask.any(axis=0))
        pose = world.object_pose(oid)
        objects.append(GtObject(oid, info.kind, CLASS_NAMES.index(info.kind),
                                (float(cols[0]), float(rows[0]), float(cols[-1] + 1), float(rows[-1] + 1)),
                                count, tuple(float(v) for v in pose.position_m), tuple(info.size_m)))
    return LabelledView(seed, frame, tuple(objects), lut[seg])


def random_robot_pose(world: World, rng: np.random.Generator) -> None:
    """Park the robot at a random receptacle's navigation pose (with jitter) and raise its arm at random."""
    index = world.index
    target = rng.choice(sorted(index.nav_poses))
    nav = index.nav_poses[target]
    run_to_completion(world.move_base_to(nav.x + rng.normal(0.0, 0.12), nav.y + rng.normal(0.0, 0.12),
                                         nav.yaw + rng.normal(0.0, 0.25), speed_mps=1.5))
    lo, hi = index.robot.lift_range_m
    a_lo, a_hi = index.robot.arm_range_m
    run_to_completion(world.move_arm(rng.uniform(max(lo, 0.5), hi), rng.uniform(a_lo, a_lo + 0.6 * (a_hi - a_lo)),
                                     rng.uniform(-1.0, 1.0)))


def _bin_objects(seed: int, most: int) -> dict[str, ObjectPlacement]:
    """1..`most` objects of random kinds dropped into the bin (their own generator, so the rest of the draw
    order is unchanged). Random objects never spawn in the bin, yet a moved or discarded object ends there."""
    if most <= 0:
        return {}
    rng = np.random.default_rng([seed, 1])
    kinds = sorted(KINDS)
    return {f"{BIN_OBJECT_PREFIX}{k}": ObjectPlacement(kinds[int(rng.integers(len(kinds)))], "bin")
            for k in range(int(rng.integers(1, most + 1)))}


def random_scene(seed: int, *, objects_in_bin: int = 0) -> tuple[World, np.random.Generator]:
    """The randomised scene of `seed` (layout, objects, camera jitter, lights, door openings), settled, and
    the seed's generator in the state the robot poses draw from next. `objects_in_bin` > 0 adds up to that
    many objects in the bin (training data only: the evaluation's scenes are drawn with 0)."""
    rng = np.random.default_rng(seed)
    layout = sorted(LAYOUTS)[int(rng.integers(len(LAYOUTS)))]
    num_random = int(rng.integers(6, 15))
    binned = _bin_objects(seed, objects_in_bin)
    while True:
        try:
            world = World(layout, seed, binned, num_random)
            break
        except SceneError:
            if not binned:
                raise
            binned = dict(list(binned.items())[:-1])  # the bin is small: drop the last until the rest fit
    _jitter_fixed_cameras(world.model, rng)
    _scale_lights(world.model, rng)
    for part in sorted(world.index.parts):
        if rng.random() < 0.4:
            run_to_completion(world.drive_articulation(part, float(rng.uniform(0.3, 1.0))))
    world.settle(1.0)
    return world, rng


def scene_views(seed: int, *, robot_poses: int = 2, width: int = 640, height: int = 480,
                fixed_cameras: tuple[str, ...] = FIXED_CAMERAS, robot_cameras: tuple[str, ...] = ROBOT_CAMERAS,
                objects_in_bin: int = 0) -> Iterator[tuple[World, LabelledView]]:
    """labelled_views with the world each view was rendered from (in its state at that view: read it
    before advancing the generator)."""
    world, rng = random_scene(seed, objects_in_bin=objects_in_bin)
    lut = world.instance_label_lookup()
    rig = CameraRig(world.model, fixed_cameras + robot_cameras, width=width, height=height)
    try:
        for pose_index in range(max(1, robot_poses)):
            if robot_poses > 0:
                random_robot_pose(world, rng)
            names = robot_cameras + (fixed_cameras if pose_index == 0 else ())
            for name in names:
                frame = rig.render(world.data, name, segmentation=True)
                yield world, _ground_truth(world, frame, seed, lut)
    finally:
        rig.close()


def labelled_views(seed: int, *, robot_poses: int = 2, width: int = 640, height: int = 480,
                   fixed_cameras: tuple[str, ...] = FIXED_CAMERAS, robot_cameras: tuple[str, ...] = ROBOT_CAMERAS,
                   objects_in_bin: int = 0) -> Iterator[LabelledView]:
    """Every camera's labelled view of the scene of `seed`, the robot cameras from `robot_poses` poses."""
    views = scene_views(seed, robot_poses=robot_poses, width=width, height=height, fixed_cameras=fixed_cameras,
                        robot_cameras=robot_cameras, objects_in_bin=objects_in_bin)
    try:
        for _, view in views:
            yield view
    finally:
        views.close()  # releases the renderer now when a caller stops early
