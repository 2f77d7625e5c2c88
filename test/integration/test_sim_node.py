"""sim_node as a ROS 2 robot: cameras, TF, clock, skills, faults and ground truth over DDS."""
from __future__ import annotations

import time

import numpy as np
import pytest
import rclpy
from launcher_process import bringup_with_probe
from rclpy.action import ActionClient
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import CameraInfo, Image
from tf2_msgs.msg import TFMessage

from planner_ros import conversions as cs
from planner_ros.geometry import transform_points
from planner_ros.skills import FailureCode
from planner_ros_interfaces.action import ExecuteSkill
from planner_ros_interfaces.msg import Fault, SceneGraph
from planner_ros_interfaces.srv import InjectFault, ResetWorld

BRINGUP = """
use_sim_time: true
nodes:
  - name: sim
    executable: sim_node
    parameters:
      - scenario: "fetch_apple_to_counter:clean"
        cameras: [kitchen_overview, head_rgbd]
        camera_rate_hz: 2.0
        real_time_factor: 4.0
"""
LATCHED = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)


class Probe(Node):
    """Collects the latest message of each topic."""

    def __init__(self) -> None:
        super().__init__("sim_probe")
        self.latest: dict[str, object] = {}
        self.static: dict[str, object] = {}
        for topic, kind, qos in [("/kitchen_overview/color/image_raw", Image, 2),
                                 ("/kitchen_overview/depth/image_raw", Image, 2),
                                 ("/kitchen_overview/color/camera_info", CameraInfo, 2),
                                 ("/head_rgbd/depth/image_raw", Image, 2), ("/clock", Clock, 10),
                                 ("/tf", TFMessage, 10), ("/sim/ground_truth", SceneGraph, LATCHED)]:
            self.create_subscription(kind, topic, lambda m, t=topic: self.latest.__setitem__(t, m), qos)
        self.create_subscription(TFMessage, "/tf_static", self._on_static, LATCHED)

    def _on_static(self, msg: TFMessage) -> None:
        for t in msg.transforms:
            self.static[t.child_frame_id] = t

    def wait_for(self, topics, timeout_s: float = 30.0, static_frames=()) -> None:
        """Spin until every topic has a message and every static frame arrived: the latched /tf_static
        can match after the streaming topics have already delivered."""
        deadline = time.monotonic() + timeout_s

        def missing() -> list[str]:
            return [t for t in topics if t not in self.latest] + [f for f in static_frames if f not in self.static]

        while time.monotonic() < deadline and missing():
            rclpy.spin_once(self, timeout_sec=0.1)
        assert not missing(), f"no messages on {missing()} within {timeout_s} s"

    def call(self, client, request, timeout_s: float = 60.0):
        assert client.wait_for_service(timeout_sec=20)
        future = client.call_async(request)
        rclpy.spin_until_future_complete(self, future, timeout_sec=timeout_s)
        assert future.done()
        return future.result()

    def skill(self, action: ActionClient, skill: str, **args: str):
        future = action.send_goal_async(ExecuteSkill.Goal(skill=skill, arguments=cs.arguments_to_msg(args)))
        rclpy.spin_until_future_complete(self, future, timeout_sec=20)
        result = future.result().get_result_async()
        rclpy.spin_until_future_complete(self, result, timeout_sec=120)
        return cs.outcome_from_result(result.result().result)


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    path = tmp_path_factory.mktemp("sim") / "bringup" / "sim.yaml"
    with bringup_with_probe(path, BRINGUP, Probe) as (probe, launcher):
        action = ActionClient(probe, ExecuteSkill, "execute_skill")
        assert action.wait_for_server(timeout_sec=60), launcher.output
        yield probe, action, launcher


def test_cameras_tf_clock_and_ground_truth(sim):
    probe, _, _ = sim
    probe.wait_for(["/kitchen_overview/color/image_raw", "/kitchen_overview/depth/image_raw",
                    "/kitchen_overview/color/camera_info", "/head_rgbd/depth/image_raw", "/clock", "/tf",
                    "/sim/ground_truth"], static_frames=["kitchen_overview_optical_frame"])
    color, depth = probe.latest["/kitchen_overview/color/image_raw"], probe.latest["/kitchen_overview/depth/image_raw"]
    assert (color.encoding, color.width, color.height) == ("rgb8", 640, 480)
    assert depth.encoding == "32FC1" and depth.header.frame_id == "kitchen_overview_optical_frame"
    info = probe.latest["/kitchen_overview/color/camera_info"]
    assert info.k[0] == pytest.approx(415.692, abs=1e-3) and info.k[2] == 319.5
    assert "kitchen_overview_optical_frame" in probe.static
    tf = probe.latest["/tf"]
    assert {t.child_frame_id for t in tf.transforms} >= {"base_link"}
    gt = probe.latest["/sim/ground_truth"]
    assert {o.id for o in gt.objects} >= {"apple_1", "counter", "fridge", "fridge_door"}
    assert cs.facts_from_scene_graph(gt).relations["apple_1"] == ("on", "table")


