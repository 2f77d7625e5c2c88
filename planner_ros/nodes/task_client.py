"""task_client: asks /perform_task to carry out one instruction and reports the outcome; exits with it.

With `scenario` set, the instruction is that task's (config/tasks) and the outcome is judged on the
simulator's ground truth (/sim/ground_truth) as well: an evaluation client, which is why it may read
ground truth and the planner may not. It prints the planner's feedback and events as they come.

Parameters:
  scenario (str, ""): "<task_id>[:clean|fault]"; instruction (str, ""): used when no scenario is given.
  server_timeout_s (float, 60.0): wait for the planner; task_timeout_s (float, 900.0): wait for the result.
  record_dir (str, ""): where summary.json goes (default runs/<time>-<task>).
Exit codes: 0 success (and the goal holds in ground truth, with a scenario); 1 the task failed; 2 no planner
  or a bad parameter.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import rclpy
from rclpy.action import ActionClient
from rclpy.node import Node

from planner_ros import conversions as cs
from planner_ros.nodes._common import declare, run_once
from planner_ros.nodes._ground_truth import check_goal
from planner_ros.paths import config_dir, runs_dir
from planner_ros.sim.scenario import ScenarioError, find_scenario, load_scenarios
from planner_ros_interfaces.action import PerformTask
from planner_ros_interfaces.msg import PlannerEvent


class TaskClient(Node):
    def __init__(self) -> None:
        super().__init__("task_client")
        self.scenario_name = declare(self, "scenario", "", "task id[:clean|fault] from config/tasks")
        self.instruction = declare(self, "instruction", "", "the instruction when no scenario is given")
        self.server_timeout_s = float(declare(self, "server_timeout_s", 60.0, "wait for /perform_task"))
        self.task_timeout_s = float(declare(self, "task_timeout_s", 900.0, "wait for the task's result"))
        self.record_dir = declare(self, "record_dir", "", "folder for summary.json")
        self.client = ActionClient(self, PerformTask, "perform_task")
        self.create_subscription(PlannerEvent, "/planner/events", self._on_event, 50)

    def _on_event(self, msg: PlannerEvent) -> None:
        print(f"[event] {msg.type:<14} {msg.step:<28} {msg.detail[:140]}", flush=True)

    def _spin_until(self, future, timeout_s: float):
        rclpy.spin_until_future_complete(self, future, timeout_sec=timeout_s)
        return future.result() if future.done() else None

    def run(self) -> int:
        log = self.get_logger()
        scenario = None
        if self.scenario_name:
            try:
                scenario = find_scenario(load_scenarios(config_dir() / "tasks"), self.scenario_name)
            except ScenarioError as err:
                log.error(str(err))
                return 2
        instruction = scenario.instruction if scenario else self.instruction
        if not instruction:
            log.error("nothing to do: set scenario or instruction")
            return 2
        if not self.client.wait_for_server(timeout_sec=self.server_timeout_s):
            log.error(f"no /perform_task server after {self.server_timeout_s:.0f} s; is planner_node running?")
            return 2
        task_id = scenario.name if scenario else "task"
        print(f"[task] {instruction}", flush=True)
        handle = self._spin_until(self.client.send_goal_async(
            PerformTask.Goal(instruction=instruction, task_id=task_id, max_corrections=-1, max_replans=-1)), 30.0)
        if handle is None or not handle.accepted:
            log.error("the planner did not accept the task (busy?)")
            return 1
        response = self._spin_until(handle.get_result_async(), self.task_timeout_s)
        if response is None:
            log.error(f"no result within {self.task_timeout_s:.0f} s")
            return 1
        result = response.result
        m = result.metrics
        summary = {"instruction": instruction, "task_id": task_id, "success": result.success,
                   "summary": result.summary, "executed_steps": list(result.executed_steps),
                   "planner_record": result.record_path,
                   "metrics": {f: getattr(m, f) for f in ("skill_calls", "corrections", "replans", "llm_calls",
                                                          "executability", "sim_time_s", "wall_time_s")}}
        print(f"[task] planner: {'success' if result.success else 'FAILED'}: {result.summary} "
              f"({m.skill_calls} skill calls, {m.corrections} corrections, {m.replans} replans)", flush=True)
        ok = result.success
        if scenario is not None:
            report, detail = check_goal(self, scenario.goal, cs.time_to_seconds(self.get_clock().now().to_msg()),
                                        30.0)
            summary.update(goal_met=report is not None and report.success, goal_detail=detail,
                           goal_condition_recall=report.recall if report else None)
            print(f"[task] {detail}", flush=True)
            ok = ok and summary["goal_met"]
        run_dir = Path(self.record_dir or runs_dir() / f"{datetime.now(timezone.utc):%Y%m%d-%H%M%S}-"
                                                       f"{task_id.replace(':', '-')}")
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        return 0 if ok else 1


def main(args: list[str] | None = None) -> int:
    return run_once(TaskClient, args=args)


if __name__ == "__main__":
    raise SystemExit(main())
