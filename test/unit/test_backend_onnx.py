"""The embedded ONNX detector: the shipped model loads and runs; broken files and names are explained."""
import json

import numpy as np
import pytest

from planner_ros.perception.backends import catalog_aliases, make_detector
from planner_ros.perception.backends.closed_set import letterbox, nms
from planner_ros.perception.backends.onnx_yolo import default_model_path, read_class_names
from planner_ros.perception.detection import DetectorError


def test_shipped_model_loads_with_its_recipe_and_runs_on_a_frame():
    path = default_model_path()
    recipe = json.loads(path.with_suffix(".json").read_text())
    assert path.stat().st_size < 20e6
    detector = make_detector("embedded", embedder="none")
    assert detector.classes == tuple(catalog_aliases()) == tuple(recipe["classes"])
    assert detector.input_hw == tuple(recipe["input_hw"]) == (480, 640)
    assert "embedded" in detector.describe() and not detector.is_oracle
    dets = detector.detect(np.full((480, 640, 3), 128, np.uint8))
    assert all(0 <= d.box_xyxy[0] <= d.box_xyxy[2] <= 640 and 0.0 <= d.score <= 1.0 for d in dets)
    # Another image size is letterboxed in and boxes are mapped back to it.
    for d in detector.detect(np.zeros((240, 320, 3), np.uint8)):
        assert d.box_xyxy[2] <= 320 and d.box_xyxy[3] <= 240


def test_corrupt_model_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "broken.onnx"
    bad.write_bytes(b"not an onnx model")
    with pytest.raises(DetectorError, match="not a loadable ONNX model"):
        make_detector("onnx", model=str(bad))


def test_class_names_come_from_the_recipe_or_ultralytics_metadata(tmp_path):
    model = tmp_path / "m.onnx"
    assert read_class_names(model, {"names": "{0: 'person', 1: 'cup'}"}) == ["person", "cup"]
    model.with_suffix(".json").write_text(json.dumps({"classes": ["a", "b"]}))
    assert read_class_names(model, {"names": "{0: 'person'}"}) == ["a", "b"]
    with pytest.raises(DetectorError, match="no class names"):
        read_class_names(tmp_path / "other.onnx", {})
    with pytest.raises((ValueError, SyntaxError)):
        read_class_names(tmp_path / "other.onnx", {"names": "__import__('os').system('true')"})


def test_letterbox_keeps_aspect_and_reports_the_mapping():
    image = np.zeros((240, 320, 3), np.uint8)
    out, scale, (pad_x, pad_y) = letterbox(image, (480, 640))
    assert out.shape == (480, 640, 3) and scale == 2.0 and (pad_x, pad_y) == (0.0, 0.0)
    out, scale, (pad_x, pad_y) = letterbox(np.zeros((480, 480, 3), np.uint8), (480, 640))
    assert scale == 1.0 and pad_x == 80.0 and out[0, 0, 0] == 114 and out[0, 100, 0] == 0


def test_nms_keeps_the_best_of_overlapping_boxes():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 10, 10], [20, 20, 30, 30]], float)
    kept = nms(boxes, np.array([0.5, 0.9, 0.3]), 0.5)
    assert kept.tolist() == [1, 2]
