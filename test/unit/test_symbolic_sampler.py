"""The PDDL encoding of skills and world view, and the K* sampler: every plan it returns must run.

Each plan is replayed in planner_ros.world.symbolic.SymbolicHousehold built from the same scene, which
checks the encoding against the skills' executable semantics. Each sample starts one planner process
(about 0.4 s), so the scenes are small and the planner runs are few.
"""
import json

import pytest

from planner_ros.planning import symbolic_sampler
from planner_ros.planning.conditions import Condition, parse_condition
from planner_ros.planning.pddl import (
    ACTION_MODELS, ActionModel, ModelParam, PddlError, domain_pddl, encode_problem, problem_pddl,
)
from planner_ros.planning.sampling import PlanRequest, SamplingError
from planner_ros.planning.symbolic_sampler import SymbolicSampler
from planner_ros.planning.world import Knowledge, ObjectStatus, ObjectView, ReceptacleView, WorldView
from planner_ros.skills import DEFAULT_SKILLS, ParamType, SkillLibrary, SkillParam, SkillSpec
from planner_ros.world.symbolic import Item, SymbolicHousehold


def kitchen(**changes) -> WorldView:
    """A fridge behind a closed door, a table with an apple on it, a sink; the robot at no receptacle."""
    objects = {"apple_1": ObjectView("apple_1", "apple", "on", "table")}
    receptacles = {
        "fridge": ReceptacleView("fridge", "fridge", container=True, part="fridge_door", opening=0.0),
        "table": ReceptacleView("table", "table"),
        "sink": ReceptacleView("sink", "sink", container=True),
    }
    return WorldView(objects=changes.pop("objects", objects), receptacles=changes.pop("receptacles", receptacles),
                     **changes)


def household(view: WorldView) -> SymbolicHousehold:
    """The same scene as an executable world (objects off every receptacle cannot be represented)."""
    world = SymbolicHousehold.from_config({
        "receptacles": {r.id: {"container": r.container, "openable": bool(r.part), "open": r.is_open,
                               "locked": r.id in view.knowledge.locked} for r in view.receptacles.values()},
        "objects": {o.id: {"location": o.place} for o in view.objects.values()
                    if o.relation in ("on", "in") and o.place in view.receptacles},
        "robot_at": view.robot_at or "start",
    })
    if view.holding:
        world.items[view.holding] = Item(view.holding, view.holding, "robot")
        world.holding = view.holding
    return world


def holds(world: SymbolicHousehold, view: WorldView, condition: Condition) -> bool:
    p, args = condition.predicate, condition.args
    if p in ("on", "in"):
        value = world.relation(args[0]) == (p, args[1])
    elif p == "held":
        value = world.holding == args[0]
    else:
        value = world.receptacles[view.part_owner(args[0])].is_open == (p == "open")
    return value != condition.negated


def replay_all(view: WorldView, goal: tuple[Condition, ...], plans) -> None:
    """Every plan runs step by step in a fresh household and ends with the goal satisfied."""
    for plan in plans:
        world = household(view)
        texts = [step.text for step in plan.steps]
        for i, step in enumerate(plan.steps):
            outcome = world.execute(step)
            assert outcome.success, f"{texts}: step {i + 1} refused: {outcome.reason}"
        assert all(holds(world, view, c) for c in goal), f"{texts} ends in {world.facts()}"


def request(view: WorldView, *goal: str | Condition, num_plans: int = 20, skills=DEFAULT_SKILLS) -> PlanRequest:
    conditions = tuple(parse_condition(g) if isinstance(g, str) else g for g in goal)
    return PlanRequest("test task", conditions, view, skills, num_plans)


@pytest.fixture(scope="module")
def sampler() -> SymbolicSampler:
    return SymbolicSampler(timeout_s=10.0)


# -- domain -----------------------------------------------------------------------------------------
def test_domain_has_an_action_for_every_default_skill():
    text = domain_pddl(DEFAULT_SKILLS)
    for spec in DEFAULT_SKILLS:
        assert f"(:action {spec.name}\n" in text
    assert "(:constants nowhere - location)" in text


