"""The offline instruction parser (planner_ros.planning.instructions): the task suite's instructions and their
paraphrases to goal conditions over scene-graph ids, binding choices, what is left to search for, and
refusals that point to an LLM backend. No ROS, no model."""
from __future__ import annotations

import time
from collections import Counter

import pytest

from planner_ros.paths import config_dir
from planner_ros.perception.backends import catalog_aliases
from planner_ros.planning.conditions import Condition, parse_condition
from planner_ros.planning.instructions import (
    GoalSpec,
    InstructionError,
    Mention,
    ParserGoalWriter,
    bind,
    parse_instruction,
)
from planner_ros.planning.world import Knowledge, ObjectStatus, ObjectView, ReceptacleView, WorldView
from planner_ros.sim.scenario import load_scenarios
from planner_ros.sim.semantic_map import semantic_map_for_layout

ALIASES = catalog_aliases()
CLEAN = {s.task_id: s for s in load_scenarios(config_dir() / "tasks").values() if s.variant == "clean"}


def receptacle_views(layout: str = "kitchen_a") -> dict[str, ReceptacleView]:
    """Every receptacle of the layout's semantic map, doors and drawers closed."""
    semantic_map = semantic_map_for_layout(layout)
    return {r.id: ReceptacleView(r.id, r.label, container=r.kind == "container", part=r.part or "", opening=0.0)
            for r in semantic_map.receptacles.values()}


def receptacle_names(layout: str = "kitchen_a") -> dict[str, list[str]]:
    return {r.id: [r.label] for r in semantic_map_for_layout(layout).receptacles.values()}


def kitchen(objects: dict[str, tuple[str, str]], layout: str = "kitchen_a", **changes) -> WorldView:
    """A view with objects {id: (kind, receptacle)}: "in" a container, "on" a surface."""
    recs = receptacle_views(layout)
    views = {oid: ObjectView(oid, kind, "in" if recs[where].container else "on", where)
             for oid, (kind, where) in objects.items()}
    return WorldView(views, recs, **changes)


def goal_texts(goal) -> Counter:
    return Counter(c.text for c in goal)


def parse(text: str, layout: str = "kitchen_a") -> GoalSpec:
    return parse_instruction(text, ALIASES, receptacle_names(layout))


# -- the task suite ----------------------------------------------------------------------------------------
def test_the_suite_has_clean_tasks_of_every_category():
    # Guards the parametrisation below against an empty or renamed task folder.
    assert len(CLEAN) >= 25
    assert {s.category for s in CLEAN.values()} >= {"clear_table", "fetch", "open_first", "put_away", "set_table",
                                                     "store_food"}


@pytest.mark.parametrize("task_id", sorted(CLEAN))
def test_every_clean_suite_instruction_parses_into_exactly_the_tasks_goal(task_id):
    scenario = CLEAN[task_id]
    view = kitchen({oid: (p.kind, p.location) for oid, p in scenario.objects.items()}, scenario.layout)

    binding = bind(parse(scenario.instruction, scenario.layout), view)

    assert goal_texts(binding.goal) == goal_texts(scenario.goal), scenario.instruction
    assert len(binding.goal) == len(scenario.goal)
    assert binding.unresolved == ()
    # The writer the planner uses gives the same goal, with nothing to search for.
    result = ParserGoalWriter(ALIASES).goal(scenario.instruction, view)
    assert result.error == ""
    assert goal_texts(result.goal) == goal_texts(scenario.goal)
    assert result.missing_labels == ()


# -- paraphrases not in the suite --------------------------------------------------------------------------
@pytest.mark.parametrize("instruction, objects, expected", [
    ("Could you put the mug on the counter?", {"mug_1": ("mug", "table")}, ["on(mug_1, counter)"]),
    ("Move both apples to the table", {"apple_1": ("apple", "counter"), "apple_2": ("apple", "fridge")},
     ["on(apple_1, table)", "on(apple_2, table)"]),
    ("Put the cup into the sink and shut the cabinet", {"cup_1": ("cup", "table")},
     ["in(cup_1, sink)", "closed(cabinet_door)"]),
    ("Put the coke in the trash can", {"soda_can_1": ("soda_can", "table")}, ["in(soda_can_1, bin)"]),
    ("put the glass in the cupboard", {"cup_1": ("cup", "counter")}, ["in(cup_1, cabinet)"]),
    ("Leave the fridge open", {}, ["open(fridge_door)"]),
    ("Open the drawer", {}, ["open(drawer)"]),
    ("Put the mug on the table, then open the fridge", {"mug_1": ("mug", "shelf")},
     ["on(mug_1, table)", "open(fridge_door)"]),
    ("Move the mug off the counter onto the shelf", {"mug_1": ("mug", "counter")}, ["on(mug_1, shelf)"]),
    ("PUT THE MILK IN THE REFRIGERATOR!!", {"milk_carton_1": ("milk_carton", "table")},
     ["in(milk_carton_1, fridge)"]),
])
def test_paraphrases_outside_the_suite(instruction, objects, expected):
    result = ParserGoalWriter(ALIASES).goal(instruction, kitchen(objects))
    assert result.error == ""
    assert goal_texts(result.goal) == Counter(expected)
    assert result.missing_labels == ()


