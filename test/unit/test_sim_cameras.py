import math
import os

os.environ.setdefault("MUJOCO_GL", "osmesa")

import mujoco  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from planner_ros.geometry import transform_points  # noqa: E402
from planner_ros.sim.cameras import CameraError, CameraRig, corrupt_depth  # noqa: E402


def box_distance(points: np.ndarray, centre: np.ndarray, R: np.ndarray, half: np.ndarray) -> np.ndarray:
    """Unsigned distance from points to the surface of an oriented box."""
    local = (points - centre) @ R
    q = np.abs(local) - half
    outside = np.linalg.norm(np.maximum(q, 0.0), axis=1)
    inside = np.minimum(np.max(q, axis=1), 0.0)
    return np.abs(outside + inside)


@pytest.fixture(scope="module")
def scene():
    spec = mujoco.MjSpec()
    spec.compiler.degree = False
    world = spec.worldbody
    world.add_light(pos=[0, 0, 4], dir=[0, 0, -1])
    world.add_geom(name="floor", type=mujoco.mjtGeom.mjGEOM_PLANE, size=[4, 4, 0.1])
    body = world.add_body(name="crate", pos=[0.4, 0.2, 0.3], euler=[0.1, -0.2, 0.7])
    body.add_geom(name="crate", type=mujoco.mjtGeom.mjGEOM_BOX, size=[0.15, 0.1, 0.2], rgba=[1, 0, 0, 1])
    world.add_geom(name="ball", type=mujoco.mjtGeom.mjGEOM_SPHERE, size=[0.12, 0, 0], pos=[-0.3, -0.2, 0.4])
    world.add_camera(name="oblique", pos=[1.8, -1.6, 1.5], xyaxes=[0.66, 0.75, 0, -0.35, 0.3, 0.89], fovy=60)
    world.add_camera(name="narrow", pos=[0.0, -2.5, 0.6], xyaxes=[1, 0, 0, 0, 0.1, 1], fovy=35)
    model = spec.compile()
    data = mujoco.MjData(model)
    mujoco.mj_forward(model, data)
    rig = CameraRig(model, ["oblique", "narrow"])
    yield model, data, rig
    rig.close()


@pytest.mark.parametrize("camera", ["oblique", "narrow"])
def test_back_projected_depth_lands_on_true_surfaces(scene, camera):
    model, data, rig = scene
    frame = rig.render(data, camera, segmentation=True)
    assert frame.rgb.shape == (480, 640, 3) and frame.depth_m.dtype == np.float32
    T = frame.world_from_optical.as_matrix()
    crate = model.geom("crate").id
    mask = frame.segmentation == crate
    assert mask.sum() > 500, "the crate must be in view"
    pts = transform_points(T, frame.intrinsics.back_project(frame.depth_m, mask))
    g = data.geom("crate")
    dist = box_distance(pts, g.xpos, g.xmat.reshape(3, 3), model.geom("crate").size)
    assert np.percentile(dist, 99) < 0.01 and dist.max() < 0.02
    ball = frame.segmentation == model.geom("ball").id
    if ball.any():
        bpts = transform_points(T, frame.intrinsics.back_project(frame.depth_m, ball))
        assert np.abs(np.linalg.norm(bpts - data.geom("ball").xpos, axis=1) - 0.12).max() < 0.01


def test_intrinsics_follow_fovy(scene):
    _, _, rig = scene
    k = rig.intrinsics("oblique")
    assert k.fx == pytest.approx(415.692, abs=1e-3) and k.cx == 319.5 and k.cy == 239.5
    assert rig.intrinsics("narrow").fy == pytest.approx(240 / math.tan(math.radians(17.5)))
    assert k.frame_id == "oblique_optical_frame"


def test_unknown_camera_and_sky_depth(scene):
    model, data, rig = scene
    with pytest.raises(CameraError, match="unknown cameras \\['nope'\\]"):
        CameraRig(model, ["nope"])
    frame = rig.render(data, "narrow")
    assert np.isnan(frame.depth_m[0]).all(), "pixels that see nothing have no depth"


def test_corrupt_depth_breaks_the_requested_fraction():
    depth = np.full((480, 640), 2.0, dtype=np.float32)
    out = corrupt_depth(depth, 0.3, np.random.default_rng(0))
    broken = np.isnan(out) | (out != 2.0)
    assert 0.27 < broken.mean() < 0.33 and np.isnan(out).mean() > 0.1
    assert (depth == 2.0).all(), "the input is not modified"
    with pytest.raises(CameraError):
        corrupt_depth(depth, 1.5, np.random.default_rng(0))
