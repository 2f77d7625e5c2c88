"""The planner's side of planner_ros.conversions against the real message classes (no rclpy.init): the
scene graph as a WorldView, the action tree, planner events, task metrics and VerifyStep verdicts.

ROS is imported unconditionally on purpose: a missing ROS install must fail here, not skip.
"""
from __future__ import annotations

import math

import pytest
from builtin_interfaces.msg import Time
from planner_ros_interfaces.msg import (
    ActionTreeNode,
    ObjectState,
    PlannerEvent,
    Relation,
    SceneGraph,
    SceneObject,
    SkillArgument,
)
from planner_ros_interfaces.srv import VerifyStep

from planner_ros.conversions import (
    metrics_to_msg,
    planner_event_to_msg,
    tree_to_msg,
    verdict_from_response,
    verdict_to_response,
    world_view_from_msg,
)
from planner_ros.planning.executive import TaskMetrics
from planner_ros.planning.interfaces import Verdict, VerdictStatus
from planner_ros.planning.tree import ActionTree, NodeStatus
from planner_ros.planning.world import ObjectStatus
from planner_ros.sim.semantic_map import semantic_map_for_layout
from planner_ros.skills import FailureCode, SkillCall

KITCHEN = semantic_map_for_layout("kitchen_a")
STAMP = Time(sec=42, nanosec=500_000_000)


def node(id_: str, kind: int, status: int = SceneObject.STATUS_VISIBLE, opening: float | None = None,
         label: str = "") -> SceneObject:
    msg = SceneObject(id=id_, label=label or id_.rsplit("_", 1)[0], kind=kind, status=status)
    if opening is not None:
        msg.states = [ObjectState(name="open", value=str(opening >= 0.5).lower(), amount=opening, confidence=0.9)]
    return msg


def rel(subject: str, predicate: str, obj: str) -> Relation:
    return Relation(subject_id=subject, predicate=predicate, object_id=obj, confidence=1.0)


def scene_graph(objects, relations, revision: int = 7) -> SceneGraph:
    msg = SceneGraph(revision=revision, objects=list(objects), relations=list(relations))
    msg.header.stamp, msg.header.frame_id = STAMP, "map"
    return msg


OBJ, REC, PART = SceneObject.KIND_OBJECT, SceneObject.KIND_RECEPTACLE, SceneObject.KIND_ARTICULATED_PART


def kitchen_graph() -> SceneGraph:
    return scene_graph(
        [node("apple_1", OBJ), node("mug_1", OBJ, SceneObject.STATUS_REMEMBERED),
         node("cup_1", OBJ, SceneObject.STATUS_MISSING), node("pear_1", OBJ), node("bowl_1", OBJ),
         node("table", REC), node("fridge", REC), node("counter", REC), node("cabinet", REC),
         node("fridge_door", PART, opening=0.8), node("cabinet_door", PART, opening=float("nan")),
         node("drawer", PART, opening=0.3), node("robot", SceneObject.KIND_ROBOT)],
        [rel("apple_1", Relation.ON, "table"), rel("mug_1", Relation.IN, "fridge"),
         rel("pear_1", Relation.HELD_BY, "robot"), rel("apple_1", Relation.NEXT_TO, "bowl_1"),
         rel("bowl_1", Relation.ON, "counter"), rel("fridge_door", Relation.PART_OF, "fridge")])


# -- world_view_from_msg -----------------------------------------------------------------------------------
def test_world_view_objects_relations_and_statuses():
    view = world_view_from_msg(kitchen_graph(), KITCHEN)
    # Receptacles, parts and the robot are graph nodes but not objects the planner can move.
    assert set(view.objects) == {"apple_1", "mug_1", "cup_1", "pear_1", "bowl_1"}
    got = {o.id: (o.label, o.relation, o.place, o.status) for o in view.objects.values()}
    assert got == {
        "apple_1": ("apple", "on", "table", ObjectStatus.VISIBLE),
        "mug_1": ("mug", "in", "fridge", ObjectStatus.REMEMBERED),
        "cup_1": ("cup", "none", "", ObjectStatus.MISSING),
        "pear_1": ("pear", "held", "", ObjectStatus.VISIBLE),
        "bowl_1": ("bowl", "on", "counter", ObjectStatus.VISIBLE),   # next_to is not a place
    }
    assert view.holding == "pear_1"
    assert view.robot_at is None          # the graph does not know where the planner sent the robot
    assert view.stamp_s == pytest.approx(42.5)
    assert view.revision == 7
    assert "cup_1" not in view.usable_objects()