def test_depth_with_camera_info_and_tf_lands_on_objects(sim):
    """Project each ground-truth object's top centre, back-project the published depth there with the
    published CameraInfo and /tf_static, and compare with the object's true top surface."""
    probe, _, _ = sim
    probe.latest.pop("/kitchen_overview/depth/image_raw", None)
    probe.wait_for(["/kitchen_overview/depth/image_raw", "/sim/ground_truth"],
                   static_frames=["kitchen_overview_optical_frame"])
    depth = cs.depth_to_metres(probe.latest["/kitchen_overview/depth/image_raw"])
    K = cs.camera_info_to_intrinsics(probe.latest["/kitchen_overview/color/camera_info"])
    world_from_optical = cs.transform_to_core(probe.static["kitchen_overview_optical_frame"].transform).as_matrix()
    optical_from_world = np.linalg.inv(world_from_optical)
    errors = []
    for obj in probe.latest["/sim/ground_truth"].objects:
        if obj.kind != obj.KIND_OBJECT:
            continue
        top = np.array([obj.pose.position.x, obj.pose.position.y, obj.pose.position.z + obj.size.z / 2])
        x, y, z = transform_points(optical_from_world, top[None])[0]
        u, v = int(round(K.fx * x / z + K.cx)), int(round(K.fy * y / z + K.cy))
        if not (0 <= u < 640 and 0 <= v < 480) or not np.isfinite(depth[v, u]):
            continue
        ray = np.array([(u - K.cx) / K.fx, (v - K.cy) / K.fy, 1.0]) * depth[v, u]
        point = transform_points(world_from_optical, ray[None])[0]
        errors.append(abs(point[2] - top[2]))  # the top face is horizontal for upright objects
    # Objects hidden in containers or behind others read the occluder's depth; the visible ones must match.
    hits = [e for e in errors if e < 0.01]
    assert len(hits) >= 3, errors


def test_skills_faults_and_reset(sim):
    probe, action, _ = sim
    inject = probe.create_client(InjectFault, "/sim/inject_fault")
    reply = probe.call(inject, InjectFault.Request(fault=Fault(type="locked", target="fridge_door")))
    assert reply.accepted and reply.fault_id
    bad = probe.call(inject, InjectFault.Request(fault=Fault(type="melt", target="fridge_door")))
    assert not bad.accepted and "unknown fault type 'melt'" in bad.reason
    assert probe.skill(action, "navigate_to", target="fridge").success
    locked = probe.skill(action, "open", target="fridge")
    assert locked.code == FailureCode.LOCKED and "locked" in locked.reason, sim[2].output[-3000:]
    unknown = probe.skill(action, "pick", object="unicorn_1")
    assert unknown.code == FailureCode.UNKNOWN_OBJECT
    reset = probe.create_client(ResetWorld, "/sim/reset")
    reply = probe.call(reset, ResetWorld.Request(seed=-1), timeout_s=120)
    assert reply.success and reply.instruction.startswith("Bring the apple")
    assert probe.skill(action, "navigate_to", target="fridge").success
    assert probe.skill(action, "open", target="fridge").success  # the lock went away with the reset


def test_cancel_stops_a_running_skill(sim):
    probe, action, _ = sim
    feedback = []
    goal = ExecuteSkill.Goal(skill="navigate_to", arguments=cs.arguments_to_msg({"target": "shelf"}))
    future = action.send_goal_async(goal, feedback_callback=lambda m: feedback.append(m.feedback.phase))
    rclpy.spin_until_future_complete(probe, future, timeout_sec=20)
    handle = future.result()
    deadline = time.monotonic() + 30
    while len(feedback) < 3 and time.monotonic() < deadline:
        rclpy.spin_once(probe, timeout_sec=0.1)
    assert len(feedback) >= 3, "feedback while the skill runs"
    cancel = handle.cancel_goal_async()
    rclpy.spin_until_future_complete(probe, cancel, timeout_sec=20)
    result = handle.get_result_async()
    rclpy.spin_until_future_complete(probe, result, timeout_sec=30)
    outcome = cs.outcome_from_result(result.result().result)
    assert outcome.code == FailureCode.CANCELED, outcome
    assert probe.skill(action, "navigate_to", target="table").success, "the robot still works after a cancel"
