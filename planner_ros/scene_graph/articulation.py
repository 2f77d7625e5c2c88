"""How far each door or drawer is open, from depth images and the static semantic map.

The map says how a part moves (PartModel: hinge or slide, axis, range) and where its panel is when closed;
the depth images say where surfaces are. The opening is the fraction whose panel best explains the depth:

1. Hypotheses: opening fractions on a coarse grid (0, 0.05, .., 1), then a fine grid (step 0.01) around
   the best coarse one, then the vertex of the parabola through the best fine score and its neighbours,
   so that an opening a few thousandths from the open/closed threshold is still put on the right side.
2. Each hypothesis is ray cast, not splatted: for a subsample of each view's pixels, the ray is intersected
   with the panel box moved by `part.transform(f)` (a slab test in the panel's own frame). This is exact
   for a thin panel seen at any angle (edge-on, thickness, back faces hidden), has no holes to leak
   through at close range, and needs no z-buffer. Only pixels inside the projection of the panel's swept
   volume are cast, subsampled so that no view casts more than `max_rays_per_view` rays, so the cost is
   bounded whatever the distance; each ray stands for stride**2 pixels.
3. Each ray hitting the hypothetical panel at depth e (along the optical axis) compares it with the measured
   depth d, within tol = tolerance_m + tolerance_rel * e: agreement if |d - e| < tol; contradiction if
   d > e + tol (the camera sees through where the panel would be); nothing if d < e - tol (something in
   front hides it: the robot, another door, an object) or d is unknown (NaN, 0). The score is smooth in
   the residual (a Gaussian of width tol / 2: +1 on the surface, falling to 0 in front of it and to -1
   behind it), so the fine grid can rank hypotheses a few millimetres apart. Scores are summed over the
   views, each ray weighted by the pixels it stands for.
4. The estimate is the best-scoring fraction. Neighbouring fractions overlap almost entirely, so the
   runner-up says nothing; what the scene graph needs is whether the part is open, so the confidence is
   from the margin between the best hypothesis on each side of `open_at_least` (saturating in pixels),
   times the share of the informative pixels that agree with the estimate (how well the map explains
   the depth at all).
5. No estimate (None) when fewer than `min_support_px` pixels speak for or against the chosen panel: the
   part is in no view, hidden behind something, or seen only where every hypothesis is occluded.

Limits: a panel seen exactly edge-on gives few pixels (a near-closed door from a camera in its plane); a
surface that happens to lie where a hypothetical panel would be (a wall beside a fully open door) counts as
agreement; a solid surface within the tolerance behind a thin closed door (no hollow behind it) cannot be
told from the door; a part hidden at its closed position and seen absent from its open positions gives no
estimate (nothing agrees with "closed"). Panels nearer a camera than `min_range_m` are ignored (a
simulator's near plane clips them and shows what is behind). Depth noise is modelled only by the
tolerance, and the confidence scale (pixels) was set on noise-free simulated depth. The part's other moving
geometry (a drawer's box behind its front) is not modelled: only the panel, which is what the map knows.
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np

from planner_ros.scene_graph.model import DepthView
from planner_ros.scene_graph.semantic_map import PartModel

__all__ = ["OpeningEstimate", "estimate_opening"]

# A box corner closer than this to the camera plane cannot be projected reliably: cast the whole image.
_NEAR_M = 0.05
# Pixels of margin around the projected swept volume (edges of a thin panel between grid fractions).
_ROI_MARGIN_PX = 3


@dataclasses.dataclass(frozen=True)
class OpeningEstimate:
    part_id: str
    fraction: float          # 0 closed .. 1 fully open
    confidence: float        # 0..1, that the part is on the side of the open/closed threshold `fraction` says
    support_px: int          # pixels agreeing with or contradicting the chosen panel (full-resolution pixels)
    cameras: tuple[str, ...]  # views with informative pixels for the chosen panel
    agreement: float         # share of the support that agrees (1: the map explains the depth exactly)


@dataclasses.dataclass(frozen=True)
class _Rays:
    """A view's sampled pixels that may see the part: ray directions and measured depths."""

    camera: str
    origin_m: np.ndarray     # (3,) camera centre, world
    directions_world: np.ndarray  # (N, 3) float32, world-rotated optical rays (optical z = 1: t is depth)
    depth_m: np.ndarray      # (N,) float32, finite and > 0
    pixel_weight: float      # full-resolution pixels each ray stands for (stride**2)


