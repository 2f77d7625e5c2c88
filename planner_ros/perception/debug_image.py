"""Annotated debug images: detection boxes and labels drawn on the colour image."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw

from planner_ros.perception.detection import Detection2D

__all__ = ["annotate"]


def annotate(rgb: np.ndarray, detections: Sequence[Detection2D]) -> np.ndarray:
    """A copy of `rgb` with each detection's box and "label score" drawn on it."""
    image = Image.fromarray(np.ascontiguousarray(rgb))
    draw = ImageDraw.Draw(image)
    for det in detections:
        x1, y1, x2, y2 = det.box_xyxy
        draw.rectangle((x1, y1, x2 - 1, y2 - 1), outline=(255, 40, 40), width=2)
        draw.text((x1 + 2, max(0.0, y1 - 11)), f"{det.label} {det.score:.2f}", fill=(255, 255, 0))
    return np.asarray(image)
