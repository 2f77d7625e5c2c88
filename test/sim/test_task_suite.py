"""Every task's reference plan runs in the MuJoCo world: clean variants reach the goal, fault variants
fail at the step and with the code their task file promises (camera faults leave the plan unharmed)."""
from __future__ import annotations

import os

os.environ.setdefault("MUJOCO_GL", "osmesa")

import pytest  # noqa: E402

from planner_ros.paths import config_dir  # noqa: E402
from planner_ros.sim.engine import EpisodeConfig, SimEngine  # noqa: E402
from planner_ros.sim.faults import FaultType  # noqa: E402
from planner_ros.sim.goals import evaluate  # noqa: E402
from planner_ros.sim.scenario import Scenario, load_scenarios  # noqa: E402
from planner_ros.skills import SkillCall, SkillOutcome  # noqa: E402

SCENARIOS = load_scenarios(config_dir() / "tasks")
MAX_TICKS = 3000  # per step: 60 s of simulated time


def test_the_suite_has_thirty_tasks_in_two_variants():
    assert len(SCENARIOS) == 60
    assert sum(s.variant == "clean" for s in SCENARIOS.values()) == 30


def execute(engine: SimEngine, call: SkillCall) -> SkillOutcome:
    job = engine.start(call)
    for _ in range(MAX_TICKS):
        if job.done.is_set():
            break
        engine.tick()
    assert job.done.is_set(), f"{call.text} did not finish in {MAX_TICKS} ticks"
    return job.outcome


def run_plan(scenario: Scenario) -> tuple[SimEngine, list[tuple[str, SkillOutcome]]]:
    """Run the plan until a step fails; return the engine and (step text, outcome) for the steps run."""
    engine = SimEngine(EpisodeConfig(scenario=scenario))
    log = []
    for call in scenario.plan:
        outcome = execute(engine, call)
        log.append((call.text, outcome))
        if not outcome.success:
            break
    return engine, log


def describe(log: list[tuple[str, SkillOutcome]]) -> str:
    return "; ".join(f"{i}. {text}: {'ok' if o.success else f'{o.code.name} ({o.reason})'}"
                     for i, (text, o) in enumerate(log, 1))


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_reference_plan(name):
    scenario = SCENARIOS[name]
    engine, log = run_plan(scenario)
    try:
        expected = scenario.expected_failure
        if expected is None:
            if scenario.variant == "fault":  # only camera faults leave the plan unharmed
                assert all(f.type in (FaultType.CAMERA_DROP, FaultType.DEPTH_CORRUPT) for f in scenario.faults)
            assert len(log) == len(scenario.plan) and all(o.success for _, o in log), describe(log)
            report = evaluate(scenario.goal, engine.facts())
            assert report.success, f"unsatisfied: {[c.text for c in report.unsatisfied]}; {describe(log)}"
        else:
            assert len(log) == expected.step, (f"expected step {expected.step} to fail with "
                                               f"{expected.code.name}; {describe(log)}")
            assert all(o.success for _, o in log[:-1]), describe(log)
            outcome = log[-1][1]
            assert outcome.code is expected.code, describe(log)
            assert outcome.reason, "a failure says why"
    finally:
        engine.close()
