"""Train the embedded detector and export it to ONNX (runs in .venv-train; see `make detector`).

    .venv-train/bin/python scripts/detector/train.py DATASET_DIR --out models --epochs 11
    .venv-train/bin/python scripts/detector/train.py DATASET_DIR --out models --init models/x.pt --device 0 \
        --imgsz 640 --batch 64 --workers 16 --cache ram --hours 0.07 --no-export
    .venv-train/bin/python scripts/detector/train.py --export-only models

No weights are downloaded: the network is built from ultralytics' yolov8n.yaml with random weights, or, with
--init, continues from a checkpoint this script wrote (a further stage, for training split over sessions or
machines). The exported ONNX model takes full 640x480 frames (letterboxed to 640x480, already a multiple of
32), at the scale the samples were rendered at. Writes OUT/sim_kitchen_yolov8n.pt (what a further stage
continues from), OUT/sim_kitchen_yolov8n.onnx and a recipe JSON beside them with one entry per stage.
--no-export skips the ONNX step (for a machine without onnxslim); --export-only OUT does only that step.
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

STEM = "sim_kitchen_yolov8n"
FIXED_TRAIN_ARGS = dict(seed=0, plots=False, close_mosaic=2, scale=0.3, fliplr=0.5, mosaic=1.0, patience=0)
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


def _patch_ultralytics() -> None:
    import ultralytics.engine.trainer as trainer
    import ultralytics.utils.torch_utils as torch_utils
    # ultralytics trains on the CPU with cpu_count - 1 threads: one thread on a 2-core machine, ~1.7x slower.
    torch_utils.NUM_THREADS = os.cpu_count() or 1
    # Its AMP self-check downloads yolo26n.pt; offline that fails in ways it does not all catch. fp16 autocast
    # is sound for this network on any recent NVIDIA GPU, and the CPU never uses AMP.
    trainer.check_amp = lambda model: next(model.parameters()).device.type == "cuda"

    def read_results_csv(self) -> dict:
        # Stored in each checkpoint; read with the csv module so training does not need polars (whose 54 MB
        # runtime is more than a GPU machine without a package index can be sent).
        try:
            with open(self.csv, newline="") as f:
                rows = list(csv.DictReader(f))
        except OSError:
            return {}
        return {k.strip(): [float(r[k]) for r in rows] for k in (rows[0] if rows else {})}

    trainer.BaseTrainer.read_results_csv = read_results_csv


def export_onnx(out: Path) -> Path:
    """OUT/STEM.pt -> OUT/STEM.onnx at the deployed input size; records its hash in the recipe JSON."""
    from ultralytics import YOLO
    onnx_path = Path(YOLO(str(out / f"{STEM}.pt")).export(format="onnx", imgsz=list(EXPORT_IMGSZ), simplify=True,
                                                          dynamic=False, opset=17))
    target = out / f"{STEM}.onnx"
    if onnx_path.resolve() != target.resolve():  # ultralytics writes it beside the .pt, i.e. in OUT already
        shutil.copy(onnx_path, target)
    recipe_path = out / f"{STEM}.json"
    recipe = json.loads(recipe_path.read_text())
    recipe["sha256"] = hashlib.sha256(target.read_bytes()).hexdigest()
    recipe_path.write_text(json.dumps(recipe, indent=2) + "\n")
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", type=Path, nargs="?")
    parser.add_argument("--out", type=Path, default=Path("models"))
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--hours", type=float, help="train for this long instead (ultralytics' `time`)")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "planner_ros_detector")
    parser.add_argument("--init", type=Path, help="continue from this checkpoint (.pt) instead of random weights")
    parser.add_argument("--lr0", type=float, help="initial learning rate with AdamW (default: ultralytics' choice)")
    parser.add_argument("--freeze", type=int, default=0, metavar="N",
                        help="keep the first N layers fixed (10: the backbone), so a fine-tune changes only the rest")
    parser.add_argument("--warmup-epochs", type=float,
                        help="learning-rate warmup epochs, with the bias rate starting at 0 like the rest (default: "
                             "ultralytics' 3 epochs, the bias rate falling from 0.1); a short fine-tune wants 0")
    parser.add_argument("--device", default="cpu", help="cpu, or a CUDA device index such as 0")
    parser.add_argument("--imgsz", type=int, default=320, help="training image size (crops: 320; frames: 640)")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--workers", type=int, default=0, help="data loader processes (0: in the main process)")
    parser.add_argument("--cache", choices=("none", "ram", "disk"), default="none")
    parser.add_argument("--no-export", action="store_true", help="skip the ONNX export")
    parser.add_argument("--export-only", type=Path, metavar="OUT", help="only export OUT/STEM.pt to ONNX")
    args = parser.parse_args(argv)
    _prepare_offline(args.work / "config")
    if args.export_only:
        print(f"wrote {export_onnx(args.export_only)}")
        return 0
    if args.dataset is None:
        parser.error("DATASET_DIR is required unless --export-only")
    _patch_ultralytics()
    import torch
    from ultralytics import YOLO

    data_yaml = args.dataset / "data.yaml"
    names = json.loads(data_yaml.read_text())["names"]
    on_cpu = args.device == "cpu"
    train_args = {**FIXED_TRAIN_ARGS, "imgsz": args.imgsz, "batch": args.batch, "device": args.device,
                  "workers": args.workers, "amp": not on_cpu, "deterministic": on_cpu,
                  "cache": False if args.cache == "none" else args.cache}
    if args.lr0 is not None:
        train_args |= {"lr0": args.lr0, "optimizer": "AdamW"}
    if args.hours is not None:
        train_args["time"] = args.hours
    if args.freeze:
        train_args["freeze"] = args.freeze
    if args.warmup_epochs is not None:
        train_args |= {"warmup_epochs": args.warmup_epochs, "warmup_bias_lr": 0.0}
    started = time.time()
    model = YOLO(str(args.init) if args.init else "yolov8n.yaml")
    model.train(data=str(data_yaml), epochs=args.epochs, project=str(args.work), name="run", exist_ok=True,
                **train_args)
    train_s = time.time() - started
    last = args.work / "run" / "weights" / "last.pt"
    trained = YOLO(str(last))
    with open(args.work / "run" / "results.csv") as f:
        epochs_run = sum(1 for _ in f) - 1  # one row per finished epoch (with --hours, ultralytics picks N)
    metrics = trained.val(data=str(data_yaml), imgsz=args.imgsz, batch=args.batch, device=args.device,
                          plots=False)
    args.out.mkdir(parents=True, exist_ok=True)
    trained.save(str(args.out / f"{STEM}.pt"))  # weights only, ~6 MB
    recipe_path = args.out / f"{STEM}.json"
    previous_recipe = json.loads(recipe_path.read_text()) if args.init and recipe_path.is_file() else {}
    previous = previous_recipe.get("stages", [])
    dataset_json = args.dataset / "dataset.json"
    init = f"{args.init} (stage {len(previous)})" if previous else str(args.init or "random (yolov8n.yaml)")
    stage = {"init": init, "epochs": epochs_run,
             "train_args": train_args, "train_seconds": round(train_s),
             "device": torch.cuda.get_device_name(0) if not on_cpu else "cpu",
             "dataset": json.loads(dataset_json.read_text()) if dataset_json.is_file() else None,
             "val_map50": round(float(metrics.box.map50), 4), "val_map50_95": round(float(metrics.box.map), 4)}
    recipe = {
        "model": f"yolov8n (ultralytics yolov8n.yaml), trained from random initialisation; stages: {len(previous) + 1}",
        "classes": [names[str(i)] if isinstance(next(iter(names)), str) else names[i] for i in range(len(names))],
        "input_hw": list(EXPORT_IMGSZ),
        "output": "ultralytics detect head: (1, 4 + num_classes, anchors), boxes cx cy w h in input pixels",
        "dataset": "scripts/detector/export_dataset.py (seeds from TRAIN_SEEDS; see its docstring)",
        "command": previous_recipe.get("command", "make detector"),  # a further stage's target is added by hand
        "stages": [*previous, stage],
        "torch": torch.__version__,
        "ultralytics": __import__("ultralytics").__version__,
    }
    recipe_path.write_text(json.dumps(recipe, indent=2) + "\n")
    if not args.no_export:
        export_onnx(args.out)
    print(recipe_path.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
