"""Planner overhead without model calls: build the action tree from 50 sampled plans of 15 steps and make one
decision (lookahead pruning of the root's children, then the offline decider), as the executive does.

The plans are valid 15-step plans of a symbolic kitchen with five objects, drawn at random in different
orders (so the tree branches as sampled plans do); target: under 10 ms for tree build plus one decision.

    python benchmarks/bench_planner_overhead.py [--plans 50] [--steps 15] [--repeat 200]
"""
from __future__ import annotations

import argparse
import platform
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from planner_ros.planning.affordance import reaches  # noqa: E402
from planner_ros.planning.conditions import Condition  # noqa: E402
from planner_ros.planning.deciders import DecisionContext, OfflineDecider  # noqa: E402
from planner_ros.planning.tree import ActionTree  # noqa: E402
from planner_ros.planning.world import ObjectView, ReceptacleView, WorldView  # noqa: E402
from planner_ros.skills import DEFAULT_SKILLS  # noqa: E402

OBJECTS = ["apple_1", "mug_1", "bowl_1", "plate_1", "lemon_1"]


def kitchen() -> WorldView:
    receptacles = {"table": ReceptacleView("table", "table"), "counter": ReceptacleView("counter", "counter"),
                   "sink": ReceptacleView("sink", "sink", container=True),
                   "fridge": ReceptacleView("fridge", "fridge", True, "fridge_door", 0.0)}
    objects = {o: ObjectView(o, o[:-2], "on", "table") for o in OBJECTS}
    return WorldView(objects, receptacles)


def random_plan(rng: random.Random, steps: int) -> list:
    """A valid plan: move objects from the table to the counter/sink one by one, in a random order."""
    plan, order = [], rng.sample(OBJECTS, len(OBJECTS))
    while len(plan) < steps:
        obj = order[len(plan) // 4 % len(order)]
        dest = rng.choice(["counter", "sink"])
        plan += ["navigate_to(table)", f"pick({obj})", f"navigate_to({dest})", f"place({obj}, {dest})"]
    return [DEFAULT_SKILLS.parse(s) for s in plan[:steps]]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plans", type=int, default=50)
    parser.add_argument("--steps", type=int, default=15)
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args(argv)
    rng = random.Random(0)
    view = kitchen()
    goal = (Condition("on", ("apple_1", "counter")),)
    samples = [[random_plan(rng, args.steps) for _ in range(args.plans)] for _ in range(args.repeat)]
    decider = OfflineDecider()
    build_ms, decide_ms, total_ms = [], [], []
    for plans in samples:
        t0 = time.perf_counter()
        tree = ActionTree(plans)
        t1 = time.perf_counter()
        options = tree.untried_children(0)
        live = [o for o in options if any(reaches(s, view, goal) for s in tree.suffixes(o.id))] or options
        decider.decide(live, DecisionContext("move the apple to the counter", view, ()))
        t2 = time.perf_counter()
        build_ms.append((t1 - t0) * 1e3)
        decide_ms.append((t2 - t1) * 1e3)
        total_ms.append((t2 - t0) * 1e3)
    nodes = len(ActionTree(samples[0]).nodes)
    print(f"machine: {platform.node()} {platform.processor() or platform.machine()}, Python {platform.python_version()}")
    print(f"{args.plans} plans x {args.steps} steps -> {nodes} tree nodes; {args.repeat} repetitions")
    for name, values in (("tree build", build_ms), ("one decision (lookahead + offline decider)", decide_ms),
                         ("both", total_ms)):
        values = sorted(values)
        print(f"{name:44s} median {statistics.median(values):6.2f} ms, p90 {values[int(0.9 * len(values))]:6.2f} ms")
    print(f"target: < 10 ms for both -> {'met' if statistics.median(total_ms) < 10 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
