"""The embedded verifier (planner_ros.verification.scene_graph_verifier): expected effects against a fresh
view, UNKNOWN rather than success on stale views, and diagnoses of executor failures and unmet effects in
words a replanning prompt can use. The observer is a fixed-view fake; no ROS."""
from __future__ import annotations

from dataclasses import replace

import pytest

from planner_ros.planning.affordance import expected_effects
from planner_ros.planning.conditions import Condition
from planner_ros.planning.interfaces import Verdict, VerdictStatus, VerifyRequest
from planner_ros.planning.world import ObjectStatus, ObjectView, ReceptacleView, WorldView
from planner_ros.skills import FailureCode, SkillCall, SkillOutcome
from planner_ros.verification.scene_graph_verifier import SceneGraphVerifier, diagnose, whereabouts

STEP_STARTED_S = 10.0


class FixedObserver:
    """Returns one view whatever is asked, and records the after_s it was asked for."""

    def __init__(self, view: WorldView) -> None:
        self.view = view
        self.asked: list[float | None] = []

    def observe(self, after_s: float | None = None) -> WorldView:
        self.asked.append(after_s)
        return self.view

    def now_s(self) -> float:
        return self.view.stamp_s

    def search_places(self, label: str) -> list[str]:
        return []


def view(*, stamp_s: float = 12.0, holding: str | None = None, robot_at: str | None = None, fridge: float = 0.0,
         drawer: float = 0.0, **objects: ObjectView) -> WorldView:
    recs = {"table": ReceptacleView("table", "table"), "counter": ReceptacleView("counter", "counter"),
            "sink": ReceptacleView("sink", "sink", container=True),
            "fridge": ReceptacleView("fridge", "fridge", container=True, part="fridge_door", opening=fridge),
            "drawer": ReceptacleView("drawer", "drawer", container=True, part="drawer", opening=drawer)}
    objs = {"apple_1": ObjectView("apple_1", "apple", "on", "table"),
            "mug_1": ObjectView("mug_1", "mug", "on", "counter")}
    objs.update(objects)
    if holding:
        objs[holding] = replace(objs[holding], relation="held", place="")
    return WorldView(objs, recs, holding=holding, robot_at=robot_at, stamp_s=stamp_s)


def call(skill: str, **arguments: str) -> SkillCall:
    return SkillCall(skill, tuple(arguments.items()))


def verify(skill_call: SkillCall, outcome: SkillOutcome, seen: WorldView, expected=None) -> Verdict:
    """Verify as the executive does: the step's expected effects from the view before it ran."""
    if expected is None:
        expected = expected_effects(skill_call, view())
    observer = FixedObserver(seen)
    verdict = SceneGraphVerifier(observer).verify(VerifyRequest("tidy up", skill_call, outcome, tuple(expected),
                                                                STEP_STARTED_S))
    assert observer.asked == [STEP_STARTED_S]  # it asked for observations made after the step started
    assert verdict.backend == "scene_graph"
    return verdict


OK = SkillOutcome(success=True, duration_s=1.5)
PICK = call("pick", object="apple_1")
PLACE = call("place", object="apple_1", target="counter")


# -- success -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("skill_call, seen", [
    (PICK, view(holding="apple_1")),
    (PLACE, view(apple_1=ObjectView("apple_1", "apple", "on", "counter"))),
    (call("place", object="apple_1", target="sink"), view(apple_1=ObjectView("apple_1", "apple", "in", "sink"))),
    (call("open", target="fridge"), view(fridge=0.9)),
    (call("open", target="fridge_door"), view(fridge=0.5)),
    (call("close", target="drawer"), view(drawer=0.0)),
], ids=["pick", "place_on", "place_in", "open_by_receptacle", "open_by_part", "close_drawer"])
def test_success_when_the_expected_effects_hold_in_a_fresh_view(skill_call, seen):
    verdict = verify(skill_call, OK, seen)
    assert verdict.status is VerdictStatus.SUCCESS
    assert verdict.confidence == pytest.approx(0.9)
    assert verdict.failed == ()
    assert verdict.diagnosis is FailureCode.NONE
    assert all(c.text in verdict.reason for c in expected_effects(skill_call, view()))