def test_a_skill_without_an_action_model_is_refused_by_name(sampler):
    wipe = SkillSpec("wipe", "Wipe a surface.", (SkillParam("target", ParamType.RECEPTACLE, "what to wipe"),))
    skills = SkillLibrary([*DEFAULT_SKILLS, wipe])
    with pytest.raises(PddlError, match="skill 'wipe' needs an action model"):
        domain_pddl(skills)
    result = sampler.sample(request(kitchen(), "in(apple_1, fridge)", skills=skills))
    assert result.plans == [] and "'wipe' needs an action model" in result.note


def test_an_action_model_must_fill_the_skills_parameters():
    bad = {**ACTION_MODELS, "pick": ActionModel((ModelParam("?i", "item", "thing"),), ("(hand-empty)",), ())}
    with pytest.raises(PddlError, match=r"'pick' does not match .*unknown \['thing'\], unfilled \['object'\]"):
        domain_pddl(DEFAULT_SKILLS, bad)
    typo = {**ACTION_MODELS, "open": ActionModel((ModelParam("?p", "place", "target"),), ("(robot-at ?q)",), ())}
    with pytest.raises(PddlError, match=r"undeclared \?q"):
        domain_pddl(DEFAULT_SKILLS, typo)


# -- the fridge task --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def fridge_task(sampler, tmp_path_factory):
    cwd = tmp_path_factory.mktemp("cwd")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(cwd)
        req = request(kitchen(), "in(apple_1, fridge)")
        return req, sampler.sample(req), cwd


def test_fridge_task_gives_distinct_plans_cheapest_first(fridge_task):
    req, result, _ = fridge_task
    plans = result.plans
    assert len(plans) >= 2 and result.model_calls == 0 and result.note == "" and result.rejected == []
    assert len({p.steps for p in plans}) == len(plans)
    assert all(p.source == "symbolic:kstar" for p in plans)
    # Opening needs a free hand, so the door must be opened before the apple is picked: one 6-step plan.
    assert [s.text for s in plans[0].steps] == [
        "navigate_to(fridge)", "open(fridge)", "navigate_to(table)", "pick(apple_1)", "navigate_to(fridge)",
        "place(apple_1, fridge)"]
    lengths = [len(p.steps) for p in plans]
    assert lengths == sorted(lengths) and lengths[0] == 6


def test_every_fridge_plan_reaches_the_goal_in_the_symbolic_household(fridge_task):
    req, result, _ = fridge_task
    replay_all(req.view, req.goal, result.plans)


def test_the_planner_leaves_nothing_in_the_working_directory(fridge_task, sampler, tmp_path):
    assert list(fridge_task[2].iterdir()) == []
    SymbolicSampler(work_dir=tmp_path / "runs").sample(request(kitchen(robot_at="fridge"), "open(fridge_door)"))
    assert list((tmp_path / "runs").iterdir()) == []


# -- outcomes without plans -------------------------------------------------------------------------
def test_locked_fridge_gives_no_plans_and_a_note_naming_the_lock(sampler):
    view = kitchen(knowledge=Knowledge(locked=frozenset({"fridge"})))
    result = sampler.sample(request(view, "in(apple_1, fridge)"))
    assert result.plans == []
    assert result.note == "no plan reaches the goal from the current state (locked: fridge)"


@pytest.mark.parametrize("goal, fragment", [
    ("in(pear_9, fridge)", "'pear_9' is not an object in the scene"),
    ("in(apple_1, garage)", "'garage' is not a known receptacle"),
    ("open(oven_door)", "'oven_door' is neither a receptacle nor a door or drawer"),
    ("closed(table)", "'table' has no door or drawer"),
])
def test_a_goal_naming_something_unknown_is_a_note_not_a_crash(sampler, goal, fragment):
    result = sampler.sample(request(kitchen(), goal))
    assert result.plans == [] and fragment in result.note and goal in result.note


def test_an_empty_goal_is_a_note(sampler):
    result = sampler.sample(request(kitchen()))
    assert result.plans == [] and "no goal conditions" in result.note


