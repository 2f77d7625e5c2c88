"""The benchmark's baselines on the symbolic household: open loop runs one plan blind and stops at the
first reported failure; iterative plans afresh before every step and recovers through replanning."""
from __future__ import annotations

from planner_ros.planning.baselines import IterativePlanner, OpenLoopPlanner
from planner_ros.planning.deciders import OfflineDecider
from planner_ros.planning.executive import PlannerSettings, TreePlanner
from planner_ros.planning.instructions import ParserGoalWriter
from planner_ros.planning.symbolic_sampler import SymbolicSampler
from planner_ros.skills import DEFAULT_SKILLS, FailureCode, SkillOutcome
from planner_ros.verification.scene_graph_verifier import SceneGraphVerifier
from planner_ros.world.symbolic import SymbolicHousehold
from planner_ros.world.symbolic_robot import SymbolicRobot
from test_planning_executive import FRIDGE_PLAN, KITCHEN, NAMES, ScriptedSampler

INSTRUCTION = "Put the apple in the fridge."


def slip_first_pick(call, world):
    if call.skill == "pick" and not getattr(slip_first_pick, "fired", False):
        slip_first_pick.fired = True
        return SkillOutcome.failed(FailureCode.SLIPPED, "'apple_1' slipped while lifting; it is on 'table'")
    return None


def build(cls, sampler, robot, **settings):
    return cls(DEFAULT_SKILLS, ParserGoalWriter(NAMES), sampler, OfflineDecider(), robot, robot,
               SceneGraphVerifier(robot), PlannerSettings(**settings))


def test_open_loop_runs_the_first_plan_only_and_never_verifies():
    robot = SymbolicRobot(SymbolicHousehold.from_config(KITCHEN))
    detour = ["navigate_to(table)", *FRIDGE_PLAN]
    sampler = ScriptedSampler([FRIDGE_PLAN, detour])
    result = build(OpenLoopPlanner, sampler, robot).run(INSTRUCTION)
    assert result.success, result.summary
    assert robot.calls == FRIDGE_PLAN
    assert result.metrics.planner_calls == 1 and len(sampler.requests) == 1
    assert not any(e["type"] == "step_verified" for e in result.events)


def test_open_loop_stops_at_the_first_reported_failure_without_recovering():
    slip_first_pick.fired = False
    robot = SymbolicRobot(SymbolicHousehold.from_config(KITCHEN), slip_first_pick)
    result = build(OpenLoopPlanner, ScriptedSampler([FRIDGE_PLAN], [FRIDGE_PLAN]), robot).run(INSTRUCTION)
    assert not result.success
    assert "pick(apple_1) failed" in result.summary and "no recovery" in result.summary
    assert robot.calls == FRIDGE_PLAN[:4]
    assert (result.metrics.replans, result.metrics.corrections) == (0, 0)


def test_iterative_plans_before_every_step_and_recovers_from_a_slip():
    slip_first_pick.fired = False
    robot = SymbolicRobot(SymbolicHousehold.from_config(KITCHEN), slip_first_pick)
    result = build(IterativePlanner, SymbolicSampler(), robot).run(INSTRUCTION)
    assert result.success, result.summary
    m = result.metrics
    assert m.corrections == 1
    # One plan per executed step (each from the state the last step left), nothing else.
    assert m.planner_calls == m.skill_calls == len(robot.calls)
    assert robot.calls.count("pick(apple_1)") == 2 and robot.calls[-1] == "place(apple_1, fridge)"


def test_iterative_gives_up_after_the_correction_limit():
    robot = SymbolicRobot(SymbolicHousehold.from_config(KITCHEN),
                          lambda call, world: SkillOutcome.failed(FailureCode.SLIPPED, "slips every time")
                          if call.skill == "pick" else None)
    result = build(IterativePlanner, SymbolicSampler(), robot, max_corrections=2).run(INSTRUCTION)
    assert not result.success and "more than 2 corrections" in result.summary
    assert robot.calls.count("pick(apple_1)") == 3


def test_tree_planner_counts_one_planner_call_per_tree():
    slip_first_pick.fired = False
    robot = SymbolicRobot(SymbolicHousehold.from_config(KITCHEN), slip_first_pick)
    result = build(TreePlanner, SymbolicSampler(), robot).run(INSTRUCTION)
    assert result.success, result.summary
    assert result.metrics.planner_calls == 1 + result.metrics.replans
    assert result.metrics.planner_calls < result.metrics.skill_calls
