"""scene_graph_node beside sim_node and perception_node (ORACLE detector: the graph is under test here,
not the detector), in separate processes over DDS: objects with relations that agree with ground truth,
the query services, an object removed in view goes missing, a moved object keeps its id, snapshots."""
from __future__ import annotations

import json

import numpy as np
import pytest
import rclpy
from launcher_process import ProbeNode, bringup_with_probe
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rosgraph_msgs.msg import Clock
from std_srvs.srv import Trigger
from visualization_msgs.msg import MarkerArray

from planner_ros.nodes._common import LATCHED_QOS as LATCHED
from planner_ros_interfaces.msg import Fault, KeyValue, SceneGraph, SceneGraphEvent, SceneObject
from planner_ros_interfaces.srv import DescribeScene, FindObjects, GetRelations, InjectFault, ProposeViewpoints

BRINGUP = """
use_sim_time: true
nodes:
  - name: sim
    executable: sim_node
    parameters:
      - layout: kitchen_a
        seed: 20811
        random_objects: 10
        cameras: [kitchen_overview, counter_cam, table_cam, storage_cam]
        camera_rate_hz: 2.0
        real_time_factor: 1.0
        publish_segmentation: true
  - name: perception
    executable: perception_node
    parameters:
      - detector: oracle
        cameras: [kitchen_overview, counter_cam, table_cam, storage_cam]
        embedder: none
  - name: scene_graph
    executable: scene_graph_node
    parameters:
      - semantic_map: "sim:kitchen_a"
        cameras: [kitchen_overview, counter_cam, table_cam, storage_cam]
        snapshot_file: {snapshot}
"""


class Probe(ProbeNode):
    def __init__(self) -> None:
        super().__init__("scene_graph_probe")
        self.graph: SceneGraph | None = None
        self.truth: SceneGraph | None = None
        self.markers: MarkerArray | None = None
        self.events: list[SceneGraphEvent] = []
        self.clock_s = 0.0
        self.create_subscription(Clock, "/clock", lambda m: setattr(self, "clock_s", m.clock.sec + m.clock.nanosec * 1e-9),
                                 10)
        self.create_subscription(SceneGraph, "/scene_graph", lambda m: setattr(self, "graph", m), LATCHED)
        self.create_subscription(SceneGraph, "/sim/ground_truth", lambda m: setattr(self, "truth", m), LATCHED)
        self.create_subscription(MarkerArray, "/scene_graph/markers", lambda m: setattr(self, "markers", m), 2)
        self.create_subscription(SceneGraphEvent, "/scene_graph/events", self.events.append,
                                 QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE))
        self.service_clients = {name: self.create_client(kind, path) for name, kind, path in (
            ("find", FindObjects, "/scene_graph/find_objects"), ("relations", GetRelations, "/scene_graph/get_relations"),
            ("describe", DescribeScene, "/scene_graph/describe"),
            ("viewpoints", ProposeViewpoints, "/scene_graph/propose_viewpoints"), ("save", Trigger, "/scene_graph/save"),
            ("fault", InjectFault, "/sim/inject_fault"))}

    def call(self, name: str, request, timeout_s: float = 20.0):
        client = self.service_clients[name]
        assert client.wait_for_service(timeout_sec=20), f"{name} service not available"
        future = client.call_async(request)
        rclpy.spin_until_future_complete(self, future, timeout_sec=timeout_s)
        assert future.result() is not None, f"{name} did not answer"
        return future.result()


def _xyz(o: SceneObject) -> np.ndarray:
    return np.array([o.pose.position.x, o.pose.position.y, o.pose.position.z])


def _objects(graph: SceneGraph) -> list[SceneObject]:
    return [o for o in graph.objects if o.kind == SceneObject.KIND_OBJECT]


def _matches(probe: Probe) -> dict[str, SceneObject]:
    """Ground-truth object id -> the graph object of the same kind within 10 cm."""
    out = {}
    for truth in _objects(probe.truth):
        near = [o for o in _objects(probe.graph) if o.label == truth.label.replace(" ", "_")
                and np.linalg.norm(_xyz(o) - _xyz(truth)) < 0.10 and o.status != SceneObject.STATUS_MISSING]
        if near:
            out[truth.id] = near[0]
    return out


def _relation(graph: SceneGraph, object_id: str) -> tuple[str, str] | None:
    return next(((r.predicate, r.object_id) for r in graph.relations if r.subject_id == object_id
                 and r.predicate in ("on", "in")), None)


@pytest.fixture(scope="module")
def running(tmp_path_factory):
    root = tmp_path_factory.mktemp("scene_graph")
    snapshot = root / "graph.json"
    with bringup_with_probe(root / "bringup.yaml", BRINGUP.format(snapshot=snapshot), Probe) as (probe, launcher):
        probe.spin_until(lambda: probe.truth is not None and probe.graph is not None
                         and len(_matches(probe)) >= 4, 120, "4 objects of the graph on true objects")
        yield probe, launcher, snapshot


