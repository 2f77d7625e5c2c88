"""AP50 and fusion metrics on hand-computed cases, including ignore regions."""
import math

import numpy as np

from planner_ros.perception.detection import Detection2D
from planner_ros.perception.evaluation import (MIN_EVAL_PIXELS, DetectionTally, FusionTally, TrackEstimate,
                                               average_precision)
from planner_ros.perception.sim_views import GtObject


def gt(oid, kind, box, px=1000):
    return GtObject(oid, kind, 0, box, px, (0.0, 0.0, 0.0), (0.1, 0.1, 0.1))


def det(kind, box, score):
    return Detection2D(kind, score, box, kind)


def test_average_precision_textbook_cases():
    assert average_precision([0.9, 0.8], [True, True], 2) == 1.0
    assert average_precision([0.9], [True], 2) == 0.5
    # A false alarm ranked first: precision 1/2 at recall 1/2 and 2/3 at recall 1; the interpolated
    # envelope takes the best precision at any recall at least as high, so 2/3 throughout.
    assert math.isclose(average_precision([0.9, 0.8, 0.7], [False, True, True], 2), 2 / 3)
    assert math.isclose(average_precision([0.9, 0.8, 0.7], [True, False, True], 2), 0.5 + 0.5 * 2 / 3)
    assert math.isnan(average_precision([], [], 0))
    assert average_precision([], [], 3) == 0.0


def test_detections_on_ignored_slivers_are_neither_hits_nor_false_alarms():
    tally = DetectionTally(["mug"], 0.25)
    truth = [gt("a", "mug", (0, 0, 40, 40)), gt("b", "mug", (100, 100, 108, 108), px=MIN_EVAL_PIXELS - 1)]
    tally.add([det("mug", (1, 1, 40, 40), 0.9), det("mug", (100, 100, 108, 108), 0.8)], truth)
    strict = tally.per_class()["mug"]
    assert strict["objects"] == 1 and strict["ap50"] == 1.0 and strict["precision"] == 1.0
    every = tally.per_class(every_labelled=True)["mug"]
    assert every["objects"] == 2 and every["ap50"] == 1.0


def test_duplicates_and_wrong_classes_are_false_alarms():
    tally = DetectionTally(["mug", "cup"], 0.25)
    truth = [gt("a", "mug", (0, 0, 40, 40))]
    tally.add([det("mug", (0, 0, 40, 40), 0.9), det("mug", (2, 2, 40, 40), 0.5), det("cup", (0, 0, 40, 40), 0.7)],
              truth)
    per = tally.per_class()
    assert per["mug"]["precision"] == 0.5 and per["mug"]["recall"] == 1.0 and per["mug"]["ap50"] == 1.0
    assert math.isnan(per["cup"]["ap50"])  # no cups to find: the class does not enter the mean
    assert tally.mean_ap50() == 1.0


def test_fusion_recall_precision_and_error():
    tally = FusionTally()
    truth = {"a": ("mug", np.array([0.0, 0.0, 1.0])), "b": ("cup", np.array([1.0, 0.0, 1.0])),
             "c": ("bowl", np.array([2.0, 0.0, 1.0]))}
    tracks = [TrackEstimate("mug", np.array([0.02, 0.0, 1.0])), TrackEstimate("cup", np.array([1.5, 0.0, 1.0])),
              TrackEstimate("bowl", np.array([2.0, 0.01, 1.0]))]
    tally.add_scene(tracks, truth, counted={"a", "b"})
    s = tally.summary()
    assert s["recall"] == 0.5            # the cup track is 0.5 m off: no match
    assert math.isclose(s["precision"], 2 / 3)  # the bowl is tracked though too small to count for recall
    assert math.isclose(s["median_error_m"], 0.02)
