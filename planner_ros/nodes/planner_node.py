"""planner_node: carries out household instructions in closed loop. Serves /perform_task.

For each task: ground it in the live scene graph (searching the graph's proposed viewpoints for objects
it lacks), sample candidate plans, merge them into an action tree (Tree-Planner), decide top-down
grounded in the current view, execute through /execute_skill, verify through /verify_step, backtrack
or replan with a diagnosis (RePLan). The core is planner_ros.planning; this node only translates.

Parameters:
  semantic_map (str, "sim:kitchen_a"): the scene graph's semantic map (containers, doors).
  goal_writer ("parser" | "llm"), sampler ("symbolic" | "llm"), decider ("offline" | "llm").
  llm.backend ("none" | "openai" | "transformers"), llm.base_url, llm.model, llm.api_key_env
    ("OPENAI_API_KEY"), llm.timeout_s (60), llm.max_retries (3), llm.device ("cpu"),
    llm.local_files_only (true): the language model for the llm choices (see the README).
  num_plans (20), temperature (0.8), top_p (0.95): plan sampling (Tree-Planner's N, T, p).
  decider_samples (3): answers per LLM decision (majority vote).
  max_corrections (10), max_replans (3), max_skill_calls (60): limits per task.
  step_timeout_s (180): one skill; verify_timeout_s (30): one verification; fresh_timeout_s (3): how
    long to wait for a scene graph newer than a step.
  record_dir (""): where run records go (default runs/ in the working directory).
Subscribes: /scene_graph. Clients: /execute_skill (ExecuteSkill), /verify_step (VerifyStep),
  /scene_graph/propose_viewpoints (ProposeViewpoints).
Publishes: /planner/action_tree (ActionTree, latched), /planner/events (PlannerEvent).
Serves: /perform_task (PerformTask; feedback: phase, current step, action tree, metrics; cancelable).
"""
from __future__ import annotations

import json
import math
import threading
from datetime import datetime, timezone
from pathlib import Path

from rclpy.action import ActionClient, ActionServer, CancelResponse, GoalResponse
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup, ReentrantCallbackGroup
from rclpy.node import Node

from planner_ros import conversions as cs
from planner_ros.nodes._common import LATCHED_QOS, StartupError, declare, spin_node
from planner_ros.nodes._scene_graph_follower import SceneGraphFollower
from planner_ros.nodes.scene_graph_node import load_semantic_map
from planner_ros.paths import runs_dir
from planner_ros.planning.components import ComponentError, PlannerConfig, build_components
from planner_ros.planning.executive import PlannerSettings, TreePlanner
from planner_ros.planning.interfaces import Verdict, VerdictStatus, VerifyRequest
from planner_ros.scene_graph.semantic_map import MapError
from planner_ros.skills import DEFAULT_SKILLS, FailureCode, SkillCall, SkillOutcome
from planner_ros_interfaces.action import ExecuteSkill, PerformTask
from planner_ros_interfaces.msg import ActionTree, PlannerEvent
from planner_ros_interfaces.srv import ProposeViewpoints, VerifyStep


def _wait(future, timeout_s: float):
    """Block this (worker) thread until an rclpy future completes; None on timeout."""
    done = threading.Event()
    future.add_done_callback(lambda _: done.set())
    return future.result() if done.wait(timeout_s) else None


