"""Behaviour of the MuJoCo kitchen world: settling, containment, navigation, grasping, articulation."""
from __future__ import annotations

import os

os.environ.setdefault("MUJOCO_GL", "osmesa")

import math  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from planner_ros.geometry import Pose3D, quaternion_to_matrix  # noqa: E402
from planner_ros.sim.layouts import LAYOUTS  # noqa: E402
from planner_ros.sim.scene import ObjectPlacement  # noqa: E402
from planner_ros.sim.world import (  # noqa: E402
    GraspError,
    GroundTruth,
    UnknownId,
    Unreachable,
    World,
    run_to_completion,
)


def _angle_diff(a: float, b: float) -> float:
    return abs(math.remainder(a - b, 2 * math.pi))


def _top_down_grasp(world: World, object_id: str) -> None:
    """Open, come down over the object with the fingers across its narrow side, close, attach."""
    pose = world.object_pose(object_id)
    size = world.index.objects[object_id].size_m
    rotation = quaternion_to_matrix(pose.orientation_xyzw)
    yaw = math.atan2(rotation[1, 0], rotation[0, 0]) + (0.0 if size[1] <= size[0] else math.pi / 2)
    x, y, z = pose.position_m
    grasp_z = z + size[2] / 2 - min(0.03, size[2] / 2)
    run_to_completion(world.set_gripper(0.12))
    run_to_completion(world.move_gripper_to((x, y, grasp_z + 0.12), gripper_yaw=yaw))
    run_to_completion(world.move_gripper_to((x, y, grasp_z), gripper_yaw=yaw))
    run_to_completion(world.set_gripper(min(size[0], size[1]) - 0.01))
    world.attach(object_id)


@pytest.fixture()
def table_world():
    world = World("kitchen_a", 3, objects={"mug_1": ObjectPlacement("mug", "table")}, num_random_objects=2)
    world.settle(1.0)
    return world


# ----------------------------------------------------------------------------------------- settling


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
@pytest.mark.parametrize("seed", [0, 1])
def test_spawned_objects_stay_on_or_in_their_receptacle(layout, seed):
    world = World(layout, seed, num_random_objects=12)
    assert world.settle(2.0)
    for oid, info in world.index.objects.items():
        kind = world.index.receptacles[info.spawned_in].kind
        assert world.containment(oid) == ("in" if kind == "container" else "on", info.spawned_in), oid


# -------------------------------------------------------------------------------------- containment


def test_containment_of_teleported_objects():
    world = World("kitchen_b", 0, {"can": ObjectPlacement("soda_can", "counter")}, num_random_objects=0)
    height = world.index.objects["can"].size_m[2]
    (lo, hi) = world.index.receptacles["table"].volume_world
    world.teleport_object("can", ((lo[0] + hi[0]) / 2, (lo[1] + hi[1]) / 2, lo[2] + height / 2 + 0.01))
    world.settle(1.0)
    assert world.containment("can") == ("on", "table")

    run_to_completion(world.drive_articulation("drawer", 1.0))
    assert world.opening("drawer") > 0.9
    (lo, hi) = world.placement_region("drawer")  # where the open drawer's floor is now
    assert (lo, hi) != world.index.receptacles["drawer"].region_world  # it moved out since build time
    world.teleport_object("can", ((lo[0] + hi[0]) / 2, (lo[1] + hi[1]) / 2, lo[2] + height / 2 + 0.01))
    world.settle(1.0)
    assert world.containment("can") == ("in", "drawer")

    world.teleport_object("can", (3.0, 2.5, height / 2 + 0.01))
    world.settle(1.0)
    assert world.containment("can") == ("none", None)


# ---------------------------------------------------------------------------------------- navigation


def test_move_base_reaches_every_navigation_pose():
    world = World("kitchen_c", 0, num_random_objects=0)
    for target, goal in world.index.nav_poses.items():
        run_to_completion(world.move_base_to(*goal, speed_mps=0.8))
        pose = world.base_pose()
        assert math.hypot(pose.x - goal.x, pose.y - goal.y) < 0.02, target
        assert _angle_diff(pose.yaw, goal.yaw) < math.radians(2.0), target


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_every_region_and_handle_is_reachable_from_its_navigation_pose(layout):
    world = World(layout, 0, num_random_objects=0)
    for pid in world.index.parts:
        nav = world.index.nav_poses[pid]
        for fraction in (0.0, 0.5, 1.0):
            run_to_completion(world.drive_articulation(pid, fraction))
            world.solve_ik(world.handle_position(pid), base_xy=(nav.x, nav.y))  # raises Unreachable if not
    # With everything open, every corner of every placement region, just above its floor.
    for rid in world.index.receptacles:
        nav = world.index.nav_poses[rid]
        (x0, y0, z0), (x1, y1, _) = world.placement_region(rid)
        for x in (x0, x1):
            for y in (y0, y1):
                world.solve_ik((x, y, z0 + 0.04), base_xy=(nav.x, nav.y))


