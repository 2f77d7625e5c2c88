"""Property tests of the MuJoCo kitchen scene: catalog, layouts, naming, seeding, cameras."""
from __future__ import annotations

import os

os.environ.setdefault("MUJOCO_GL", "osmesa")

import math  # noqa: E402

import mujoco  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from planner_ros.sim.catalog import KINDS, SHAPES, UnknownKind, resolve_kind  # noqa: E402
from planner_ros.sim.layouts import (  # noqa: E402
    FOOTPRINT_M,
    FURNITURE_IDS,
    LAYOUTS,
    LOOK_INTO,
    PARTS,
    ROOM_SIZE_M,
    Pose2D,
    get_layout,
    to_world,
)
from planner_ros.sim.scene import ObjectPlacement, SceneError, build_scene  # noqa: E402

REQUIRED_KINDS = {
    "apple", "orange", "lemon", "banana", "tomato", "mug", "cup", "bowl", "plate", "soda_can", "water_bottle",
    "cereal_box", "milk_carton", "sponge", "butter", "yogurt",
}
NAMED_TYPES = {
    "body": (mujoco.mjtObj.mjOBJ_BODY, "nbody"),
    "joint": (mujoco.mjtObj.mjOBJ_JOINT, "njnt"),
    "geom": (mujoco.mjtObj.mjOBJ_GEOM, "ngeom"),
    "site": (mujoco.mjtObj.mjOBJ_SITE, "nsite"),
    "camera": (mujoco.mjtObj.mjOBJ_CAMERA, "ncam"),
    "light": (mujoco.mjtObj.mjOBJ_LIGHT, "nlight"),
    "actuator": (mujoco.mjtObj.mjOBJ_ACTUATOR, "nu"),
    "equality": (mujoco.mjtObj.mjOBJ_EQUALITY, "neq"),
}


@pytest.fixture(scope="module", params=sorted(LAYOUTS))
def built(request):
    return build_scene(request.param, seed=0, num_random_objects=12)


# ------------------------------------------------------------------------------------------------ catalog


def test_catalog_has_the_required_kinds_and_more():
    assert REQUIRED_KINDS <= set(KINDS)
    assert len(KINDS) >= 16


@pytest.mark.parametrize("name", sorted(KINDS))
def test_kind_is_plausible_and_graspable(name):
    kind = KINDS[name]
    assert 0.01 <= kind.mass_kg <= 1.5
    assert all(0.01 <= s <= 0.3 for s in kind.size_m)
    density = kind.mass_kg / math.prod(kind.size_m)
    assert 50 <= density <= 1500, density
    # A 0.12 m gripper closes across the narrow horizontal axis with a centimetre to spare.
    assert kind.grasp_width_m <= 0.11
    assert all(p.shape in SHAPES for p in kind.parts)
    assert kind.palette and all(len(c) == 4 and all(0.0 <= v <= 1.0 for v in c) for c in kind.palette)
    assert kind.synonyms
    # Parts are centred: their joint bounding box is the kind's size, centred on the origin.
    lo = np.min([np.asarray(p.pos) - p.half_extents_m() for p in kind.parts], axis=0)
    hi = np.max([np.asarray(p.pos) + p.half_extents_m() for p in kind.parts], axis=0)
    np.testing.assert_allclose(hi - lo, kind.size_m, atol=1e-5)
    np.testing.assert_allclose((hi + lo) / 2, 0.0, atol=1e-5)


def test_resolve_kind_understands_synonyms():
    assert resolve_kind("soda can") == resolve_kind("Coke") == resolve_kind("can") == "soda_can"
    assert resolve_kind("cereal") == resolve_kind("cereal_box") == "cereal_box"
    assert resolve_kind("Water-Bottle") == "water_bottle"
    with pytest.raises(UnknownKind, match="spaceship"):
        resolve_kind("spaceship")


