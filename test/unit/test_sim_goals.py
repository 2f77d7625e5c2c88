"""Judging a goal when the instruction cannot tell objects apart: "the cup" with two cups on the table is
met by either, one-to-one; an object of the same kind that started elsewhere never stands in."""
from __future__ import annotations

from planner_ros.sim.goals import WorldFacts, evaluate_any_instance, interchangeable, parse_condition

KINDS = {"cup_1": "cup", "cup_2": "cup", "cup_3": "cup", "apple_1": "apple"}
START = WorldFacts({"cup_1": ("on", "table"), "cup_2": ("on", "table"), "cup_3": ("on", "shelf"),
                    "apple_1": ("on", "table")}, {})


def goal(*texts: str):
    return tuple(parse_condition(t) for t in texts)


def test_interchangeable_objects_share_kind_and_start_place():
    alternatives = interchangeable(KINDS, START, ["cup_1", "cup_3", "apple_1"])
    assert alternatives == {"cup_1": ("cup_1", "cup_2"), "cup_3": ("cup_3",), "apple_1": ("apple_1",)}


def test_the_twin_on_the_same_table_meets_the_goal_and_the_report_says_so():
    end = WorldFacts({"cup_1": ("on", "table"), "cup_2": ("on", "shelf"), "cup_3": ("on", "shelf")}, {})
    alternatives = interchangeable(KINDS, START, ["cup_1"])
    report = evaluate_any_instance(goal("on(cup_1, shelf)"), end, alternatives)
    assert report.success and report.instead == {"cup_1": "cup_2"}
    assert [c.text for c in report.satisfied] == ["on(cup_1, shelf)"]


def test_a_same_kind_object_from_elsewhere_does_not_count():
    end = WorldFacts({"cup_1": ("on", "table"), "cup_2": ("on", "table"), "cup_3": ("on", "counter")}, {})
    report = evaluate_any_instance(goal("on(cup_1, counter)"), end, interchangeable(KINDS, START, ["cup_1"]))
    assert not report.success and report.instead == {}


def test_one_object_cannot_meet_two_goal_objects():
    end = WorldFacts({"cup_1": ("on", "table"), "cup_2": ("in", "sink")}, {})
    alternatives = interchangeable(KINDS, START, ["cup_1", "cup_2"])
    report = evaluate_any_instance(goal("in(cup_1, sink)", "in(cup_2, sink)"), end, alternatives)
    assert len(report.satisfied) == 1 and not report.success
    both = WorldFacts({"cup_1": ("in", "sink"), "cup_2": ("in", "sink")}, {})
    assert evaluate_any_instance(goal("in(cup_1, sink)", "in(cup_2, sink)"), both, alternatives).instead == {}


def test_an_object_named_by_kind_only_may_be_any_of_its_kind():
    alternatives = interchangeable(KINDS, START, ["cup_1", "apple_1"], any_of_kind=["cup_1"])
    assert alternatives["cup_1"] == ("cup_1", "cup_2", "cup_3") and alternatives["apple_1"] == ("apple_1",)
    end = WorldFacts({"cup_1": ("on", "table"), "cup_2": ("on", "table"), "cup_3": ("on", "counter")}, {})
    assert evaluate_any_instance(goal("on(cup_1, counter)"), end, alternatives).instead == {"cup_1": "cup_3"}
