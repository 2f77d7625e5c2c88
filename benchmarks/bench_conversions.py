"""Per-frame cost of planner_ros.conversions for 640x480 camera frames.

Run: python benchmarks/bench_conversions.py [--repeats N]

The rclpy serialize+deserialize rows are the reference: that is what a subscriber pays per message
before our conversion even starts, so conversion cost should be small next to it. Those rows swing
by ~10x with glibc malloc state (fresh mmap'd ~1 MB buffers page-fault on every message), so
compare them only within one run.
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np

# Running as a script puts benchmarks/ (not the repo root) on sys.path; make the package importable
# without requiring an install.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rclpy.serialization import deserialize_message, serialize_message  # noqa: E402
from sensor_msgs.msg import Image  # noqa: E402

from planner_ros.conversions import depth_to_metres, image_to_numpy, numpy_to_image  # noqa: E402

HEIGHT, WIDTH = 480, 640


def _time_ms(fn: Callable[[], object], repeats: int) -> tuple[float, float]:
    """(median, p95) wall time in milliseconds over `repeats` calls, after a few warm-up calls."""
    for _ in range(min(5, repeats)):
        fn()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1e3)
    samples.sort()
    p95 = samples[min(len(samples) - 1, int(round(0.95 * (len(samples) - 1))))]
    return statistics.median(samples), p95


def _serialize_round_trip(msg: Image) -> Image:
    return deserialize_message(serialize_message(msg), Image)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=200, help="timed calls per row (default 200)")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error(f"--repeats must be >= 1, got {args.repeats}")

    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, size=(HEIGHT, WIDTH, 3), dtype=np.uint8)
    depth_m = rng.uniform(0.2, 8.0, size=(HEIGHT, WIDTH)).astype(np.float32)
    depth_mm = rng.integers(0, 10_000, size=(HEIGHT, WIDTH), dtype=np.uint16)
    rgb_msg = numpy_to_image(rgb, "rgb8")
    depth_msg = numpy_to_image(depth_m, "32FC1")
    depth_mm_msg = numpy_to_image(depth_mm, "16UC1")

    rows: list[tuple[str, Callable[[], object]]] = [
        ("numpy_to_image rgb8", lambda: numpy_to_image(rgb, "rgb8")),
        ("image_to_numpy rgb8", lambda: image_to_numpy(rgb_msg)),
        ("numpy_to_image 32FC1", lambda: numpy_to_image(depth_m, "32FC1")),
        ("image_to_numpy 32FC1", lambda: image_to_numpy(depth_msg)),
        ("depth_to_metres 16UC1", lambda: depth_to_metres(depth_mm_msg)),
        ("rclpy serialize+deserialize rgb8 (reference)", lambda: _serialize_round_trip(rgb_msg)),
        ("rclpy serialize+deserialize 32FC1 (reference)", lambda: _serialize_round_trip(depth_msg)),
    ]
    print(f"machine: processor={platform.processor() or platform.machine()!r} cpu_count={os.cpu_count()} "
          f"python={platform.python_version()} numpy={np.__version__}")
    print(f"frames: {WIDTH}x{HEIGHT}, repeats={args.repeats}")
    width = max(len(name) for name, _ in rows)
    print(f"{'operation':<{width}}  {'median ms':>10}  {'p95 ms':>10}")
    print(f"{'-' * width}  {'-' * 10}  {'-' * 10}")
    for name, fn in rows:
        median, p95 = _time_ms(fn, args.repeats)
        print(f"{name:<{width}}  {median:>10.3f}  {p95:>10.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