class _RosRobot:
    """The planner's Executor, Observer and Verifier ports over ROS clients."""

    def __init__(self, node: PlannerNode) -> None:
        self.node = node
        self.cancel = threading.Event()

    # Observer
    def observe(self, after_s: float | None = None):
        return self.node.follower.observe(after_s)

    def now_s(self) -> float:
        return self.node.follower.now_s()

    def search_places(self, label: str) -> list[str]:
        client = self.node.viewpoints
        if not client.wait_for_service(timeout_sec=2.0):
            return []
        response = _wait(client.call_async(ProposeViewpoints.Request(object_name=label, max_viewpoints=0)), 10.0)
        if response is None:
            return []
        return [n for n in dict.fromkeys(response.names) if n in self.node.follower.map.receptacles]

    # Executor
    def execute(self, call: SkillCall, step_id: str) -> SkillOutcome:
        client = self.node.skills
        if not client.wait_for_server(timeout_sec=10.0):
            return SkillOutcome.failed(FailureCode.EXECUTION_ERROR, "no /execute_skill server: is the robot running?")
        goal = ExecuteSkill.Goal(skill=call.skill, arguments=cs.arguments_to_msg(dict(call.arguments)),
                                 step_id=step_id, timeout_s=float(self.node.step_timeout_s))
        handle = _wait(client.send_goal_async(goal), 10.0)
        if handle is None or not handle.accepted:
            return SkillOutcome.failed(FailureCode.BUSY, f"/execute_skill did not accept {call.text}")
        result_future = handle.get_result_async()
        done = threading.Event()
        result_future.add_done_callback(lambda _: done.set())
        canceled = False
        while not done.wait(0.2):
            if self.cancel.is_set() and not canceled:
                handle.cancel_goal_async()
                canceled = True
        return cs.outcome_from_result(result_future.result().result)

    # Verifier
    def verify(self, request: VerifyRequest) -> Verdict:
        client = self.node.verifier
        if not client.wait_for_service(timeout_sec=5.0):
            return Verdict(VerdictStatus.UNKNOWN, 0.0, "no /verify_step service: is the verifier running?")
        msg = VerifyStep.Request(instruction=request.instruction, skill=request.call.skill,
                                 arguments=cs.arguments_to_msg(dict(request.call.arguments)),
                                 executor_success=request.outcome.success,
                                 expected_effects=[c.text for c in request.expected],
                                 after=cs.seconds_to_time(request.after_s), diagnose=request.diagnose)
        msg.executor_failure.code, msg.executor_failure.reason = int(request.outcome.code), request.outcome.reason
        response = _wait(client.call_async(msg), self.node.verify_timeout_s)
        if response is None:
            return Verdict(VerdictStatus.UNKNOWN, 0.0, f"/verify_step gave no answer in {self.node.verify_timeout_s:g} s")
        return cs.verdict_from_response(response)


