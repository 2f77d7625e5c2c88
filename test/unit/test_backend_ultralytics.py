"""The ultralytics backend.

The runtime venv cannot import ultralytics (PyPI's torchvision does not import beside its CPU torch), so the
backend itself runs in .venv-train through a subprocess, on tiny randomly initialised models that
ultralytics builds from its YAML configs without downloading anything. What is NOT verified here: any real
pretrained weights (none can be downloaded), and the real open-vocabulary text encoders (CLIP ViT-B/32 for
YOLO-World, MobileCLIP for YOLOE), whose weights ultralytics downloads on first use. The open-vocabulary
tests check the offline failure report with the real code path, and the rest of the open-vocabulary
plumbing with a stand-in text encoder that returns fixed random embeddings.
"""
from __future__ import annotations

import json
import math
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from planner_ros.perception.backends.ultralytics_backend import UltralyticsDetector
from planner_ros.perception.detection import DetectorError, WeightsMissing
from train_venv import child_env, require_train_python

H, W = 480, 640

# Shared by the child scripts: a random image, and checks of every detection that come back as JSON.
PRELUDE = """
import json, sys
from pathlib import Path
import numpy as np
from ultralytics import YOLO
from ultralytics.utils import ROOT, YAML
from planner_ros.perception.backends.ultralytics_backend import UltralyticsDetector
from planner_ros.perception.detection import Detection2D

work = Path(sys.argv[1])
rgb = np.random.default_rng(0).integers(0, 256, (480, 640, 3), dtype=np.uint8)

def summary(dets):
    return {"n": len(dets), "types_ok": all(isinstance(d, Detection2D) for d in dets),
            "labels": sorted({d.label for d in dets}), "class_names": sorted({d.class_name for d in dets}),
            "boxes": [list(d.box_xyxy) for d in dets],
            "masks": sorted({"none" if d.mask is None else f"{d.mask.shape[0]}x{d.mask.shape[1]} {d.mask.dtype}"
                             for d in dets})}

def report(r):
    return {"detectable": list(r.detectable), "not_detectable": list(r.not_detectable), "reasons": r.reasons,
            "matches": r.matches}

def emit(result):
    print("RESULT " + json.dumps(result))
"""

# Stands in for ultralytics.nn.text_model (whose real encoders need downloaded weights): fixed random,
# L2-normalised 512-d embeddings per name, the size both CLIP ViT-B/32 and MobileCLIP produce.
FAKE_TEXT_ENCODER = """
import types, torch

class FakeTextEncoder:
    def tokenize(self, texts):
        return torch.tensor([[sum(map(ord, t))] for t in texts])

    def encode_text(self, tokens):
        feats = torch.stack([torch.randn(512, generator=torch.Generator().manual_seed(int(t))) for t in tokens[:, 0]])
        return feats / feats.norm(dim=-1, keepdim=True)

fake_text_model = types.ModuleType("ultralytics.nn.text_model")
fake_text_model.build_text_model = lambda variant, device=None: FakeTextEncoder()
"""


@pytest.fixture(scope="module")
def train_python() -> Path:
    return require_train_python("the ultralytics backend's loading path")


def _run(python: Path, script: str, tmp_path: Path, *, fake_text_encoder: bool = False) -> dict:
    source = PRELUDE + (FAKE_TEXT_ENCODER if fake_text_encoder else "") + textwrap.dedent(script)
    proc = subprocess.run([str(python), "-c", source, str(tmp_path)],
                          env=child_env(tmp_path / "yolo-config"), capture_output=True, text=True, timeout=120)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, f"child failed (rc {proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    return json.loads(lines[-1].removeprefix("RESULT "))


def _assert_boxes_inside(boxes: list[list[float]]) -> None:
    for x1, y1, x2, y2 in boxes:
        assert all(math.isfinite(v) for v in (x1, y1, x2, y2)), (x1, y1, x2, y2)
        assert 0 <= x1 <= x2 <= W and 0 <= y1 <= y2 <= H, (x1, y1, x2, y2)


