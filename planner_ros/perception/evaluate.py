"""`planner-ros eval perception`: the pipeline on held-out randomised scenes against ground truth.

Each scene (a seed from EVAL_SEEDS, never used for training) is rendered from the four fixed cameras and
from the robot's head and wrist cameras at `robot_poses` poses; every view goes through the same pipeline
the node runs (detect, lift, fuse), and the scene's fused tracks are compared with the objects that at least
one view shows. With `objects_in_bin`, every scene also holds objects in the bin (which the task scenes'
random objects never do), and their recall is reported on its own. Throughput is timed per frame: detection,
and lifting plus fusion, on this process's threads; rendering is not counted.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

import planner_ros.sim  # noqa: F401  (headless GL backend before mujoco loads)
from planner_ros.perception.detection import Detector
from planner_ros.perception.evaluation import MIN_EVAL_PIXELS, DetectionTally, FusionTally, TrackEstimate, iou
from planner_ros.perception.pipeline import FrameInput, PerceptionPipeline
from planner_ros.perception.sim_views import BIN_OBJECT_PREFIX, CLASS_NAMES, EVAL_SEEDS, labelled_views

__all__ = ["PerceptionReport", "evaluate_perception", "format_report"]


@dataclass
class PerceptionReport:
    backend: str
    is_oracle: bool
    scenes: int
    frames: int
    per_class: dict[str, dict[str, float]]
    mean_ap50: float
    mean_ap50_every_labelled: float
    fusion: dict[str, float]
    detect_ms_median: float
    lift_fuse_ms_median: float
    frames_per_s: float
    seeds: tuple[int, int]
    # objects in the bin (with objects_in_bin): views showing one with >= MIN_EVAL_PIXELS px and how many of
    # those a same-class box (IoU >= 0.5, score >= the operating threshold) found; fused 3D recall of them
    in_bin: dict[str, float] | None = None

    def to_json(self) -> str:
        return json.dumps(self.__dict__, indent=1, default=float)


def evaluate_perception(detector: Detector, *, scenes: int = 20, robot_poses: int = 2, first_seed: int | None = None,
                        operating_threshold: float = 0.25, objects_in_bin: int = 0, progress=None) -> PerceptionReport:
    start = EVAL_SEEDS.start if first_seed is None else first_seed
    seeds = range(start, start + scenes)
    if seeds.start < EVAL_SEEDS.start or seeds.stop > EVAL_SEEDS.stop:
        raise ValueError(f"evaluation seeds must lie in {EVAL_SEEDS.start}..{EVAL_SEEDS.stop - 1} (held out from "
                         f"training), got {seeds.start}..{seeds.stop - 1}")
    tally = DetectionTally(CLASS_NAMES, operating_threshold)
    fusion = FusionTally()
    detect_s, lift_s = [], []
    frames = 0
    bin_shown = bin_found = 0
    bin_fusion = FusionTally()
    for seed in seeds:
        pipeline = PerceptionPipeline(detector)
        labelled: dict[str, tuple[str, np.ndarray]] = {}
        counted: set[str] = set()
        for view in labelled_views(seed, robot_poses=robot_poses, objects_in_bin=objects_in_bin):
            f = view.frame
            result = pipeline.process(FrameInput(f.name, f.stamp_s, f.rgb, f.depth_m, f.intrinsics,
                                                 f.world_from_optical, view.instance_labels if detector.is_oracle
                                                 else None))
            frames += 1
            detect_s.append(result.detect_s)
            lift_s.append(result.lift_fuse_s)
            tally.add([d for d in result.detections if d.class_name], view.objects)
            for o in view.objects:
                labelled[o.object_id] = (o.kind, np.asarray(o.centre_m))
                if o.visible_px < MIN_EVAL_PIXELS:
                    continue
                counted.add(o.object_id)
                if o.object_id.startswith(BIN_OBJECT_PREFIX):
                    bin_shown += 1
                    bin_found += any(d.class_name == o.kind and d.score >= operating_threshold
                                     and iou(d.box_xyxy, o.box_xyxy) >= 0.5 for d in result.detections)
        tracks = [TrackEstimate(t.class_name, t.centre_m) for t in pipeline.tracks()]
        fusion.add_scene(tracks, labelled, counted)
        binned = {oid for oid in labelled if oid.startswith(BIN_OBJECT_PREFIX)}
        bin_fusion.add_scene(tracks, {oid: labelled[oid] for oid in binned}, counted & binned)
        if progress is not None:
            progress(seed - seeds.start + 1, len(seeds))
    per_frame = np.asarray(detect_s) + np.asarray(lift_s)
    return PerceptionReport(
        backend=detector.describe(), is_oracle=detector.is_oracle, scenes=len(seeds), frames=frames,
        per_class=tally.per_class(), mean_ap50=tally.mean_ap50(),
        mean_ap50_every_labelled=tally.mean_ap50(every_labelled=True), fusion=fusion.summary(),
        detect_ms_median=float(np.median(detect_s) * 1e3), lift_fuse_ms_median=float(np.median(lift_s) * 1e3),
        frames_per_s=float(len(per_frame) / per_frame.sum()), seeds=(seeds.start, seeds.stop - 1),
        in_bin=None if objects_in_bin <= 0 else {
            "views": bin_shown, "view_recall": bin_found / bin_shown if bin_shown else float("nan"),
            "objects": bin_fusion.visible, "fused_recall": bin_fusion.summary()["recall"]})


def format_report(report: PerceptionReport) -> str:
    lines = [f"perception evaluation: {report.backend}" + ("  [ORACLE: simulator segmentation, not a detector]"
                                                           if report.is_oracle else ""),
             f"held-out scenes: seeds {report.seeds[0]}..{report.seeds[1]} ({report.scenes} scenes, "
             f"{report.frames} frames of 640x480)",
             "",
             f"{'class':14s} {'AP50':>6s} {'prec':>6s} {'recall':>6s} {'objects':>8s}"]
    for cls, m in report.per_class.items():
        lines.append(f"{cls:14s} {m['ap50']:6.3f} {m['precision']:6.3f} {m['recall']:6.3f} {m['objects']:8d}")
    fu = report.fusion
    lines += ["",
              f"mean AP50 over classes (objects >= {MIN_EVAL_PIXELS} visible px): {report.mean_ap50:.3f}",
              f"mean AP50 over classes (every labelled object):          {report.mean_ap50_every_labelled:.3f}",
              f"fused 3D objects: recall {fu['recall']:.3f} of {fu['visible_objects']} visible, precision "
              f"{fu['precision']:.3f} of {fu['tracks']} tracks, centroid error median "
              f"{fu['median_error_m'] * 100:.1f} cm, p90 {fu['p90_error_m'] * 100:.1f} cm",
              f"throughput: detection {report.detect_ms_median:.1f} ms, lifting+fusion "
              f"{report.lift_fuse_ms_median:.1f} ms per frame (median); {report.frames_per_s:.1f} frames/s on one "
              "thread"]
    if report.in_bin is not None:
        b = report.in_bin
        lines.append(f"objects in the bin: found in {b['view_recall']:.3f} of {b['views']} views showing one "
                     f"(same class, IoU >= 0.5, score >= the operating threshold); fused 3D recall "
                     f"{b['fused_recall']:.3f} of {b['objects']}")
    return "\n".join(lines)