def test_open_and_close_name_the_door_or_drawer_not_the_receptacle():
    view = kitchen({})
    assert bind(parse("close the fridge"), view).goal == (Condition("closed", ("fridge_door",)),)
    # The drawer is its own part: it closes itself.
    assert bind(parse("open the drawer"), view).goal == (Condition("open", ("drawer",)),)
    # The spec itself stays on receptacle ids; only binding knows parts.
    assert parse("shut the cupboard").states == (("cabinet", "closed"),)


# -- pronouns ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("instruction, expected", [
    ("Get the apple and put it in the fridge", ["in(apple_1, fridge)"]),
    ("Take the mug from the shelf, then put it on the table", ["on(mug_1, table)"]),
    ("Pick up the apple and the pear, put them on the counter", ["on(apple_1, counter)", "on(pear_1, counter)"]),
    ("Put the apple and the pear in the fridge and close it",
     ["in(apple_1, fridge)", "in(pear_1, fridge)", "closed(fridge_door)"]),
])
def test_pronouns_refer_to_the_objects_or_receptacle_just_named(instruction, expected):
    view = kitchen({"apple_1": ("apple", "table"), "pear_1": ("pear", "table"), "mug_1": ("mug", "shelf")})
    result = ParserGoalWriter(ALIASES).goal(instruction, view)
    assert result.error == ""
    assert goal_texts(result.goal) == Counter(expected)


def test_a_pronoun_with_nothing_named_before_it_is_refused():
    with pytest.raises(InstructionError):
        parse("Put it in the fridge")
    with pytest.raises(InstructionError):
        parse("close it")


# -- counts ------------------------------------------------------------------------------------------------
def test_counts_become_mentions_with_that_many_instances():
    spec = parse("Put two mugs and a plate on the table")
    assert spec.placements == ((Mention("mug", 2), "table"), (Mention("plate", 1), "table"))


def test_two_mugs_with_one_mug_in_view_binds_it_and_leaves_one_unresolved():
    view = kitchen({"mug_1": ("mug", "shelf")})
    binding = bind(parse("Put two mugs on the table"), view)
    assert binding.goal == (Condition("on", ("mug_1", "table")),)
    assert binding.unresolved == (Mention("mug", 1),)
    assert ParserGoalWriter(ALIASES).goal("Put two mugs on the table", view).missing_labels == ("mug",)


def test_one_instance_is_not_bound_to_two_mentions():
    # Both mentions want a mug: the second must not reuse the first's.
    view = kitchen({"mug_1": ("mug", "shelf")})
    binding = bind(GoalSpec(((Mention("mug"), "table"), (Mention("mug"), "counter"))), view)
    assert binding.goal == (Condition("on", ("mug_1", "table")),)
    assert binding.unresolved == (Mention("mug"),)


# -- binding choices ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("source, chosen", [("shelf", "mug_2"), ("counter", "mug_1")])
def test_binding_prefers_an_instance_at_the_named_source(source, chosen):
    view = kitchen({"mug_1": ("mug", "counter"), "mug_2": ("mug", "shelf")})
    binding = bind(parse(f"Bring the mug from the {source} to the table"), view)
    assert binding.goal == (Condition("on", (chosen, "table")),)
    assert binding.chosen == {chosen: f"mug from {source}"}


