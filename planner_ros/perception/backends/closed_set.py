"""Shared behaviour of closed-set detectors: a fixed class list, free-form names mapped onto it."""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from planner_ros.perception.detection import Detection2D, Detector, VocabularyReport
from planner_ros.perception.vocabulary import ClassVocabulary, TextEmbedder

__all__ = ["ClosedSetDetector", "letterbox", "nms"]


class ClosedSetDetector(Detector):
    """Subclasses set `self.classes` and implement `_raw_detect` returning (boxes, scores, class ids)."""

    def __init__(self, aliases: Mapping[str, Sequence[str]], embedder: TextEmbedder | None,
                 score_threshold: float, similarity_threshold: float) -> None:
        self.classes = tuple(aliases)
        self.names_vocabulary = ClassVocabulary(aliases, embedder, similarity_threshold)
        self.score_threshold = score_threshold
        # class index -> the vocabulary name its detections are labelled with; empty vocabulary: every class.
        self._label_of: dict[int, str] = dict(enumerate(self.classes))
        self._requested: tuple[str, ...] = ()

    def set_vocabulary(self, names: Sequence[str]) -> VocabularyReport:
        if not names:
            self._label_of = dict(enumerate(self.classes))
            self._requested = ()
            return VocabularyReport(self.classes, (), {}, {c: c for c in self.classes})
        label_of: dict[int, str] = {}
        detectable, missing, reasons, matches = [], [], {}, {}
        for name in dict.fromkeys(names):  # unique, in order
            m = self.names_vocabulary.match(name)
            if m.class_name is None:
                missing.append(name)
                reasons[name] = m.reason
                continue
            detectable.append(name)
            matches[name] = m.class_name
            # The first name asked for a class labels its detections.
            label_of.setdefault(self.classes.index(m.class_name), name)
        self._label_of = label_of
        self._requested = tuple(detectable)
        return VocabularyReport(tuple(detectable), tuple(missing), reasons, matches)

    @property
    def vocabulary(self) -> tuple[str, ...]:
        return self._requested or self.classes

    def detect(self, rgb: np.ndarray, segmentation: np.ndarray | None = None) -> list[Detection2D]:
        boxes, scores, class_ids = self._raw_detect(rgb)
        out = []
        for box, score, cid in zip(boxes, scores, class_ids):
            label = self._label_of.get(int(cid))
            if label is None or score < self.score_threshold:
                continue
            out.append(Detection2D(label, float(score), tuple(float(v) for v in box), self.classes[int(cid)]))
        return out

    def _raw_detect(self, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        raise NotImplementedError


def letterbox(rgb: np.ndarray, out_hw: tuple[int, int]) -> tuple[np.ndarray, float, tuple[float, float]]:
    """Resize keeping aspect ratio and pad with grey to out_hw; returns (image, scale, (pad_x, pad_y))."""
    h, w = rgb.shape[:2]
    oh, ow = out_hw
    scale = min(oh / h, ow / w)
    nh, nw = round(h * scale), round(w * scale)
    if (nh, nw) != (h, w):
        from PIL import Image
        rgb = np.asarray(Image.fromarray(rgb).resize((nw, nh), Image.BILINEAR))
    pad_y, pad_x = (oh - nh) / 2, (ow - nw) / 2
    if (nh, nw) == (oh, ow):
        return rgb, scale, (0.0, 0.0)
    canvas = np.full((oh, ow, 3), 114, np.uint8)
    top, left = round(pad_y - 0.1), round(pad_x - 0.1)
    canvas[top:top + nh, left:left + nw] = rgb
    return canvas, scale, (float(left), float(top))


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Indices kept by greedy non-maximum suppression, best score first."""
    order = np.argsort(-scores)
    x1, y1, x2, y2 = boxes.T
    areas = np.maximum(x2 - x1, 0) * np.maximum(y2 - y1, 0)
    keep = []
    while order.size:
        i = order[0]
        keep.append(i)
        rest = order[1:]
        iw = np.maximum(0.0, np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]))
        ih = np.maximum(0.0, np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]))
        inter = iw * ih
        iou = inter / np.maximum(areas[i] + areas[rest] - inter, 1e-9)
        order = rest[iou <= iou_threshold]
    return np.asarray(keep, dtype=int)
