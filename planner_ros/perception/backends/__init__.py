"""Detector backends, chosen by name (the perception node's `detector` parameter)."""
from __future__ import annotations

from pathlib import Path

from planner_ros.perception.detection import Detector, DetectorError
from planner_ros.perception.vocabulary import DEFAULT_SIMILARITY_THRESHOLD, LazyMiniLMEmbedder, TextEmbedder

__all__ = ["BACKENDS", "catalog_aliases", "make_detector"]

BACKENDS = ("embedded", "onnx", "ultralytics", "transformers", "oracle")


def catalog_aliases() -> dict[str, list[str]]:
    """The simulator's object kinds with their labels and synonyms: the embedded detector's classes."""
    from planner_ros.sim.catalog import KINDS
    return {name: [kind.label, *kind.synonyms] for name, kind in KINDS.items()}


def make_detector(backend: str, *, model: str = "", score_threshold: float | None = None,
                  allow_download: bool = False, embedder: str = "minilm",
                  similarity_threshold: float = DEFAULT_SIMILARITY_THRESHOLD) -> Detector:
    """Build a backend. `model` is a file, directory or (with allow_download) a model name or hub id;
    the embedded backend defaults to the model shipped in models/."""
    text: TextEmbedder | None
    if embedder == "minilm":
        text = LazyMiniLMEmbedder()
    elif embedder == "none":
        text = None
    else:
        raise DetectorError(f"unknown embedder {embedder!r}; use 'minilm' or 'none'")
    threshold = {} if score_threshold is None else {"score_threshold": score_threshold}
    if backend == "embedded":
        from planner_ros.perception.backends.onnx_yolo import OnnxYoloDetector, default_model_path
        return OnnxYoloDetector(Path(model) if model else default_model_path(), aliases=catalog_aliases(),
                                embedder=text, similarity_threshold=similarity_threshold, **threshold)
    if backend == "onnx":
        if not model:
            raise DetectorError("the onnx backend needs `model`: the path of an ultralytics detection model "
                                "exported with `yolo export model=... format=onnx`")
        from planner_ros.perception.backends.onnx_yolo import OnnxYoloDetector
        return OnnxYoloDetector(model, embedder=text, similarity_threshold=similarity_threshold, backend="onnx",
                                **threshold)
    if backend == "ultralytics":
        if not model:
            raise DetectorError("the ultralytics backend needs `model`: a local .pt path, or a model name "
                                "(e.g. yolov8s-worldv2.pt) with allow_download on a machine with internet")
        from planner_ros.perception.backends.ultralytics_backend import UltralyticsDetector
        return UltralyticsDetector(model, allow_download=allow_download, embedder=text,
                                   similarity_threshold=similarity_threshold, **threshold)
    if backend == "transformers":
        if not model:
            raise DetectorError("the transformers backend needs `model`: a local directory saved with "
                                "save_pretrained (OWLv2, OWL-ViT, Grounding DINO) or a hub id with allow_download")
        from planner_ros.perception.backends.transformers_backend import ZeroShotDetector
        return ZeroShotDetector(model, allow_download=allow_download, **threshold)
    if backend == "oracle":
        from planner_ros.perception.backends.oracle import OracleDetector
        return OracleDetector(catalog_aliases(), text, similarity_threshold)
    raise DetectorError(f"unknown detector backend {backend!r}; choose one of {', '.join(BACKENDS)}")
