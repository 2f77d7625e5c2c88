"""Detection and fusion metrics against simulator ground truth.

2D: per-class AP at IoU 0.5 (all-point interpolated precision-recall area, as in PASCAL VOC 2010+), and
precision/recall at the detector's operating threshold. Objects with fewer than MIN_EVAL_PIXELS visible
pixels are "ignore" regions, as crowd regions are in COCO: a detection on one is neither a hit nor a false
alarm, and missing one costs nothing, because a 10x10-pixel sliver behind a shelf edge is not an object the
detector can be asked to find. The report also gives AP over every labelled object (>= MIN_LABEL_PIXELS).
3D: a ground-truth object counts as visible when at least one view shows MIN_EVAL_PIXELS of it; a fused
track matches it when the labels agree and the centres are within MATCH_DISTANCE_M (nearest pairs first).
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from planner_ros.perception.detection import Detection2D
from planner_ros.perception.sim_views import GtObject

__all__ = ["DetectionTally", "FusionTally", "MATCH_DISTANCE_M", "MIN_EVAL_PIXELS", "average_precision", "iou"]

MIN_EVAL_PIXELS = 200
MATCH_DISTANCE_M = 0.15
IOU_THRESHOLD = 0.5


def iou(a: Sequence[float], b: Sequence[float]) -> float:
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def average_precision(scores: Sequence[float], hits: Sequence[bool], positives: int) -> float:
    """Area under the interpolated precision-recall curve; NaN when there is nothing to find."""
    if positives == 0:
        return float("nan")
    if not scores:
        return 0.0
    order = np.argsort(-np.asarray(scores), kind="stable")
    tp = np.cumsum(np.asarray(hits, dtype=float)[order])
    fp = np.cumsum(1.0 - np.asarray(hits, dtype=float)[order])
    recall = tp / positives
    precision = tp / np.maximum(tp + fp, 1e-12)
    r = np.concatenate([[0.0], recall, [recall[-1]]])
    p = np.concatenate([[1.0], precision, [0.0]])
    p = np.maximum.accumulate(p[::-1])[::-1]  # precision envelope
    return float(np.sum((r[1:] - r[:-1]) * p[1:]))


@dataclass
class _ClassRecord:
    scores: list[float] = field(default_factory=list)
    hits: list[bool] = field(default_factory=list)
    positives: int = 0


class DetectionTally:
    """Accumulates per-class detection outcomes over images, for two ignore thresholds."""

    def __init__(self, classes: Sequence[str], operating_threshold: float) -> None:
        self.classes = tuple(classes)
        self.operating_threshold = operating_threshold
        self._strict: dict[str, _ClassRecord] = defaultdict(_ClassRecord)  # >= MIN_EVAL_PIXELS counted
        self._all: dict[str, _ClassRecord] = defaultdict(_ClassRecord)     # every labelled object counted
        self.images = 0

    def add(self, detections: Sequence[Detection2D], truth: Sequence[GtObject]) -> None:
        self.images += 1
        self._add(self._strict, detections, truth, MIN_EVAL_PIXELS)
        self._add(self._all, detections, truth, 0)

    @staticmethod
    def _add(records: dict[str, _ClassRecord], detections: Sequence[Detection2D], truth: Sequence[GtObject],
             min_pixels: int) -> None:
        for cls in {d.class_name for d in detections} | {g.kind for g in truth}:
            dets = sorted((d for d in detections if d.class_name == cls), key=lambda d: -d.score)
            gts = [g for g in truth if g.kind == cls]
            counted = [g.visible_px >= min_pixels for g in gts]
            taken = [False] * len(gts)
            rec = records[cls]
            rec.positives += sum(counted)
            for det in dets:
                overlaps = [iou(det.box_xyxy, g.box_xyxy) for g in gts]
                free = [j for j in range(len(gts)) if counted[j] and not taken[j] and overlaps[j] >= IOU_THRESHOLD]
                if free:
                    taken[max(free, key=lambda j: overlaps[j])] = True
                elif any(not counted[j] and overlaps[j] >= IOU_THRESHOLD for j in range(len(gts))):
                    continue  # on an ignore region: neither hit nor false alarm
                rec.scores.append(det.score)
                rec.hits.append(bool(free))

    def per_class(self, every_labelled: bool = False) -> dict[str, dict[str, float]]:
        records = self._all if every_labelled else self._strict
        out = {}
        for cls in self.classes:
            rec = records.get(cls, _ClassRecord())
            kept = [h for s, h in zip(rec.scores, rec.hits) if s >= self.operating_threshold]
            tp = sum(kept)
            out[cls] = {
                "ap50": average_precision(rec.scores, rec.hits, rec.positives),
                "precision": tp / len(kept) if kept else float("nan"),
                "recall": tp / rec.positives if rec.positives else float("nan"),
                "objects": rec.positives,
            }
        return out

    def mean_ap50(self, every_labelled: bool = False) -> float:
        values = [v["ap50"] for v in self.per_class(every_labelled).values() if not np.isnan(v["ap50"])]
        return float(np.mean(values)) if values else float("nan")


@dataclass(frozen=True)
class TrackEstimate:
    label: str
    centre_m: np.ndarray


@dataclass
class FusionTally:
    visible: int = 0
    matched: int = 0
    tracks: int = 0
    false_tracks: int = 0
    errors_m: list[float] = field(default_factory=list)

    def add_scene(self, tracks: Sequence[TrackEstimate], truth: dict[str, tuple[str, np.ndarray]],
                  counted: set[str]) -> None:
        """truth: object id -> (class, centre) of every object some view labels; `counted`: the ids that
        recall is measured on (visible enough in at least one view). A track on an uncounted object is
        not a false track."""
        self.visible += len(counted)
        self.tracks += len(tracks)
        pairs = sorted((float(np.linalg.norm(t.centre_m - centre)), i, oid)
                       for i, t in enumerate(tracks) for oid, (cls, centre) in truth.items() if t.label == cls)
        used_t: set[int] = set()
        used_g: set[str] = set()
        for d, i, oid in pairs:
            if d > MATCH_DISTANCE_M or i in used_t or oid in used_g:
                continue
            used_t.add(i)
            used_g.add(oid)
            if oid in counted:
                self.errors_m.append(d)
        self.matched += len(used_g & counted)
        self.false_tracks += len(tracks) - len(used_t)

    def summary(self) -> dict[str, float]:
        errors = np.asarray(self.errors_m) if self.errors_m else np.full(1, np.nan)
        return {
            "recall": self.matched / self.visible if self.visible else float("nan"),
            "precision": (self.tracks - self.false_tracks) / self.tracks if self.tracks else float("nan"),
            "median_error_m": float(np.median(errors)),
            "p90_error_m": float(np.percentile(errors, 90)),
            "visible_objects": self.visible,
            "tracks": self.tracks,
        }
