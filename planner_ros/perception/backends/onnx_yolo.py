"""YOLO detectors exported to ONNX (ultralytics' detect head), run with onnxruntime on the CPU.

This is the embedded default: the model this project trains on its own simulator's renders
(models/sim_kitchen_yolov8n.onnx with its recipe JSON), and it runs any other ultralytics detection model
exported with `yolo export format=onnx`, whose class names travel in the ONNX metadata.
"""
from __future__ import annotations

import ast
import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from planner_ros.paths import share_dir
from planner_ros.perception.backends.closed_set import ClosedSetDetector, letterbox, nms
from planner_ros.perception.detection import DetectorError, WeightsMissing
from planner_ros.perception.vocabulary import DEFAULT_SIMILARITY_THRESHOLD, TextEmbedder

__all__ = ["OnnxYoloDetector", "default_model_path", "read_class_names"]


def read_class_names(model_path: Path, metadata: Mapping[str, str]) -> list[str]:
    """Class names from the recipe JSON beside the model, else from ultralytics' ONNX metadata."""
    recipe = model_path.with_suffix(".json")
    if recipe.is_file():
        classes = json.loads(recipe.read_text()).get("classes")
        if isinstance(classes, list) and all(isinstance(c, str) for c in classes):
            return classes
    raw = metadata.get("names")
    if raw:
        # ultralytics writes a Python dict literal; literal_eval parses data only, never code.
        names = ast.literal_eval(raw)
        if isinstance(names, dict):
            return [str(names[k]) for k in sorted(names)]
    raise DetectorError(f"{model_path}: no class names (neither {recipe.name} nor 'names' ONNX metadata)")


class OnnxYoloDetector(ClosedSetDetector):
    backend = "embedded"
    thread_safe = True  # onnxruntime sessions may run concurrently; each call uses its own intra-op thread

    def __init__(self, model_path: str | Path, *, aliases: Mapping[str, Sequence[str]] | None = None,
                 embedder: TextEmbedder | None = None, score_threshold: float = 0.25,
                 iou_threshold: float = 0.6, similarity_threshold: float = DEFAULT_SIMILARITY_THRESHOLD, threads: int = 1,
                 backend: str = "embedded") -> None:
        path = Path(model_path).expanduser()
        if not path.is_file():
            raise WeightsMissing(f"detector model {path} not found: pass an exported ultralytics .onnx file "
                                 "(yolo export model=best.pt format=onnx), or rebuild the embedded one with "
                                 "`make detector`")
        try:
            import onnxruntime as ort
        except ImportError as err:
            raise DetectorError(f"onnxruntime is not importable ({err}); make setup installs it") from err
        options = ort.SessionOptions()
        # One thread without spinning: on 2-core machines more threads ran ~2x slower (measured).
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self._session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as err:  # onnxruntime raises its own exception types for corrupt files
            raise DetectorError(f"{path} is not a loadable ONNX model: {err}") from err
        self.backend = backend
        self.model_path = path
        meta = self._session.get_modelmeta().custom_metadata_map
        classes = read_class_names(path, meta)
        inp = self._session.get_inputs()[0]
        self._input_name = inp.name
        h, w = inp.shape[2], inp.shape[3]
        if not (isinstance(h, int) and isinstance(w, int)):
            raise DetectorError(f"{path}: dynamic input shapes are not supported; export with a fixed imgsz")
        self.input_hw = (h, w)
        out_shape = self._session.get_outputs()[0].shape
        if len(out_shape) != 3 or out_shape[1] != 4 + len(classes):
            raise DetectorError(f"{path}: output shape {out_shape} is not an ultralytics detect head for "
                                f"{len(classes)} classes (expected (1, {4 + len(classes)}, N))")
        super().__init__(aliases or {c: [c] for c in classes}, embedder, score_threshold, similarity_threshold)
        if tuple(self.classes) != tuple(classes):
            raise DetectorError(f"{path}: aliases are given for {list(self.classes)} but the model has {classes}")
        self.iou_threshold = iou_threshold

    def describe(self) -> str:
        return f"{self.backend} ({self.model_path.name}, input {self.input_hw[1]}x{self.input_hw[0]})"

    def _raw_detect(self, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise DetectorError(f"expected an (H, W, 3) uint8 RGB image, got {rgb.shape} {rgb.dtype}")
        image, scale, (pad_x, pad_y) = letterbox(rgb, self.input_hw)
        tensor = np.ascontiguousarray(image.transpose(2, 0, 1)[None], dtype=np.float32) / 255.0
        pred = self._session.run(None, {self._input_name: tensor})[0][0]  # (4 + nc, N)
        class_scores = pred[4:]
        class_ids = class_scores.argmax(axis=0)
        scores = class_scores[class_ids, np.arange(class_scores.shape[1])]
        keep = scores >= self.score_threshold
        if not keep.any():
            return np.zeros((0, 4)), np.zeros(0), np.zeros(0, int)
        cx, cy, bw, bh = pred[:4, keep]
        boxes = np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], axis=1)
        scores, class_ids = scores[keep], class_ids[keep]
        # Per-class NMS: offset boxes by class so different classes never suppress each other.
        kept = nms(boxes + class_ids[:, None] * 4096.0, scores, self.iou_threshold)
        boxes = (boxes[kept] - [pad_x, pad_y, pad_x, pad_y]) / scale
        h, w = rgb.shape[:2]
        boxes = np.clip(boxes, 0, [w, h, w, h])
        return boxes, scores[kept], class_ids[kept]


def default_model_path() -> Path:
    """The embedded model shipped with the package (another file: the `model` parameter)."""
    return share_dir() / "models" / "sim_kitchen_yolov8n.onnx"