def test_banana_lies_down():
    sx, sy, sz = KINDS["banana"].size_m
    assert sx > 3 * sz and sy == pytest.approx(sz)


# ------------------------------------------------------------------------------------------------ layouts


def _footprint_box(layout_name: str, fid: str) -> tuple[np.ndarray, np.ndarray]:
    pose = get_layout(layout_name).furniture[fid]
    depth, width, _ = FOOTPRINT_M[fid]
    corners = np.array([to_world(pose, Pose2D(x, y, 0.0))[:2] for x in (-depth / 2, depth / 2)
                        for y in (-width / 2, width / 2)])
    return corners.min(axis=0), corners.max(axis=0)


@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_layout_fits_the_room_without_overlaps(name):
    layout = get_layout(name)
    assert set(layout.furniture) == set(FURNITURE_IDS)
    assert set(layout.nav_poses) == set(FURNITURE_IDS) | set(PARTS)
    assert set(layout.spawn_receptacles) <= set(FURNITURE_IDS)
    assert {"kitchen_overview", "counter_cam", "table_cam"} <= set(layout.cameras)
    boxes = {fid: _footprint_box(name, fid) for fid in FOOTPRINT_M}
    for fid, (lo, hi) in boxes.items():
        assert np.all(lo >= 0.0) and hi[0] <= ROOM_SIZE_M[0] and hi[1] <= ROOM_SIZE_M[1], fid
        assert math.remainder(layout.furniture[fid].yaw, math.pi / 2) == pytest.approx(0.0, abs=1e-9)
    for a, b in [(a, b) for a in boxes for b in boxes if a < b]:
        (alo, ahi), (blo, bhi) = boxes[a], boxes[b]
        assert np.any(ahi <= blo) or np.any(bhi <= alo), f"{a} overlaps {b}"
    assert set(layout.look_poses) == set(LOOK_INTO) and set(LOOK_INTO.values()) <= set(FURNITURE_IDS)
    # The robot (radius 0.24 m around its centre) parks inside the room, clear of all furniture.
    for target, pose in {**layout.nav_poses, **layout.look_poses}.items():
        centre = np.array([pose.x, pose.y])
        assert np.all(centre >= 0.24) and np.all(centre <= np.array(ROOM_SIZE_M) - 0.24), target
        for fid, (lo, hi) in boxes.items():
            gap = np.linalg.norm(np.maximum(np.maximum(lo - centre, centre - hi), 0.0))
            assert gap >= 0.24, f"nav pose of {target} is {gap:.2f} m from {fid}"


def test_furniture_ids_are_the_same_in_every_layout():
    assert len({tuple(sorted(layout.furniture)) for layout in LAYOUTS.values()}) == 1


# ------------------------------------------------------------------------------------------------- scene


def test_every_layout_compiles_with_its_index(built):
    model, index = built
    assert set(index.receptacles) == set(FURNITURE_IDS)
    assert set(index.parts) == {"fridge_door", "cabinet_door", "drawer"}
    joints = {p.joint for p in index.parts.values()}
    assert joints == {"fridge_door_hinge", "cabinet_door_hinge", "drawer_slide"}
    assert len(index.objects) == 12
    assert {"head_rgbd", "kitchen_overview", "counter_cam", "table_cam"} <= set(index.cameras)
    assert sum(1 for c in index.cameras.values() if c.mount == "world") >= 3
    assert 0.002 <= model.opt.timestep <= 0.005
    for part in index.parts.values():
        jid = model.joint(part.joint).id
        assert tuple(model.jnt_range[jid]) == (0.0, part.open_q) and part.open_q > 0.0
        assert model.actuator(part.actuator).trnid[0] == jid


def test_every_model_element_is_named_uniquely(built):
    model, _ = built
    for label, (obj, count) in NAMED_TYPES.items():
        names = [mujoco.mj_id2name(model, obj, i) for i in range(getattr(model, count))]
        if label == "body":
            names = names[1:]  # the world body
        assert all(names), f"unnamed {label}: {names.count(None)}"
        assert len(set(names)) == len(names), f"duplicate {label} names"


