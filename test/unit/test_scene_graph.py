"""The scene graph core: stable ids, bad input refused without damage, moves versus duplicates, missing
objects, memory out of view, occlusion, the hand, queries, snapshots. Synthetic depth views, no ROS."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from planner_ros.geometry import CameraIntrinsics, Pose3D, matrix_to_quaternion
from planner_ros.scene_graph.articulation import OpeningEstimate
from planner_ros.scene_graph.graph import GraphSettings, SceneGraph, SnapshotError
from planner_ros.scene_graph.model import DepthView, EventType, NodeStatus, ObjectObservation
from planner_ros.scene_graph.queries import describe_scene, find_objects, propose_viewpoints
from planner_ros.scene_graph.semantic_map import MapError, SemanticMap
from planner_ros.sim.semantic_map import semantic_map_for_layout

COUNTER_TOP = 0.9
A = (1.5, 4.7, COUNTER_TOP + 0.04)      # on the counter (kitchen_a)
B = (2.3, 4.7, COUNTER_TOP + 0.04)      # elsewhere on the counter
TABLE = (3.0, 2.2, 0.79)


@pytest.fixture(scope="module")
def kitchen() -> SemanticMap:
    return semantic_map_for_layout("kitchen_a")


def graph(kitchen, **settings) -> SceneGraph:
    settings.setdefault("known_labels", frozenset({"apple", "mug", "soda can"}))
    return SceneGraph(kitchen, GraphSettings(**settings))


def obs(track, label="apple", at=A, t=0.0, size=(0.08, 0.08, 0.08), conf=0.9, cams=("counter_cam",)):
    return ObjectObservation(track, label, tuple(at), tuple(size), conf, cams, t)


def looking_down(over, height_m=1.2, surface_z=COUNTER_TOP, *, depth=None) -> callable:
    """A 640x480 camera (60 degrees vertical field of view) `height_m` above `over`, looking straight down
    at a flat surface."""
    R = np.array([[1.0, 0, 0], [0, -1.0, 0], [0, 0, -1.0]])  # optical x = world x, y = -world y, z = down
    cam = np.array([over[0], over[1], surface_z + height_m])
    pose = Pose3D(tuple(cam), tuple(matrix_to_quaternion(R)))
    k = CameraIntrinsics.from_vertical_fov(640, 480, math.radians(60), "cam")
    image = np.full((480, 640), height_m if depth is None else depth, dtype=np.float32)

    def view(t: float) -> DepthView:
        return DepthView("cam", t, image, k, pose)
    return view


def test_an_object_appears_with_a_stable_id_and_its_relation(kitchen):
    g = graph(kitchen)
    report = g.update([obs("t1")], 0.0)
    assert [(e.type, e.object_id) for e in report.events] == [(EventType.APPEARED, "apple_1")]
    g.update([obs("t1", at=(1.51, 4.7, 0.94), t=0.1)], 0.1)   # jitter: same node, no event
    assert [n.id for n in g.objects()] == ["apple_1"]
    g.update([obs("t7", at=(1.55, 4.72, 0.94), t=0.2)], 0.2)  # perception re-created the track nearby
    assert [n.id for n in g.objects()] == ["apple_1"]
    assert ("apple_1", "on", "counter") in {(r.subject_id, r.predicate, r.object_id) for r in g.relations()}


@pytest.mark.parametrize("bad, reason", [
    (obs("x", at=(math.nan, 4.7, 0.94)), "finite"),
    (obs("x", size=(3.0, 0.1, 0.1)), "outside"),
    (obs("x", size=(0.001, 0.002, 0.003)), "outside"),
    (obs("x", conf=1.7), "confidence"),
    (obs("x", label="unicorn"), "unknown label 'unicorn'"),
    (obs("x", label="  "), "empty label"),
])
def test_bad_observations_are_rejected_with_a_reason_and_change_nothing(kitchen, bad, reason):
    g = graph(kitchen)
    g.update([obs("t1")], 0.0)
    before = json.dumps(g.to_snapshot())
    report = g.update([bad], 0.1)
    assert len(report.rejected) == 1 and reason in report.rejected[0].reason
    assert json.dumps(g.to_snapshot()) == before.replace('"stamp_s": 0.0', '"stamp_s": 0.1')


def test_a_flat_box_is_kept_with_a_minimal_thickness_and_the_repair_reported(kitchen):
    g = graph(kitchen)
    report = g.update([obs("p", size=(0.2, 0.2, 0.0))], 0.0)
    assert not report.rejected and "raised" in report.repaired[0].reason
    assert g.nodes["apple_1"].size_m.tolist() == [0.2, 0.2, GraphSettings().min_size_m]


def test_a_new_object_does_not_take_the_id_of_one_the_detector_missed_in_place(kitchen):
    g = graph(kitchen)
    # The counter under A is seen occupied (depth at the apple's top): apple_1 is still there, undetected.
    occupied = looking_down(A, height_m=1.2, depth=1.2 - 0.08)
    g.update([obs("t1", t=0.0)], 0.0)
    t = 0.0
    while t < 5.0:
        t = round(t + 0.25, 2)
        g.update([obs("t1", t=0.0), obs("t2", at=B, t=t)], t)
        g.observe_views([occupied(t)], t)
    assert sorted(n.id for n in g.objects()) == ["apple_1", "apple_2"]
    assert np.allclose(g.nodes["apple_1"].position_m, A) and g.nodes["apple_1"].status != NodeStatus.MISSING
    assert np.allclose(g.nodes["apple_2"].position_m, B)


def test_duplicated_ids_and_out_of_order_stamps_are_rejected(kitchen):
    g = graph(kitchen)
    report = g.update([obs("t1", t=1.0), obs("t1", at=B, t=0.9)], 1.0)
    assert [r.reason for r in report.rejected] == ["duplicated track id in one message"]
    assert np.allclose(g.nodes["apple_1"].position_m, A)  # the newer of the two was kept
    report = g.update([obs("t1", at=B, t=0.5)], 1.1)
    assert "out of order" in report.rejected[0].reason
    assert np.allclose(g.nodes["apple_1"].position_m, A)


def test_an_object_taken_away_in_view_goes_missing_within_the_deadline(kitchen):
    g = graph(kitchen)
    view = looking_down(A)
    g.update([obs("t1", t=0.0)], 0.0)
    events, t = [], 0.0
    while t < 3.0 and not events:
        t = round(t + 0.25, 2)
        g.update([obs("t1", t=0.0)], t)  # perception still lists the stale track
        events = [e for e in g.observe_views([view(t)], t) if e.type == EventType.MISSING]
    assert events and events[0].object_id == "apple_1"
    assert t <= GraphSettings().fresh_s + GraphSettings().missing_after_s + 0.5
    assert g.nodes["apple_1"].status == NodeStatus.MISSING
    assert not [r for r in g.relations() if r.subject_id == "apple_1"]  # a missing object is on nothing
    report = g.update([obs("t2", t=t + 1)], t + 1)  # back again
    assert [e.type for e in report.events] == [EventType.REAPPEARED]


def test_a_flat_object_taken_away_is_noticed_from_the_depth_it_leaves(kitchen):
    # A plate whose fused centre sits on the counter (lifting pushes it behind the visible top): depth only
    # grows by its thickness when it goes, never past its centre. The depth seen at detection time tells.
    g = graph(kitchen, known_labels=None)
    plate = (A[0], A[1], COUNTER_TOP)
    present, gone = looking_down(A, depth=1.2 - 0.012), looking_down(A)
    for t in (0.0, 0.25, 0.5):
        g.update([obs("p", "plate", plate, t=t, size=(0.2, 0.2, 0.012))], t)
        g.observe_views([present(t)], t)
    t, events = 0.5, []
    while t < 4.0 and not events:
        t = round(t + 0.25, 2)
        g.update([obs("p", "plate", plate, t=0.5, size=(0.2, 0.2, 0.012))], t)
        events = [e for e in g.observe_views([gone(t)], t) if e.type == EventType.MISSING]
    assert events and t - 0.5 <= 2.0


def test_out_of_view_or_hidden_objects_are_remembered_not_missing(kitchen):
    g = graph(kitchen)
    g.update([obs("t1", t=0.0)], 0.0)
    elsewhere = looking_down(TABLE, surface_z=0.75)
    hidden = looking_down(A, depth=0.3)  # something 0.3 m in front of the camera covers the counter
    for t in np.arange(0.5, 10.0, 0.5):
        assert not g.observe_views([elsewhere(t), hidden(t)], t)
    assert g.nodes["apple_1"].status == NodeStatus.REMEMBERED
    assert g.nodes["apple_1"].confidence == pytest.approx(0.9)


def test_a_moved_object_keeps_its_id_instead_of_duplicating(kitchen):
    g = graph(kitchen)
    view = looking_down(A)
    g.update([obs("t1", t=0.0)], 0.0)
    # The apple is carried to B: its old track goes stale, a new track appears at B at once.
    t, moved = 0.0, []
    while t < 4.0:
        t = round(t + 0.25, 2)
        moved += [e for e in g.update([obs("t1", t=0.0), obs("t2", at=B, t=t)], t).events]
        g.observe_views([view(t)], t)
    assert [n.id for n in g.objects()] == ["apple_1"]
    assert [e.type for e in moved if e.object_id == "apple_1"] == [EventType.MOVED]
    assert np.allclose(g.nodes["apple_1"].position_m, B)


def test_a_second_object_of_the_same_label_is_a_new_node(kitchen):
    g = graph(kitchen)
    g.update([obs("t1", t=0.0)], 0.0)
    g.update([obs("t1", t=0.2), obs("t2", at=B, t=0.2)], 0.2)  # both seen at once: two apples
    assert sorted(n.id for n in g.objects()) == ["apple_1", "apple_2"]


def test_a_held_object_follows_the_hand_and_is_held_by_the_robot(kitchen):
    g = graph(kitchen)
    g.update([obs("t1", t=0.0)], 0.0)
    events = g.set_held("apple_1", 1.0)
    assert [e.type for e in events] == [EventType.STATE_CHANGED]
    g.follow_gripper(np.array(TABLE) + (0, 0, 0.3))
    rel = {(r.subject_id, r.predicate, r.object_id) for r in g.relations()}
    assert ("apple_1", "held_by", "robot") in rel and not {r for r in rel if r[0] == "apple_1" and r[1] == "on"}
    g.set_held(None, 2.0)
    g.update([obs("t5", at=TABLE, t=2.5)], 2.5)  # put down on the table, seen there
    assert [n.id for n in g.objects()] == ["apple_1"]
    assert ("apple_1", "on", "table") in {(r.subject_id, r.predicate, r.object_id) for r in g.relations()}


def test_what_lies_in_a_drawer_stays_in_it_when_the_drawer_closes(kitchen, monkeypatch):
    drawer = kitchen.parts["drawer"]
    fraction = {"drawer": 1.0}
    monkeypatch.setattr("planner_ros.scene_graph.graph.estimate_opening", lambda part, views: (
        OpeningEstimate(part.id, fraction[part.id], 0.9, 1000, ("cam",), 1.0) if part.id in fraction else None))
    g = graph(kitchen)
    g.observe_views([], 0.0)
    inside = kitchen.receptacle_volume("drawer", 1.0).centre
    g.update([obs("t1", "mug", inside, size=(0.09, 0.09, 0.1)), obs("t2", at=A)], 0.0)
    fraction["drawer"] = 0.0
    g.observe_views([], 1.0)
    rel = {(r.subject_id, r.predicate, r.object_id) for r in g.relations()}
    assert ("mug_1", "in", "drawer") in rel and ("apple_1", "on", "counter") in rel
    shift = drawer.transform(0.0)[:3, 3] - drawer.transform(1.0)[:3, 3]
    assert np.allclose(g.nodes["mug_1"].position_m, np.asarray(inside) + shift)
    assert np.allclose(g.nodes["apple_1"].position_m, A)   # only the drawer's contents move


def test_relations_next_to_and_stacked(kitchen):
    g = graph(kitchen)
    g.update([obs("a", "apple", A), obs("m", "mug", (A[0] + 0.12, A[1], 0.95), size=(0.09, 0.09, 0.1))], 0.0)
    g.update([obs("c", "soda can", (A[0] + 0.12, A[1], 1.06), size=(0.066, 0.066, 0.12))], 0.0)
    rel = {(r.subject_id, r.predicate, r.object_id) for r in g.relations()}
    assert {("apple_1", "next_to", "mug_1"), ("mug_1", "next_to", "apple_1"), ("soda_can_1", "on", "mug_1"),
            ("drawer", "part_of", "cabinet"), ("fridge_door", "part_of", "fridge")} <= rel


def test_queries_find_describe_and_propose_viewpoints(kitchen):
    g = graph(kitchen)
    g.update([obs("t1", t=0.0), obs("m", "mug", TABLE, size=(0.09, 0.09, 0.1))], 0.0)
    found = find_objects(g, "Apple", synonyms={"apple": ["fruit"]})
    assert [(m.node.id, m.how) for m in found] == [("apple_1", "exact")]
    assert [m.node.id for m in find_objects(g, "fruit", synonyms={"apple": ["fruit"]})] == ["apple_1"]
    assert find_objects(g, "banana") == []
    text = describe_scene(g, ["apple", "banana"])
    assert "apple_1 (apple): on counter" in text and "mug" not in text
    assert "Not in the scene graph: banana" in text
    assert text == describe_scene(g, ["apple", "banana"])  # deterministic
    whole = describe_scene(g)
    assert "mug_1" in whole and "fridge_door: state unknown" in whole
    proposals = propose_viewpoints(g, "banana", max_viewpoints=0)
    assert {p.name for p in proposals} == set(kitchen.receptacles)
    fridge = next(p for p in proposals if p.name == "fridge")
    assert "open fridge_door" in fridge.reason
    # A missing mug: look first where it was last seen.
    view = looking_down(TABLE, surface_z=0.75)
    for t in np.arange(0.25, 3.5, 0.25):
        g.observe_views([view(t)], t)
    assert g.nodes["mug_1"].status == NodeStatus.MISSING
    assert propose_viewpoints(g, "mug")[0].name == "table"


def test_snapshots_round_trip_and_bad_ones_are_refused(kitchen, tmp_path):
    g = graph(kitchen)
    g.update([obs("t1"), obs("m", "mug", TABLE, size=(0.09, 0.09, 0.1))], 0.0)
    g.set_held("mug_1", 0.5)
    data = json.loads(json.dumps(g.to_snapshot()))
    loaded = SceneGraph.from_snapshot(data)
    assert loaded.to_snapshot() == data
    loaded.update([obs("t9", at=B, t=1.0)], 1.0)
    assert "apple_2" not in loaded.nodes or loaded.nodes["apple_1"]  # ids continue, never reused
    loaded.update([obs("t1", t=2.0)], 2.0)
    assert loaded.nodes["apple_1"].track_ids >= {"t1"}
    with pytest.raises(SnapshotError, match="version"):
        SceneGraph.from_snapshot({"version": 99})
    broken = json.loads(json.dumps(data))
    broken["nodes"][0]["position_m"] = [1.0]
    with pytest.raises(SnapshotError):
        SceneGraph.from_snapshot(broken)


def test_semantic_map_json_round_trip_and_errors(kitchen, tmp_path):
    path = tmp_path / "map.json"
    path.write_text(json.dumps(kitchen.to_json()))
    assert SemanticMap.load(path).to_json() == kitchen.to_json()
    # The cabinet is looked into from further back than it is used from; the others from where they are used.
    assert SemanticMap.load(path).look_from("cabinet") == "cabinet_view"
    assert kitchen.look_from("fridge") == kitchen.look_from("drawer") == ""
    bad = kitchen.to_json()
    bad["parts"]["drawer"]["joint_type"] = "screw"
    with pytest.raises(MapError, match="drawer"):
        SemanticMap.from_json(bad)
    with pytest.raises(MapError, match="not JSON"):
        (tmp_path / "x.json").write_text("{")
        SemanticMap.load(tmp_path / "x.json")