def test_world_view_receptacles_come_from_the_semantic_map_with_observed_openings():
    view = world_view_from_msg(kitchen_graph(), KITCHEN)
    assert set(view.receptacles) == set(KITCHEN.receptacles)   # even those the graph message leaves out
    assert {r.id for r in view.receptacles.values() if r.container} == {"sink", "bin", "fridge", "cabinet", "drawer"}
    assert {r.id: r.part for r in view.receptacles.values() if r.part} == {
        "fridge": "fridge_door", "cabinet": "cabinet_door", "drawer": "drawer"}
    fridge, cabinet, drawer = (view.receptacles[r] for r in ("fridge", "cabinet", "drawer"))
    assert fridge.opening == pytest.approx(0.8) and fridge.is_open
    assert drawer.opening == pytest.approx(0.3) and not drawer.is_open
    # An opening not estimated (NaN) counts as closed: the planner will open it rather than reach into it.
    assert cabinet.opening == 0.0 and not cabinet.is_open
    for surface in ("table", "counter", "shelf"):
        assert (view.receptacles[surface].part, view.receptacles[surface].opening) == ("", 1.0)
        assert view.receptacles[surface].is_open


def test_a_part_the_graph_does_not_show_is_taken_as_closed():
    view = world_view_from_msg(scene_graph([node("apple_1", OBJ)], [rel("apple_1", Relation.IN, "fridge")]), KITCHEN)
    assert not view.receptacles["fridge"].is_open
    assert view.facts() >= {"closed(fridge)", "in(apple_1, fridge)", "hand_empty"}


def test_an_empty_graph_is_an_empty_view_over_the_map():
    view = world_view_from_msg(scene_graph([], [], revision=0), KITCHEN)
    assert view.objects == {} and view.holding is None
    assert set(view.receptacles) == set(KITCHEN.receptacles)


def test_an_object_stacked_on_another_keeps_its_receptacle_as_place():
    # compute_relations emits both the support relation and stacking ("on" another object), sorted by
    # (subject, predicate, object): here "in sink" then "on bowl_1".
    msg = scene_graph([node("cup_1", OBJ), node("bowl_1", OBJ), node("sink", REC)],
                      [rel("bowl_1", Relation.IN, "sink"), rel("cup_1", Relation.IN, "sink"),
                       rel("cup_1", Relation.ON, "bowl_1")])
    view = world_view_from_msg(msg, KITCHEN)
    assert (view.objects["cup_1"].relation, view.objects["cup_1"].place) == ("in", "sink")


# -- tree_to_msg -------------------------------------------------------------------------------------------
def call(text: str) -> SkillCall:
    skill, raw = text.rstrip(")").split("(")
    names = {"navigate_to": ["target"], "pick": ["object"], "place": ["object", "target"]}[skill]
    return SkillCall(skill, tuple(zip(names, [v.strip() for v in raw.split(",")])))


def test_tree_to_msg_carries_steps_statuses_support_end_markers_and_arguments():
    shared, a, b = call("navigate_to(table)"), call("place(apple_1, counter)"), call("place(apple_1, sink)")
    tree = ActionTree([[shared, call("pick(apple_1)"), a], [shared, call("pick(apple_1)"), b]])
    tree.mark(1, NodeStatus.SUCCEEDED)
    place_a = next(n for n in tree.nodes if n.call == a)
    tree.mark(place_a.id, NodeStatus.FAILED, "counter is blocked")

    msg = tree_to_msg(tree, "fetch_apple", 2, place_a.id, STAMP)

    assert (msg.task_id, msg.tree_index, msg.num_plans, msg.current_node) == ("fetch_apple", 2, 2, place_a.id)
    assert msg.header.stamp == STAMP
    assert len(msg.nodes) == len(tree.nodes)
    by_id = {n.id: n for n in msg.nodes}
    root = by_id[0]
    assert (root.parent, root.step, root.skill, list(root.arguments)) == (-1, "", "", [])
    assert root.status == ActionTreeNode.STATUS_SUCCEEDED
    assert list(root.support) == [0, 1]
    assert (by_id[1].step, by_id[1].status, list(by_id[1].support)) == ("navigate_to(table)",
                                                                       ActionTreeNode.STATUS_SUCCEEDED, [0, 1])
    failed = by_id[place_a.id]
    assert (failed.skill, failed.step, failed.note) == ("place", "place(apple_1, counter)", "counter is blocked")
    assert failed.status == ActionTreeNode.STATUS_FAILED
    assert list(failed.arguments) == [SkillArgument(name="object", value="apple_1"),
                                      SkillArgument(name="target", value="counter")]
    assert list(failed.support) == [0]
    ends = [n for n in msg.nodes if n.is_end]
    assert len(ends) == 2
    assert all(n.step == "<end>" and n.skill == "" and list(n.arguments) == [] for n in ends)
    assert sorted(list(n.support) for n in ends) == [[0], [1]]
    assert {n.parent for n in ends} == {place_a.id, next(n.id for n in tree.nodes if n.call == b)}


