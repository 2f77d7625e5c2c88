"""Any model ultralytics loads: closed-set YOLO detect/segment models and open-vocabulary YOLO-World and YOLOE.

Closed-set models map free-form names onto their classes with ClosedSetDetector's vocabulary (class names,
then sentence embeddings). Open-vocabulary models take the names as they are: set_vocabulary() sets them as
the model's classes, which needs the model's text encoder (CLIP ViT-B/32 for YOLO-World, MobileCLIP for
YOLOE); ultralytics downloads it on first use. Offline, a checkpoint whose classes were set in advance
(model.set_classes(names); model.save(path) on a machine with internet) still works for exactly those names.

ultralytics and torchvision live in the training venv (.venv-train), not the runtime one: PyPI's torchvision
does not import beside the runtime's CPU torch. ultralytics is imported only when a detector is built.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from planner_ros.perception.backends.closed_set import ClosedSetDetector
from planner_ros.perception.detection import Detection2D, Detector, DetectorError, VocabularyReport, WeightsMissing
from planner_ros.perception.vocabulary import DEFAULT_SIMILARITY_THRESHOLD, TextEmbedder

__all__ = ["UltralyticsDetector"]

_TASKS = ("detect", "segment")  # tasks whose results carry boxes


class _FixedClasses(ClosedSetDetector):
    """ClosedSetDetector's name mapping over a model's own classes. UltralyticsDetector runs the model itself
    (its results also carry masks, which ClosedSetDetector.detect does not) and asks which name labels a class."""

    def label(self, class_id: int) -> str | None:
        return self._label_of.get(class_id)


class UltralyticsDetector(Detector):
    backend = "ultralytics"

    def __init__(self, model: str | Path, *, score_threshold: float = 0.25, iou_threshold: float = 0.6,
                 imgsz: int = 640, allow_download: bool = False, embedder: TextEmbedder | None = None,
                 similarity_threshold: float = DEFAULT_SIMILARITY_THRESHOLD, device: str = "cpu") -> None:
        """`model`: a local .pt file or exported model (file or directory), or with allow_download a name
        ultralytics downloads (yolo11n.pt, yolov8s-worldv2.pt, yoloe-11s-seg.pt). `embedder` maps names onto
        a closed-set model's classes; open-vocabulary models do not use it."""
        path = Path(model).expanduser()
        # Checked before importing ultralytics, so a wrong path is reported the same in every environment.
        if not path.exists() and not allow_download:
            raise WeightsMissing(f"ultralytics model {path} not found: put the .pt file (or exported model) "
                                 f"there, or, for a model ultralytics publishes (yolo11n.pt, yolov8s-worldv2.pt, "
                                 f"yoloe-11s-seg.pt), set allow_download true on a machine with internet")
        source = str(path) if path.exists() else str(model)
        try:
            from ultralytics import YOLO
        except Exception as err:  # a torchvision built for another torch fails with RuntimeError, not ImportError
            raise DetectorError(f"ultralytics and torchvision are not installed in this environment "
                                f"({type(err).__name__}: {err}): pip install ultralytics (with the torchvision "
                                f"that matches torch), or run in the project's .venv-train (make train-env), "
                                f"which has them") from err
        try:
            yolo = YOLO(source)
            names = yolo.names  # exported models read theirs from metadata: a broken file fails here too
        except Exception as err:  # ultralytics raises many types: bad pickles, failed downloads, unknown names
            fetch = "" if path.exists() else " (downloading needs internet and a model name ultralytics knows)"
            raise DetectorError(f"ultralytics could not load {source!r}{fetch}: {type(err).__name__}: {err}") from err
        if yolo.task not in _TASKS:
            raise DetectorError(f"{source}: a {yolo.task!r} model has no boxes; use a {' or '.join(_TASKS)} model")
        classes = tuple(names[i] for i in sorted(names))
        if len(set(classes)) != len(classes):
            raise DetectorError(f"{source}: class names repeat ({list(classes)}); names must tell classes apart")

        self._yolo: Any = yolo
        self.model_name = path.name
        self.score_threshold = score_threshold
        self.iou_threshold = iou_threshold
        self.imgsz = imgsz
        self.device = device
        # Only YOLO-World and YOLOE PyTorch models can change classes (exported ones keep theirs); YOLOE's
        # prompt-free models (-pf) have their vocabulary fused into the head (lrpc): a fixed, if large, set.
        self.open_vocabulary = hasattr(yolo.model, "set_classes") and not hasattr(yolo.model.model[-1], "lrpc")
        self._closed = None if self.open_vocabulary else _FixedClasses(
            {c: [c] for c in classes}, embedder, score_threshold, similarity_threshold)
        # Open vocabulary: the names looked for, which are then the model's classes in order. It starts with
        # the classes the checkpoint was saved with, which need no text encoder.
        self._names: tuple[str, ...] = classes if self.open_vocabulary else ()

    @property
    def _kind(self) -> str:
        return {"YOLOWorld": "YOLO-World"}.get(type(self._yolo).__name__, type(self._yolo).__name__)

    def describe(self) -> str:
        if self._closed is not None:
            return f"{self.backend} ({self.model_name}, closed set of {len(self._closed.classes)} classes)"
        return f"{self.backend} ({self.model_name}, open vocabulary, {self._kind})"

    def set_vocabulary(self, names: Sequence[str]) -> VocabularyReport:
        if self._closed is not None:
            return self._closed.set_vocabulary(names)
        unique = tuple(dict.fromkeys(names))
        wanted = tuple(n for n in unique if n.strip())
        reasons = {n: "empty name" for n in unique if not n.strip()}
        current = tuple(self._yolo.names[i] for i in sorted(self._yolo.names))
        # Names equal to the model's classes need no text encoder (and YOLOE skips it then anyway).
        if wanted and wanted != current:
            try:
                self._yolo.set_classes(list(wanted))
            except Exception as err:  # the text encoder's import, download or load failed
                self._names = ()  # the model keeps its old classes; report nothing rather than mislabel them
                encoder = ("CLIP ViT-B/32" if self._kind == "YOLO-World"
                           else getattr(self._yolo.model, "text_model", "MobileCLIP"))
                why = (f"setting the classes of the {self._kind} model failed ({type(err).__name__}: {err}); it "
                       f"needs the {encoder} text encoder, which ultralytics downloads on first use (internet "
                       f"needed), or load a checkpoint whose classes were set in advance")
                return VocabularyReport((), unique, {**{n: why for n in wanted}, **reasons}, {})
        # An empty vocabulary means looking for nothing: detect() returns no detections until names are set.
        self._names = wanted
        return VocabularyReport(wanted, tuple(reasons), reasons, {n: n for n in wanted})

    @property
    def vocabulary(self) -> tuple[str, ...]:
        return self._closed.vocabulary if self._closed is not None else self._names

    def detect(self, rgb: np.ndarray, segmentation: np.ndarray | None = None) -> list[Detection2D]:
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise DetectorError(f"expected an (H, W, 3) uint8 RGB image, got {rgb.shape} {rgb.dtype}")
        if self._closed is None and not self._names:
            return []
        boxes, scores, class_ids, masks = self._predict(rgb)
        out = []
        for i, cid in enumerate(class_ids):
            if self._closed is not None:
                label, class_name = self._closed.label(int(cid)), self._closed.classes[int(cid)]
            else:
                label, class_name = self._names[int(cid)], ""
            if label is None:
                continue
            out.append(Detection2D(label, float(scores[i]), tuple(float(v) for v in boxes[i]), class_name,
                                   None if masks is None else masks[i]))
        return out

    def _predict(self, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
        """Boxes xyxy (N, 4) in input pixels, scores (N,), class ids (N,), and (N, H, W) bool masks or None."""
        # ultralytics takes a numpy array as an OpenCV (BGR) image and flips it to RGB itself, so flip ours
        # first or the network sees red and blue swapped.
        bgr = np.ascontiguousarray(rgb[..., ::-1])
        # retina_masks: segmentation masks at the input image's size rather than the network's.
        result = self._yolo.predict(bgr, imgsz=self.imgsz, conf=self.score_threshold, iou=self.iou_threshold,
                                    device=self.device, retina_masks=True, verbose=False)[0]
        boxes = result.boxes
        masks = None if result.masks is None else result.masks.data.cpu().numpy().astype(bool)
        return (boxes.xyxy.cpu().numpy(), boxes.conf.cpu().numpy(), boxes.cls.cpu().numpy().astype(int), masks)
