"""The planner on the task suite in the embedded world, judged on ground truth.

Every scenario (clean and fault variants of config/tasks) runs the full closed loop in one process per
episode: MuJoCo, three cameras, the chosen detector, the scene graph, the offline defaults (parser goal,
symbolic top-k sampler, offline decider, scene-graph verifier). Success is the task's goal conditions in
the simulator's ground truth at the end, never the planner's own belief. Results are appended one JSON
line per episode, so an interrupted run resumes where it stopped (--out the same folder).

    python benchmarks/bench_planner.py [--detector embedded|oracle] [--workers 2] [--only name,...] [--out DIR]
"""
from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import os
import sys
import time
from collections import defaultdict
from pathlib import Path

os.environ.setdefault("MUJOCO_GL", "osmesa")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def run_episode(args: tuple[str, str]) -> dict:
    name, detector_name = args
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import planner_ros.sim  # noqa: F401  (headless GL before mujoco)
    from planner_ros.paths import config_dir
    from planner_ros.perception.backends import catalog_aliases, make_detector
    from planner_ros.planning.deciders import OfflineDecider
    from planner_ros.planning.executive import PlannerSettings, TreePlanner
    from planner_ros.planning.instructions import ParserGoalWriter
    from planner_ros.planning.symbolic_sampler import SymbolicSampler
    from planner_ros.sim.closed_loop import SimRobot
    from planner_ros.sim.goals import evaluate
    from planner_ros.sim.scenario import find_scenario, load_scenarios
    from planner_ros.skills import DEFAULT_SKILLS
    from planner_ros.verification.scene_graph_verifier import SceneGraphVerifier

    scenario = find_scenario(load_scenarios(config_dir() / "tasks"), name)
    started = time.perf_counter()
    robot = SimRobot(scenario, make_detector(detector_name))
    try:
        planner = TreePlanner(DEFAULT_SKILLS, ParserGoalWriter(catalog_aliases()), SymbolicSampler(), OfflineDecider(),
                              robot, robot, SceneGraphVerifier(robot), PlannerSettings())
        result = planner.run(scenario.instruction, scenario.name)
        truth = evaluate(scenario.goal, robot.engine.facts())
    finally:
        robot.close()
    metrics = result.to_json()["metrics"]
    return {"scenario": name, "variant": scenario.variant, "category": scenario.category,
            "fault": ",".join(f.type.value for f in scenario.faults) or "none", "detector": detector_name,
            "success": truth.success, "goal_condition_recall": truth.recall, "planner_believed_success": result.success,
            "summary": result.summary, "steps": result.executed_steps, "metrics": metrics,
            "episode_wall_s": round(time.perf_counter() - started, 1)}


def _mean(values) -> float:
    values = [v for v in values if isinstance(v, (int, float)) and math.isfinite(v)]
    return sum(values) / len(values) if values else float("nan")


def infeasible_reason(scenario) -> str:
    """Why no planner can reach this fault variant's goal in this world, decided from the task file alone
    (before any run): "" when the fault can be recovered from. Rules: a locked or jammed door or drawer the
    goal needs (an object must go in or come out of what it closes, or it must end open); a goal object taken
    out of the house; an obstacle on a goal destination; an object slipping from the gripper while driving
    (it lands on the floor, and the arm grasps only from above onto furniture)."""
    goal_objects = {c.args[0] for c in scenario.goal if c.predicate in ("on", "in", "held")}
    destinations = {c.args[1] for c in scenario.goal if c.predicate in ("on", "in")}
    parts_needed = {c.args[0] for c in scenario.goal if c.predicate in ("open", "closed") and not c.negated}
    for fault in scenario.faults:
        kind, target = fault.type.value, fault.target
        if kind in ("locked", "jammed"):
            receptacle = target.removesuffix("_door")
            starts_inside = any(scenario.objects[o].location == receptacle for o in goal_objects if o in scenario.objects)
            if receptacle in destinations or starts_inside or (kind == "jammed" and target in parts_needed):
                return f"{target} is {kind} and the goal needs it open"
        elif kind == "missing" and target in goal_objects:
            return f"{target} is taken out of the house"
        elif kind == "obstacle" and target in destinations:
            return f"an obstacle covers {target}, a goal destination"
        elif kind == "slip" and fault.on_skill == "navigate_to":
            return f"{target} slips while driving and lands on the floor, out of the arm's reach"
    return ""


