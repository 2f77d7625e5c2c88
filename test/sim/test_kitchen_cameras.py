"""Camera geometry in the real kitchen: every object pixel's depth, back-projected with the published
intrinsics and world_from_optical, lands on the true surface of that object's geoms.

Distances are computed analytically per MuJoCo primitive from data.geom_xpos / geom_xmat and
model.geom_size. Ellipsoids use the first-order distance estimate f / |grad f| of f = |p / r| - 1, which is
exact on spheres and accurate to O(d^2) near the surface (well below a millimetre at 1 cm for these
object-sized ellipsoids).
"""
from __future__ import annotations

import os

os.environ.setdefault("MUJOCO_GL", "osmesa")

import mujoco  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from planner_ros.geometry import transform_points  # noqa: E402
from planner_ros.sim.cameras import CameraRig  # noqa: E402
from planner_ros.sim.layouts import LAYOUTS  # noqa: E402
from planner_ros.sim.scene import ObjectPlacement  # noqa: E402
from planner_ros.sim.world import World, run_to_completion  # noqa: E402

TOLERANCE_M = 0.01
MIN_PIXELS = 50
SEED = 5
# One object of every primitive shape on the table, in front of the robot's head camera.
OBJECTS = {
    "apple_t": ObjectPlacement("apple", "table"),        # sphere + cylinder
    "lemon_t": ObjectPlacement("lemon", "table"),        # ellipsoid
    "banana_t": ObjectPlacement("banana", "table"),      # capsule
    "cereal_t": ObjectPlacement("cereal_box", "table"),  # box
    "mug_t": ObjectPlacement("mug", "table"),            # cylinder + box
    # Behind doors, which the fixture opens for the storage camera.
    "milk_f": ObjectPlacement("milk_carton", "fridge"),
    "jar_c": ObjectPlacement("jar", "cabinet"),
    "potato_d": ObjectPlacement("potato", "drawer"),
}


def _box(local: np.ndarray, size: np.ndarray) -> np.ndarray:
    q = np.abs(local) - size
    return np.abs(np.linalg.norm(np.maximum(q, 0.0), axis=1) + np.minimum(q.max(axis=1), 0.0))


def _sphere(local: np.ndarray, size: np.ndarray) -> np.ndarray:
    return np.abs(np.linalg.norm(local, axis=1) - size[0])


def _cylinder(local: np.ndarray, size: np.ndarray) -> np.ndarray:
    radius, half = size[0], size[1]
    d = np.stack([np.linalg.norm(local[:, :2], axis=1) - radius, np.abs(local[:, 2]) - half], axis=1)
    return np.abs(np.linalg.norm(np.maximum(d, 0.0), axis=1) + np.minimum(d.max(axis=1), 0.0))


def _capsule(local: np.ndarray, size: np.ndarray) -> np.ndarray:
    radius, half = size[0], size[1]
    axis = np.zeros_like(local)
    axis[:, 2] = np.clip(local[:, 2], -half, half)
    return np.abs(np.linalg.norm(local - axis, axis=1) - radius)


def _ellipsoid(local: np.ndarray, size: np.ndarray) -> np.ndarray:
    k0 = np.linalg.norm(local / size, axis=1)
    k1 = np.linalg.norm(local / size**2, axis=1)
    return np.abs(k0 * (k0 - 1.0) / np.maximum(k1, 1e-12))


DISTANCE = {
    mujoco.mjtGeom.mjGEOM_BOX: _box,
    mujoco.mjtGeom.mjGEOM_SPHERE: _sphere,
    mujoco.mjtGeom.mjGEOM_CYLINDER: _cylinder,
    mujoco.mjtGeom.mjGEOM_CAPSULE: _capsule,
    mujoco.mjtGeom.mjGEOM_ELLIPSOID: _ellipsoid,
}


def surface_distance(model: mujoco.MjModel, data: mujoco.MjData, geoms: list[int], points: np.ndarray) -> np.ndarray:
    """Unsigned distance from each point to the nearest surface among the geoms."""
    best = np.full(len(points), np.inf)
    for g in geoms:
        R = data.geom_xmat[g].reshape(3, 3)
        local = (points - data.geom_xpos[g]) @ R  # R^T (p - c), row-wise
        best = np.minimum(best, DISTANCE[mujoco.mjtGeom(model.geom_type[g])](local, model.geom_size[g]))
    return best


