"""TF buffer: chains, interpolation, static edges, and clear errors for missing or stale transforms."""
import math

import numpy as np
import pytest

from planner_ros.geometry import Pose3D
from planner_ros.tf_buffer import TfBuffer, TfLookupError


def yaw(angle):
    return (0.0, 0.0, math.sin(angle / 2), math.cos(angle / 2))


def test_chain_composes_parent_transforms():
    tf = TfBuffer()
    tf.add("map", "base_link", Pose3D((1.0, 2.0, 0.0), yaw(math.pi / 2)), 1.0)
    tf.add("base_link", "head_optical", Pose3D((0.5, 0.0, 1.0), yaw(0.0)), 1.0)
    pose = tf.lookup("map", "head_optical", 1.0)
    # base x axis points along map +y after a 90 degree yaw
    assert np.allclose(pose.position_m, (1.0, 2.5, 1.0))
    inverse = tf.lookup("head_optical", "map", 1.0)
    assert np.allclose(inverse.as_matrix() @ pose.as_matrix(), np.eye(4), atol=1e-9)


def test_dynamic_edges_interpolate_between_samples():
    tf = TfBuffer()
    tf.add("map", "base_link", Pose3D((0.0, 0.0, 0.0), yaw(0.0)), 1.0)
    tf.add("map", "base_link", Pose3D((1.0, 0.0, 0.0), yaw(math.pi / 2)), 2.0)
    pose = tf.lookup("map", "base_link", 1.5)
    assert np.allclose(pose.position_m, (0.5, 0.0, 0.0))
    assert np.allclose(pose.orientation_xyzw, yaw(math.pi / 4))


def test_stale_transform_is_an_error_beyond_the_tolerance():
    tf = TfBuffer()
    tf.add("map", "base_link", Pose3D.identity(), 1.0)
    assert tf.lookup("map", "base_link", 1.05, tolerance_s=0.1) == Pose3D.identity()
    with pytest.raises(TfLookupError, match="older than the asked time"):
        tf.lookup("map", "base_link", 2.0, tolerance_s=0.1)


def test_static_edges_hold_for_all_time_and_unknown_frames_are_named():
    tf = TfBuffer()
    tf.add("map", "table_cam_optical", Pose3D((1.0, 0.0, 2.0), yaw(0.0)), 0.0, static=True)
    assert np.allclose(tf.lookup("map", "table_cam_optical", 1e6).position_m, (1.0, 0.0, 2.0))
    with pytest.raises(TfLookupError, match="no TF path from ghost_optical to map"):
        tf.lookup("map", "ghost_optical", 1.0)


def test_out_of_order_samples_are_kept_in_time_order():
    tf = TfBuffer()
    tf.add("map", "base_link", Pose3D((2.0, 0.0, 0.0), yaw(0.0)), 2.0)
    tf.add("map", "base_link", Pose3D((0.0, 0.0, 0.0), yaw(0.0)), 1.0)
    assert np.allclose(tf.lookup("map", "base_link", 1.25).position_m, (0.5, 0.0, 0.0))


def test_history_is_bounded():
    tf = TfBuffer(history_s=1.0)
    for k in range(50):
        tf.add("map", "base_link", Pose3D((k * 0.1, 0.0, 0.0), yaw(0.0)), k * 0.1)
    with pytest.raises(TfLookupError, match="before the oldest"):
        tf.lookup("map", "base_link", 0.5, tolerance_s=0.05)
