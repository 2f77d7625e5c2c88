from pathlib import Path

import pytest

from planner_ros.paths import config_dir
from planner_ros.sim.faults import FaultError, FaultSchedule, FaultSpec, FaultType, fault_from_mapping
from planner_ros.sim.goals import GoalError, WorldFacts, evaluate, parse_condition
from planner_ros.sim.scenario import ScenarioError, load_scenarios, load_task_file, parse_call
from planner_ros.skills import FailureCode

FURNITURE = {"counter", "table", "shelf", "sink", "bin", "fridge", "cabinet", "drawer"}
PARTS = {"fridge_door", "cabinet_door", "drawer"}


@pytest.fixture(scope="module")
def scenarios():
    return load_scenarios(config_dir() / "tasks")


def test_task_suite_covers_the_issue(scenarios):
    tasks = {s.task_id for s in scenarios.values()}
    assert len(tasks) >= 30
    assert {s.category for s in scenarios.values()} >= {
        "fetch", "put_away", "set_table", "clear_table", "store_food", "open_first"}
    assert {s.layout for s in scenarios.values()} >= {"kitchen_a", "kitchen_b", "kitchen_c"}
    assert all(2 <= len(s.plan) <= 12 for s in scenarios.values())
    assert all(f"{t}:clean" in scenarios and f"{t}:fault" in scenarios for t in tasks)
    assert {f.type for s in scenarios.values() for f in s.faults} == set(FaultType)
    assert any(s.plan[i].skill == "open" for s in scenarios.values() for i in range(len(s.plan)))


def test_tasks_name_only_known_things(scenarios):
    for s in scenarios.values():
        known = FURNITURE | PARTS | set(s.objects)
        for call in s.plan:
            for _, value in call.arguments:
                assert value in known, f"{s.name}: {call.text} names unknown '{value}'"
        for cond in s.goal:
            assert set(cond.args) <= known, f"{s.name}: {cond.text}"
        for placement in s.objects.values():
            assert placement.location in FURNITURE


def test_expected_failures_point_at_the_right_skill(scenarios):
    expect_skill = {FailureCode.LOCKED: {"open"}, FailureCode.JAMMED: {"open"}, FailureCode.BLOCKED: {"place"},
                    FailureCode.OBJECT_MISSING: {"pick"}, FailureCode.NOT_REACHABLE: {"pick"},
                    FailureCode.SLIPPED: {"pick", "navigate_to"}}
    for s in scenarios.values():
        if s.expected_failure:
            step = s.plan[s.expected_failure.step - 1]
            assert step.skill in expect_skill[s.expected_failure.code], s.name


def test_conditions_and_calls_parse_as_data():
    assert parse_condition("in(apple_1, fridge)").args == ("apple_1", "fridge")
    assert parse_condition("not open(fridge_door)").negated
    assert parse_call("place(apple_1, fridge)").text == "place(apple_1, fridge)"
    for bad in ["__import__('os').system('x')", "in(apple_1)", "float(apple_1, x)", "in(a, b, c)"]:
        with pytest.raises(GoalError):
            parse_condition(bad)
    with pytest.raises(ScenarioError, match="unknown skill 'teleport'"):
        parse_call("teleport(apple_1)")
    with pytest.raises(ScenarioError, match="takes 1 argument"):
        parse_call("pick(apple_1, table)")


def test_goal_evaluation():
    goal = [parse_condition(c) for c in ["in(apple_1, fridge)", "closed(fridge_door)", "not held(apple_1)"]]
    facts = WorldFacts({"apple_1": ("in", "fridge")}, {"fridge_door": 0.02})
    report = evaluate(goal, facts)
    assert report.success and report.recall == 1.0
    report = evaluate(goal, WorldFacts({"apple_1": ("held_by", "robot")}, {"fridge_door": 0.9}, held="apple_1"))
    assert not report.success and report.recall == 0.0
    assert [c.text for c in report.unsatisfied] == ["in(apple_1, fridge)", "closed(fridge_door)",
                                                    "not held(apple_1)"]


def test_bad_task_files_name_the_problem(tmp_path: Path):
    path = tmp_path / "t.yaml"
    path.write_text("tasks:\n  - {id: x, layout: kitchen_a, seed: 1, instruction: hi, goal: ['on(a, b)'],"
                    " plan: ['pick(a)']}\n")
    with pytest.raises(ScenarioError, match="t.yaml: tasks\\[0\\] 'x': needs a 'fault_variant'"):
        load_task_file(path)
    path.write_text("tasks:\n  - {id: x, layout: kitchen_a, seed: 1, instruction: hi, goal: ['on(a, b)'],"
                    " plan: ['pick(a)'], fault_variant: {faults: [{type: melt, target: a}]}}\n")
    with pytest.raises(ScenarioError, match="unknown fault type 'melt'"):
        load_task_file(path)
    path.write_text("tasks:\n  - {id: x, layout: kitchen_a, seed: 1, instruction: hi, goal: ['on(a, b)'],"
                    " plan: ['pick(a)'], any_of_kind: [cup_9], fault_variant: {faults: [{type: slip, target: a}]}}\n")
    with pytest.raises(ScenarioError, match="'any_of_kind' must list ids from 'objects'"):
        load_task_file(path)


def test_objects_named_by_kind_only_are_marked(scenarios):
    assert scenarios["set_bowl_cup_plate:clean"].any_of_kind == {"bowl_1", "cup_1", "plate_1"}
    assert scenarios["get_plate_from_cabinet:clean"].any_of_kind == frozenset()  # "a plate out of the cabinet"


def test_fault_rules_fire_on_the_nth_matching_call():
    schedule = FaultSchedule()
    slip = schedule.add(fault_from_mapping({"type": "slip", "target": "apple_1", "on_skill": "pick",
                                            "on_argument": "apple_1", "on_call": 2}))
    locked = schedule.add(FaultSpec(FaultType.LOCKED, "fridge_door"))
    assert slip.id and locked.id and slip.id != locked.id
    assert schedule.take_immediate() == [locked]
    assert schedule.on_call("pick", ("banana_1",)) == []
    assert schedule.on_call("pick", ("apple_1",)) == []
    assert schedule.on_call("pick", ("apple_1",)) == [slip]
    assert schedule.on_call("pick", ("apple_1",)) == [] and schedule.pending == []
    every = schedule.add(FaultSpec(FaultType.CAMERA_DROP, "head_rgbd", on_skill="navigate_to", on_call=0))
    assert schedule.on_call("navigate_to", ("table",)) == [every] == schedule.on_call("navigate_to", ("sink",))


@pytest.mark.parametrize("data, message", [
    ({"type": "moved", "target": "apple_1"}, "needs params.destination"),
    ({"type": "slip"}, "'target' is required"),
    ({"type": "slip", "target": "a", "on_call": -1}, "'on_call' must be an integer"),
    ({"type": "slip", "target": "a", "when": "now"}, "unknown keys ['when']"),
])
def test_bad_faults(data, message):
    with pytest.raises(FaultError, match=message.replace("[", "\\[").replace("]", "\\]")):
        fault_from_mapping(data)
