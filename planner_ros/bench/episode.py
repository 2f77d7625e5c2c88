"""One benchmark episode: a scenario at a seed under one planner configuration, in the embedded world.

Success is the task's goal conditions in the simulator's ground truth at the end, never the planner's
belief; where the instruction cannot tell objects apart (two cups on the table, "the cup"; or "a cup",
task files' any_of_kind), any such object meets the goal (planner_ros.sim.goals.evaluate_any_instance)
and the row says which was judged. Every verifier verdict is audited against the ground truth of the same
step (AuditedVerifier), so the verifier's detection and false-alarm rates are measured on the same episodes.
"""
from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from planner_ros.planning.conditions import Condition
from planner_ros.planning.interfaces import Verdict, VerifyRequest
from planner_ros.sim.goals import holds

__all__ = ["HELD_OUT_SEED_BASE", "AuditedVerifier", "EpisodeSpec", "episode_seed", "run_episode"]

# Bench seeds live in 30000-39999: neither the detector's TRAIN_SEEDS (10000-19999) nor the perception and
# scene-graph EVAL_SEEDS (20000-29999), nor the task files' own seeds (< 1000, used while developing).
HELD_OUT_SEED_BASE = 30_000
SUITE_SEED = -1   # seed index meaning "the task file's own seed"


def episode_seed(task_seed: int, seed_index: int) -> int:
    if seed_index == SUITE_SEED:
        return task_seed
    if not 0 <= seed_index < 10 or not 0 <= task_seed < 1000:
        raise ValueError(f"seed index must be 0..9 and task seeds below 1000; got {seed_index}, {task_seed}")
    return HELD_OUT_SEED_BASE + 1000 * seed_index + task_seed


@dataclass(frozen=True)
class EpisodeSpec:
    scenario: str             # task_id:variant
    configuration: str        # planner_ros.bench.configs.CONFIGURATIONS
    seed_index: int           # 0..9 held-out seeds, SUITE_SEED for the task file's own
    detector: str = "embedded"
    parameters: str = ""      # planner parameters file; empty: the offline defaults
    skill_self_checks: bool = True   # False: skills never report their own failures; only the verifier can

    @property
    def key(self) -> str:
        return f"{self.configuration}|{self.scenario}|{self.seed_index}" + ("" if self.skill_self_checks else "|unsensed")


class AuditedVerifier:
    """The configured verifier, with each verdict set beside the simulator's ground truth for the same
    step: did the executor succeed and do the step's expected effects hold? Ground truth is read when
    the verifier is called (the step has just ended), before it lets time pass waiting for perception."""

    def __init__(self, inner, robot) -> None:
        self.inner = inner
        self.robot = robot
        self.records: list[dict[str, Any]] = []
        self._pending = self._pending_faults()

    def _pending_faults(self) -> dict[str, str]:
        return {f.id: f.type.value for f in self.robot.engine.schedule.pending}

    def verify(self, request: VerifyRequest) -> Verdict:
        facts = self.robot.engine.facts()
        resolved = self.robot.resolved_ids
        unmet = [c.text for c in request.expected
                 if not holds(Condition(c.predicate, tuple(resolved.get(a, a) for a in c.args), c.negated), facts)]
        pending = self._pending_faults()
        fired = sorted({kind for fid, kind in self._pending.items() if fid not in pending})
        self._pending = pending
        verdict = self.inner.verify(request)
        self.records.append({
            "step": request.call.text, "skill": request.call.skill, "executor_success": request.outcome.success,
            "executor_code": request.outcome.code.name, "truth_success": request.outcome.success and not unmet,
            "truth_unmet": unmet, "verdict": verdict.status.name.lower(), "diagnosis": verdict.diagnosis.name,
            "reason": verdict.reason, "fault_fired": fired})
        return verdict


def run_episode(spec: EpisodeSpec) -> dict[str, Any]:
    """Run one episode in this process; returns its JSON-ready row (never raises for a planner failure)."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from planner_ros.bench.configs import load_parameters, make_planner
    from planner_ros.paths import config_dir
    from planner_ros.perception.backends import make_detector
    from planner_ros.planning.components import build_components
    from planner_ros.sim.closed_loop import SimRobot
    from planner_ros.sim.goals import evaluate_any_instance, interchangeable
    from planner_ros.sim.scenario import find_scenario, load_scenarios
    from planner_ros.verification.scene_graph_verifier import SceneGraphVerifier

    scenario = find_scenario(load_scenarios(config_dir() / "tasks"), spec.scenario)
    seed = episode_seed(scenario.seed, spec.seed_index)
    scenario = replace(scenario, seed=seed)
    config, settings = load_parameters(Path(spec.parameters) if spec.parameters else None)
    components = build_components(config)
    started = time.perf_counter()
    robot = SimRobot(scenario, make_detector(spec.detector), skill_self_checks=spec.skill_self_checks)
    try:
        kinds = {oid: info.kind for oid, info in robot.engine.world.index.objects.items()}
        # "The cup" with two cups on the table is met by either: such twins may stand in for the named one.
        alternatives = interchangeable(kinds, robot.engine.facts(), {c.args[0] for c in scenario.goal},
                                       scenario.any_of_kind)
        verifier = AuditedVerifier(SceneGraphVerifier(robot), robot)
        planner = make_planner(spec.configuration, components, settings, robot, robot, verifier)
        result = planner.run(scenario.instruction, scenario.name)
        truth = evaluate_any_instance(scenario.goal, robot.engine.facts(), alternatives)
    finally:
        robot.close()
    return {**asdict(spec), "key": spec.key, "seed": seed, "variant": scenario.variant,
            "category": scenario.category, "fault": ",".join(f.type.value for f in scenario.faults) or "none",
            "components": components.describe_config(), "success": truth.success,
            "goal_condition_recall": truth.recall, "judged_instead": dict(truth.instead),
            "planner_believed_success": result.success,
            "summary": result.summary, "steps": result.executed_steps, "metrics": result.to_json()["metrics"],
            "verifier_audit": verifier.records, "episode_wall_s": round(time.perf_counter() - started, 1)}