def test_missing_model_is_reported_before_ultralytics_is_imported(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ultralytics", None)  # any import of it would now fail
    with pytest.raises(WeightsMissing) as err:
        UltralyticsDetector(tmp_path / "yolo_missing.pt")
    assert "yolo_missing.pt" in str(err.value) and "allow_download" in str(err.value)


def test_missing_ultralytics_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ultralytics", None)
    model = tmp_path / "model.pt"
    model.write_bytes(b"")
    with pytest.raises(DetectorError) as err:
        UltralyticsDetector(model)
    assert not isinstance(err.value, WeightsMissing)
    assert "pip install ultralytics" in str(err.value) and ".venv-train" in str(err.value)


def test_closed_set_model(train_python, tmp_path):
    result = _run(train_python, """
        from collections import Counter
        # Random weights, built offline from ultralytics' config, with COCO's class names as a COCO model has.
        tiny = YOLO("yolov8n.yaml")
        tiny.model.names = YAML.load(ROOT / "cfg/datasets/coco8.yaml")["names"]
        tiny.save(work / "tiny.pt")
        # Random weights score near zero: threshold 0 so detections come back at all.
        det = UltralyticsDetector(work / "tiny.pt", score_threshold=0.0, imgsz=320)
        out = {"describe": det.describe(), "all_classes": len(det.vocabulary)}
        everything = det.detect(rgb)  # no vocabulary set on a closed set: every class
        out["everything"] = summary(everything)
        # Ask for the class seen most, spelt differently, so the labelled detections are known in advance.
        out["top"], out["top_count"] = Counter(d.class_name for d in everything).most_common(1)[0]
        asked = out["top"].upper()
        out["report"] = report(det.set_vocabulary([asked, "flux capacitor"]))
        out["vocabulary"] = list(det.vocabulary)
        out["asked"] = summary(det.detect(rgb))
        det.set_vocabulary([])
        out["all_classes_again"] = len(det.vocabulary)
        emit(out)
    """, tmp_path)
    assert result["describe"] == "ultralytics (tiny.pt, closed set of 80 classes)"
    assert result["all_classes"] == result["all_classes_again"] == 80
    everything = result["everything"]
    assert everything["n"] > 0 and everything["types_ok"] and everything["masks"] == ["none"]
    top, asked = result["top"], result["top"].upper()
    rep = result["report"]
    assert rep["detectable"] == [asked] and rep["matches"] == {asked: top}
    assert rep["not_detectable"] == ["flux capacitor"] and rep["reasons"]["flux capacitor"]
    assert result["vocabulary"] == [asked]
    dets = result["asked"]  # labelled with the name asked for, keeping the model's class
    assert dets["n"] == result["top_count"] and dets["labels"] == [asked] and dets["class_names"] == [top]
    _assert_boxes_inside(everything["boxes"])


def test_yolo_world_offline_and_with_classes_set_in_advance(train_python, tmp_path):
    result = _run(train_python, """
        YOLO("yolov8n-worldv2.yaml").save(work / "world.pt")
        det = UltralyticsDetector(work / "world.pt", score_threshold=0.0, imgsz=320)
        out = {"describe": det.describe(), "initial": len(det.vocabulary)}
        # The real text encoder: CLIP cannot be installed or downloaded offline, which must be reported.
        out["offline"] = report(det.set_vocabulary(["mug"]))
        out["offline_detections"] = len(det.detect(rgb))
        # Classes set in advance (with the stand-in encoder) and saved: loading needs no encoder at all.
        sys.modules["ultralytics.nn.text_model"] = fake_text_model
        baked = YOLO(work / "world.pt")
        baked.set_classes(["mug", "bowl"])
        baked.save(work / "baked.pt")
        sys.modules["ultralytics.nn.text_model"] = None  # importing the encoder now fails
        det = UltralyticsDetector(work / "baked.pt", score_threshold=0.0, imgsz=320)
        out["baked_vocabulary"] = list(det.vocabulary)
        out["baked"] = report(det.set_vocabulary(["mug", "bowl"]))
        out["baked_detections"] = summary(det.detect(rgb))
        emit(out)
    """, tmp_path, fake_text_encoder=True)
    assert result["describe"] == "ultralytics (world.pt, open vocabulary, YOLO-World)"
    assert result["initial"] == 80  # the checkpoint's own classes until a vocabulary is set
    offline = result["offline"]
    assert offline["detectable"] == [] and offline["not_detectable"] == ["mug"]
    assert "CLIP" in offline["reasons"]["mug"] and "download" in offline["reasons"]["mug"]
    assert result["offline_detections"] == 0
    assert result["baked_vocabulary"] == ["mug", "bowl"]
    assert result["baked"]["detectable"] == ["mug", "bowl"] and result["baked"]["not_detectable"] == []
    dets = result["baked_detections"]
    assert dets["n"] > 0 and dets["types_ok"] and set(dets["labels"]) <= {"mug", "bowl"}
    assert dets["class_names"] == [""]
    _assert_boxes_inside(dets["boxes"])


def test_yoloe_segmentation_with_stand_in_text_encoder(train_python, tmp_path):
    result = _run(train_python, """
        sys.modules["ultralytics.nn.text_model"] = fake_text_model
        YOLO("yoloe-11n-seg.yaml").save(work / "yoloe.pt")
        det = UltralyticsDetector(work / "yoloe.pt", score_threshold=0.0, imgsz=320)
        out = {"describe": det.describe(), "report": report(det.set_vocabulary(["mug", "banana", " ", "mug"]))}
        out["vocabulary"] = list(det.vocabulary)
        out["detections"] = summary(det.detect(rgb))
        out["empty"] = report(det.set_vocabulary([]))
        out["empty_detections"] = len(det.detect(rgb))
        emit(out)
    """, tmp_path, fake_text_encoder=True)
    assert result["describe"] == "ultralytics (yoloe.pt, open vocabulary, YOLOE)"
    rep = result["report"]
    assert rep["detectable"] == ["mug", "banana"] and rep["not_detectable"] == [" "]
    assert rep["reasons"] == {" ": "empty name"} and rep["matches"] == {"mug": "mug", "banana": "banana"}
    assert result["vocabulary"] == ["mug", "banana"]
    dets = result["detections"]
    assert dets["n"] > 0 and dets["types_ok"] and set(dets["labels"]) <= {"mug", "banana"}
    assert dets["masks"] == [f"{H}x{W} bool"]  # masks at the input image's size
    _assert_boxes_inside(dets["boxes"])
    # An empty vocabulary on an open-vocabulary model looks for nothing.
    assert result["empty"]["detectable"] == [] and result["empty_detections"] == 0
