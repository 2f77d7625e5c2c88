"""The perception pipeline on rendered kitchens: the oracle isolates lifting and fusion from detector error,
the embedded detector is checked for sanity (its accuracy is measured by `make bench`), and broken frames
are refused or survived without corrupting the tracks."""
from __future__ import annotations

import numpy as np
import pytest

import planner_ros.sim  # noqa: F401  (headless GL)
from planner_ros.perception.backends import make_detector
from planner_ros.perception.evaluation import MIN_EVAL_PIXELS, iou
from planner_ros.perception.evaluate import evaluate_perception
from planner_ros.perception.pipeline import FrameInput, InvalidFrame, PerceptionPipeline
from planner_ros.perception.sim_views import EVAL_SEEDS, labelled_views
from planner_ros.sim.cameras import corrupt_depth


@pytest.fixture(scope="module")
def views():
    return [v for seed in (EVAL_SEEDS.start + 500, EVAL_SEEDS.start + 501) for v in labelled_views(seed, robot_poses=1)]


def _frame(view, **changes):
    f = view.frame
    fields = dict(camera=f.name, stamp_s=f.stamp_s, rgb=f.rgb, depth_m=f.depth_m, intrinsics=f.intrinsics,
                  world_from_optical=f.world_from_optical, segmentation=view.instance_labels)
    fields.update(changes)
    return FrameInput(**fields)


def test_oracle_fusion_finds_every_visible_object_within_a_few_centimetres():
    report = evaluate_perception(make_detector("oracle", embedder="none"), scenes=3, robot_poses=1,
                                 first_seed=EVAL_SEEDS.start + 900)
    assert report.is_oracle
    assert report.fusion["visible_objects"] >= 5
    assert report.fusion["recall"] >= 0.95
    assert report.fusion["median_error_m"] <= 0.03
    assert report.fusion["precision"] >= 0.95


def test_objects_in_the_bin_are_scored_on_their_own():
    # Seeds whose overview camera shows an object in the bin with more than 200 px (few fixed views do).
    report = evaluate_perception(make_detector("oracle", embedder="none"), scenes=2, robot_poses=0,
                                 first_seed=EVAL_SEEDS.start + 927, objects_in_bin=3)
    b = report.in_bin
    assert b["views"] >= 1 and b["objects"] >= 1
    assert b["view_recall"] == 1.0 and b["fused_recall"] == 1.0  # the oracle's boxes are the labels


def test_embedded_detector_finds_objects_in_held_out_renders(views):
    """The shipped weights are trained weights (an untrained network finds none of these); how well they do
    is measured by `make bench`, not asserted here."""
    detector = make_detector("embedded", embedder="none")
    hits = total = 0
    for view in views:
        dets = detector.detect(view.frame.rgb)
        for gt in (o for o in view.objects if o.visible_px >= MIN_EVAL_PIXELS):
            total += 1
            hits += any(d.class_name == gt.kind and iou(d.box_xyxy, gt.box_xyxy) >= 0.5 for d in dets)
    assert total >= 6
    assert hits >= 2, f"{hits}/{total} objects found"


def test_corrupted_depth_still_lifts_and_all_nan_depth_adds_nothing(views):
    view = max(views, key=lambda v: sum(o.visible_px >= MIN_EVAL_PIXELS for o in v.objects))
    oracle = make_detector("oracle", embedder="none")
    clean = PerceptionPipeline(oracle).process(_frame(view))
    noisy_depth = corrupt_depth(view.frame.depth_m, 0.3, np.random.default_rng(1))
    noisy = PerceptionPipeline(oracle).process(_frame(view, depth_m=noisy_depth))
    assert len(noisy.observations) == len(clean.observations) > 0
    for a, b in zip(clean.observations, noisy.observations):
        assert np.linalg.norm(a.centre_m - b.centre_m) < 0.02
    pipeline = PerceptionPipeline(oracle)
    blind = pipeline.process(_frame(view, depth_m=np.full_like(view.frame.depth_m, np.nan)))
    assert blind.observations == [] and len(blind.not_lifted) == len(clean.detections)
    assert all("valid depth samples" in why for _, why in blind.not_lifted)
    assert pipeline.tracks() == []


def test_mismatched_and_malformed_frames_are_refused_before_anything_is_fused(views):
    pipeline = PerceptionPipeline(make_detector("oracle", embedder="none"))
    view = views[0]
    with pytest.raises(InvalidFrame, match="does not match colour"):
        pipeline.process(_frame(view, depth_m=view.frame.depth_m[::2, ::2]))
    with pytest.raises(InvalidFrame, match="uint8"):
        pipeline.process(_frame(view, rgb=view.frame.rgb.astype(np.float32)))
    assert pipeline.tracker.tracks == {}