def test_a_view_stamped_at_the_step_start_counts_as_fresh():
    assert verify(PICK, OK, view(holding="apple_1", stamp_s=STEP_STARTED_S)).status is VerdictStatus.SUCCESS


# -- stale views -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("seen", [view(holding="apple_1", stamp_s=9.99), view(stamp_s=0.0),
                                  view(holding="apple_1", stamp_s=float("-inf"))],
                         ids=["effects_hold_but_stale", "effects_unmet_and_stale", "no_graph_yet"])
def test_a_view_older_than_the_step_is_unknown_never_success(seen):
    verdict = verify(PICK, OK, seen)
    assert verdict.status is VerdictStatus.UNKNOWN
    assert verdict.confidence == 0.0
    assert "no scene graph observation after t=10.00 s" in verdict.reason
    assert verdict.diagnosis is FailureCode.NONE


def test_a_stale_view_is_unknown_even_for_navigation():
    assert verify(call("navigate_to", target="table"), OK, view(stamp_s=1.0)).status is VerdictStatus.UNKNOWN


def test_the_verifier_answers_unknown_when_the_observer_has_no_graph():
    empty = WorldView({}, {}, stamp_s=float("-inf"))
    assert verify(PICK, OK, empty).status is VerdictStatus.UNKNOWN


# -- executor failures: always FAILURE, diagnosed ----------------------------------------------------------
@pytest.mark.parametrize("code, word", [(FailureCode.LOCKED, "locked"), (FailureCode.JAMMED, "jammed")])
@pytest.mark.parametrize("target", ["fridge_door", "fridge"])
def test_locked_or_jammed_names_the_receptacle_that_owns_the_door(code, word, target):
    verdict = verify(call("open", target=target), SkillOutcome.failed(code, "door stuck at 3 degrees"), view())
    assert verdict.status is VerdictStatus.FAILURE
    assert verdict.confidence == 1.0
    assert verdict.diagnosis is code
    assert verdict.subject == "fridge"
    assert verdict.diagnosis_text == f"fridge does not open ({word}): door stuck at 3 degrees"
    assert verdict.failed == ("open(fridge_door)",)
    assert code.name in verdict.reason


@pytest.mark.parametrize("seen, where", [
    (view(apple_1=ObjectView("apple_1", "apple", "none", "")), "on the floor or somewhere no skill can reach"),
    (view(apple_1=ObjectView("apple_1", "apple", "in", "sink")), "in sink"),
])
def test_slipped_says_where_the_object_is_now(seen, where):
    verdict = verify(PLACE, SkillOutcome.failed(FailureCode.SLIPPED, "grasp lost"), seen)
    assert verdict.status is VerdictStatus.FAILURE
    assert (verdict.diagnosis, verdict.subject) == (FailureCode.SLIPPED, "apple_1")
    assert verdict.diagnosis_text == f"apple_1 slipped out of the gripper; it is now {where}"


@pytest.mark.parametrize("code", [FailureCode.NOT_REACHABLE, FailureCode.EXECUTION_ERROR, FailureCode.UNKNOWN_OBJECT])
def test_a_pick_that_found_nothing_with_the_object_shown_elsewhere_is_object_moved(code):
    seen = view(robot_at="table", apple_1=ObjectView("apple_1", "apple", "on", "counter"))
    verdict = verify(PICK, SkillOutcome.failed(code, "nothing to grasp"), seen)
    assert verdict.status is VerdictStatus.FAILURE
    assert (verdict.diagnosis, verdict.subject) == (FailureCode.OBJECT_MOVED, "apple_1")
    assert verdict.diagnosis_text == "apple_1 is now on counter, not at table"


def test_a_pick_that_found_nothing_where_the_object_still_is_keeps_the_executors_code():
    seen = view(robot_at="table")   # the graph still shows the apple on the table
    verdict = verify(PICK, SkillOutcome.failed(FailureCode.EXECUTION_ERROR, "grasp planning failed"), seen)
    assert (verdict.diagnosis, verdict.diagnosis_text) == (FailureCode.EXECUTION_ERROR, "grasp planning failed")


