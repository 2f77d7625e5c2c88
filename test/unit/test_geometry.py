"""Unit tests for planner_ros.geometry (pure numpy, no ROS)."""
from __future__ import annotations

import math

import numpy as np
import pytest

from planner_ros.geometry import (
    CameraIntrinsics,
    Pose3D,
    matrix_to_quaternion,
    quaternion_to_matrix,
    transform_points,
)


def _random_unit_quaternions(n: int, seed: int = 7) -> np.ndarray:
    q = np.random.default_rng(seed).normal(size=(n, 4))
    return q / np.linalg.norm(q, axis=1, keepdims=True)


def _same_rotation(q1: np.ndarray, q2: np.ndarray) -> bool:
    return bool(abs(abs(float(np.dot(q1, q2))) - 1.0) < 1e-12)


@pytest.mark.parametrize("q", list(_random_unit_quaternions(200)))
def test_quaternion_matrix_round_trip(q: np.ndarray) -> None:
    R = quaternion_to_matrix(q)
    np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-12)
    assert np.linalg.det(R) == pytest.approx(1.0)
    back = matrix_to_quaternion(R)
    assert back[3] >= 0.0
    assert np.linalg.norm(back) == pytest.approx(1.0)
    assert _same_rotation(back, q)
    np.testing.assert_allclose(quaternion_to_matrix(back), R, atol=1e-12)


@pytest.mark.parametrize(
    "q",
    [
        (0.0, 0.0, 0.0, 1.0),
        (1.0, 0.0, 0.0, 0.0),  # 180 deg about each axis: trace = -1, the case Shepperd exists for
        (0.0, 1.0, 0.0, 0.0),
        (0.0, 0.0, 1.0, 0.0),
        (math.sqrt(0.5), math.sqrt(0.5), 0.0, 0.0),
        (0.0, 0.0, math.sin(0.5 * (math.pi - 1e-9)), math.cos(0.5 * (math.pi - 1e-9))),
    ],
)
def test_matrix_to_quaternion_special_rotations(q: tuple[float, ...]) -> None:
    back = matrix_to_quaternion(quaternion_to_matrix(q))
    assert back[3] >= 0.0
    assert _same_rotation(back, np.asarray(q))


def test_quaternion_to_matrix_normalises_input() -> None:
    np.testing.assert_allclose(quaternion_to_matrix((0, 0, 0, 5.0)), np.eye(3))


def test_pose_matrix_round_trip_and_transform_points() -> None:
    rng = np.random.default_rng(3)
    for q in _random_unit_quaternions(20, seed=11):
        pose = Pose3D(tuple(rng.uniform(-5, 5, 3)), tuple(q))
        T = pose.as_matrix()
        back = Pose3D.from_matrix(T)
        np.testing.assert_allclose(back.position_m, pose.position_m, atol=1e-12)
        np.testing.assert_allclose(back.as_matrix(), T, atol=1e-12)
        pts = rng.normal(size=(10, 3))
        moved = transform_points(T, pts)
        expected = (T @ np.hstack([pts, np.ones((10, 1))]).T).T[:, :3]
        np.testing.assert_allclose(moved, expected, atol=1e-12)
        np.testing.assert_allclose(transform_points(np.linalg.inv(T), moved), pts, atol=1e-12)


def test_pose_identity_and_normalisation() -> None:
    np.testing.assert_array_equal(Pose3D.identity().as_matrix(), np.eye(4))
    pose = Pose3D((1, 2, 3), (0, 0, 0, 2))
    assert pose.orientation_xyzw == (0.0, 0.0, 0.0, 1.0)
    assert pose.position_m == (1.0, 2.0, 3.0)


def test_from_vertical_fov() -> None:
    intr = CameraIntrinsics.from_vertical_fov(640, 480, math.radians(60.0), frame_id="cam")
    assert intr.fx == pytest.approx(415.69, abs=0.01)
    assert intr.fy == pytest.approx(415.69, abs=0.01)
    assert (intr.cx, intr.cy) == (319.5, 239.5)
    assert intr.frame_id == "cam"
    np.testing.assert_allclose(intr.matrix, [[intr.fx, 0, 319.5], [0, intr.fy, 239.5], [0, 0, 1]])