class PlannerNode(Node):
    def __init__(self) -> None:
        super().__init__("planner")
        spec = declare(self, "semantic_map", "sim:kitchen_a", "semantic map JSON file, or sim:<layout>")
        config = PlannerConfig(
            goal_writer=declare(self, "goal_writer", "parser", "parser | llm"),
            sampler=declare(self, "sampler", "symbolic", "symbolic | llm"),
            decider=declare(self, "decider", "offline", "offline | llm"),
            llm={key: declare(self, f"llm.{key}", default, f"language model: {key}") for key, default in (
                ("backend", "none"), ("base_url", ""), ("model", ""), ("api_key_env", "OPENAI_API_KEY"),
                ("timeout_s", 60.0), ("max_retries", 3), ("device", "cpu"), ("local_files_only", True))},
            temperature=float(declare(self, "temperature", 0.8, "plan sampling temperature")),
            top_p=float(declare(self, "top_p", 0.95, "plan sampling top_p")),
            decider_samples=int(declare(self, "decider_samples", 3, "answers per LLM decision")))
        self.settings = PlannerSettings(
            num_plans=int(declare(self, "num_plans", 20, "plans sampled per (re)plan")),
            max_corrections=int(declare(self, "max_corrections", 10, "failed steps corrected per task")),
            max_replans=int(declare(self, "max_replans", 3, "replans per task")),
            max_skill_calls=int(declare(self, "max_skill_calls", 60, "skill calls per task")))
        self.step_timeout_s = float(declare(self, "step_timeout_s", 180.0, "one skill's timeout"))
        self.verify_timeout_s = float(declare(self, "verify_timeout_s", 30.0, "one verification's timeout"))
        fresh = float(declare(self, "fresh_timeout_s", 3.0, "wait for a scene graph newer than a step"))
        record_dir = declare(self, "record_dir", "", "run records folder; empty: runs/")
        self.record_root = Path(record_dir) if record_dir else runs_dir()
        try:
            semantic_map = load_semantic_map(spec)
            self.components = build_components(config)
        except (MapError, OSError) as err:
            raise StartupError(f"cannot load the semantic map {spec!r}: {err}") from err
        except ComponentError as err:
            raise StartupError(str(err)) from err
        clients = ReentrantCallbackGroup()
        self.follower = SceneGraphFollower(self, semantic_map, fresh_timeout_s=fresh,
                                           callback_group=MutuallyExclusiveCallbackGroup())
        self.skills = ActionClient(self, ExecuteSkill, "execute_skill", callback_group=clients)
        self.verifier = self.create_client(VerifyStep, "verify_step", callback_group=clients)
        self.viewpoints = self.create_client(ProposeViewpoints, "/scene_graph/propose_viewpoints",
                                             callback_group=clients)
        self.tree_pub = self.create_publisher(ActionTree, "/planner/action_tree", LATCHED_QOS)
        self.event_pub = self.create_publisher(PlannerEvent, "/planner/events", 50)
        self._busy = threading.Lock()
        ActionServer(self, PerformTask, "perform_task", execute_callback=self._perform,
                     goal_callback=self._accept, cancel_callback=lambda _: CancelResponse.ACCEPT,
                     callback_group=ReentrantCallbackGroup())
        self.get_logger().info(f"planner ready: goal {self.components.goal_writer.name}, sampler "
                               f"{self.components.sampler.name}, decider {self.components.decider.name}")

    def _accept(self, _goal) -> GoalResponse:
        # One task at a time: a robot has one body.
        return GoalResponse.REJECT if self._busy.locked() else GoalResponse.ACCEPT

    def _perform(self, goal_handle):
        with self._busy:
            return self._run(goal_handle)

    def _run(self, goal_handle):
        goal = goal_handle.request
        task_id = goal.task_id or datetime.now(timezone.utc).strftime("task-%Y%m%dT%H%M%S")
        settings = PlannerSettings(
            self.settings.num_plans,
            goal.max_corrections if goal.max_corrections >= 0 else self.settings.max_corrections,
            goal.max_replans if goal.max_replans >= 0 else self.settings.max_replans,
            self.settings.max_skill_calls, self.settings.search_places)
        robot = _RosRobot(self)
        feedback = PerformTask.Feedback()
        state = {"steps": 0}

        def on_event(event: dict) -> None:
            self.event_pub.publish(cs.planner_event_to_msg(event, self.get_clock().now().to_msg()))
            if event["type"] == "step_verified" and event.get("verdict") != "failure":
                state["steps"] += 1
            feedback.phase, feedback.current_step = planner.phase, event.get("step", "")
            feedback.steps_done = state["steps"]
            feedback.metrics = cs.metrics_to_msg(planner.metrics)
            goal_handle.publish_feedback(feedback)

        def on_tree(tree, index: int, running: int) -> None:
            msg = cs.tree_to_msg(tree, task_id, index, running, self.get_clock().now().to_msg())
            self.tree_pub.publish(msg)
            feedback.tree = msg

        def should_cancel() -> bool:
            if goal_handle.is_cancel_requested:
                robot.cancel.set()
            return robot.cancel.is_set()

        c = self.components
        planner = TreePlanner(DEFAULT_SKILLS, c.goal_writer, c.sampler, c.decider, robot, robot, robot, settings,
                              on_event=on_event, on_tree=on_tree, should_cancel=should_cancel, describe=c.describe)
        self.get_logger().info(f"task {task_id}: {goal.instruction}")
        result = planner.run(goal.instruction, task_id)
        record = self._record(task_id, goal.instruction, result)
        log = self.get_logger().info if result.success else self.get_logger().warning
        log(f"task {task_id}: {'succeeded' if result.success else 'failed'}: {result.summary} (record {record})")
        out = PerformTask.Result(success=result.success, summary=result.summary,
                                 metrics=cs.metrics_to_msg(result.metrics), executed_steps=result.executed_steps,
                                 record_path=str(record))
        if robot.cancel.is_set() and goal_handle.is_cancel_requested:
            goal_handle.canceled()
        elif result.success:
            goal_handle.succeed()
        else:
            goal_handle.abort()
        return out

    def _record(self, task_id: str, instruction: str, result) -> Path:
        folder = self.record_root / f"{datetime.now(timezone.utc).strftime('%Y%m%dT%H%M%S')}-{task_id.replace(':', '_')}"
        folder.mkdir(parents=True, exist_ok=True)
        data = {"task_id": task_id, "instruction": instruction, "planner": self.components.describe_config(),
                "settings": self.settings.__dict__, **result.to_json()}
        path = folder / "planner_record.json"
        path.write_text(json.dumps(data, indent=1, default=lambda v: None if isinstance(v, float) and math.isnan(v)
                                   else str(v)))
        return path


def main(args: list[str] | None = None) -> int:
    return spin_node(PlannerNode, threads=6, args=args)


if __name__ == "__main__":
    raise SystemExit(main())