def test_tree_status_values_match_the_message_constants():
    for status in NodeStatus:
        assert getattr(ActionTreeNode, f"STATUS_{status.name}") == int(status)


def test_no_running_node_is_minus_one():
    assert tree_to_msg(ActionTree([[call("pick(apple_1)")]]), "t", 0, -1, STAMP).current_node == -1


# -- planner_event_to_msg ----------------------------------------------------------------------------------
def test_planner_event_extra_keys_become_key_values_in_key_order():
    event = {"type": "step_verified", "task_id": "fetch_apple", "step": "pick(apple_1)", "detail": "observed",
             "verdict": "success", "confidence": 0.9, "attempt": 2, "failed": ()}
    msg = planner_event_to_msg(event, STAMP)
    assert isinstance(msg, PlannerEvent)
    assert (msg.type, msg.task_id, msg.step, msg.detail) == ("step_verified", "fetch_apple", "pick(apple_1)",
                                                             "observed")
    assert msg.header.stamp == STAMP
    assert [(kv.key, kv.value) for kv in msg.data] == [("attempt", "2"), ("confidence", "0.9"), ("failed", "()"),
                                                        ("verdict", "success")]


def test_planner_event_optional_fields_default_to_empty():
    msg = planner_event_to_msg({"type": "task_started"}, STAMP)
    assert (msg.type, msg.task_id, msg.step, msg.detail, list(msg.data)) == ("task_started", "", "", "", [])


# -- metrics_to_msg ----------------------------------------------------------------------------------------
def test_metrics_to_msg_copies_every_field_and_passes_nan_recall_through():
    metrics = TaskMetrics(success=True, executability=0.75, skill_calls=9, corrections=2, replans=1, llm_calls=4,
                          vlm_calls=3, prompt_tokens=12_345_678_901, completion_tokens=456, wall_time_s=12.5,
                          sim_time_s=30.25)
    msg = metrics_to_msg(metrics)
    assert math.isnan(msg.goal_condition_recall)   # goal not known: NaN, not 0
    assert msg.success is True
    assert (msg.executability, msg.skill_calls, msg.corrections, msg.replans, msg.llm_calls, msg.vlm_calls) == (
        pytest.approx(0.75), 9, 2, 1, 4, 3)
    assert (msg.prompt_tokens, msg.completion_tokens) == (12_345_678_901, 456)   # uint64: no truncation
    assert (msg.wall_time_s, msg.sim_time_s) == (12.5, 30.25)
    metrics.goal_condition_recall = 0.5
    assert metrics_to_msg(metrics).goal_condition_recall == pytest.approx(0.5)


# -- VerifyStep verdicts -----------------------------------------------------------------------------------
def test_verdict_round_trips_through_a_verify_step_response():
    verdict = Verdict(VerdictStatus.FAILURE, 0.75, "not observed after pick(apple_1): held(apple_1)",
                      ("held(apple_1)", "not on(apple_1, table)"), FailureCode.SLIPPED,
                      "apple_1 is not in the gripper; it is on table", "apple_1", "scene_graph", 2, 300, 40)
    response = verdict_to_response(verdict, VerifyStep.Response())
    assert response.verdict == VerifyStep.Response.FAILURE
    assert (response.diagnosis.code, response.diagnosis.reason) == (int(FailureCode.SLIPPED),
                                                                    verdict.diagnosis_text)
    assert list(response.failed_conditions) == list(verdict.failed)
    # The response has no subject field: the caller supplies it from the request.
    assert verdict_from_response(response, subject="apple_1") == verdict


@pytest.mark.parametrize("status", list(VerdictStatus))
def test_every_verdict_status_maps_to_the_service_constant(status):
    response = verdict_to_response(Verdict(status, 0.5, "r", backend="scene_graph"), VerifyStep.Response())
    assert response.verdict == getattr(VerifyStep.Response, status.name)
    back = verdict_from_response(response)
    assert (back.status, back.diagnosis, back.failed, back.subject) == (status, FailureCode.NONE, (), "")