def test_objects_and_relations_agree_with_ground_truth(running):
    probe, launcher, _ = running
    matches = _matches(probe)
    truth = {o.id: o for o in probe.truth.objects}
    agree = [tid for tid, node in matches.items()
             if _relation(probe.graph, node.id) == _relation(probe.truth, tid)]
    assert len(agree) >= 0.8 * len(matches), (matches.keys(), agree)
    ids = [o.id for o in _objects(probe.graph)]
    assert len(ids) == len(set(ids))
    fixed = {o.id: o for o in probe.graph.objects if o.kind != SceneObject.KIND_OBJECT}
    assert {"fridge", "counter", "table", "fridge_door", "drawer", "robot"} <= set(fixed)
    assert fixed["fridge_door"].parent_id == "fridge" and fixed["drawer"].parent_id == "cabinet"
    assert probe.graph.header.frame_id == "map" and truth  # ground truth was only used to score
    probe.spin_until(lambda: probe.markers is not None and len(probe.markers.markers) > 10, 10, "markers")
    assert probe.markers.markers[0].action == probe.markers.markers[0].DELETEALL
    assert "Traceback" not in launcher.output


def test_query_services(running):
    probe, _, _ = running
    some = next(iter(_matches(probe).values()))
    found = probe.call("find", FindObjects.Request(query=some.label.replace("_", " "), max_results=0))
    assert some.id in [o.id for o in found.objects] and set(found.match_kinds) == {"exact"}
    relations = probe.call("relations", GetRelations.Request(object_id=some.id))
    assert relations.found and any(r.subject_id == some.id for r in relations.relations)
    unknown = probe.call("relations", GetRelations.Request(object_id="unicorn_1"))
    assert not unknown.found and "unicorn_1" in unknown.message
    text = probe.call("describe", DescribeScene.Request(focus_names=[some.label, "unicorn"])).summary
    assert some.id in text and "Not in the scene graph: unicorn" in text
    proposals = probe.call("viewpoints", ProposeViewpoints.Request(object_name="unicorn", max_viewpoints=3))
    assert len(proposals.names) == len(proposals.viewpoints) == len(proposals.reasons) == 3
    assert proposals.scores[0] >= proposals.scores[-1] and proposals.viewpoints[0].header.frame_id == "map"


def _fault(probe: Probe, kind: str, target: str, **params) -> None:
    fault = Fault(type=kind, target=target, params=[KeyValue(key=k, value=v) for k, v in params.items()])
    response = probe.call("fault", InjectFault.Request(fault=fault))
    assert response.accepted, response.reason


def test_a_removed_object_goes_missing_and_a_moved_one_keeps_its_id(running):
    probe, launcher, _ = running
    matches = _matches(probe)
    # Objects on the table and the counter, which cameras see from 1-2 m: a camera can only tell that an
    # object has gone where it resolves the object well (see planner_ros/scene_graph/visibility.py).
    near = sorted(tid for tid in matches if _relation(probe.truth, tid) in (("on", "table"), ("on", "counter")))
    assert len(near) >= 2, {tid: _relation(probe.truth, tid) for tid in matches}
    removed_truth, moved_truth = near[0], near[1]
    removed, moved = matches[removed_truth].id, matches[moved_truth].id
    start = len(probe.events)
    t0 = probe.clock_s
    _fault(probe, "missing", removed_truth)
    probe.spin_until(lambda: any(e.type == e.MISSING and e.object_id == removed for e in probe.events[start:]), 60,
                     f"a MISSING event for {removed}\n" + launcher.output[-2000:])
    event = next(e for e in probe.events[start:] if e.type == e.MISSING and e.object_id == removed)
    # The 3 s figure is measured in-process by `planner-ros eval scene-graph`; over DDS perception's lag on this
    # 2-core machine adds to it (up to ~12 s seen under load, see the README), so this checks the plumbing.
    assert event.header.stamp.sec + event.header.stamp.nanosec * 1e-9 - t0 <= 20.0, event.detail
    destination = "table" if _relation(probe.truth, moved_truth) != ("on", "table") else "counter"
    _fault(probe, "moved", moved_truth, destination=destination)
    probe.spin_until(lambda: _relation(probe.truth, moved_truth) == ("on", destination), 30, "the move in ground truth")
    probe.spin_until(lambda: _relation(probe.graph, moved) == ("on", destination), 60,
                     f"{moved} on {destination} in the graph\n" + launcher.output[-2000:])
    same_label = [o for o in _objects(probe.graph) if o.label == matches[moved_truth].label
                  and o.status != SceneObject.STATUS_MISSING]
    assert [o.id for o in same_label if np.linalg.norm(_xyz(o) - _xyz(matches[moved_truth])) < 0.15] == [], \
        "a duplicate stayed at the old place"


def test_the_snapshot_saves_and_reloads(running, tmp_path):
    probe, _, snapshot = running
    response = probe.call("save", Trigger.Request())
    assert response.success, response.message
    data = json.loads(snapshot.read_text())
    assert data["version"] == 1 and {n["id"] for n in data["nodes"]} >= {o.id for o in _objects(probe.graph)}
    from planner_ros.scene_graph.graph import SceneGraph as CoreGraph
    assert CoreGraph.from_snapshot(data).to_snapshot()["nodes"] == data["nodes"]