def test_binding_prefers_an_instance_not_already_at_the_destination():
    view = kitchen({"mug_1": ("mug", "table"), "mug_2": ("mug", "counter")})
    assert bind(parse("Put a mug on the table"), view).goal == (Condition("on", ("mug_2", "table")),)
    # In a container the relation is "in": an apple already in the fridge is the one to leave alone.
    view = kitchen({"apple_1": ("apple", "fridge"), "apple_2": ("apple", "table")})
    assert bind(parse("Put an apple in the fridge"), view).goal == (Condition("in", ("apple_2", "fridge")),)


def test_binding_falls_back_to_the_lowest_id_and_then_takes_the_rest():
    view = kitchen({"cup_2": ("cup", "counter"), "cup_1": ("cup", "counter"), "cup_3": ("cup", "counter")})
    assert bind(parse("Put a cup in the sink"), view).goal == (Condition("in", ("cup_1", "sink")),)
    assert goal_texts(bind(parse("Put three cups in the sink"), view).goal) == Counter(
        ["in(cup_1, sink)", "in(cup_2, sink)", "in(cup_3, sink)"])


def test_the_predicate_follows_the_destination_in_the_view():
    view = kitchen({"apple_1": ("apple", "table")})
    recs = dict(view.receptacles)
    recs["table"] = ReceptacleView("table", "table", container=True)  # a robot whose map calls it a container
    assert bind(parse("Put the apple on the table"), WorldView(view.objects, recs)).goal == (
        Condition("in", ("apple_1", "table")),)


# -- what the view lacks -----------------------------------------------------------------------------------
def test_objects_absent_from_the_view_are_unresolved_and_reported_as_missing_labels():
    view = kitchen({"apple_1": ("apple", "table")})
    binding = bind(parse("Put the apple and the banana on the counter"), view)
    assert binding.goal == (Condition("on", ("apple_1", "counter")),)
    assert binding.unresolved == (Mention("banana"),)
    result = ParserGoalWriter(ALIASES).goal("Put the apple and the banana on the counter", view)
    assert result.error == ""
    assert result.missing_labels == ("banana",)


def test_objects_the_graph_marks_missing_or_the_planner_gave_up_on_are_not_bound():
    objects = {"apple_1": ObjectView("apple_1", "apple", "on", "table", ObjectStatus.MISSING),
               "apple_2": ObjectView("apple_2", "apple", "on", "counter")}
    view = WorldView(objects, receptacle_views())
    assert bind(parse("Put the apple in the fridge"), view).goal == (Condition("in", ("apple_2", "fridge")),)
    view = WorldView(objects, receptacle_views(), knowledge=Knowledge(missing=frozenset({"apple_2"})))
    binding = bind(parse("Put the apple in the fridge"), view)
    assert binding.goal == ()
    assert binding.unresolved == (Mention("apple"),)


def test_missing_labels_are_listed_once_with_the_source_kept_for_the_search():
    view = kitchen({})
    binding = bind(parse("Bring the mug from the shelf to the table"), view)
    assert binding.unresolved == (Mention("mug", 1, "shelf"),)
    result = ParserGoalWriter(ALIASES).goal("Put two mugs on the table, a mug on the counter", view)
    assert result.missing_labels == ("mug",)


def test_an_object_label_unknown_to_the_catalog_is_parsed_from_the_view():
    # The writer adds the view's own labels to its vocabulary (an open-vocabulary detector's classes).
    view = WorldView({"teapot_1": ObjectView("teapot_1", "teapot", "on", "counter")}, receptacle_views())
    result = ParserGoalWriter(ALIASES).goal("Put the teapot on the table", view)
    assert result.goal == (Condition("on", ("teapot_1", "table")),)


# -- refusals ----------------------------------------------------------------------------------------------
LONG = "a" * 10_000
LONG_WORDS = ("put the apple " * 800)[:10_000]


@pytest.mark.parametrize("instruction", ["Make me a sandwich", "Put the apple", "Dance", "", LONG, LONG_WORDS],
                         ids=["sandwich", "no_destination", "dance", "empty", "10k_chars", "10k_words"])
def test_what_the_parser_cannot_handle_is_refused_pointing_to_an_llm_backend(instruction):
    start = time.perf_counter()
    with pytest.raises(InstructionError) as err:
        parse(instruction)
    assert time.perf_counter() - start < 1.0
    assert "LLM backend" in str(err.value)
    assert "llm.backend" in str(err.value)
    assert err.value.instruction == instruction

    start = time.perf_counter()
    result = ParserGoalWriter(ALIASES).goal(instruction, kitchen({"apple_1": ("apple", "table")}))
    assert time.perf_counter() - start < 1.0
    assert result.goal == ()
    assert "LLM backend" in result.error


