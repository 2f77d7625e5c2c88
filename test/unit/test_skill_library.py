import pytest
import yaml

from planner_ros.paths import config_dir
from planner_ros.skills import DEFAULT_SKILLS, FailureCode, SkillValidationError
from planner_ros.world.symbolic import SceneConfigError, SymbolicHousehold


def world() -> SymbolicHousehold:
    return SymbolicHousehold.from_config(yaml.safe_load((config_dir() / "scenes/kitchen_symbolic.yaml").read_text()))


def run(w: SymbolicHousehold, skill: str, **args: str):
    return w.execute(DEFAULT_SKILLS.validate(skill, args))


def test_validate_orders_arguments_and_renders_text():
    call = DEFAULT_SKILLS.validate("place", {"target": "fridge", "object": "apple_1"})
    assert call.arguments == (("object", "apple_1"), ("target", "fridge"))
    assert call.text == "place(apple_1, fridge)"


@pytest.mark.parametrize("skill, args, code, fragment", [
    ("fly", {}, FailureCode.UNKNOWN_SKILL, "known skills: close, navigate_to, open, pick, place"),
    ("pick", {}, FailureCode.INVALID_ARGUMENTS, "missing argument 'object'"),
    ("pick", {"object": "apple_1", "speed": "2"}, FailureCode.INVALID_ARGUMENTS, "unexpected arguments ['speed']"),
    ("pick", {"object": "__import__('os')"}, FailureCode.INVALID_ARGUMENTS, "must be an id"),
    ("pick", {"object": "apple 1"}, FailureCode.INVALID_ARGUMENTS, "must be an id"),
])
def test_invalid_calls_are_refused_with_a_code(skill, args, code, fragment):
    with pytest.raises(SkillValidationError) as err:
        DEFAULT_SKILLS.validate(skill, args)
    assert err.value.code == code
    assert fragment in err.value.reason


def test_fetch_and_store_sequence_changes_state():
    w = world()
    assert run(w, "navigate_to", target="table").success
    assert run(w, "pick", object="apple_1").success
    assert w.holding == "apple_1" and w.relation("apple_1") == ("held_by", "robot")
    assert run(w, "navigate_to", target="counter").success
    assert run(w, "place", object="apple_1", target="counter").success
    assert w.relation("apple_1") == ("on", "counter") and w.holding is None
    assert run(w, "navigate_to", target="fridge").success
    assert run(w, "open", target="fridge").success
    assert "open(fridge)" in w.facts()


@pytest.mark.parametrize("steps, code", [
    ([("pick", {"object": "apple_1"})], FailureCode.NOT_REACHABLE),
    ([("navigate_to", {"target": "table"}), ("pick", {"object": "apple_1"}), ("pick", {"object": "banana_1"})],
     FailureCode.HAND_FULL),
    ([("navigate_to", {"target": "fridge"}), ("pick", {"object": "milk_1"})], FailureCode.CONTAINER_CLOSED),
    ([("navigate_to", {"target": "table"}), ("pick", {"object": "apple_1"}), ("navigate_to", {"target": "fridge"}),
      ("place", {"object": "apple_1", "target": "fridge"})], FailureCode.CONTAINER_CLOSED),
    ([("navigate_to", {"target": "drawer"}), ("open", {"target": "drawer"})], FailureCode.LOCKED),
    ([("navigate_to", {"target": "table"}), ("open", {"target": "table"})], FailureCode.PRECONDITION_FAILED),
    ([("place", {"object": "apple_1", "target": "table"})], FailureCode.HAND_EMPTY),
    ([("navigate_to", {"target": "garage"})], FailureCode.UNKNOWN_OBJECT),
])
def test_world_refuses_what_physics_would(steps, code):
    w = world()
    *setup, last = steps
    for skill, args in setup:
        assert run(w, skill, **args).success
    before = w.facts()
    outcome = run(w, *last[:1], **last[1])
    assert not outcome.success and outcome.code == code and outcome.reason
    assert w.facts() == before, "a refused skill must not change the world"


def test_scene_errors_name_the_entry():
    with pytest.raises(SceneConfigError, match="apple': location 'moon' is not a receptacle"):
        SymbolicHousehold.from_config({"receptacles": {"table": {}}, "objects": {"apple": {"location": "moon"}}})
    with pytest.raises(SceneConfigError, match="receptacle 'table': unknown keys"):
        SymbolicHousehold.from_config({"receptacles": {"table": {"colour": "red"}}})
