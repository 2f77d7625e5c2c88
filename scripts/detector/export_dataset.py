"""Write a YOLO-format data set of labelled simulator views (runs in the project venv).

    python scripts/detector/export_dataset.py OUT_DIR --train-seeds 380 --val-seeds 40            # crops
    python scripts/detector/export_dataset.py OUT_DIR --crop 0 --train-seeds 1200 --deadline-s 150  # frames

Seeds come from planner_ros.perception.sim_views.TRAIN_SEEDS, never from EVAL_SEEDS, which
`planner-ros eval perception` keeps for the held-out evaluation: train uses the first N of the range, val
the last M, so growing N never moves a seed from one split to the other.

The detector runs on full 640x480 frames at native scale (household objects are 10-60 px across in these
cameras; halving the image would push most below what a stride-8 head can find). Two sample forms:
- `--crop C` (default 320): C x C crops at native scale, one around every object not yet inside a crop
  (position jittered) plus a background crop with probability 0.2 per view; a box cut by a crop edge is kept,
  clipped, when at least 4 px of it remain on both axes. A third of the pixels of a full frame: the form for
  training on CPUs.
- `--crop 0`: whole frames, as the deployed detector sees them (the form for training on a GPU).

`--in-bin N` drops 1..N extra objects of random kinds into the bin of every scene: random objects never spawn
there, yet a moved or thrown-away object ends up there, seen from above with only its top showing. Stage 4 of
the shipped weights trained on whole frames of such scenes (`make detector-bin`; crops were tried first and lost
other objects: README, "The embedded detector").

`--deadline-s` stops rendering train seeds after that many seconds and keeps the longest run of finished
seeds from the start of the range, so the data set is still "the first N train seeds" (N is printed and
written to dataset.json, to redo it exactly with --train-seeds N).
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

import planner_ros.sim  # noqa: F401  (selects the headless GL backend before mujoco loads)
from planner_ros.perception.sim_views import CLASS_NAMES, TRAIN_SEEDS, labelled_views

BACKGROUND_CROP_PROBABILITY = 0.2
MIN_CLIPPED_PX = 4


def _crop_origins(view, crop: int, rng: np.random.Generator) -> list[tuple[int, int]]:
    h, w = view.frame.rgb.shape[:2]
    if crop == 0:
        return [(0, 0)]
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


def _write_seed(job: tuple[Path, str, int, int, int, int]) -> tuple[int, int]:
    out, split, seed, robot_poses, crop, in_bin = job
    rng = np.random.default_rng(seed + 7)
    written = 0
    for k, view in enumerate(labelled_views(seed, robot_poses=robot_poses, objects_in_bin=in_bin)):
        h, w = view.frame.rgb.shape[:2]
        cw, ch = (w, h) if crop == 0 else (crop, crop)
        for c, (ox, oy) in enumerate(_crop_origins(view, crop, rng)):
            stem = f"s{seed}_{k:02d}_{view.frame.name}_{c}"
            lines = []
            for o in view.objects:
                x1, y1 = max(o.box_xyxy[0] - ox, 0.0), max(o.box_xyxy[1] - oy, 0.0)
                x2, y2 = min(o.box_xyxy[2] - ox, cw), min(o.box_xyxy[3] - oy, ch)
                if x2 - x1 >= MIN_CLIPPED_PX and y2 - y1 >= MIN_CLIPPED_PX:
                    lines.append(f"{o.class_id} {(x1 + x2) / 2 / cw:.6f} {(y1 + y2) / 2 / ch:.6f} "
                                 f"{(x2 - x1) / cw:.6f} {(y2 - y1) / ch:.6f}")
            pixels = view.frame.rgb[oy:oy + ch, ox:ox + cw]
            Image.fromarray(pixels).save(out / "images" / split / f"{stem}.png", compress_level=1)
            (out / "labels" / split / f"{stem}.txt").write_text("\n".join(lines) + ("\n" if lines else ""))
            written += 1
    return seed, written


def _remove_seed(out: Path, split: str, seed: int) -> None:
    for kind in ("images", "labels"):
        for path in (out / kind / split).glob(f"s{seed}_*"):
            path.unlink()


def _render(pool, jobs: list, deadline: float | None) -> list[int]:
    """Counts written per job, for the longest prefix of jobs that finished before the deadline."""
    counts: list[int] = []
    results = pool.imap(_write_seed, jobs, chunksize=1)
    for _ in jobs:
        remaining = None if deadline is None else deadline - time.monotonic()
        if remaining is not None and remaining <= 0:
            break
        try:
            counts.append(results.next(timeout=remaining)[1])
        except multiprocessing.TimeoutError:
            break
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--train-seeds", type=int, default=350)
    parser.add_argument("--val-seeds", type=int, default=40)
    parser.add_argument("--robot-poses", type=int, default=3)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--crop", type=int, default=320,
                        help="square crop side in pixels at native scale; 0 writes whole frames")
    parser.add_argument("--in-bin", type=int, default=0, metavar="N",
                        help="add 1..N objects in the bin to every scene (random objects never spawn there)")
    parser.add_argument("--deadline-s", type=float,
                        help="stop rendering train seeds after this many seconds (val seeds always finish)")
    args = parser.parse_args(argv)
    if args.train_seeds + args.val_seeds > len(TRAIN_SEEDS):
        parser.error(f"at most {len(TRAIN_SEEDS)} seeds in TRAIN_SEEDS")
    started = time.monotonic()
    form = (args.robot_poses, args.crop, args.in_bin)
    val_jobs = [(args.out, "val", s, *form) for s in TRAIN_SEEDS[-args.val_seeds:]] if args.val_seeds else []
    train_jobs = [(args.out, "train", s, *form) for s in TRAIN_SEEDS[:args.train_seeds]]
    for sub in ("images/train", "images/val", "labels/train", "labels/val"):
        (args.out / sub).mkdir(parents=True, exist_ok=True)
    with multiprocessing.Pool(args.workers) as pool:
        val_counts = _render(pool, val_jobs, None)
        deadline = None if args.deadline_s is None else started + args.deadline_s
        train_counts = _render(pool, train_jobs, deadline)
        pool.terminate()
    for job in train_jobs[len(train_counts):]:  # unfinished or partly written seeds beyond the prefix
        _remove_seed(args.out, "train", job[2])
    n_train = len(train_counts)
    data = {"path": str(args.out.resolve()), "train": "images/train", "val": "images/val",
            "names": dict(enumerate(CLASS_NAMES))}
    (args.out / "data.yaml").write_text(json.dumps(data, indent=1))  # JSON is valid YAML
    first = TRAIN_SEEDS[0]
    summary = {"train_seeds": [first, first + n_train - 1] if n_train else [],
               "val_seeds": [TRAIN_SEEDS[-args.val_seeds], TRAIN_SEEDS[-1]] if args.val_seeds else [],
               "robot_poses": args.robot_poses, "crop": args.crop, "in_bin": args.in_bin,
               "train_images": sum(train_counts), "val_images": sum(val_counts),
               "seconds": round(time.monotonic() - started, 1)}
    (args.out / "dataset.json").write_text(json.dumps(summary, indent=1) + "\n")
    print(f"wrote {summary['train_images']} train images ({n_train} seeds) and {summary['val_images']} val "
          f"images ({args.val_seeds} seeds) to {args.out} in {summary['seconds']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