def test_the_distance_functions_are_exact_on_known_points():
    size = np.array([0.05, 0.03, 0.02])
    on = np.array([[0.05, 0.0, 0.0], [0.0, 0.03, 0.0], [0.0, 0.0, -0.02], [0.02, 0.03, 0.01]])
    assert np.allclose(_box(on, size), 0.0)
    assert _box(np.array([[0.0, 0.0, 0.0]]), size)[0] == pytest.approx(0.02)
    assert _box(np.array([[0.08, 0.0, 0.0]]), size)[0] == pytest.approx(0.03)
    assert _cylinder(np.array([[0.05, 0.0, 0.01], [0.0, 0.0, 0.03], [0.0, 0.0, 0.0]]), size) == \
        pytest.approx([0.0, 0.0, 0.03])
    assert _capsule(np.array([[0.0, 0.0, 0.08], [0.06, 0.0, 0.0]]), size) == pytest.approx([0.0, 0.01])
    assert _sphere(np.array([[0.0, 0.07, 0.0]]), size)[0] == pytest.approx(0.02)
    # The ellipsoid estimate: exact on the axes, and within a millimetre of the true distance 1 cm out.
    assert _ellipsoid(np.array([[0.06, 0.0, 0.0], [0.0, 0.0, 0.01]]), size) == pytest.approx([0.01, 0.01])
    theta = np.linspace(0, np.pi, 50)
    surface = np.stack([0.05 * np.cos(theta), 0.03 * np.sin(theta), np.zeros_like(theta)], axis=1)
    normal = surface / size**2
    normal /= np.linalg.norm(normal, axis=1, keepdims=True)
    assert np.allclose(_ellipsoid(surface, size), 0.0, atol=1e-12)
    assert np.allclose(_ellipsoid(surface + 0.01 * normal, size), 0.01, atol=0.001)
    assert np.allclose(_ellipsoid(surface - 0.01 * normal, size), 0.01, atol=0.001)


@pytest.fixture(scope="module", params=sorted(LAYOUTS))
def kitchen(request):
    """A settled kitchen with random objects everywhere plus one of each shape on the table, every door and
    drawer open, and the robot parked at the table so its head camera looks at the objects there."""
    world = World(request.param, SEED, OBJECTS, num_random_objects=10)
    for part in world.index.parts:
        run_to_completion(world.drive_articulation(part, 1.0))
    run_to_completion(world.move_base_to(*world.index.nav_poses["table"], speed_mps=1.0))
    world.settle(2.0)
    cameras = [name for name, info in world.index.cameras.items() if info.mount == "world"] + ["head_rgbd"]
    rig = CameraRig(world.model, cameras)
    yield world, rig
    rig.close()


def _camera_params():
    # Camera names are the same in every layout (checked below; the layout fixture is parametrized apart).
    return ["kitchen_overview", "counter_cam", "table_cam", "storage_cam", "head_rgbd"]


def test_every_fixed_camera_is_checked(kitchen):
    _, rig = kitchen
    assert sorted(rig.names) == sorted(_camera_params())


@pytest.mark.parametrize("camera", _camera_params())
def test_object_pixels_back_project_onto_the_object(kitchen, camera):
    world, rig = kitchen
    model, data = world.model, world.data
    frame = rig.render(data, camera, segmentation=True)
    T = frame.world_from_optical.as_matrix()
    seen = {}
    for oid, info in world.index.objects.items():
        distances = []
        for name in info.geoms:  # each pixel against the geom the segmentation says it shows
            geom = model.geom(name).id
            mask = (frame.segmentation == geom) & np.isfinite(frame.depth_m)
            if mask.any():
                points = transform_points(T, frame.intrinsics.back_project(frame.depth_m, mask))
                distances.append(surface_distance(model, data, [geom], points))
        pixels = sum(len(d) for d in distances)
        if pixels < 10:  # a sliver at the edge of the view or behind something
            continue
        seen[oid] = pixels
        distance = np.concatenate(distances)
        assert np.percentile(distance, 99) < TOLERANCE_M, (
            f"{camera}: {oid} ({info.kind}): 99th percentile {np.percentile(distance, 99):.4f} m, "
            f"max {distance.max():.4f} m over {pixels} px")
    assert max(seen.values(), default=0) >= MIN_PIXELS, f"{camera} sees no object well: {seen}"
    if camera == "head_rgbd":  # every primitive shape is checked at close range
        assert all(seen.get(oid, 0) >= MIN_PIXELS for oid in ("apple_t", "lemon_t", "banana_t", "cereal_t",
                                                              "mug_t")), seen
