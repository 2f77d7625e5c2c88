"""What a camera's depth image says about an object's box: out of view, hidden, occupied, or empty.

The depth check looks at a small window around the projected box centre:
- nearer than the box's near side (by a tolerance): something hides it (a closed door, the robot): no
  evidence either way;
- between the near side and the box centre: something occupies the box, most likely the object: a
  detector that does not report it has missed it, it has not gone;
- beyond the box centre: the camera sees through where the object was: evidence that it has gone.
Only that last case counts towards "missing", so a detector's misses never make an object missing while
the depth still shows it there. Boxes too small in the image for the window to fall inside are "out".
"""
from __future__ import annotations

import enum
import warnings

import numpy as np

from planner_ros.scene_graph.model import DepthView

__all__ = ["Evidence", "view_evidence_batch"]

MARGIN_PX = 8                 # a box centre this close to the border may be cut off
WINDOW_PX = 1                 # half-size of the depth window (3x3 pixels)
OCCLUSION_TOLERANCE_M = 0.04
EMPTY_BEYOND_CENTRE_M = 0.005


_CORNER_SIGNS = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], dtype=float)


class Evidence(enum.Enum):
    OUT = "out"              # not in the image, behind the camera, or too small to judge
    OCCLUDED = "occluded"    # something nearer hides it
    OCCUPIED = "occupied"    # depth shows a surface inside the box
    EMPTY = "empty"          # depth shows the space behind the box centre


def view_evidence_batch(positions_m: np.ndarray, sizes_m: np.ndarray,
                        view: DepthView) -> tuple[list[Evidence], np.ndarray]:
    """Evidence for N boxes (centres and extents, (N, 3) each) at once, and the depth measured at each box
    centre (NaN where there is no evidence)."""
    n = len(positions_m)
    out = [Evidence.OUT] * n
    depth_at = np.full(n, np.nan)
    if n == 0:
        return out, depth_at
    T = np.linalg.inv(view.world_from_optical.as_matrix())
    p = positions_m @ T[:3, :3].T + T[:3, 3]
    z = p[:, 2]
    k = view.intrinsics
    # The box's footprint in the image (its 8 corners projected): a flat plate seen from above is large in the
    # image although one of its extents is ~0.
    corners = positions_m[:, None, :] + sizes_m[:, None, :] / 2 * _CORNER_SIGNS[None]
    c = corners @ T[:3, :3].T + T[:3, 3]
    with np.errstate(divide="ignore", invalid="ignore"):
        u, v = k.fx * p[:, 0] / z + k.cx, k.fy * p[:, 1] / z + k.cy
        cu, cv = k.fx * c[..., 0] / c[..., 2], k.fy * c[..., 1] / c[..., 2]
        footprint_half_px = np.minimum(np.ptp(cu, axis=1), np.ptp(cv, axis=1)) / 2
    ok = (np.isfinite(z) & (c[..., 2].min(axis=1) > 0.1) & (u >= MARGIN_PX) & (u < k.width - MARGIN_PX)
          & (v >= MARGIN_PX) & (v < k.height - MARGIN_PX)
          & (footprint_half_px >= WINDOW_PX + 1.5))  # else the depth window reaches past the object's image
    idx = np.flatnonzero(ok)
    if idx.size == 0:
        return out, depth_at
    iu, iv = np.rint(u[idx]).astype(int), np.rint(v[idx]).astype(int)
    offsets = np.arange(-WINDOW_PX, WINDOW_PX + 1)
    rows = iv[:, None, None] + offsets[None, :, None]
    cols = iu[:, None, None] + offsets[None, None, :]
    windows = np.asarray(view.depth_m, dtype=np.float32)[rows, cols].reshape(idx.size, -1)
    with np.errstate(invalid="ignore"):
        windows = np.where(np.isfinite(windows) & (windows > 0), windows, np.nan)
    enough = np.sum(np.isfinite(windows), axis=1) >= (windows.shape[1] + 1) // 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN windows are handled by `enough`
        measured = np.nanmedian(windows, axis=1)
    zc = z[idx]
    near_side = zc - sizes_m[idx].max(axis=1) / 2 - OCCLUSION_TOLERANCE_M
    for j, i in enumerate(idx):
        if not enough[j]:
            continue  # no depth there: no evidence either way
        depth_at[i] = measured[j]
        if measured[j] < near_side[j]:
            out[i] = Evidence.OCCLUDED
        elif measured[j] <= zc[j] + EMPTY_BEYOND_CENTRE_M:
            out[i] = Evidence.OCCUPIED
        else:
            out[i] = Evidence.EMPTY
    return out, depth_at
