"""Scene graph core: the cost of one update with many objects (target: under 5 ms with 200 objects).

Run: python benchmarks/bench_scene_graph.py [--objects 200] [--repeats 200]

A kitchen semantic map with N objects spread over its receptacles, then, repeated:
- update: one perception message with all N tracks (fresh stamps, centimetre jitter): association,
  validation, node updates;
- relations: recomputing every relation after a change (on/in, stacking, next_to, part_of);
- views: one observe_views call with 3 depth views at 640x480 (visibility evidence for every object not
  detected in the last 0.5 s, plus the door and drawer openings from depth), with every object stale so
  that every object is checked.
Median and p90 wall milliseconds on this process's thread.
"""
from __future__ import annotations

import argparse
import math
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from planner_ros.geometry import CameraIntrinsics, Pose3D, matrix_to_quaternion  # noqa: E402
from planner_ros.scene_graph.graph import SceneGraph  # noqa: E402
from planner_ros.scene_graph.model import DepthView, ObjectObservation  # noqa: E402
from planner_ros.sim.semantic_map import semantic_map_for_layout  # noqa: E402

LABELS = ("apple", "mug", "bowl", "soda_can", "cereal_box", "jar", "plate", "banana")


def _observations(semantic_map, n: int, stamp_s: float, rng: np.random.Generator) -> list[ObjectObservation]:
    spots = []
    for rec in sorted(semantic_map.receptacles.values(), key=lambda r: r.id):
        lo, hi = np.asarray(rec.volume.lo), np.asarray(rec.volume.hi)
        spots.append((lo, hi))
    out = []
    for i in range(n):
        lo, hi = spots[i % len(spots)]
        base = lo + (hi - lo) * np.array([(i * 0.37) % 1, (i * 0.61) % 1, 0.0]) + (0, 0, 0.05)
        jitter = rng.normal(0.0, 0.005, 3)
        out.append(ObjectObservation(f"t{i}", LABELS[i % len(LABELS)], tuple(base + jitter), (0.08, 0.08, 0.1),
                                     0.9, ("cam",), stamp_s))
    return out


def _views(stamp_s: float) -> list[DepthView]:
    k = CameraIntrinsics.from_vertical_fov(640, 480, math.radians(60), "cam")
    views = []
    for i, (x, y) in enumerate(((1.5, 3.5), (3.0, 2.0), (4.5, 3.5))):
        R = np.array([[1.0, 0, 0], [0, -1.0, 0], [0, 0, -1.0]])
        pose = Pose3D((x, y, 2.5), tuple(matrix_to_quaternion(R)))
        views.append(DepthView(f"cam{i}", stamp_s, np.full((480, 640), 1.6, np.float32), k, pose))
    return views


def _stats(samples: list[float]) -> str:
    ms = sorted(s * 1e3 for s in samples)
    return f"median {statistics.median(ms):.2f} ms, p90 {ms[int(0.9 * (len(ms) - 1))]:.2f} ms"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=200)
    args = parser.parse_args()
    print(f"# scene graph benchmark on {platform.node()}: {os.cpu_count()} cores, Python {platform.python_version()}")
    semantic_map = semantic_map_for_layout("kitchen_a")
    graph = SceneGraph(semantic_map)
    rng = np.random.default_rng(0)
    graph.update(_observations(semantic_map, args.objects, 0.0, rng), 0.0)
    assert len(graph.objects()) == args.objects, len(graph.objects())
    update, relations, views = [], [], []
    for r in range(1, args.repeats + 1):
        stamp = r * 0.1
        batch = _observations(semantic_map, args.objects, stamp, rng)
        t0 = time.perf_counter()
        graph.update(batch, stamp)
        update.append(time.perf_counter() - t0)
        graph.revision += 1  # force a recompute, as after any change
        t0 = time.perf_counter()
        graph.relations()
        relations.append(time.perf_counter() - t0)
    stale = args.repeats * 0.1 + 5.0
    for r in range(max(5, args.repeats // 10)):
        t0 = time.perf_counter()
        graph.observe_views(_views(stale + r * 0.5), stale + r * 0.5)
        views.append(time.perf_counter() - t0)
    print(f"update with {args.objects} objects: {_stats(update)} (target < 5 ms)")
    print(f"relations of {args.objects} objects ({len(graph.relations())} relations): {_stats(relations)}")
    print(f"observe_views, 3 views, {args.objects} stale objects + 3 parts: {_stats(views)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