def test_back_project_plane() -> None:
    intr = CameraIntrinsics(width=64, height=48, fx=50.0, fy=55.0, cx=31.5, cy=23.5)
    # Plane n.p = d seen by the camera: depth at pixel (u, v) is d / (n . ray(u, v)) with ray z = 1.
    normal = np.array([0.1, -0.2, 1.0])
    normal /= np.linalg.norm(normal)
    offset_m = 2.0
    v, u = np.mgrid[0:48, 0:64]
    rays = np.stack([(u - intr.cx) / intr.fx, (v - intr.cy) / intr.fy, np.ones(u.shape)], axis=-1)
    depth = (offset_m / (rays @ normal)).astype(np.float32)
    pts = intr.back_project(depth)
    assert pts.shape == (64 * 48, 3)
    np.testing.assert_allclose(pts @ normal, offset_m, rtol=1e-6)
    np.testing.assert_allclose(pts[:, 2], depth.ravel(), rtol=1e-7)
    # Row-major order: the first point is pixel (0, 0), to the upper left of the optical axis.
    assert pts[0, 0] < 0 and pts[0, 1] < 0


def test_back_project_skips_invalid_depth_and_honours_mask() -> None:
    intr = CameraIntrinsics(width=4, height=3, fx=2.0, fy=2.0, cx=1.5, cy=1.0)
    depth = np.full((3, 4), 1.0)
    depth[0, 0] = np.nan
    depth[0, 1] = 0.0
    depth[1, 1] = -1.0
    depth[2, 3] = np.inf
    pts = intr.back_project(depth)
    assert pts.shape == (8, 3)
    assert np.all(np.isfinite(pts)) and np.all(pts[:, 2] == 1.0)
    mask = np.zeros((3, 4), dtype=bool)
    mask[1, 2] = True
    mask[0, 0] = True  # masked in but NaN: still skipped
    only = intr.back_project(depth, mask=mask)
    np.testing.assert_allclose(only, [[(2 - 1.5) / 2.0, 0.0, 1.0]])
    assert intr.back_project(np.full((3, 4), np.nan)).shape == (0, 3)


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"fx": 0.0}, r"fx.*0\.0"),
        ({"fy": -3.0}, r"fy.*-3\.0"),
        ({"width": 0}, r"width.*0"),
        ({"height": -2}, r"height.*-2"),
        ({"cx": float("nan")}, r"cx.*nan"),
        ({"distortion": (0.1, float("inf"))}, r"distortion\[1\].*inf"),
    ],
)
def test_camera_intrinsics_errors_name_value(kwargs: dict[str, object], pattern: str) -> None:
    args: dict[str, object] = {
        "width": 640, "height": 480, "fx": 500.0, "fy": 500.0, "cx": 320.0, "cy": 240.0
    }
    args.update(kwargs)
    with pytest.raises(ValueError, match=pattern):
        CameraIntrinsics(**args)  # type: ignore[arg-type]


def test_geometry_errors_name_value() -> None:
    with pytest.raises(ValueError, match=r"position_m\[1\].*nan"):
        Pose3D((0.0, float("nan"), 0.0), (0, 0, 0, 1))
    with pytest.raises(ValueError, match=r"zero norm.*\(0\.0, 0\.0, 0\.0, 0\.0\)"):
        Pose3D((0.0, 0.0, 0.0), (0, 0, 0, 0))
    with pytest.raises(ValueError, match=r"zero norm"):
        quaternion_to_matrix((0, 0, 0, 0))
    with pytest.raises(ValueError, match=r"not a proper rotation"):
        matrix_to_quaternion(np.diag([1.0, 1.0, -1.0]))
    with pytest.raises(ValueError, match=r"\(3, 4\)"):
        transform_points(np.eye(4), np.zeros((4, 3)).T)
    with pytest.raises(ValueError, match=r"fov_y_rad.*3\.5"):
        CameraIntrinsics.from_vertical_fov(640, 480, 3.5)
    intr = CameraIntrinsics.from_vertical_fov(640, 480, 1.0)
    with pytest.raises(ValueError, match=r"\(480, 639\)"):
        intr.back_project(np.ones((480, 639)))