@pytest.mark.parametrize("code, seen", [
    (FailureCode.OBJECT_MISSING, view(robot_at="table")),
    (FailureCode.NOT_REACHABLE, view(robot_at="table",
                                     apple_1=ObjectView("apple_1", "apple", "on", "table", ObjectStatus.MISSING))),
    (FailureCode.EXECUTION_ERROR, view(apple_1=ObjectView("apple_1", "apple", "on", "counter", ObjectStatus.MISSING))),
], ids=["executor_says_missing", "graph_says_missing", "missing_wins_over_moved"])
def test_an_object_missing_is_object_missing(code, seen):
    verdict = verify(PICK, SkillOutcome.failed(code, "not found"), seen)
    assert verdict.status is VerdictStatus.FAILURE
    assert (verdict.diagnosis, verdict.subject) == (FailureCode.OBJECT_MISSING, "apple_1")
    assert verdict.diagnosis_text == "apple_1 is not where it was expected: not found"


def test_blocked_names_the_target():
    verdict = verify(PLACE, SkillOutcome.failed(FailureCode.BLOCKED, "no free space"), view(holding="apple_1"))
    assert verdict.status is VerdictStatus.FAILURE
    assert (verdict.diagnosis, verdict.subject) == (FailureCode.BLOCKED, "counter")
    assert verdict.diagnosis_text == "counter is blocked: no free space"
    assert set(verdict.failed) == {"on(apple_1, counter)", "not held(apple_1)"}


def test_an_executor_failure_is_never_overruled_even_when_the_effects_seem_to_hold():
    # The graph shows the apple held (stale or wrong); the robot said the pick failed: it failed.
    verdict = verify(PICK, SkillOutcome.failed(FailureCode.TIMEOUT, "arm timed out"), view(holding="apple_1"))
    assert verdict.status is VerdictStatus.FAILURE
    assert verdict.failed == ()
    assert (verdict.diagnosis, verdict.diagnosis_text) == (FailureCode.TIMEOUT, "arm timed out")


def test_an_executor_failure_on_a_stale_view_is_still_failure():
    verdict = verify(PICK, SkillOutcome.failed(FailureCode.HAND_FULL, "holding mug_1"), view(stamp_s=0.0))
    assert verdict.status is VerdictStatus.FAILURE


# -- executor success, effects unmet -----------------------------------------------------------------------
def test_an_object_lost_while_driving_is_slipped_on_arrival():
    drive = call("navigate_to", target="counter")
    expected = expected_effects(drive, view(holding="apple_1"))
    dropped = view(robot_at="counter", apple_1=ObjectView("apple_1", "apple", "none", ""))
    verdict = verify(drive, OK, dropped, expected)
    assert verdict.status is VerdictStatus.FAILURE and verdict.failed == ("held(apple_1)",)
    assert (verdict.diagnosis, verdict.subject) == (FailureCode.SLIPPED, "apple_1")
    assert verdict.diagnosis_text == ("apple_1 fell out of the gripper on the way to counter; it is on the floor or "
                                      "somewhere no skill can reach")
    carried = view(robot_at="counter", holding="apple_1")
    assert verify(drive, OK, carried, expected).status is VerdictStatus.SUCCESS


@pytest.mark.parametrize("seen, where", [
    (view(), "on table"),
    (view(apple_1=ObjectView("apple_1", "apple", "none", "")), "on the floor or somewhere no skill can reach"),
])
def test_a_pick_reported_done_without_the_object_in_hand_is_slipped(seen, where):
    verdict = verify(PICK, OK, seen)
    assert verdict.status is VerdictStatus.FAILURE
    assert verdict.confidence == pytest.approx(0.8)
    assert verdict.failed == ("held(apple_1)",)
    assert (verdict.diagnosis, verdict.subject) == (FailureCode.SLIPPED, "apple_1")
    assert verdict.diagnosis_text == f"apple_1 is not in the gripper; it is {where}"