@dataclasses.dataclass(frozen=True)
class _Scores:
    score_px: np.ndarray     # (H,) smooth agreement minus contradiction, in pixels
    agree_px: np.ndarray     # (H,)
    contradict_px: np.ndarray  # (H,)
    informative: np.ndarray  # (H, V) bool: view v had agreeing or contradicting pixels for hypothesis h

    def merged(self, other: _Scores, order: np.ndarray) -> _Scores:
        """These hypotheses followed by the other's, reordered by `order`."""
        return _Scores(*(np.concatenate([getattr(self, f.name), getattr(other, f.name)])[order]
                         for f in dataclasses.fields(self)))


def estimate_opening(part: PartModel, views: Sequence[DepthView], *, min_support_px: int = 150,
                     open_at_least: float = 0.5, coarse_step: float = 0.05, fine_step: float = 0.01,
                     tolerance_m: float = 0.03, tolerance_rel: float = 0.01, min_range_m: float = 0.25,
                     max_rays_per_view: int = 2500, confidence_scale_px: float = 300.0) -> OpeningEstimate | None:
    """The part's opening fraction that best explains the depth views, or None when they do not show it.

    `min_range_m`: the depth sensor's minimum range; `confidence_scale_px`: the open-versus-closed score
    margin (full-resolution pixels) at which the confidence reaches 63% of the agreement.
    """
    if not 0.0 < fine_step <= coarse_step <= 1.0:
        raise ValueError(f"need 0 < fine_step <= coarse_step <= 1, got {fine_step}, {coarse_step}")
    lo, hi = np.asarray(part.panel.lo, dtype=float), np.asarray(part.panel.hi, dtype=float)
    coarse = np.linspace(0.0, 1.0, int(round(1.0 / coarse_step)) + 1)
    swept = _swept_corners(part, lo, hi, coarse)
    rays = [r for r in (_sample_rays(v, swept, max_rays_per_view) for v in views) if r is not None]
    if not rays:
        return None
    evaluator = _Evaluator(part, lo, hi, rays, tolerance_m, tolerance_rel, min_range_m)
    fractions, scores = evaluator(coarse)
    best = float(fractions[int(np.argmax(scores.score_px))])
    fractions, scores = evaluator(np.arange(best - coarse_step, best + coarse_step + fine_step / 2, fine_step))

    i = int(np.argmax(scores.score_px))
    support_px = float(scores.agree_px[i] + scores.contradict_px[i])
    if support_px < min_support_px:
        return None
    fraction = _parabolic_peak(fractions, scores.score_px, i, fine_step)
    # Neighbouring fractions explain the depth almost equally well, so the runner-up says nothing: the
    # margin that matters is between the best hypotheses on either side of the open/closed threshold.
    is_open = fractions >= open_at_least
    same_side = is_open == (fraction >= open_at_least)
    margin_px = 0.0
    if (~same_side).any():
        margin_px = max(0.0, float(scores.score_px[same_side].max() - scores.score_px[~same_side].max()))
    agreement = float(scores.agree_px[i]) / support_px
    confidence = agreement * (1.0 - math.exp(-margin_px / confidence_scale_px))
    cameras = tuple(r.camera for r, used in zip(rays, scores.informative[i]) if used)
    return OpeningEstimate(part.id, fraction, confidence, int(round(support_px)), cameras, agreement)


