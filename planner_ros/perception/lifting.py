"""Lift a 2D detection to a 3D observation with the depth image, the intrinsics and the camera pose.

Robust by construction, never one pixel: the depth samples come from the detection's mask, or without one
from the central part of its box (edges of a box are mostly background). Samples that are not finite or
out of range are discarded; the rest are split into depth layers wherever sorted depths jump by more than
LAYER_GAP_M, and the nearest layer holding at least MIN_LAYER_FRACTION of the samples is taken as the
object (what lies behind it is the table, shelf or wall the box also covers). The centre is the median of
the layer's points pushed back along the viewing ray by SURFACE_OFFSET_RATIO of the object's half-width:
a camera only sees the front of an object, whose middle is about that far behind its visible surface.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from planner_ros.geometry import CameraIntrinsics, Pose3D
from planner_ros.perception.detection import Detection2D

__all__ = ["LiftSettings", "LiftResult", "Observation3D", "lift_detection"]

LAYER_GAP_M = 0.04
MIN_LAYER_FRACTION = 0.3
SURFACE_OFFSET_RATIO = 0.6


@dataclass(frozen=True)
class LiftSettings:
    box_shrink: float = 0.2        # fraction of the box width/height dropped on each side without a mask
    min_points: int = 8            # fewer valid depth samples than this: no 3D estimate
    min_depth_m: float = 0.1
    max_depth_m: float = 8.0


@dataclass(frozen=True)
class Observation3D:
    label: str
    class_name: str
    score: float
    camera: str
    stamp_s: float
    centre_m: np.ndarray     # (3,) world frame
    extent_m: np.ndarray     # (3,) axis-aligned extent of the supporting points in the world frame
    num_points: int
    box_xyxy: tuple[float, float, float, float]


@dataclass(frozen=True)
class LiftResult:
    observation: Observation3D | None
    reason: str = ""  # why there is no observation


def _sample_pixels(det: Detection2D, shape: tuple[int, int], shrink: float) -> tuple[np.ndarray, np.ndarray]:
    h, w = shape
    x1, y1, x2, y2 = det.box_xyxy
    x1, x2 = max(0.0, min(x1, x2)), min(float(w), max(x1, x2))
    y1, y2 = max(0.0, min(y1, y2)), min(float(h), max(y1, y2))
    if det.mask is not None and det.mask.shape == (h, w):
        rows, cols = np.nonzero(det.mask)
        return rows, cols
    if x2 <= x1 or y2 <= y1:
        return np.zeros(0, int), np.zeros(0, int)
    dx, dy = (x2 - x1) * shrink, (y2 - y1) * shrink
    c1, c2 = int(np.floor(x1 + dx)), int(np.ceil(x2 - dx))
    r1, r2 = int(np.floor(y1 + dy)), int(np.ceil(y2 - dy))
    c2, r2 = min(max(c2, c1 + 1), w), min(max(r2, r1 + 1), h)
    rows, cols = np.mgrid[r1:r2, c1:c2]
    return rows.ravel(), cols.ravel()


def _nearest_layer(depths: np.ndarray) -> np.ndarray:
    """Boolean mask of the samples in the nearest depth layer that holds enough of them."""
    order = np.argsort(depths)
    ordered = depths[order]
    breaks = np.flatnonzero(np.diff(ordered) > LAYER_GAP_M) + 1
    bounds = np.concatenate([[0], breaks, [ordered.size]])
    sizes = np.diff(bounds)
    big = np.flatnonzero(sizes >= MIN_LAYER_FRACTION * ordered.size)
    layer = int(big[0]) if big.size else int(np.argmax(sizes))
    keep = np.zeros(depths.size, bool)
    keep[order[bounds[layer]:bounds[layer + 1]]] = True
    return keep


def lift_detection(det: Detection2D, depth_m: np.ndarray, intrinsics: CameraIntrinsics,
                   world_from_optical: Pose3D, *, camera: str, stamp_s: float,
                   settings: LiftSettings = LiftSettings()) -> LiftResult:
    rows, cols = _sample_pixels(det, depth_m.shape, settings.box_shrink)
    if rows.size == 0:
        return LiftResult(None, "the box lies outside the image")
    z = depth_m[rows, cols].astype(np.float64)
    valid = np.isfinite(z) & (z >= settings.min_depth_m) & (z <= settings.max_depth_m)
    if int(valid.sum()) < settings.min_points:
        return LiftResult(None, f"{int(valid.sum())} valid depth samples in the box (< {settings.min_points})")
    rows, cols, z = rows[valid], cols[valid], z[valid]
    layer = _nearest_layer(z)
    rows, cols, z = rows[layer], cols[layer], z[layer]
    if z.size < settings.min_points:
        return LiftResult(None, f"the object's depth layer has {z.size} samples (< {settings.min_points})")
    x = (cols - intrinsics.cx) * z / intrinsics.fx  # column c's centre is at c (see CameraIntrinsics)
    y = (rows - intrinsics.cy) * z / intrinsics.fy
    pts_optical = np.stack([x, y, z], axis=1)
    T = world_from_optical.as_matrix()
    pts = pts_optical @ T[:3, :3].T + T[:3, 3]

    lo, hi = np.percentile(pts, [5, 95], axis=0)
    extent = hi - lo
    lateral_lo, lateral_hi = np.percentile(pts_optical[:, :2], [5, 95], axis=0)
    half_width = float(np.mean(lateral_hi - lateral_lo)) / 2.0
    median_optical = np.median(pts_optical, axis=0)
    ray = median_optical / max(np.linalg.norm(median_optical), 1e-9)
    centre_optical = median_optical + ray * SURFACE_OFFSET_RATIO * half_width
    centre = T[:3, :3] @ centre_optical + T[:3, 3]
    return LiftResult(Observation3D(det.label, det.class_name or det.label, det.score, camera, stamp_s, centre,
                                    extent, int(z.size), det.box_xyxy))
