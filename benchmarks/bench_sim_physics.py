"""Physics speed of the MuJoCo kitchen (no rendering): real-time factor per layout.

Run: python benchmarks/bench_sim_physics.py [--objects N] [--seconds S] [--repeats R]

Each row steps a freshly built world (N random objects, robot holding its pose, objects settling onto
their receptacles) for S simulated seconds and reports the median over R runs. A real-time factor of 5
means one simulated second costs 0.2 s of wall time.
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

# Running as a script puts benchmarks/ (not the repo root) on sys.path; make the package importable
# without requiring an install.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import mujoco  # noqa: E402

from planner_ros.sim.layouts import LAYOUTS  # noqa: E402
from planner_ros.sim.world import World  # noqa: E402


def _wall_seconds(layout: str, objects: int, sim_seconds: float) -> tuple[float, World]:
    world = World(layout, seed=0, num_random_objects=objects)
    steps = round(sim_seconds / world.timestep_s)
    start = time.perf_counter()
    world.step(steps)
    return time.perf_counter() - start, world


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=12)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
          f"mujoco {mujoco.__version__}")
    print(f"{args.objects} objects, {args.seconds:g} simulated s, median of {args.repeats} runs, "
          f"no rendering\n")
    print(f"{'layout':<12} {'timestep':>9} {'bodies':>7} {'contacts':>9} {'wall s':>8} {'steps/s':>9} "
          f"{'RTF':>7}")
    for layout in sorted(LAYOUTS):
        runs = [_wall_seconds(layout, args.objects, args.seconds) for _ in range(args.repeats)]
        wall = statistics.median(w for w, _ in runs)
        world = runs[0][1]
        steps_per_s = args.seconds / world.timestep_s / wall
        print(f"{layout:<12} {world.timestep_s:>9.3f} {world.model.nbody:>7d} {world.data.ncon:>9d} "
              f"{wall:>8.3f} {steps_per_s:>9.0f} {args.seconds / wall:>6.1f}x")


if __name__ == "__main__":
    main()
