"""Opening estimation (planner_ros.scene_graph.articulation) on depth rendered analytically: a cupboard with a
hinged door and a drawer in front of a hollow, a floor and a back wall, ray cast box by box."""
from __future__ import annotations

import math

import numpy as np
import pytest

from planner_ros.geometry import CameraIntrinsics, Pose3D
from planner_ros.scene_graph.articulation import estimate_opening
from planner_ros.scene_graph.model import DepthView
from planner_ros.scene_graph.semantic_map import Box, PartModel

INTRINSICS = CameraIntrinsics.from_vertical_fov(320, 240, math.radians(60.0))

# A door 0.7 m wide hinged on its +y edge (it swings out towards +x, the camera side) and a drawer
# front that slides out along +x; both close a hollow 0.4 m deep whose back is the wall below.
DOOR = PartModel(id="door", label="door", parent="cupboard", closes="cupboard", joint_type="hinge",
                 axis=(0.0, 0.0, 1.0), anchor=(0.015, 0.7, 0.0), open_q=math.pi / 2,
                 panel=Box((0.0, 0.0, 0.1), (0.03, 0.7, 1.5)))
DRAWER = PartModel(id="drawer", label="drawer", parent="cupboard", closes="drawer", joint_type="slide",
                   axis=(1.0, 0.0, 0.0), anchor=(0.0, 0.0, 0.0), open_q=0.35,
                   panel=Box((0.0, 1.0, 0.6), (0.02, 1.5, 0.9)))
STATIC = (Box((-0.5, -0.2, 0.0), (-0.4, 1.7, 1.6)),    # back of the hollow
          Box((-3.0, -3.0, -0.1), (5.0, 5.0, 0.0)),    # floor
          Box((-3.1, -3.0, 0.0), (-3.0, 5.0, 3.0)))    # wall of the room


def _look_at(eye: tuple[float, float, float], target: tuple[float, float, float]) -> Pose3D:
    """world_from_optical of a camera at `eye` looking at `target` (optical: z forward, x right, y down)."""
    forward = np.subtract(target, eye) / np.linalg.norm(np.subtract(target, eye))
    right = np.cross(forward, (0.0, 0.0, 1.0))
    right /= np.linalg.norm(right)
    T = np.eye(4)
    T[:3, :3] = np.column_stack([right, np.cross(forward, right), forward])
    T[:3, 3] = eye
    return Pose3D.from_matrix(T)


def _render(pose: Pose3D, openings: dict[str, float], camera: str = "cam") -> DepthView:
    """Depth of the static boxes and both panels at their openings: the nearest slab hit per pixel."""
    v, u = np.mgrid[0:INTRINSICS.height, 0:INTRINSICS.width]
    rays = np.stack([(u - INTRINSICS.cx) / INTRINSICS.fx, (v - INTRINSICS.cy) / INTRINSICS.fy,
                     np.ones(u.shape)], axis=-1).reshape(-1, 3)
    world_from_optical = pose.as_matrix()
    boxes = [(np.eye(4), box) for box in STATIC]
    boxes += [(part.transform(openings.get(part.id, 0.0)), part.panel) for part in (DOOR, DRAWER)]
    depth = np.full(len(rays), np.inf)
    for world_from_box, box in boxes:
        box_from_optical = np.linalg.inv(world_from_box) @ world_from_optical
        origin, directions = box_from_optical[:3, 3], rays @ box_from_optical[:3, :3].T
        with np.errstate(divide="ignore", invalid="ignore"):
            t1 = (np.asarray(box.lo) - origin) / directions
            t2 = (np.asarray(box.hi) - origin) / directions
        near, far = np.minimum(t1, t2).max(axis=1), np.maximum(t1, t2).min(axis=1)
        hit = (near <= far) & (near > 0.0)
        depth = np.where(hit, np.minimum(depth, near), depth)
    depth[~np.isfinite(depth)] = np.nan
    return DepthView(camera, 0.0, depth.reshape(u.shape).astype(np.float32), INTRINSICS, pose)


