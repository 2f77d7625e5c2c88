"""The embedded detector's recipe: the data set export writes labels that match the simulator's ground truth,
a deadline keeps exactly a prefix of seeds, a training stage (in .venv-train) appends itself to the recipe
and exports a model the embedded backend loads, and the shipped files agree with their recipe."""
from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import planner_ros.sim  # noqa: F401  (headless GL)
from planner_ros.perception.backends.onnx_yolo import OnnxYoloDetector
from planner_ros.perception.sim_views import CLASS_NAMES, TRAIN_SEEDS, labelled_views
from train_venv import REPO, child_env, require_train_python

EXPORT = REPO / "scripts" / "detector" / "export_dataset.py"
TRAIN = REPO / "scripts" / "detector" / "train.py"
MODELS = REPO / "models"


def _export(out: Path, *args: str) -> dict:
    proc = subprocess.run([sys.executable, str(EXPORT), str(out), "--workers", "2", *args],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads((out / "dataset.json").read_text())


def _labels(path: Path) -> np.ndarray:
    rows = [line.split() for line in path.read_text().splitlines()]
    return np.array(rows, dtype=float).reshape(-1, 5)


@pytest.fixture(scope="module")
def frames_dataset(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("frames")
    summary = _export(out, "--crop", "0", "--train-seeds", "2", "--val-seeds", "1", "--robot-poses", "1")
    assert summary["train_seeds"] == [TRAIN_SEEDS[0], TRAIN_SEEDS[1]]
    assert summary["val_seeds"] == [TRAIN_SEEDS[-1], TRAIN_SEEDS[-1]]  # val from the end: never a train seed
    return out


def test_whole_frame_labels_are_the_ground_truth_boxes(frames_dataset):
    views = list(labelled_views(TRAIN_SEEDS[0], robot_poses=1))
    images = sorted((frames_dataset / "images" / "train").glob(f"s{TRAIN_SEEDS[0]}_*.png"))
    assert len(images) == len(views) == 6  # 4 fixed cameras + head and wrist from one robot pose
    for view in views:
        stem = next(p.stem for p in images if f"_{view.frame.name}_" in p.name)
        rgb = np.asarray(Image.open(frames_dataset / "images" / "train" / f"{stem}.png"))
        assert rgb.shape == (480, 640, 3)
        np.testing.assert_array_equal(rgb, view.frame.rgb)
        labels = _labels(frames_dataset / "labels" / "train" / f"{stem}.txt")
        expected = sorted((o.class_id, (o.box_xyxy[0] + o.box_xyxy[2]) / 1280, (o.box_xyxy[1] + o.box_xyxy[3]) / 960,
                           (o.box_xyxy[2] - o.box_xyxy[0]) / 640, (o.box_xyxy[3] - o.box_xyxy[1]) / 480)
                          for o in view.objects)
        np.testing.assert_allclose(np.array(sorted(map(tuple, labels))).reshape(-1, 5), np.array(expected).reshape(-1, 5),
                                   atol=1e-5)
    assert sum(len(_labels(p)) for p in (frames_dataset / "labels" / "train").glob("*.txt")) > 0


def test_crops_keep_native_scale_and_clip_boxes_inside(tmp_path):
    _export(tmp_path, "--crop", "320", "--train-seeds", "1", "--val-seeds", "0", "--robot-poses", "1")
    images = sorted((tmp_path / "images" / "train").glob("*.png"))
    assert images
    for image in images:
        assert Image.open(image).size == (320, 320)
        labels = _labels(tmp_path / "labels" / "train" / f"{image.stem}.txt")
        assert np.all((labels[:, 0] >= 0) & (labels[:, 0] < len(CLASS_NAMES)))
        xyxy = np.c_[labels[:, 1] - labels[:, 3] / 2, labels[:, 2] - labels[:, 4] / 2,
                     labels[:, 1] + labels[:, 3] / 2, labels[:, 2] + labels[:, 4] / 2]
        assert np.all(xyxy >= -1e-6) and np.all(xyxy <= 1 + 1e-6)
        assert np.all(labels[:, 3:] * 320 >= 4 - 1e-3)  # clipped boxes keep at least 4 px


def test_bin_objects_are_labelled_and_leave_the_default_scene_unchanged():
    plain = list(labelled_views(TRAIN_SEEDS[3], robot_poses=0))
    again = list(labelled_views(TRAIN_SEEDS[3], robot_poses=0, objects_in_bin=0))
    np.testing.assert_array_equal(plain[0].frame.rgb, again[0].frame.rgb)  # evaluation scenes are untouched
    binned = [o for v in labelled_views(TRAIN_SEEDS[0], robot_poses=0, objects_in_bin=3)
              for o in v.objects if o.object_id.startswith("binned_")]
    assert binned, "some fixed camera shows an object in the bin"
    assert all(o.class_id == CLASS_NAMES.index(o.kind) for o in binned)
    assert all(o.centre_m[2] < 0.45 for o in binned)  # inside the bin, below its rim


def test_a_deadline_keeps_exactly_the_finished_prefix_of_train_seeds(tmp_path):
    summary = _export(tmp_path, "--crop", "0", "--train-seeds", "40", "--val-seeds", "1", "--robot-poses", "1",
                      "--deadline-s", "7")
    n = 0 if not summary["train_seeds"] else summary["train_seeds"][1] - summary["train_seeds"][0] + 1
    assert n < 40  # 40 seeds cannot render in 7 s on 2 workers
    seeds = sorted({int(p.name[1:].split("_")[0]) for p in (tmp_path / "images" / "train").glob("*.png")})
    assert seeds == list(TRAIN_SEEDS[:n])  # partly written seeds beyond the prefix were removed
    assert summary["train_images"] == 6 * n == len(list((tmp_path / "labels" / "train").glob("*.txt")))
    assert summary["val_images"] == 6


def test_a_training_stage_appends_to_the_recipe_and_exports_a_loadable_model(frames_dataset, tmp_path):
    python = require_train_python("training a further detector stage")
    out = tmp_path / "models"
    out.mkdir()
    for suffix in (".pt", ".json"):
        shutil.copy(MODELS / f"sim_kitchen_yolov8n{suffix}", out)
    # The GPU machines this recipe also runs on have no polars (ultralytics reads results.csv with it).
    blocker = tmp_path / "no_polars"
    blocker.mkdir()
    (blocker / "sitecustomize.py").write_text("import sys\nsys.modules['polars'] = None\n")
    env = child_env()
    env["PYTHONPATH"] = f"{blocker}:{env['PYTHONPATH']}"
    common = ["--work", str(tmp_path / "work")]
    stage = subprocess.run([str(python), str(TRAIN), str(frames_dataset), "--out", str(out), "--init",
                            str(out / "sim_kitchen_yolov8n.pt"), "--epochs", "1", "--imgsz", "320", "--batch", "4",
                            "--no-export", *common], env=env, capture_output=True, text=True, timeout=600)
    assert stage.returncode == 0, stage.stdout[-1500:] + stage.stderr[-1500:]
    shipped = json.loads((MODELS / "sim_kitchen_yolov8n.json").read_text())
    recipe = json.loads((out / "sim_kitchen_yolov8n.json").read_text())
    assert recipe["stages"][:-1] == shipped["stages"]
    last = recipe["stages"][-1]
    assert last["epochs"] == 1 and last["device"] == "cpu" and last["dataset"]["train_images"] == 12
    assert 0.0 <= last["val_map50"] <= 1.0
    assert not (out / "sim_kitchen_yolov8n.onnx").exists()
    export = subprocess.run([str(python), str(TRAIN), "--export-only", str(out), *common], env=child_env(),
                            capture_output=True, text=True, timeout=300)
    assert export.returncode == 0, export.stderr[-1500:]
    onnx = out / "sim_kitchen_yolov8n.onnx"
    assert json.loads((out / "sim_kitchen_yolov8n.json").read_text())["sha256"] == \
        hashlib.sha256(onnx.read_bytes()).hexdigest()
    detector = OnnxYoloDetector(onnx)
    assert detector.input_hw == (480, 640) and tuple(detector.vocabulary) == CLASS_NAMES


def test_the_shipped_model_is_the_one_its_recipe_describes():
    recipe = json.loads((MODELS / "sim_kitchen_yolov8n.json").read_text())
    onnx = MODELS / "sim_kitchen_yolov8n.onnx"
    assert recipe["sha256"] == hashlib.sha256(onnx.read_bytes()).hexdigest()
    assert tuple(recipe["classes"]) == CLASS_NAMES
    assert recipe["input_hw"] == [480, 640]
    assert onnx.stat().st_size + (MODELS / "sim_kitchen_yolov8n.pt").stat().st_size < 20e6
    for stage in recipe["stages"]:
        assert stage["epochs"] > 0 and stage["train_args"]["imgsz"] in (320, 640)
