"""planner_node and verifier_node over DDS beside sim_node, perception_node (ORACLE detector: the planner is
under test here, not the detector) and scene_graph_node, each its own process: a task that cannot be done
(the fridge is locked) ends with the diagnosis and no false success, the tree and events are published,
feedback flows, and a second task is canceled mid-way and stops the robot."""
from __future__ import annotations

import json
from pathlib import Path

from launcher_process import ProbeNode, bringup_with_probe
from rclpy.action import ActionClient

from planner_ros.nodes._common import LATCHED_QOS
from planner_ros_interfaces.action import PerformTask
from planner_ros_interfaces.msg import ActionTree, ActionTreeNode, PlannerEvent

BRINGUP = """
use_sim_time: true
nodes:
  - name: sim
    executable: sim_node
    parameters:
      - scenario: "store_milk_and_close:fault"
        cameras: [kitchen_overview, table_cam, head_rgbd]
        real_time_factor: 0.0
        publish_segmentation: true
  - name: perception
    executable: perception_node
    parameters:
      - detector: oracle
        cameras: [kitchen_overview, table_cam, head_rgbd]
        embedder: none
  - name: scene_graph
    executable: scene_graph_node
    parameters:
      - semantic_map: "sim:kitchen_b"
        cameras: [kitchen_overview, table_cam, head_rgbd]
  - name: verifier
    executable: verifier_node
    parameters:
      - semantic_map: "sim:kitchen_b"
        fresh_timeout_s: 10.0
  - name: planner
    executable: planner_node
    parameters:
      - semantic_map: "sim:kitchen_b"
        record_dir: {records}
"""


class Probe(ProbeNode):
    def __init__(self) -> None:
        super().__init__("planner_probe")
        self.events: list[PlannerEvent] = []
        self.trees: list[ActionTree] = []
        self.feedback: list[PerformTask.Feedback] = []
        self.create_subscription(PlannerEvent, "/planner/events", self.events.append, 100)
        self.create_subscription(ActionTree, "/planner/action_tree", self.trees.append, LATCHED_QOS)
        self.client = ActionClient(self, PerformTask, "perform_task")

    def send(self, instruction: str, task_id: str):
        future = self.client.send_goal_async(PerformTask.Goal(instruction=instruction, task_id=task_id,
                                                              max_corrections=-1, max_replans=-1),
                                             feedback_callback=lambda m: self.feedback.append(m.feedback))
        self.spin_until(future.done, 30, "the planner to accept the task")
        handle = future.result()
        assert handle.accepted
        return handle


def test_a_locked_fridge_is_diagnosed_reported_and_a_task_can_be_canceled(tmp_path):
    records = tmp_path / "records"
    with bringup_with_probe(tmp_path / "planner.yaml", BRINGUP.format(records=records), Probe) as (probe, launcher):
        assert probe.client.wait_for_server(timeout_sec=60), launcher.output
        handle = probe.send("Put the milk back in the fridge and close the fridge.", "locked")
        result_future = handle.get_result_async()
        probe.spin_until(result_future.done, 400, "the result of the locked-fridge task")
        result = result_future.result().result
        assert not result.success, result.summary
        assert "locked" in result.summary and "fridge" in result.summary, result.summary
        assert result.executed_steps[:1] == ["navigate_to(fridge)"] and result.metrics.skill_calls >= 2
        assert result.metrics.corrections >= 1
        # The planner's events: open(fridge) failed with LOCKED, it replanned with that knowledge and found no
        # plan; nothing was ever reported as a success it did not observe. The events topic and the action result
        # are separate DDS writers, so the last event may arrive after the result.
        probe.spin_until(lambda: any(e.type == "task_finished" for e in probe.events), 10, "the task_finished event")
        kinds = [e.type for e in probe.events]
        verified = [e for e in probe.events if e.type == "step_verified"]
        locked = [e for e in verified if e.step == "open(fridge)" and ("diagnosis", "LOCKED") in
                  {(kv.key, kv.value) for kv in e.data}]
        assert locked, [(e.step, e.detail) for e in verified]
        assert "replanned" in kinds and kinds[-1] == "task_finished", kinds
        # The tree went out with statuses; feedback carried phases and the tree.
        assert probe.trees and any(n.status == ActionTreeNode.STATUS_FAILED for t in probe.trees for n in t.nodes)
        assert {f.phase for f in probe.feedback} >= {"executing", "verifying"}
        record = json.loads(Path(result.record_path).read_text())
        assert record["success"] is False and record["events"][-1]["type"] == "task_finished"
        assert record["planner"]["sampler"] == "symbolic:kstar"

        # A second task, canceled once its first step has started: the result says canceled.
        probe.events.clear()
        handle = probe.send("Put the milk back in the fridge and close the fridge.", "canceled")
        probe.spin_until(lambda: any(e.type == "step_executed" for e in probe.events) or
                         any(e.type == "step_chosen" for e in probe.events), 120, "the first step")
        cancel = handle.cancel_goal_async()
        probe.spin_until(cancel.done, 30, "the cancel answer")
        result_future = handle.get_result_async()
        probe.spin_until(result_future.done, 200, "the canceled result")
        answer = result_future.result()
        assert answer.result.summary == "canceled", answer.result.summary
        assert not answer.result.success
