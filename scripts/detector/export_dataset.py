"""Write a YOLO-format data set of labelled simulator views (runs in the project venv).

    python scripts/detector/export_dataset.py OUT_DIR --train-seeds 380 --val-seeds 40 --workers 2

Seeds come from planner_ros.perception.sim_views.TRAIN_SEEDS (the first N for train, the next M for val),
never from EVAL_SEEDS, which `planner-ros eval perception` keeps for the held-out evaluation.

The detector runs on full 640x480 frames at native scale (household objects are 10-60 px across in these
cameras; halving the image would push most below what a stride-8 head can find), but training on full frames
costs 3x per image. So training samples are CROP x CROP crops at native scale: one around every object not
yet inside a crop (position jittered), plus a background crop with probability 0.2 per view. A box cut by a
crop edge is kept, clipped, when at least 4 px of it remain on both axes.
"""
from __future__ import annotations

import argparse
import json
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

import planner_ros.sim  # noqa: F401  (selects the headless GL backend before mujoco loads)
from planner_ros.perception.sim_views import CLASS_NAMES, TRAIN_SEEDS, labelled_views

BACKGROUND_CROP_PROBABILITY = 0.2
MIN_CLIPPED_PX = 4


def _crop_origins(view, crop: int, rng: np.random.Generator) -> list[tuple[int, int]]:
    h, w = view.frame.rgb.shape[:2]
    origins: list[tuple[int, int]] = []

    def inside(box, ox, oy) -> bool:
        return box[0] >= ox and box[1] >= oy and box[2] <= ox + crop and box[3] <= oy + crop

    for o in view.objects:
        if any(inside(o.box_xyxy, ox, oy) for ox, oy in origins):
            continue
        x1, y1, x2, y2 = o.box_xyxy
        cx = (x1 + x2) / 2 + rng.uniform(-1, 1) * max(0.0, crop / 2 - (x2 - x1) / 2 - 2)
        cy = (y1 + y2) / 2 + rng.uniform(-1, 1) * max(0.0, crop / 2 - (y2 - y1) / 2 - 2)
        origins.append((int(np.clip(cx - crop / 2, 0, w - crop)), int(np.clip(cy - crop / 2, 0, h - crop))))
    if rng.random() < BACKGROUND_CROP_PROBABILITY:
        origins.append((int(rng.integers(0, w - crop + 1)), int(rng.integers(0, h - crop + 1))))
    return origins


def _write_seed(job: tuple[Path, str, int, int, int]) -> int:
    out, split, seed, robot_poses, crop = job
    rng = np.random.default_rng(seed + 7)
    written = 0
    for k, view in enumerate(labelled_views(seed, robot_poses=robot_poses)):
        for c, (ox, oy) in enumerate(_crop_origins(view, crop, rng)):
            stem = f"s{seed}_{k:02d}_{view.frame.name}_{c}"
            lines = []
            for o in view.objects:
                x1, y1 = max(o.box_xyxy[0] - ox, 0.0), max(o.box_xyxy[1] - oy, 0.0)
                x2, y2 = min(o.box_xyxy[2] - ox, crop), min(o.box_xyxy[3] - oy, crop)
                if x2 - x1 >= MIN_CLIPPED_PX and y2 - y1 >= MIN_CLIPPED_PX:
                    lines.append(f"{o.class_id} {(x1 + x2) / 2 / crop:.6f} {(y1 + y2) / 2 / crop:.6f} "
                                 f"{(x2 - x1) / crop:.6f} {(y2 - y1) / crop:.6f}")
            pixels = view.frame.rgb[oy:oy + crop, ox:ox + crop]
            Image.fromarray(pixels).save(out / "images" / split / f"{stem}.png", compress_level=1)
            (out / "labels" / split / f"{stem}.txt").write_text("\n".join(lines) + ("\n" if lines else ""))
            written += 1
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--train-seeds", type=int, default=350)
    parser.add_argument("--val-seeds", type=int, default=40)
    parser.add_argument("--robot-poses", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--crop", type=int, default=320, help="square crop side in pixels (native scale)")
    args = parser.parse_args(argv)
    seeds = list(TRAIN_SEEDS[: args.train_seeds + args.val_seeds])
    jobs = []
    for i, seed in enumerate(seeds):
        split = "train" if i < args.train_seeds else "val"
        jobs.append((args.out, split, seed, args.robot_poses, args.crop))
    for sub in ("images/train", "images/val", "labels/train", "labels/val"):
        (args.out / sub).mkdir(parents=True, exist_ok=True)
    with ProcessPoolExecutor(args.workers) as pool:
        counts = list(pool.map(_write_seed, jobs, chunksize=4))
    n_train = sum(c for c, j in zip(counts, jobs) if j[1] == "train")
    data = {"path": str(args.out.resolve()), "train": "images/train", "val": "images/val",
            "names": dict(enumerate(CLASS_NAMES))}
    (args.out / "data.yaml").write_text(json.dumps(data, indent=1))  # JSON is valid YAML
    print(f"wrote {n_train} train and {sum(counts) - n_train} val crops to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