# -- starting states and goal forms -----------------------------------------------------------------
def test_held_object_start(sampler):
    objects = {"apple_1": ObjectView("apple_1", "apple", "held")}
    view = kitchen(objects=objects, holding="apple_1", robot_at="table")
    init = encode_problem(view, [parse_condition("in(apple_1, fridge)")]).init
    assert ("holding", "apple_1") in init and ("hand-empty",) not in init
    assert not any(atom[0] == "at" for atom in init)
    req = request(view, "in(apple_1, fridge)")
    result = sampler.sample(req)
    # The door needs a free hand: put the apple down first.
    assert [s.text for s in result.plans[0].steps][:2] == ["place(apple_1, table)", "navigate_to(fridge)"]
    assert len(result.plans[0].steps) == 7
    replay_all(view, req.goal, result.plans)


def test_negated_goal(sampler):
    objects = {"apple_1": ObjectView("apple_1", "apple", "in", "sink")}
    view = kitchen(objects=objects)
    req = request(view, "not in(apple_1, sink)")
    result = sampler.sample(req)
    assert [s.text for s in result.plans[0].steps] == ["navigate_to(sink)", "pick(apple_1)"]
    replay_all(view, req.goal, result.plans)


@pytest.mark.parametrize("goal", [
    ("in(apple_1, fridge)", "closed(fridge_door)"),
    ("not in(apple_1, sink)", "not open(fridge)", "not held(apple_1)"),
])
def test_a_satisfied_goal_gives_one_empty_plan(sampler, goal):
    objects = {"apple_1": ObjectView("apple_1", "apple", "in", "fridge")}
    result = sampler.sample(request(kitchen(objects=objects), *goal))
    assert [p.steps for p in result.plans] == [()]


def test_missing_and_unreachable_objects_are_left_out(sampler):
    objects = {
        "apple_1": ObjectView("apple_1", "apple", "on", "table"),
        "banana_1": ObjectView("banana_1", "banana", "on", "table", ObjectStatus.MISSING),
        "cup_1": ObjectView("cup_1", "cup", "on", "table"),
        "pear_1": ObjectView("pear_1", "pear"),                      # on the floor
        "plate_1": ObjectView("plate_1", "plate", "on", "chair"),    # not a known receptacle
    }
    view = kitchen(objects=objects, knowledge=Knowledge(missing=frozenset({"cup_1"})))
    problem = encode_problem(view, [parse_condition("in(apple_1, fridge)")])
    assert set(problem.names.values()) == {"apple_1", "fridge", "table", "sink"}
    assert set(problem.excluded) == {"banana_1", "cup_1", "pear_1", "plate_1"}
    for goal, fragment in [("in(banana_1, fridge)", "'banana_1' is missing from the scene graph"),
                           ("held(cup_1)", "'cup_1' was searched for and not found"),
                           ("in(pear_1, sink)", "'pear_1' is not on or in any receptacle"),
                           ("on(plate_1, table)", "'plate_1' is on 'chair', which is not a known receptacle")]:
        result = sampler.sample(request(view, goal))
        assert result.plans == [] and fragment in result.note
    # An object on the floor is in no sink, and no skill can change that.
    assert [p.steps for p in sampler.sample(request(view, "not in(pear_1, sink)")).plans] == [()]


def test_ids_with_capitals_and_dashes_round_trip(sampler):
    objects = {"Apple-1": ObjectView("Apple-1", "apple", "on", "Kitchen-Table"),
               "apple-1": ObjectView("apple-1", "apple", "on", "Kitchen-Table")}
    receptacles = {"Fridge.A": ReceptacleView("Fridge.A", "fridge", container=True, part="Door-A", opening=0.0),
                   "Kitchen-Table": ReceptacleView("Kitchen-Table", "table")}
    view = kitchen(objects=objects, receptacles=receptacles)
    goal = (Condition("in", ("Apple-1", "Fridge.A")), Condition("closed", ("Door-A",)))
    text, names = problem_pddl(view, goal)
    assert set(names.values()) == {"Apple-1", "apple-1", "Fridge.A", "Kitchen-Table"}
    assert all(name == name.lower() and name in text for name in names)
    result = sampler.sample(PlanRequest("test task", goal, view, DEFAULT_SKILLS, 5))
    assert [s.text for s in result.plans[0].steps] == [
        "navigate_to(Fridge.A)", "open(Fridge.A)", "navigate_to(Kitchen-Table)", "pick(Apple-1)",
        "navigate_to(Fridge.A)", "place(Apple-1, Fridge.A)", "close(Fridge.A)"]
    replay_all(view, goal, result.plans)