def _parabolic_peak(fractions: np.ndarray, score: np.ndarray, i: int, step: float) -> float:
    """The vertex of the parabola through the best score and its two grid neighbours: the fine grid's
    step would otherwise put a part 0.004 either side of the threshold on the same side."""
    if 0 < i < len(fractions) - 1 and np.allclose(np.diff(fractions[i - 1:i + 2]), step):
        left, centre, right = score[i - 1:i + 2]
        curvature = left - 2.0 * centre + right
        if curvature < 0.0:
            offset = float(np.clip(0.5 * (left - right) / curvature, -0.5, 0.5)) * step
            return float(np.clip(fractions[i] + offset, 0.0, 1.0))
    return float(fractions[i])


def _swept_corners(part: PartModel, lo: np.ndarray, hi: np.ndarray, fractions: np.ndarray) -> np.ndarray:
    """(8 * H, 3) world corners of the panel at every fraction: what a view must contain to see the part."""
    corners = np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])])
    return np.concatenate([corners @ T[:3, :3].T + T[:3, 3] for T in (part.transform(f) for f in fractions)])


def _sample_rays(view: DepthView, swept_world: np.ndarray, max_rays: int) -> _Rays | None:
    k = view.intrinsics
    depth = np.asarray(view.depth_m)
    if depth.shape != (k.height, k.width):
        raise ValueError(f"view {view.camera!r}: depth shape {depth.shape} does not match its intrinsics "
                         f"({k.height}, {k.width})")
    world_from_optical = view.world_from_optical.as_matrix()
    R, t = world_from_optical[:3, :3], world_from_optical[:3, 3]
    pts = (swept_world - t) @ R  # optical frame
    z = pts[:, 2]
    if (z <= _NEAR_M).all():
        return None  # all behind the camera
    if (z <= _NEAR_M).any():
        u0, u1, v0, v1 = 0, k.width - 1, 0, k.height - 1  # straddles the camera plane: cannot bound it
    else:
        u = k.fx * pts[:, 0] / z + k.cx
        v = k.fy * pts[:, 1] / z + k.cy
        u0 = max(0, int(math.floor(u.min())) - _ROI_MARGIN_PX)
        u1 = min(k.width - 1, int(math.ceil(u.max())) + _ROI_MARGIN_PX)
        v0 = max(0, int(math.floor(v.min())) - _ROI_MARGIN_PX)
        v1 = min(k.height - 1, int(math.ceil(v.max())) + _ROI_MARGIN_PX)
        if u0 > u1 or v0 > v1:
            return None  # projects outside the image
    area = (u1 - u0 + 1) * (v1 - v0 + 1)
    stride = max(1, math.ceil(math.sqrt(area / max_rays)))
    # Centre the subsampling grid in its cells so a coarse stride does not bias towards the ROI's corner.
    us = np.arange(u0 + stride // 2, u1 + 1, stride)
    vs = np.arange(v0 + stride // 2, v1 + 1, stride)
    sub = depth[np.ix_(vs, us)]
    with np.errstate(invalid="ignore"):
        valid = np.isfinite(sub) & (sub > 0.0)
    if not valid.any():
        return None
    rows, cols = np.nonzero(valid)
    directions = np.stack([(us[cols] - k.cx) / k.fx, (vs[rows] - k.cy) / k.fy, np.ones(len(rows))], axis=1)
    return _Rays(view.camera, t.copy(), (directions @ R.T).astype(np.float32), sub[rows, cols].astype(np.float32),
                 float(stride * stride))


class _Evaluator:
    """Scores opening hypotheses of one part against a fixed set of sampled rays, remembering every score."""

    def __init__(self, part: PartModel, lo: np.ndarray, hi: np.ndarray, rays: Sequence[_Rays],
                 tolerance_m: float, tolerance_rel: float, min_range_m: float) -> None:
        self._part, self._rays = part, rays
        self._lo, self._hi = lo.astype(np.float32), hi.astype(np.float32)
        self._tolerance_m, self._tolerance_rel, self._min_range_m = tolerance_m, tolerance_rel, min_range_m
        self._fractions = np.zeros(0)
        self._scores = _Scores(np.zeros(0), np.zeros(0), np.zeros(0), np.zeros((0, len(rays)), dtype=bool))

    def __call__(self, fractions: np.ndarray) -> tuple[np.ndarray, _Scores]:
        """Scores the new fractions among these (clipped to 0..1); returns all scored so far, sorted."""
        new = np.setdiff1d(np.clip(np.round(fractions, 9), 0.0, 1.0), self._fractions)
        if len(new):
            fresh = self._score(new)
            merged = np.concatenate([self._fractions, new])
            order = np.argsort(merged)
            self._fractions = merged[order]
            self._scores = self._scores.merged(fresh, order)
        return self._fractions, self._scores

    def _score(self, fractions: np.ndarray) -> _Scores:
        transforms = np.stack([self._part.transform(f) for f in fractions])  # world_from_panel at each f
        panel_from_world = transforms[:, :3, :3].transpose(0, 2, 1)
        H, V = len(fractions), len(self._rays)
        score, agree, contradict = np.zeros(H), np.zeros(H), np.zeros(H)
        informative = np.zeros((H, V), dtype=bool)
        for v, rays in enumerate(self._rays):
            # The rays in the frame where the panel at fraction f is the closed, axis-aligned box; float32
            # is ample for metres and halves the memory traffic of these (3, H, N) arrays.
            origin = np.einsum("hij,hj->hi", panel_from_world, rays.origin_m - transforms[:, :3, 3])
            # (3, H, N): one contiguous (H, N) block per panel axis, so the slab test is elementwise.
            rotation = panel_from_world.transpose(1, 0, 2).reshape(3 * H, 3).astype(np.float32)
            directions = (rotation @ rays.directions_world.T).reshape(3, H, -1)
            expected = _slab_depth(origin.T.astype(np.float32), directions, self._lo, self._hi)  # (H, N)
            # A sensor measures nothing nearer than its minimum range (a simulator clips it and shows what
            # is behind): a panel that close is neither confirmed nor contradicted.
            expected[expected < self._min_range_m] = np.nan
            residual = rays.depth_m - expected
            tol = self._tolerance_m + self._tolerance_rel * expected
            with np.errstate(invalid="ignore"):
                kernel = np.exp(-2.0 * np.square(residual / tol))  # Gaussian of sigma tol / 2
                per_ray = np.where(residual > 0.0, 2.0 * kernel - 1.0, kernel)
                n_agree = np.count_nonzero(np.abs(residual) < tol, axis=1)
                n_contra = np.count_nonzero(residual >= tol, axis=1)
            w = rays.pixel_weight
            score += w * np.nansum(per_ray, axis=1, dtype=np.float64)
            agree += w * n_agree
            contradict += w * n_contra
            informative[:, v] = (n_agree + n_contra) > 0
        return _Scores(score, agree, contradict, informative)


def _slab_depth(origin: np.ndarray, directions: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """(H, N) ray parameter of the first hit on the box [lo, hi] (= optical depth, as directions have
    optical z = 1), NaN for a miss or a camera inside the box. origin (3, H), directions (3, H, N).

    A direction component of exactly 0 gives infinite slab bounds, which is right unless the origin lies
    exactly on that face's plane (0 * inf = NaN, read as a miss: a measure-zero case)."""
    t_near = t_far = None
    with np.errstate(divide="ignore", invalid="ignore"):
        for k in range(3):
            inv = 1.0 / directions[k]
            t1 = (lo[k] - origin[k][:, None]) * inv
            t2 = (hi[k] - origin[k][:, None]) * inv
            near, far = np.minimum(t1, t2), np.maximum(t1, t2)
            t_near = near if t_near is None else np.maximum(t_near, near)
            t_far = far if t_far is None else np.minimum(t_far, far)
        hit = (t_near <= t_far) & (t_near > 0.0)
    return np.where(hit, t_near, np.float32(np.nan))