def test_every_name_in_the_index_exists_in_the_model(built):
    model, index = built
    T = mujoco.mjtObj

    def exists(obj, name):
        assert mujoco.mj_name2id(model, obj, name) >= 0, name

    for o in index.objects.values():
        exists(T.mjOBJ_BODY, o.body)
        exists(T.mjOBJ_JOINT, o.joint)
        exists(T.mjOBJ_EQUALITY, o.grasp_equality)
        for g in o.geoms:
            exists(T.mjOBJ_GEOM, g)
        assert model.body(o.body).subtreemass[0] == pytest.approx(o.mass_kg)
        assert not model.eq_active0[model.equality(o.grasp_equality).id]
    for r in index.receptacles.values():
        exists(T.mjOBJ_BODY, r.body)
    for p in index.parts.values():
        exists(T.mjOBJ_JOINT, p.joint)
        exists(T.mjOBJ_ACTUATOR, p.actuator)
        exists(T.mjOBJ_GEOM, p.handle_geom)
        exists(T.mjOBJ_SITE, p.handle_site)
    robot = index.robot
    for name in (robot.root_body, robot.base_body, robot.gripper_body):
        exists(T.mjOBJ_BODY, name)
    exists(T.mjOBJ_SITE, robot.grasp_site)
    for role, joint in robot.joints.items():
        exists(T.mjOBJ_JOINT, joint)
        exists(T.mjOBJ_ACTUATOR, robot.actuators[role])
    for camera in index.cameras:
        exists(T.mjOBJ_CAMERA, camera)
        assert model.camera(camera).fovy[0] == pytest.approx(60.0)


def test_robot_ranges_match_the_model(built):
    model, index = built
    robot = index.robot
    assert tuple(model.joint(robot.joints["lift"]).range) == robot.lift_range_m
    assert tuple(model.joint(robot.joints["arm"]).range) == robot.arm_range_m
    finger_max = sum(model.joint(robot.joints[side]).range[1] for side in ("gripper_left", "gripper_right"))
    assert finger_max == pytest.approx(robot.max_opening_m) == pytest.approx(0.12)


def test_same_seed_gives_the_identical_model():
    a, ia = build_scene("kitchen_b", 7)
    b, ib = build_scene("kitchen_b", 7)
    np.testing.assert_array_equal(a.qpos0, b.qpos0)
    np.testing.assert_array_equal(a.geom_rgba, b.geom_rgba)
    assert ia.objects == ib.objects


def test_different_seeds_really_differ():
    a, ia = build_scene("kitchen_b", 7)
    b, ib = build_scene("kitchen_b", 8)
    assert a.nq != b.nq or not np.array_equal(a.qpos0, b.qpos0)
    assert [o.kind for o in ia.objects.values()] != [o.kind for o in ib.objects.values()]
    given = {"cup_1": ObjectPlacement("cup", "table")}
    one, _ = build_scene("kitchen_b", 1, given, 0)
    two, _ = build_scene("kitchen_b", 2, given, 0)
    assert not np.array_equal(one.qpos0, two.qpos0)  # same object, different spot


def test_seeded_colours_come_from_the_palette():
    _, index = build_scene("kitchen_a", 3, num_random_objects=12)
    for o in index.objects.values():
        assert o.rgba in KINDS[o.kind].palette


def test_given_objects_keep_their_ids_and_random_ones_do_not_clash():
    given = {
        "soda_can_1": ObjectPlacement("coke", "table", rgba=(0.1, 0.2, 0.3, 1.0)),
        "my_mug": ObjectPlacement("mug", "counter"),
    }
    model, index = build_scene("kitchen_a", 0, given, num_random_objects=20)
    assert len(index.objects) == 22
    assert index.objects["soda_can_1"].kind == "soda_can"
    assert index.objects["soda_can_1"].rgba == (0.1, 0.2, 0.3, 1.0)
    assert index.objects["soda_can_1"].spawned_in == "table"
    assert index.objects["my_mug"].spawned_in == "counter"
    for oid, info in index.objects.items():
        if oid not in given:
            assert oid.startswith(info.kind + "_") and oid[len(info.kind) + 1:].isdigit()