def test_an_id_naming_an_object_and_a_receptacle_is_refused():
    objects = {"table": ObjectView("table", "toy table", "on", "table")}
    with pytest.raises(PddlError, match="'table' names both an object and a receptacle"):
        problem_pddl(kitchen(objects=objects), [parse_condition("open(fridge)")])


# -- planner failures -------------------------------------------------------------------------------
def test_a_planner_error_raises_sampling_error_with_its_message():
    broken = {**ACTION_MODELS, "open": ActionModel((ModelParam("?p", "place", "target"),), ("(robot-at ?p",), ())}
    with pytest.raises(SamplingError, match="the K\\* planner failed: .+"):
        SymbolicSampler(models=broken).sample(request(kitchen(), "in(apple_1, fridge)"))


def test_a_planner_run_that_hangs_is_stopped(monkeypatch):
    monkeypatch.setattr(symbolic_sampler, "_RUNNER", "import time; time.sleep(60)")
    monkeypatch.setattr(symbolic_sampler, "_GRACE_S", 0.2)
    with pytest.raises(SamplingError, match=r"did not finish within 0.56 s and was stopped"):
        SymbolicSampler(timeout_s=0.3).sample(request(kitchen(), "in(apple_1, fridge)"))


def test_a_planner_run_that_dies_raises_sampling_error(monkeypatch):
    monkeypatch.setattr(symbolic_sampler, "_RUNNER", "raise SystemExit('kstar exploded')")
    with pytest.raises(SamplingError, match=r"exit code 1\): kstar exploded"):
        SymbolicSampler().sample(request(kitchen(), "in(apple_1, fridge)"))


def canned(result: dict) -> str:
    """A planner run that writes result as plan_topk's answer."""
    return f"import sys; from pathlib import Path; Path(sys.argv[5]).write_text({json.dumps(result)!r})"


def test_plans_found_before_the_time_limit_are_kept(monkeypatch):
    plans = [{"actions": ["navigate_to nowhere fridge", "open fridge"], "cost": 2}]
    monkeypatch.setattr(symbolic_sampler, "_RUNNER", canned({"plans": plans, "timeout_triggered": True}))
    result = SymbolicSampler(timeout_s=3).sample(request(kitchen(), "open(fridge)"))
    assert [s.text for s in result.plans[0].steps] == ["navigate_to(fridge)", "open(fridge)"]
    assert result.note == "the planner stopped at its 3 s limit after 1 plan(s)"


def test_no_plan_before_the_time_limit_raises_sampling_error(monkeypatch):
    monkeypatch.setattr(symbolic_sampler, "_RUNNER", canned({"plans": [], "timeout_triggered": True}))
    with pytest.raises(SamplingError, match="found no plan within 3 s"):
        SymbolicSampler(timeout_s=3).sample(request(kitchen(), "open(fridge)"))


def test_a_plan_that_does_not_map_to_skill_calls_is_rejected_with_its_reason(monkeypatch):
    plans = [{"actions": ["navigate_to nowhere garage"], "cost": 1}, {"actions": ["fly fridge"], "cost": 1}]
    monkeypatch.setattr(symbolic_sampler, "_RUNNER", canned({"plans": plans, "timeout_triggered": False}))
    result = SymbolicSampler().sample(request(kitchen(), "open(fridge)"))
    assert result.plans == [] and "maps to valid skill calls" in result.note
    assert result.rejected == [
        ("navigate_to nowhere garage", "the planner returned 'navigate_to nowhere garage'; "
                                       "'garage' is no object of the problem"),
        ("fly fridge", "the planner returned action 'fly fridge', which has no action model"),
    ]