FRONT_LEFT = _look_at((2.6, -1.2, 1.6), (0.0, 0.6, 0.7))
FRONT_RIGHT = _look_at((2.4, 2.4, 1.4), (0.0, 0.6, 0.7))
AWAY = _look_at((2.6, -1.2, 1.6), (5.0, -3.0, 1.6))


@pytest.mark.parametrize("part", [DOOR, DRAWER], ids=lambda p: p.id)
@pytest.mark.parametrize("fraction", [0.0, 0.5, 1.0])
def test_recovers_closed_half_and_fully_open(part, fraction):
    views = [_render(FRONT_LEFT, {part.id: fraction}, "left"), _render(FRONT_RIGHT, {part.id: fraction}, "right")]
    estimate = estimate_opening(part, views)
    assert estimate is not None
    assert estimate.part_id == part.id
    assert abs(estimate.fraction - fraction) <= 0.1
    assert set(estimate.cameras) == {"left", "right"}
    assert estimate.agreement > 0.9
    if fraction == 0.5:  # at the threshold either side is right, and the confidence says so
        assert estimate.confidence < 0.5
    else:
        assert estimate.confidence > 0.8


@pytest.mark.parametrize("fraction", [0.3, 0.7])
def test_one_view_is_enough_and_the_other_part_does_not_disturb(fraction):
    view = _render(FRONT_LEFT, {"door": fraction, "drawer": 1.0 - fraction})
    door, drawer = estimate_opening(DOOR, [view]), estimate_opening(DRAWER, [view])
    assert door is not None and abs(door.fraction - fraction) <= 0.05
    assert drawer is not None and abs(drawer.fraction - (1.0 - fraction)) <= 0.05


def test_a_view_that_does_not_see_the_part_gives_no_estimate_and_no_camera():
    assert estimate_opening(DOOR, [_render(AWAY, {})]) is None
    assert estimate_opening(DOOR, []) is None
    estimate = estimate_opening(DOOR, [_render(AWAY, {}, "away"), _render(FRONT_LEFT, {"door": 1.0}, "front")])
    assert estimate is not None and estimate.cameras == ("front",)
    assert estimate.fraction > 0.9


def test_an_occluder_in_front_gives_no_estimate_rather_than_a_guess():
    view = _render(FRONT_LEFT, {"door": 0.6})
    hidden = DepthView(view.camera, view.stamp_s, np.full_like(view.depth_m, 0.6), view.intrinsics,
                       view.world_from_optical)
    assert estimate_opening(DOOR, [hidden]) is None
    assert estimate_opening(DRAWER, [hidden]) is None


def test_nan_and_zero_depth_are_ignored():
    view = _render(FRONT_LEFT, {"door": 0.8})
    rng = np.random.default_rng(0)
    depth = view.depth_m.copy()
    depth[rng.random(depth.shape) < 0.3] = np.nan
    depth[rng.random(depth.shape) < 0.2] = 0.0
    holes = DepthView(view.camera, view.stamp_s, depth, view.intrinsics, view.world_from_optical)
    estimate = estimate_opening(DOOR, [holes])
    assert estimate is not None and abs(estimate.fraction - 0.8) <= 0.05
    blank = DepthView(view.camera, view.stamp_s, np.full_like(depth, np.nan), view.intrinsics,
                      view.world_from_optical)
    assert estimate_opening(DOOR, [blank]) is None


def test_depth_that_does_not_match_the_intrinsics_is_refused():
    view = _render(FRONT_LEFT, {})
    wrong = DepthView(view.camera, view.stamp_s, view.depth_m[:, :-1], view.intrinsics, view.world_from_optical)
    with pytest.raises(ValueError, match="does not match"):
        estimate_opening(DOOR, [wrong])