def test_objects_spawn_inside_their_region_without_overlap():
    model, index = build_scene("kitchen_c", 5, num_random_objects=16)
    footprints = []
    for o in index.objects.values():
        qadr = model.jnt_qposadr[model.joint(o.joint).id]
        x, y, z, w, _, _, qz = model.qpos0[qadr:qadr + 7]
        yaw = 2.0 * math.atan2(qz, w)
        c, s = abs(math.cos(yaw)), abs(math.sin(yaw))
        half = np.array([c * o.size_m[0] + s * o.size_m[1], s * o.size_m[0] + c * o.size_m[1]]) / 2
        lo, hi = (np.asarray(b) for b in index.receptacles[o.spawned_in].region_world)
        centre = np.array([x, y])
        assert np.all(centre - half >= lo[:2] - 1e-6) and np.all(centre + half <= hi[:2] + 1e-6)
        assert z - o.size_m[2] / 2 == pytest.approx(lo[2], abs=0.005)
        footprints.append((o.id, np.array([x, y]), half, z))
    for i, (a, pa, ha, za) in enumerate(footprints):
        for b, pb, hb, zb in footprints[i + 1:]:
            apart = np.any(np.abs(pa - pb) >= ha + hb) or abs(za - zb) > 0.3
            assert apart, f"{a} overlaps {b}"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"layout": "kitchen_z"}, "kitchen_z"),
        ({"objects": {"x_1": ObjectPlacement("spaceship", "table")}}, "spaceship"),
        ({"objects": {"x_1": ObjectPlacement("apple", "garage")}}, "garage"),
        ({"objects": {"table": ObjectPlacement("apple", "table")}}, "'table'"),
        ({"objects": {"1bad": ObjectPlacement("apple", "table")}}, "1bad"),
        ({"objects": {"x_1": ObjectPlacement("apple", "table", rgba=(2.0, 0, 0, 1))}}, "rgba"),
        ({"objects": {"tall": ObjectPlacement("cereal_box", "drawer")}}, "'tall'.*'drawer'"),
        ({"objects": {f"p{i}": ObjectPlacement("plate", "bin") for i in range(12)}}, "'bin'"),
        ({"num_random_objects": 400}, "too many objects"),
        ({"seed": 1.5}, "seed"),
        ({"num_random_objects": -1}, "num_random_objects"),
    ],
)
def test_scene_errors_name_the_culprit(kwargs, match):
    args = {"layout": "kitchen_a", "seed": 0, "objects": None, "num_random_objects": 0, **kwargs}
    with pytest.raises(SceneError, match=match):
        build_scene(**args)


@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_overview_camera_sees_all_furniture(name):
    model, index = build_scene(name, 0, num_random_objects=0)
    data = mujoco.MjData(model)
    mujoco.mj_forward(model, data)
    renderer = mujoco.Renderer(model, 240, 320)
    try:
        renderer.enable_segmentation_rendering()
        renderer.update_scene(data, camera="kitchen_overview")
        seg = renderer.render()
    finally:
        renderer.close()
    geom_ids = seg[..., 0][seg[..., 1] == mujoco.mjtObj.mjOBJ_GEOM]
    # Doors and the drawer belong to their furniture's body tree, so count pixels by root body.
    pixel_roots = model.body_rootid[model.geom_bodyid[geom_ids]]
    pixels = {fid: int((pixel_roots == model.body(fid).id).sum()) for fid in FOOTPRINT_M}
    assert min(pixels.values()) > 100, pixels