# ----------------------------------------------------------------------------------------- grasping


def test_pick_lift_and_place_on_the_table(table_world):
    world = table_world
    run_to_completion(world.move_base_to(*world.index.nav_poses["table"]))
    _top_down_grasp(world, "mug_1")
    assert world.held_object() == "mug_1"
    z_before = world.object_pose("mug_1").position_m[2]
    lift, extension, _ = world.arm_state()
    run_to_completion(world.move_arm(lift + 0.15, extension))
    assert world.object_pose("mug_1").position_m[2] - z_before >= 0.1
    assert world.containment("mug_1") == ("held_by", "robot")

    x, y, _ = world.ee_position()
    assert world.detach() == "mug_1"
    assert world.held_object() is None
    run_to_completion(world.set_gripper(0.12))
    world.settle(2.0)
    pose = world.object_pose("mug_1")
    assert pose.position_m[2] < z_before + 0.02  # it fell back down
    assert math.hypot(pose.position_m[0] - x, pose.position_m[1] - y) < 0.05
    assert world.containment("mug_1") == ("on", "table")


def test_attach_refuses_far_objects_and_a_second_object(table_world):
    world = table_world
    far = next(oid for oid in world.index.objects if oid != "mug_1")
    with pytest.raises(GraspError, match="mug_1.*from it"):
        world.attach("mug_1")
    run_to_completion(world.move_base_to(*world.index.nav_poses["table"]))
    _top_down_grasp(world, "mug_1")
    with pytest.raises(GraspError, match="already holding 'mug_1'"):
        world.attach(far)
    with pytest.raises(GraspError, match="held"):
        world.teleport_object("mug_1", (1.0, 1.0, 0.1))


def test_unreachable_targets_name_the_limit(table_world):
    world = table_world
    x, y, _ = world.base_pose()
    with pytest.raises(Unreachable, match="reaches 0.22-0.82 m"):
        world.solve_ik((x + 2.0, y, 0.8))
    with pytest.raises(Unreachable, match="reaches"):
        world.solve_ik((x + 0.05, y, 0.8))
    with pytest.raises(Unreachable, match="height 2.000"):
        world.solve_ik((x + 0.5, y, 2.0))
    with pytest.raises(Unreachable, match="lift 1.5"):
        world.move_arm(1.5, 0.2)
    with pytest.raises(Unreachable, match="extension 0.9"):
        world.move_arm(0.8, 0.9)
    with pytest.raises(ValueError, match="0.2"):
        world.set_gripper(0.2)


def test_gripper_yaw_is_folded_into_the_wrist_range(table_world):
    world = table_world
    x, y, yaw = world.base_pose()
    target = (x + 0.5 * math.cos(yaw), y + 0.5 * math.sin(yaw), 0.9)
    run_to_completion(world.move_gripper_to(target, gripper_yaw=yaw + math.pi - 0.3))
    _, _, wrist = world.arm_state()
    assert wrist == pytest.approx(-0.3, abs=0.03)
    assert np.allclose(world.ee_position(), target, atol=0.01)


# -------------------------------------------------------------------------------------- articulation


def test_fridge_door_opens_and_closes():
    world = World("kitchen_a", 0, num_random_objects=0)
    assert world.opening("fridge_door") < 0.01
    run_to_completion(world.drive_articulation("fridge_door", 1.0))
    assert world.opening("fridge_door") > 0.9
    world.settle(1.0)
    assert world.opening("fridge_door") > 0.9  # stays where it was left
    run_to_completion(world.drive_articulation("fridge_door", 0.0))
    assert world.opening("fridge_door") < 0.05