def test_a_place_reported_done_with_the_object_elsewhere_fails_saying_where():
    seen = view(apple_1=ObjectView("apple_1", "apple", "on", "table"))
    verdict = verify(PLACE, OK, seen)
    assert verdict.status is VerdictStatus.FAILURE
    assert verdict.failed == ("on(apple_1, counter)",)
    assert (verdict.diagnosis, verdict.subject) == (FailureCode.EXECUTION_ERROR, "apple_1")
    assert verdict.diagnosis_text == "apple_1 is on table, not counter"
    assert "not observed after place(apple_1, counter)" in verdict.reason


def test_a_place_reported_done_still_in_hand_fails_on_the_negated_effect():
    verdict = verify(PLACE, OK, view(holding="apple_1"))
    assert verdict.status is VerdictStatus.FAILURE
    assert set(verdict.failed) == {"on(apple_1, counter)", "not held(apple_1)"}
    assert verdict.diagnosis_text == "apple_1 is in the gripper, not counter"


def test_a_place_whose_object_went_missing_is_object_missing():
    seen = view(apple_1=ObjectView("apple_1", "apple", "on", "counter", ObjectStatus.MISSING))
    verdict = verify(PLACE, OK, seen)
    assert verdict.status is VerdictStatus.FAILURE
    assert verdict.diagnosis is FailureCode.OBJECT_MISSING


def test_an_open_reported_done_that_looks_closed_is_jammed_and_a_close_that_looks_open_is_blocked():
    opened = verify(call("open", target="fridge"), OK, view(fridge=0.2))
    assert (opened.status, opened.diagnosis, opened.subject) == (VerdictStatus.FAILURE, FailureCode.JAMMED, "fridge")
    assert opened.diagnosis_text == "fridge looks only 20% open"
    closed = verify(call("close", target="fridge_door"), OK, view(fridge=0.7), expected=[
        Condition("closed", ("fridge_door",))])
    assert (closed.status, closed.diagnosis, closed.subject) == (VerdictStatus.FAILURE, FailureCode.BLOCKED, "fridge")
    assert closed.diagnosis_text == "fridge looks 70% open after closing"


# -- navigation --------------------------------------------------------------------------------------------
def test_navigation_success_is_success_with_lower_confidence():
    verdict = verify(call("navigate_to", target="table"), OK, view())
    assert verdict.status is VerdictStatus.SUCCESS
    assert 0.0 < verdict.confidence < verify(PICK, OK, view(holding="apple_1")).confidence
    assert verdict.failed == ()


# -- helpers -----------------------------------------------------------------------------------------------
def test_whereabouts_in_words():
    seen = view(holding="mug_1", apple_1=ObjectView("apple_1", "apple", "in", "sink"),
                pear_1=ObjectView("pear_1", "pear", "on", "table", ObjectStatus.MISSING))
    assert whereabouts(seen, "apple_1") == "in sink"
    assert whereabouts(seen, "mug_1") == "in the gripper"
    assert whereabouts(seen, "pear_1") == "missing (not seen where it was)"
    assert whereabouts(seen, "banana_1") == "not in the scene graph"


def test_diagnose_with_an_object_the_graph_does_not_hold_is_object_missing():
    code, text, subject = diagnose(call("pick", object="banana_1"), FailureCode.UNKNOWN_OBJECT, "no banana", view())
    assert (code, subject) == (FailureCode.OBJECT_MISSING, "banana_1")
    assert "banana_1" in text


def test_the_robots_place_can_come_with_the_request():
    seen = view(apple_1=ObjectView("apple_1", "apple", "on", "counter"))   # the observer does not know it
    request = VerifyRequest("task", PICK, SkillOutcome.failed(FailureCode.NOT_REACHABLE, "nothing to grasp"), (),
                            after_s=10.0, diagnose=True, robot_at="table")
    verdict = SceneGraphVerifier(FixedObserver(seen)).verify(request)
    assert (verdict.diagnosis, verdict.diagnosis_text) == (FailureCode.OBJECT_MOVED,
                                                           "apple_1 is now on counter, not at table")
