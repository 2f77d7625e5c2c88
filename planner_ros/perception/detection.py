"""The detector interface every backend implements, and the 2D detection it returns.

A detector looks for a vocabulary: the object names the planner cares about. Open-vocabulary backends take
the names as they are; closed-set backends map each name onto one of their classes (see vocabulary.py) and
report the names they cannot map as not detectable, so nothing is silently dropped.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

__all__ = ["Detection2D", "Detector", "DetectorError", "VocabularyReport", "WeightsMissing"]


class DetectorError(RuntimeError):
    """A backend cannot be built or run as configured; the message says what to change."""


class WeightsMissing(DetectorError):
    """The model file or directory a backend needs is not there; the message names it and how to supply it."""


@dataclass(frozen=True)
class Detection2D:
    label: str                               # the vocabulary name it answers (what the planner asked for)
    score: float                             # 0..1
    box_xyxy: tuple[float, float, float, float]  # pixel edges in the input image
    class_name: str = ""                     # the backend's own class, when it has a closed set
    mask: np.ndarray | None = field(default=None, compare=False)  # (H, W) bool, when the backend has one


@dataclass(frozen=True)
class VocabularyReport:
    detectable: tuple[str, ...]
    not_detectable: tuple[str, ...]
    reasons: dict[str, str] = field(default_factory=dict)  # name -> why it cannot be detected
    matches: dict[str, str] = field(default_factory=dict)  # name -> the backend class it maps to

    @property
    def message(self) -> str:
        if not self.not_detectable:
            return f"all {len(self.detectable)} names are detectable"
        why = "; ".join(f"{n!r}: {self.reasons.get(n, 'unknown to this backend')}" for n in self.not_detectable)
        return f"{len(self.detectable)} detectable, {len(self.not_detectable)} not detectable ({why})"


class Detector(ABC):
    """One detection backend; detect() runs one call at a time unless `thread_safe` says otherwise."""

    #: short backend name used in parameters and in published messages
    backend: str = ""
    #: True only for the simulator-segmentation oracle (debugging; never a real detector)
    is_oracle: bool = False
    #: True when detect() may run on several threads at once (the pipeline then skips its lock)
    thread_safe: bool = False

    @abstractmethod
    def set_vocabulary(self, names: Sequence[str]) -> VocabularyReport:
        """Replace the names to look for; returns which of them this backend can detect."""

    @property
    @abstractmethod
    def vocabulary(self) -> tuple[str, ...]:
        """The names currently looked for that this backend can detect."""

    @abstractmethod
    def detect(self, rgb: np.ndarray, segmentation: np.ndarray | None = None) -> list[Detection2D]:
        """Detections in one (H, W, 3) uint8 RGB image, labelled with vocabulary names. `segmentation` is the
        simulator's label image; only the oracle reads it."""

    def describe(self) -> str:
        return self.backend
