"""skill_server as a robot's skill executor: a real rclpy client in this process, the server in its own."""
from __future__ import annotations

from pathlib import Path

import pytest
import rclpy
from launcher_process import LauncherProcess, wait_gone
from rclpy.action import ActionClient
from rclpy.node import Node

from planner_ros import conversions as cs
from planner_ros.skills import FailureCode
from planner_ros_interfaces.action import ExecuteSkill
from planner_ros_interfaces.msg import SkillArgument
from planner_ros_interfaces.srv import ListSkills

BRINGUP = """
nodes:
  - name: skill_server
    executable: skill_server
    parameters: [params/symbolic_demo.yaml, {time_scale: 1.0}]
"""


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    root = tmp_path_factory.mktemp("cfg")
    (root / "bringup").mkdir()
    (root / "params").mkdir()
    (root / "params" / "symbolic_demo.yaml").write_text(
        (Path(__file__).parents[2] / "config/params/symbolic_demo.yaml").read_text())
    (root / "bringup" / "server.yaml").write_text(BRINGUP)
    launcher = LauncherProcess(str(root / "bringup" / "server.yaml"))
    rclpy.init()
    node = Node("test_skill_client")
    action = ActionClient(node, ExecuteSkill, "execute_skill")
    assert action.wait_for_server(timeout_sec=20), launcher.output
    yield node, action
    node.destroy_node()
    rclpy.shutdown()
    launcher.process.send_signal(2)
    assert launcher.wait(10) == 0
    assert not wait_gone(launcher.child_pids().values(), 5)


def send(node: Node, action: ActionClient, skill: str, args: list[SkillArgument]):
    future = action.send_goal_async(ExecuteSkill.Goal(skill=skill, arguments=args))
    rclpy.spin_until_future_complete(node, future, timeout_sec=10)
    assert future.done() and future.result().accepted
    return future.result()


def result_of(node: Node, handle):
    future = handle.get_result_async()
    rclpy.spin_until_future_complete(node, future, timeout_sec=20)
    assert future.done()
    return cs.outcome_from_result(future.result().result)


def test_list_skills(client):
    node, _ = client
    service = node.create_client(ListSkills, "list_skills")
    assert service.wait_for_service(timeout_sec=10)
    future = service.call_async(ListSkills.Request())
    rclpy.spin_until_future_complete(node, future, timeout_sec=10)
    skills = {s.name: s for s in future.result().skills}
    assert set(skills) == {"navigate_to", "pick", "place", "open", "close"}
    assert [p.type for p in skills["place"].parameters] == ["object", "receptacle"]


def test_second_goal_while_running_fails_busy_and_first_completes(client):
    node, action = client
    first = send(node, action, "navigate_to", cs.arguments_to_msg({"target": "shelf"}))
    second = send(node, action, "navigate_to", cs.arguments_to_msg({"target": "table"}))
    busy = result_of(node, second)
    assert busy.code == FailureCode.BUSY and "another skill" in busy.reason
    assert result_of(node, first).success


def test_duplicate_argument_is_refused(client):
    node, action = client
    args = [SkillArgument(name="target", value="table"), SkillArgument(name="target", value="sink")]
    outcome = result_of(node, send(node, action, "navigate_to", args))
    assert outcome.code == FailureCode.INVALID_ARGUMENTS and "given twice" in outcome.reason
