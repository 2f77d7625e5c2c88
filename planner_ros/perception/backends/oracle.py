"""The oracle "detector": reads the simulator's segmentation instead of the image. DEBUGGING ONLY.

It measures the rest of the pipeline (depth lifting, fusion, the scene graph, the planner) without detector
error, and every message it feeds is marked `is_oracle`. It can never be the default backend, and it cannot
work on a real robot: there is no segmentation there.

The segmentation it reads is the simulator's instance label image (uint16, World.instance_label_lookup): 0 for
no object, otherwise (class index + 1) * 256 + instance, the class index counting the classes in the order
given (the catalogue's) and the instance telling objects apart. The simulator node publishes it on
<camera>/segmentation when its publish_segmentation parameter is true.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from planner_ros.perception.backends.closed_set import ClosedSetDetector
from planner_ros.perception.detection import Detection2D, DetectorError
from planner_ros.perception.vocabulary import DEFAULT_SIMILARITY_THRESHOLD, TextEmbedder

__all__ = ["OracleDetector"]

MIN_PIXELS = 30


class OracleDetector(ClosedSetDetector):
    backend = "oracle"
    is_oracle = True

    def __init__(self, aliases: Mapping[str, Sequence[str]], embedder: TextEmbedder | None = None,
                 similarity_threshold: float = DEFAULT_SIMILARITY_THRESHOLD) -> None:
        super().__init__(aliases, embedder, 0.0, similarity_threshold)

    def describe(self) -> str:
        return "oracle (simulator segmentation; debugging only, not a detector)"

    def detect(self, rgb: np.ndarray, segmentation: np.ndarray | None = None) -> list[Detection2D]:
        if segmentation is None:
            raise DetectorError("the oracle backend needs the simulator's segmentation image "
                                "(sim_node publish_segmentation: true); it cannot run on real cameras")
        out = []
        values, counts = np.unique(segmentation[segmentation > 0], return_counts=True)
        for value, count in zip(values, counts):
            cid = int(value) // 256 - 1
            label = self._label_of.get(cid)
            if label is None or count < MIN_PIXELS or cid >= len(self.classes):
                continue
            mask = segmentation == value
            rows = np.flatnonzero(mask.any(axis=1))
            cols = np.flatnonzero(mask.any(axis=0))
            out.append(Detection2D(label, 1.0, (float(cols[0]), float(rows[0]), float(cols[-1] + 1),
                                                float(rows[-1] + 1)), self.classes[cid], mask))
        return out
