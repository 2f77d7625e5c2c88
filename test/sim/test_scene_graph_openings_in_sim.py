"""Door and drawer openings estimated from rendered depth alone (planner_ros.scene_graph.articulation), checked
against the simulator's joint state. The estimator sees only depth, intrinsics, camera poses and the
semantic map; the joint state is ground truth, read here only (scene_views: labelled_views with its world)."""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pytest

import planner_ros.sim  # noqa: F401,I001  (sets MUJOCO_GL before mujoco is first imported)
from planner_ros.perception.sim_views import EVAL_SEEDS, scene_views
from planner_ros.scene_graph.articulation import OpeningEstimate, estimate_opening
from planner_ros.scene_graph.model import DepthView
from planner_ros.sim.goals import OPEN_AT_LEAST
from planner_ros.sim.layouts import PARTS
from planner_ros.sim.semantic_map import semantic_map_for_layout

SEEDS = range(EVAL_SEEDS.start + 3000, EVAL_SEEDS.start + 3020)
# A part showing fewer pixels than this over all views together counts as unseen: coverage is asked of the
# others only.
SEEN_PX = 500


@dataclass(frozen=True)
class Check:
    seed: int
    part: str
    true_fraction: float
    seen_px: int             # pixels of the part's geoms over all views (segmentation, ground truth)
    estimate: OpeningEstimate | None
    estimate_s: float
    blind_estimate: OpeningEstimate | None  # from the views that show none of the part's pixels


@pytest.fixture(scope="module")
def checks() -> list[Check]:
    out = []
    for seed in SEEDS:
        views = []
        for world, view in scene_views(seed, robot_poses=1):
            views.append(view)
            truth = {pid: world.opening(pid) for pid in PARTS}  # the state the view was rendered in
            layout, model = world.index.layout, world.model
        semantic_map = semantic_map_for_layout(layout)
        depth_views = [DepthView(v.frame.name, v.frame.stamp_s, v.frame.depth_m, v.frame.intrinsics,
                                 v.frame.world_from_optical) for v in views]
        for pid, part in semantic_map.parts.items():
            geoms = np.flatnonzero(model.geom_bodyid == model.body(PARTS[pid].body).id)
            seen_px = [int(np.isin(v.frame.segmentation, geoms).sum()) for v in views]
            start = time.perf_counter()
            estimate = estimate_opening(part, depth_views)
            elapsed_s = time.perf_counter() - start
            blind = estimate_opening(part, [d for d, n in zip(depth_views, seen_px) if n == 0])
            out.append(Check(seed, pid, truth[pid], sum(seen_px), estimate, elapsed_s, blind))
    return out


def test_open_or_closed_is_right_and_the_fraction_close(checks):
    estimated = [c for c in checks if c.estimate is not None]
    right = [(c.estimate.fraction >= OPEN_AT_LEAST) == (c.true_fraction >= OPEN_AT_LEAST) for c in estimated]
    errors = [abs(c.estimate.fraction - c.true_fraction) for c in estimated]
    seen = [c for c in checks if c.seen_px >= SEEN_PX]
    coverage = sum(c.estimate is not None for c in seen) / len(seen)
    print(f"\nopen/closed right in {np.mean(right):.3f} of {len(estimated)} estimates; coverage {coverage:.3f} of "
          f"{len(seen)} seen parts; mean |fraction error| {np.mean(errors):.4f}, max {np.max(errors):.4f}; "
          f"{np.mean([c.estimate_s for c in checks]) * 1e3:.1f} ms per part")
    for c, ok in zip(estimated, right):
        if not ok:
            print(f"  wrong: seed {c.seed} {c.part} true {c.true_fraction:.3f} estimate {c.estimate}")
    assert len(seen) >= 40
    assert np.mean(right) >= 0.95
    assert coverage >= 0.9
    assert np.mean(errors) <= 0.03


def test_confident_estimates_are_right_and_open_parts_are_found(checks):
    estimated = [c for c in checks if c.estimate is not None]
    confident = [c for c in estimated if c.estimate.confidence >= 0.5]
    assert len(confident) >= 0.8 * len(estimated)
    assert all((c.estimate.fraction >= OPEN_AT_LEAST) == (c.true_fraction >= OPEN_AT_LEAST) for c in confident)
    # Not only closed parts: the sample has open ones, and they are estimated open.
    wide_open = [c for c in estimated if c.true_fraction >= 0.6]
    assert len(wide_open) >= 5
    assert all(c.estimate.fraction >= OPEN_AT_LEAST for c in wide_open)


def test_views_that_show_none_of_a_part_give_no_estimate(checks):
    assert [c for c in checks if c.blind_estimate is not None] == []
