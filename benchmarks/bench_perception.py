"""Perception: accuracy of the embedded detector and the fused 3D objects on held-out scenes, and throughput.

Run: python benchmarks/bench_perception.py [--scenes N] [--backend embedded]

1. Accuracy: `planner-ros eval perception` (planner_ros.perception.evaluate) on N held-out scenes (seeds from
   EVAL_SEEDS, never used for training): per-class AP50, fused 3D recall and centroid error.
2. Throughput: frames rendered beforehand (rendering is the simulator's cost, not perception's) are pushed
   through detect + lift + fuse by 1 and by 2 worker threads, as the node does with two cameras in flight;
   frames per second = frames / wall time over the whole run.
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import planner_ros.sim  # noqa: E402,F401  (headless GL)
from planner_ros.perception.backends import make_detector  # noqa: E402
from planner_ros.perception.evaluate import evaluate_perception, format_report  # noqa: E402
from planner_ros.perception.pipeline import FrameInput, PerceptionPipeline  # noqa: E402
from planner_ros.perception.sim_views import EVAL_SEEDS, labelled_views  # noqa: E402


def throughput(detector, frames: list[FrameInput], workers: int, repeats: int) -> float:
    pipeline = PerceptionPipeline(detector)
    jobs = frames * repeats
    start = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(pipeline.process, jobs))
    return len(jobs) / (time.perf_counter() - start)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=20)
    parser.add_argument("--backend", default="embedded")
    args = parser.parse_args()
    print(f"# perception benchmark on {platform.node()}: {os.cpu_count()} cores, Python {platform.python_version()}")
    detector = make_detector(args.backend, embedder="none")
    report = evaluate_perception(detector, scenes=args.scenes)
    print(format_report(report))

    views = list(labelled_views(EVAL_SEEDS.stop - 1, robot_poses=2))
    frames = [FrameInput(v.frame.name, v.frame.stamp_s, v.frame.rgb, v.frame.depth_m, v.frame.intrinsics,
                         v.frame.world_from_optical, v.instance_labels) for v in views]
    throughput(detector, frames[:2], 1, 1)  # warm-up
    for workers in (1, 2):
        fps = throughput(detector, frames, workers, repeats=3)
        print(f"detect+lift+fuse, {workers} worker thread{'s' if workers > 1 else ''}: {fps:.1f} frames/s "
              f"(640x480, {len(frames) * 3} frames, detector input {getattr(detector, 'input_hw', '?')})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