def test_a_refusal_says_what_was_missing():
    with pytest.raises(InstructionError) as err:
        parse("Put the apple")
    assert "apple" in err.value.why and "destination" in err.value.why
    assert isinstance(err.value, ValueError)  # callers may catch it as a bad value


def test_parsed_goals_are_valid_condition_text():
    # What the writer produces must survive the planner's own goal parser (records, prompts, services).
    view = kitchen({"apple_1": ("apple", "table"), "cup_1": ("cup", "counter")})
    result = ParserGoalWriter(ALIASES).goal("Put the apple in the fridge, the cup to the sink, close the fridge", view)
    assert result.goal
    assert [parse_condition(c.text) for c in result.goal] == list(result.goal)


# -- instructions that once gave silently wrong goals: each is now right or refused -------------------------
# The module promises that anything it cannot parse is refused ("guessing a goal is worse than refusing").
WRONG = [
    # Two placements joined by "and" without a second verb: both objects go to the last destination.
    ("Put the apple in the fridge and the pear on the counter", ["in(apple_1, fridge)", "on(pear_1, counter)"]),
    # ... and the first destination becomes everyone's source: three mugs "from the table" to the counter.
    ("Put two mugs on the table and a mug on the counter", ["on(mug_1, table)"]),
    # "close it" after a receptacle without a door: closed(counter) can never hold.
    ("Take the cup out of the cabinet, put it on the counter and close it", ["on(cup_1, counter)",
                                                                            "closed(cabinet_door)"]),
    # A receptacle with nothing to close: closed(table) can never hold.
    ("Put the cup on the counter and close the table", None),
    # Negation and exclusions are ignored.
    ("Don't put the apple in the fridge", None),
    ("Put the apple in the fridge but not the pear", ["in(apple_1, fridge)"]),
    ("Put the mug in the sink instead of on the table", ["in(mug_1, sink)"]),
    # "next to" is not "in".
    ("Put the apple next to the fridge", None),
]


@pytest.mark.parametrize("instruction, right", WRONG, ids=[w[0][:40] for w in WRONG])
def test_instructions_the_parser_must_get_right_or_refuse(instruction, right):
    view = kitchen({"apple_1": ("apple", "table"), "pear_1": ("pear", "table"), "cup_1": ("cup", "cabinet"),
                    "mug_1": ("mug", "table")})
    result = ParserGoalWriter(ALIASES).goal(instruction, view)
    refused = result.goal == () and "LLM backend" in result.error
    assert refused or (right is not None and goal_texts(result.goal) == Counter(right))


def test_a_plural_without_a_number_means_every_one_and_a_source_binds_only_what_is_there():
    view = kitchen({"apple_1": ("apple", "table"), "apple_2": ("apple", "counter"), "plate_1": ("plate", "counter")})
    result = ParserGoalWriter(ALIASES).goal("Put the apples in the sink.", view)
    assert goal_texts(result.goal) == Counter(["in(apple_1, sink)", "in(apple_2, sink)"])
    # "a plate out of the cabinet": the plate on the counter is not that plate; look in the cabinet first.
    result = ParserGoalWriter(ALIASES).goal("Take a plate out of the cabinet and put it on the table.", view)
    assert result.goal == () and result.missing_labels == ("plate",) and result.look_first == ("cabinet",)


def test_after_searching_the_named_source_an_object_elsewhere_stands_in():
    # "Fetch the mug from the shelf" when someone moved it to the counter: look at the shelf first, then take it.
    view = kitchen({"mug_1": ("mug", "counter")})
    writer = ParserGoalWriter(ALIASES)
    first = writer.goal("Fetch the mug from the shelf and put it on the table.", view)
    assert first.goal == () and first.look_first == ("shelf",)
    assert goal_texts(writer.goal("Fetch the mug from the shelf and put it on the table.", view,
                                  searched=True).goal) == Counter(["on(mug_1, table)"])


def test_no_stand_in_for_an_object_in_a_container_the_robot_could_not_open():
    # "a plate out of the cabinet" with the cabinet locked: a plate on the counter is not that plate.
    view = kitchen({"plate_1": ("plate", "counter")})
    result = ParserGoalWriter(ALIASES).goal("Take a plate out of the cabinet and put it on the table.", view,
                                            searched=True)
    assert result.goal == () and "could not look into cabinet" in result.error