def _row(key: str, g: list[dict]) -> str:
    m = [r["metrics"] for r in g]
    won = sum(r["success"] for r in g)
    return (f"| {key} | {len(g)} | {won}/{len(g)} ({won / len(g):.0%}) | {_mean(r['goal_condition_recall'] for r in g):.2f} | "
            f"{_mean(x['executability'] for x in m):.2f} | {_mean(x['skill_calls'] for x in m):.1f} | "
            f"{_mean(x['corrections'] for x in m):.2f} | {_mean(x['replans'] for x in m):.2f} | "
            f"{_mean(x['llm_calls'] for x in m):.0f} | {_mean(x['sim_time_s'] for x in m):.0f} | "
            f"{_mean(x['wall_time_s'] for x in m):.0f} |")


def report(rows: list[dict], scenarios: dict) -> str:
    """The table: clean and fault variants, fault variants split into recoverable and infeasible by
    construction (infeasible_reason, decided from the task files), and per fault type."""
    groups: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        groups[r["variant"]].append(r)
        if r["variant"] == "fault":
            reason = infeasible_reason(scenarios[r["scenario"]])
            groups["fault, infeasible by construction" if reason else "fault, recoverable"].append(r)
            groups[f"fault: {r['fault']}"].append(r)
    lines = ["| set | episodes | success (ground truth) | goal recall | executability | skill calls | corrections | "
             "replans | LLM calls | sim s | wall s |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    keys = ["clean", "fault", "fault, recoverable", "fault, infeasible by construction"]
    lines += [_row(k, groups[k]) for k in keys + sorted(k for k in groups if k.startswith("fault: ")) if groups.get(k)]
    infeasible = groups.get("fault, infeasible by construction", [])
    false_success = [r["scenario"] for r in rows if r["planner_believed_success"] and not r["success"]]
    lines.append("")
    lines.append(f"Infeasible fault variants the planner reported as failed (no false success): "
                 f"{sum(not r['planner_believed_success'] for r in infeasible)}/{len(infeasible)}. "
                 f"Episodes where the planner believed it succeeded but ground truth disagrees: "
                 f"{len(false_success)}{' (' + ', '.join(false_success) + ')' if false_success else ''}.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--detector", default="embedded")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--only", default="", help="comma-separated scenario names (task_id:variant)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    from planner_ros.paths import config_dir
    from planner_ros.sim.scenario import load_scenarios

    names = sorted(load_scenarios(config_dir() / "tasks"))
    if args.only:
        names = [n for n in names if n in set(args.only.split(","))]
    out = args.out or ROOT / "runs" / f"bench_planner_{time.strftime('%Y%m%d_%H%M%S')}"
    out.mkdir(parents=True, exist_ok=True)
    results_file = out / "results.jsonl"
    done = {}
    if results_file.exists():
        for line in results_file.read_text().splitlines():
            row = json.loads(line)
            done[row["scenario"]] = row
    todo = [n for n in names if n not in done]
    print(f"{len(names)} scenario(s), {len(done)} already done, writing {results_file}", flush=True)
    with results_file.open("a") as sink, mp.get_context("spawn").Pool(args.workers, maxtasksperchild=1) as pool:
        for i, row in enumerate(pool.imap_unordered(run_episode, [(n, args.detector) for n in todo]), 1):
            sink.write(json.dumps(row) + "\n")
            sink.flush()
            done[row["scenario"]] = row
            print(f"[{i}/{len(todo)}] {row['scenario']}: {'ok' if row['success'] else 'FAILED'} "
                  f"({row['episode_wall_s']} s) {row['summary'][:100]}", flush=True)
    rows = [done[n] for n in names if n in done]
    table = report(rows, load_scenarios(config_dir() / "tasks"))
    (out / "report.md").write_text(table + "\n")
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
