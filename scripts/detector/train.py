"""Train the embedded detector from scratch and export it to ONNX (runs in .venv-train; see `make detector`).

    .venv-train/bin/python scripts/detector/train.py DATASET_DIR --out models --epochs 11
    .venv-train/bin/python scripts/detector/train.py DATASET_DIR --out models --epochs N --init models/x.pt

No weights are downloaded: the network is built from ultralytics' yolov8n.yaml with random weights, or, with
--init, continues from a checkpoint this script wrote (a second stage, for training split over sessions). The
exported ONNX model takes full 640x480 frames (letterboxed to 640x480, which is already a multiple of 32),
at the scale the crops were trained at. Writes OUT/sim_kitchen_yolov8n.onnx and a recipe JSON beside it.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

TRAIN_ARGS = dict(imgsz=320, batch=16, amp=False, device="cpu", workers=0, seed=0, deterministic=True,
                  plots=False, close_mosaic=2, scale=0.3, fliplr=0.5, mosaic=1.0, patience=0)
EXPORT_IMGSZ = (480, 640)  # (h, w) of the deployed input


def _prepare_offline(config_dir: Path) -> None:
    # ultralytics probes the network for a font during dataset checks; any TTF named Arial.ttf satisfies it.
    os.environ["YOLO_OFFLINE"] = "1"
    os.environ["YOLO_CONFIG_DIR"] = str(config_dir)
    config_dir.mkdir(parents=True, exist_ok=True)
    import matplotlib
    font = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
    for name in ("Arial.ttf", "Arial.Unicode.ttf"):
        shutil.copy(font, config_dir / name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--out", type=Path, default=Path("models"))
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "planner_ros_detector")
    parser.add_argument("--init", type=Path, help="continue from this checkpoint (.pt) instead of random weights")
    parser.add_argument("--lr0", type=float, help="initial learning rate (default: ultralytics' choice)")
    args = parser.parse_args(argv)
    _prepare_offline(args.work / "config")
    import torch
    import ultralytics.utils.torch_utils as torch_utils
    from ultralytics import YOLO
    # ultralytics trains on the CPU with cpu_count - 1 threads: one thread on a 2-core machine, ~1.7x slower.
    torch_utils.NUM_THREADS = os.cpu_count() or 1

    data_yaml = args.dataset / "data.yaml"
    names = json.loads(data_yaml.read_text())["names"]
    started = time.time()
    model = YOLO(str(args.init) if args.init else "yolov8n.yaml")
    extra = {} if args.lr0 is None else {"lr0": args.lr0, "optimizer": "AdamW"}
    model.train(data=str(data_yaml), epochs=args.epochs, project=str(args.work), name="run", exist_ok=True,
                **TRAIN_ARGS, **extra)
    train_s = time.time() - started
    best = args.work / "run" / "weights" / "last.pt"
    trained = YOLO(str(best))
    metrics = trained.val(data=str(data_yaml), imgsz=TRAIN_ARGS["imgsz"], batch=16, device="cpu", plots=False)
    onnx_path = Path(trained.export(format="onnx", imgsz=list(EXPORT_IMGSZ), simplify=True, dynamic=False,
                                    opset=17))
    args.out.mkdir(parents=True, exist_ok=True)
    target = args.out / "sim_kitchen_yolov8n.onnx"
    shutil.copy(onnx_path, target)
    # The PyTorch checkpoint (weights only, ~6 MB) is what a later stage continues from.
    checkpoint = args.out / "sim_kitchen_yolov8n.pt"
    trained.save(str(checkpoint))
    previous = json.loads(target.with_suffix(".json").read_text()).get("stages", []) \
        if args.init and target.with_suffix(".json").is_file() else []
    stage = {"init": str(args.init) if args.init else "random (yolov8n.yaml)", "epochs": args.epochs,
             "train_args": {**TRAIN_ARGS, **extra}, "train_seconds": round(train_s),
             "val_crops_map50": round(float(metrics.box.map50), 4)}
    recipe = {
        "model": "yolov8n (ultralytics yolov8n.yaml), trained from random initialisation",
        "classes": [names[str(i)] if isinstance(next(iter(names)), str) else names[i] for i in range(len(names))],
        "input_hw": list(EXPORT_IMGSZ),
        "output": "ultralytics detect head: (1, 4 + num_classes, anchors), boxes cx cy w h in input pixels",
        "dataset": "scripts/detector/export_dataset.py (seeds from TRAIN_SEEDS; see its docstring)",
        "command": "make detector",
        "stages": [*previous, stage],
        "val_crops_map50": round(float(metrics.box.map50), 4),
        "val_crops_map50_95": round(float(metrics.box.map), 4),
        "torch": torch.__version__,
        "ultralytics": __import__("ultralytics").__version__,
        "sha256": hashlib.sha256(target.read_bytes()).hexdigest(),
    }
    (args.out / "sim_kitchen_yolov8n.json").write_text(json.dumps(recipe, indent=2) + "\n")
    print(json.dumps(recipe, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
