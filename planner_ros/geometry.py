"""Pure geometry core: camera intrinsics, rigid poses and quaternion helpers (numpy only, no ROS).

Conventions: quaternions are (x, y, z, w) like geometry_msgs; camera points are in the optical frame
(x right, y down, z forward); lengths are metres; angles are radians.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = [
    "CameraIntrinsics",
    "Pose3D",
    "matrix_to_quaternion",
    "quaternion_to_matrix",
    "transform_points",
]

# Tolerance for accepting a matrix as a rotation; loose enough for float32-sourced or composed matrices.
_ROTATION_ATOL = 1e-5


def _finite_float(name: str, value: float) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a real number, got {value!r}") from exc
    if not math.isfinite(out):
        raise ValueError(f"{name} must be finite, got {out!r}")
    return out


def _unit_quaternion(q_xyzw: object) -> np.ndarray:
    q = np.asarray(q_xyzw, dtype=np.float64)
    if q.shape != (4,):
        raise ValueError(f"quaternion must have 4 components (x, y, z, w), got shape {q.shape}")
    if not np.all(np.isfinite(q)):
        raise ValueError(f"quaternion must be finite, got {tuple(q.tolist())}")
    norm = float(np.linalg.norm(q))
    if norm < 1e-12:
        raise ValueError(f"quaternion has zero norm: {tuple(q.tolist())}")
    return q / norm


def _check_rotation(R: np.ndarray) -> None:
    if R.shape != (3, 3):
        raise ValueError(f"rotation matrix must be 3x3, got shape {R.shape}")
    if not np.all(np.isfinite(R)):
        raise ValueError(f"rotation matrix must be finite, got {R.tolist()}")
    if not np.allclose(R @ R.T, np.eye(3), atol=_ROTATION_ATOL) or np.linalg.det(R) <= 0.0:
        raise ValueError(f"matrix is not a proper rotation (orthonormal, det +1): {R.tolist()}")


def quaternion_to_matrix(q_xyzw: object) -> np.ndarray:
    """3x3 rotation matrix of a quaternion (x, y, z, w); the quaternion is normalised first."""
    x, y, z, w = _unit_quaternion(q_xyzw)
    xx, yy, zz = x * x, y * y, z * z
    xy, xz, yz = x * y, x * z, y * z
    wx, wy, wz = w * x, w * y, w * z
    return np.array(
        [
            [1.0 - 2.0 * (yy + zz), 2.0 * (xy - wz), 2.0 * (xz + wy)],
            [2.0 * (xy + wz), 1.0 - 2.0 * (xx + zz), 2.0 * (yz - wx)],
            [2.0 * (xz - wy), 2.0 * (yz + wx), 1.0 - 2.0 * (xx + yy)],
        ]
    )


def matrix_to_quaternion(R: object) -> np.ndarray:
    """Unit quaternion (x, y, z, w) with w >= 0 of a 3x3 rotation matrix.

    Shepperd's method: pivot on the largest of trace and the diagonal so the square root is never
    taken of a small (cancellation-prone) number, which keeps 180-degree rotations accurate.
    """
    R = np.asarray(R, dtype=np.float64)
    _check_rotation(R)
    trace = R[0, 0] + R[1, 1] + R[2, 2]
    pivot = int(np.argmax([trace, R[0, 0], R[1, 1], R[2, 2]]))
    if pivot == 0:
        s = 2.0 * math.sqrt(max(1.0 + trace, 0.0))
        q = [(R[2, 1] - R[1, 2]) / s, (R[0, 2] - R[2, 0]) / s, (R[1, 0] - R[0, 1]) / s, 0.25 * s]
    elif pivot == 1:
        s = 2.0 * math.sqrt(max(1.0 + R[0, 0] - R[1, 1] - R[2, 2], 0.0))
        q = [0.25 * s, (R[0, 1] + R[1, 0]) / s, (R[0, 2] + R[2, 0]) / s, (R[2, 1] - R[1, 2]) / s]
    elif pivot == 2:
        s = 2.0 * math.sqrt(max(1.0 - R[0, 0] + R[1, 1] - R[2, 2], 0.0))
        q = [(R[0, 1] + R[1, 0]) / s, 0.25 * s, (R[1, 2] + R[2, 1]) / s, (R[0, 2] - R[2, 0]) / s]
    else:
        s = 2.0 * math.sqrt(max(1.0 - R[0, 0] - R[1, 1] + R[2, 2], 0.0))
        q = [(R[0, 2] + R[2, 0]) / s, (R[1, 2] + R[2, 1]) / s, 0.25 * s, (R[1, 0] - R[0, 1]) / s]
    quat = np.asarray(q)
    quat /= np.linalg.norm(quat)
    return -quat if quat[3] < 0.0 else quat


def transform_points(T: object, pts: object) -> np.ndarray:
    """Apply a 4x4 homogeneous transform to (N, 3) points; returns a new (N, 3) float64 array."""
    T = np.asarray(T, dtype=np.float64)
    pts = np.asarray(pts, dtype=np.float64)
    if T.shape != (4, 4):
        raise ValueError(f"transform must be 4x4, got shape {T.shape}")
    if pts.ndim != 2 or pts.shape[1] != 3:
        raise ValueError(f"points must have shape (N, 3), got {pts.shape}")
    return pts @ T[:3, :3].T + T[:3, 3]


@dataclass(frozen=True)
class CameraIntrinsics:
    """Pinhole camera model (pixels) with optional distortion coefficients carried through untouched."""

    width: int
    height: int
    fx: float
    fy: float
    cx: float
    cy: float
    frame_id: str = ""
    distortion_model: str = "plumb_bob"
    distortion: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        for name in ("width", "height"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
            object.__setattr__(self, name, int(value))
        for name in ("fx", "fy", "cx", "cy"):
            object.__setattr__(self, name, _finite_float(name, getattr(self, name)))
        for name in ("fx", "fy"):
            if getattr(self, name) <= 0.0:
                raise ValueError(f"focal length {name} must be > 0, got {getattr(self, name)!r}")
        coeffs = tuple(_finite_float(f"distortion[{i}]", c) for i, c in enumerate(self.distortion))
        object.__setattr__(self, "distortion", coeffs)

    @property
    def matrix(self) -> np.ndarray:
        """3x3 camera matrix K."""
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])

    @classmethod
    def from_vertical_fov(
        cls, width: int, height: int, fov_y_rad: float, frame_id: str = ""
    ) -> CameraIntrinsics:
        """Ideal pinhole with square pixels (fx == fy) and the principal point at the image centre."""
        fov = _finite_float("fov_y_rad", fov_y_rad)
        if not 0.0 < fov < math.pi:
            raise ValueError(f"fov_y_rad must be in (0, pi), got {fov!r}")
        f = (height / 2.0) / math.tan(fov / 2.0)
        return cls(width, height, f, f, (width - 1) / 2.0, (height - 1) / 2.0, frame_id=frame_id)

    def back_project(self, depth_m: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        """(N, 3) float64 optical-frame points for every pixel with finite depth > 0 (and mask True).

        Points come out in row-major pixel order; NaN/inf/zero/negative depths are skipped.
        """
        depth = np.asarray(depth_m)
        if depth.shape != (self.height, self.width):
            raise ValueError(
                f"depth shape {depth.shape} does not match intrinsics (height, width) "
                f"= ({self.height}, {self.width})"
            )
        with np.errstate(invalid="ignore"):
            valid = np.isfinite(depth) & (depth > 0)
        if mask is not None:
            mask = np.asarray(mask)
            if mask.shape != depth.shape:
                raise ValueError(f"mask shape {mask.shape} does not match depth shape {depth.shape}")
            valid &= mask.astype(bool, copy=False)
        v, u = np.nonzero(valid)
        z = depth[v, u].astype(np.float64)
        x = (u - self.cx) * z / self.fx
        y = (v - self.cy) * z / self.fy
        return np.stack([x, y, z], axis=1)


@dataclass(frozen=True)
class Pose3D:
    """Rigid transform; the stored quaternion is normalised, so any non-zero finite input is accepted."""

    position_m: tuple[float, float, float]
    orientation_xyzw: tuple[float, float, float, float]

    def __post_init__(self) -> None:
        pos = tuple(self.position_m)
        if len(pos) != 3:
            raise ValueError(f"position_m must have 3 components, got {self.position_m!r}")
        pos = tuple(_finite_float(f"position_m[{i}]", p) for i, p in enumerate(pos))
        object.__setattr__(self, "position_m", pos)
        object.__setattr__(self, "orientation_xyzw", tuple(_unit_quaternion(self.orientation_xyzw).tolist()))

    @classmethod
    def identity(cls) -> Pose3D:
        return cls((0.0, 0.0, 0.0), (0.0, 0.0, 0.0, 1.0))

    def as_matrix(self) -> np.ndarray:
        """4x4 homogeneous matrix mapping child-frame points into the parent frame."""
        T = np.eye(4)
        T[:3, :3] = quaternion_to_matrix(self.orientation_xyzw)
        T[:3, 3] = self.position_m
        return T

    @classmethod
    def from_matrix(cls, m: object) -> Pose3D:
        T = np.asarray(m, dtype=np.float64)
        if T.shape != (4, 4):
            raise ValueError(f"pose matrix must be 4x4, got shape {T.shape}")
        if not np.allclose(T[3], (0.0, 0.0, 0.0, 1.0)):
            raise ValueError(f"pose matrix bottom row must be [0, 0, 0, 1], got {T[3].tolist()}")
        q = matrix_to_quaternion(T[:3, :3])
        return cls(tuple(T[:3, 3].tolist()), tuple(q.tolist()))