@pytest.mark.parametrize("part", ["fridge_door", "cabinet_door", "drawer"])
def test_a_locked_part_does_not_open(part):
    world = World("kitchen_a", 0, num_random_objects=0)
    joint = world.model.joint(world.index.parts[part].joint).id
    world.model.jnt_range[joint] = [0.0, 0.01]
    start = world.time_s
    run_to_completion(world.drive_articulation(part, 1.0))
    assert world.opening(part) < 0.05
    assert world.time_s - start < 1.5  # it noticed the stall instead of pushing on


def test_an_object_in_the_drawer_moves_with_it():
    world = World("kitchen_c", 2, objects={"box": ObjectPlacement("butter", "drawer")}, num_random_objects=0)
    world.settle(1.0)
    before = np.array(world.object_pose("box").position_m)
    handle_before = np.array(world.handle_position("drawer"))
    run_to_completion(world.drive_articulation("drawer", 1.0))
    world.settle(1.0)
    moved = np.array(world.object_pose("box").position_m) - before
    travel = np.array(world.handle_position("drawer")) - handle_before
    assert np.linalg.norm(travel) > 0.3
    np.testing.assert_allclose(moved, travel, atol=0.02)
    assert world.containment("box") == ("in", "drawer")


# ---------------------------------------------------------------------------------- queries and motion


def test_queries_return_copies_and_ground_truth_is_complete(table_world):
    world = table_world
    pose = world.object_pose("mug_1")
    assert isinstance(pose, Pose3D)
    velocity = world.object_velocity("mug_1")
    assert len(velocity.linear_mps) == 3 and len(velocity.angular_radps) == 3
    assert np.linalg.norm(velocity.linear_mps) < 0.01
    # Plain tuples of floats, never arrays that could be views into MjData.
    for value in (world.ee_position(), world.base_pose(), velocity.linear_mps, pose.position_m,
                  *world.placement_region("table")):
        assert isinstance(value, tuple) and all(type(v) is float for v in value)
    ee = world.ee_position()
    lift, extension, _ = world.arm_state()
    run_to_completion(world.move_arm(lift + 0.1, extension))
    assert world.ee_position()[2] == pytest.approx(ee[2] + 0.1, abs=0.005)
    truth = world.ground_truth()
    assert isinstance(truth, GroundTruth)
    assert truth.time_s == pytest.approx(world.time_s)
    assert {o.id for o in truth.objects} == set(world.index.objects)
    assert all(np.all(np.isfinite(o.pose.position_m)) for o in truth.objects)
    assert set(truth.openings) == {"fridge_door", "cabinet_door", "drawer"}
    assert all(0.0 <= v <= 1.0 for v in truth.openings.values())
    assert truth.held_object is None
    assert truth.base_pose == world.base_pose()
    assert world.gripper_opening_m() == pytest.approx(0.06, abs=0.005)


def test_unknown_ids_are_named(table_world):
    with pytest.raises(UnknownId, match="ghost"):
        table_world.object_pose("ghost")
    with pytest.raises(UnknownId, match="oven_door"):
        table_world.opening("oven_door")
    with pytest.raises(ValueError, match="1.5"):
        table_world.drive_articulation("drawer", 1.5)


def test_motions_are_stepwise_and_can_be_stopped_early():
    world = World("kitchen_a", 0, num_random_objects=0)
    motion = world.move_base_to(4.0, 1.0, 0.0)
    progress = [next(motion) for _ in range(40)]
    assert progress == sorted(progress) and 0.0 < progress[-1] < 1.0
    motion.close()
    assert world.time_s == pytest.approx(40 * 0.02)
    stopped_at = world.base_pose()
    world.step(250)
    assert math.hypot(world.base_pose().x - stopped_at.x, world.base_pose().y - stopped_at.y) < 0.1


def test_same_seed_gives_the_same_trajectory():
    def rollout() -> np.ndarray:
        world = World("kitchen_b", 4, num_random_objects=10)
        run_to_completion(world.move_base_to(*world.index.nav_poses["table"]))
        run_to_completion(world.drive_articulation("drawer", 1.0))
        return world.data.qpos.copy()

    np.testing.assert_array_equal(rollout(), rollout())


def test_reset_rebuilds_the_scene(table_world):
    world = table_world
    world.reset("kitchen_c", 9, num_random_objects=3)
    assert world.index.layout == "kitchen_c" and world.time_s == 0.0
    assert len(world.index.objects) == 3
    assert world.held_object() is None
