"""Depth lifting: robust to background, NaN and out-of-range depth; lands on the object's centre."""
import math

import numpy as np
import pytest

from planner_ros.geometry import CameraIntrinsics, Pose3D
from planner_ros.perception.detection import Detection2D
from planner_ros.perception.lifting import lift_detection

K = CameraIntrinsics.from_vertical_fov(640, 480, math.radians(60.0), frame_id="cam")


def _scene(object_depth=1.0, background=2.5, box=(300, 220, 340, 260)):
    """A wall at `background` with a fronto-parallel square patch at `object_depth` filling `box`."""
    depth = np.full((480, 640), background, np.float32)
    x1, y1, x2, y2 = box
    depth[y1:y2, x1:x2] = object_depth
    return depth


def _lift(det, depth, pose=Pose3D.identity()):
    return lift_detection(det, depth, K, pose, camera="cam", stamp_s=1.0)


def test_box_on_object_gives_its_depth_and_lateral_position():
    depth = _scene()
    res = _lift(Detection2D("mug", 0.9, (300, 220, 340, 260), "mug"), depth)
    obs = res.observation
    assert obs is not None, res.reason
    # Patch centre pixel (319.5, 239.5) is the principal point: x = y = 0 in the optical frame.
    assert abs(obs.centre_m[0]) < 0.005 and abs(obs.centre_m[1]) < 0.005
    # Visible surface at 1.0 m, centre pushed back by a fraction of the half-width (~4 cm patch).
    assert 1.0 < obs.centre_m[2] < 1.05
    assert obs.num_points > 100


def test_background_filling_most_of_the_box_is_not_taken_for_the_object():
    depth = _scene(box=(310, 230, 330, 250))
    # A loose box: the 20x20 object covers ~16% of it; the rest is wall 1.5 m behind.
    res = _lift(Detection2D("cup", 0.8, (290, 210, 350, 270), "cup"), depth)
    assert res.observation is not None
    assert res.observation.centre_m[2] < 1.1


def test_nan_and_zero_depth_are_ignored_and_too_few_samples_reported():
    depth = _scene()
    depth[225:255, 305:335] = np.nan
    res = _lift(Detection2D("mug", 0.9, (300, 220, 340, 260), "mug"), depth)
    assert res.observation is None
    assert "valid depth samples" in res.reason
    depth = _scene()
    depth[::2, ::2] = 0.0  # dropouts as zeros (16UC1 drivers)
    depth[1::2, 1::2] = np.nan
    res = _lift(Detection2D("mug", 0.9, (300, 220, 340, 260), "mug"), depth)
    assert res.observation is not None and 1.0 < res.observation.centre_m[2] < 1.05


def test_spikes_do_not_move_the_estimate():
    rng = np.random.default_rng(0)
    depth = _scene()
    noisy = rng.random(depth.shape) < 0.1
    depth[noisy] = rng.uniform(0.05, 12.0, int(noisy.sum()))
    res = _lift(Detection2D("mug", 0.9, (300, 220, 340, 260), "mug"), depth)
    assert res.observation is not None
    assert abs(res.observation.centre_m[2] - 1.02) < 0.04


def test_camera_pose_maps_the_point_into_the_world():
    # Camera 2 m above the origin looking straight down: optical z is world -z, optical x is world x.
    pose = Pose3D((0.0, 0.0, 2.0), (1.0, 0.0, 0.0, 0.0))  # 180 degrees about x
    res = _lift(Detection2D("plate", 0.9, (300, 220, 340, 260), "plate"), _scene(object_depth=1.2, background=2.0),
                pose)
    c = res.observation.centre_m
    assert abs(c[0]) < 0.005 and abs(c[1]) < 0.005
    assert 0.75 < c[2] < 0.8  # surface at z = 0.8, centre slightly below it


def test_box_outside_the_image_is_reported():
    res = _lift(Detection2D("mug", 0.9, (700, 500, 720, 520), "mug"), _scene())
    assert res.observation is None and res.reason


@pytest.mark.parametrize("mask_fraction", [1.0, 0.5])
def test_mask_restricts_the_samples(mask_fraction):
    depth = _scene(object_depth=1.0, background=1.5, box=(300, 220, 340, 260))
    mask = np.zeros(depth.shape, bool)
    mask[220:260, 300:300 + int(40 * mask_fraction)] = True
    # The box is much larger than the object, but the mask says where it is.
    res = _lift(Detection2D("mug", 0.9, (200, 150, 440, 330), "mug", mask), depth)
    assert res.observation is not None and res.observation.centre_m[2] < 1.05
