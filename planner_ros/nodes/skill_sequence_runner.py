"""skill_sequence_runner: executes a scripted list of skill calls through /execute_skill and checks outcomes.

A smoke test for any ExecuteSkill server (the simulator's or a real robot's): every step names a skill,
its arguments and the expected outcome (success, a failure code, or CANCELED after cancel_after_s), and
the node exits 0 only if every outcome matched. It plans nothing: the steps are the file's.

With `scenario` set it replays a task's reference plan from config/tasks instead (a fault variant ends at
its expected failure) and then checks the task's goal conditions against the simulator's ground truth
(/sim/ground_truth): an evaluation tool, which is why it may read ground truth and the planner may not.

Parameters:
  sequence_file (str): YAML with `name` and `steps`, absolute or relative to the config/ folder.
  scenario (str, ""): "<task_id>[:clean|fault]" to replay instead of sequence_file.
  record_dir (str, ""): folder for the run's record (record.jsonl, summary.json); empty: runs/<time>-<name>.
  server_timeout_s (float, 10.0): how long to wait for the action server.
  step_timeout_s (float, 60.0): how long to wait for each result.
Exit codes: 0 all outcomes (and the goal) as expected; 1 some differed; 2 no server or a bad sequence.
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
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
from planner_ros.skills import FailureCode
from planner_ros.skills.sequence import SequenceError, Step, load_sequence, steps_from_scenario
from planner_ros_interfaces.action import ExecuteSkill


@dataclass
class StepRecord:
    index: int
    step: str
    expected: str
    outcome: str
    reason: str
    feedback_messages: int
    phases: list[str] = field(default_factory=list)
    wall_s: float = 0.0
    as_expected: bool = False


class SkillSequenceRunner(Node):
    def __init__(self) -> None:
        super().__init__("skill_sequence_runner")
        self.sequence_file = declare(self, "sequence_file", "sequences/demo_fridge.yaml", "skill sequence YAML")
        self.record_dir = declare(self, "record_dir", "", "folder for this run's record; empty: runs/<time>-<name>")
        self.server_timeout_s = float(declare(self, "server_timeout_s", 10.0, "wait for the action server"))
        self.step_timeout_s = float(declare(self, "step_timeout_s", 60.0, "wait for each result"))
        self.scenario_name = declare(self, "scenario", "", "task id[:clean|fault] to replay")
        self.client = ActionClient(self, ExecuteSkill, "execute_skill")

    def _load(self):
        """(name, steps, scenario or None) from the scenario or the sequence file."""
        if self.scenario_name:
            try:
                scenario = find_scenario(load_scenarios(config_dir() / "tasks"), self.scenario_name)
            except ScenarioError as err:
                raise SequenceError(str(err)) from err
            return f"{scenario.name}: {scenario.instruction}", steps_from_scenario(scenario), scenario
        path = Path(self.sequence_file)
        name, steps = load_sequence(path if path.is_absolute() else config_dir() / path)
        return name, steps, None

    def _wait(self, future, timeout_s: float):
        rclpy.spin_until_future_complete(self, future, timeout_sec=timeout_s)
        if not future.done():
            raise TimeoutError(f"no answer from execute_skill within {timeout_s:.0f} s")
        return future.result()

    def run_step(self, index: int, step: Step) -> StepRecord:
        record = StepRecord(index, step.text, "success" if step.expect == FailureCode.NONE else step.expect.name,
                            "", "", 0)

        def on_feedback(msg) -> None:
            record.feedback_messages += 1
            if not record.phases or record.phases[-1] != msg.feedback.phase:
                record.phases.append(msg.feedback.phase)

        goal = ExecuteSkill.Goal(skill=step.skill, arguments=cs.arguments_to_msg(step.args), step_id=str(index))
        start = time.monotonic()
        handle = self._wait(self.client.send_goal_async(goal, feedback_callback=on_feedback), self.step_timeout_s)
        if not handle.accepted:
            record.outcome, record.reason = "REJECTED", "the server rejected the goal (busy?)"
            return record
        result_future = handle.get_result_async()
        if step.cancel_after_s is not None:
            rclpy.spin_until_future_complete(self, result_future, timeout_sec=step.cancel_after_s)
            if not result_future.done():
                self._wait(handle.cancel_goal_async(), self.step_timeout_s)
        outcome = cs.outcome_from_result(self._wait(result_future, self.step_timeout_s).result)
        record.wall_s = round(time.monotonic() - start, 3)
        record.outcome = "success" if outcome.success else outcome.code.name
        record.reason = outcome.reason
        record.as_expected = record.outcome == record.expected
        return record

    def run(self) -> int:
        log = self.get_logger()
        try:
            name, steps, scenario = self._load()
        except SequenceError as err:
            log.error(str(err))
            return 2
        if not self.client.wait_for_server(timeout_sec=self.server_timeout_s):
            log.error(f"no execute_skill action server after {self.server_timeout_s:.0f} s; is the skill server "
                      "running, in the same ROS_DOMAIN_ID, with the same discovery range?")
            return 2
        label = (self.scenario_name or Path(self.sequence_file).stem).replace(":", "-")
        run_dir = Path(self.record_dir or runs_dir() / f"{datetime.now(timezone.utc):%Y%m%d-%H%M%S}-{label}")
        run_dir.mkdir(parents=True, exist_ok=True)
        records = []
        with (run_dir / "record.jsonl").open("w") as out:
            for index, step in enumerate(steps, 1):
                try:
                    record = self.run_step(index, step)
                except TimeoutError as err:
                    record = StepRecord(index, step.text, step.expect.name, "TIMEOUT", str(err), 0)
                records.append(record)
                out.write(json.dumps(asdict(record)) + "\n")
                out.flush()
                mark = "ok " if record.as_expected else "BAD"
                print(f"{mark} [{index}/{len(steps)}] {record.step:<28} -> {record.outcome:<17} "
                      f"(expected {record.expected}; {record.feedback_messages} feedback, {record.wall_s:.2f} s) "
                      f"{record.reason}", flush=True)
        matched = sum(r.as_expected for r in records)
        summary = {"sequence": name, "steps": len(records), "as_expected": matched,
                   "feedback_messages": sum(r.feedback_messages for r in records), "record": str(run_dir)}
        ok = matched == len(records)
        if scenario is not None and scenario.expected_failure is None:
            after_s = cs.time_to_seconds(self.get_clock().now().to_msg()) if self._sim_time() else 0.0
            report, detail = check_goal(self, scenario.goal, after_s, self.server_timeout_s)
            goal_ok = report is not None and report.success
            summary.update(goal_met=goal_ok, goal_detail=detail)
            print(f"{'ok ' if goal_ok else 'BAD'} {detail}", flush=True)
            ok = ok and goal_ok
        (run_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        print(f"{name}: {matched}/{len(records)} steps had the expected outcome; record: {run_dir}", flush=True)
        return 0 if ok else 1

    def _sim_time(self) -> bool:
        return bool(self.get_parameter("use_sim_time").value)


def main(args: list[str] | None = None) -> int:
    return run_once(SkillSequenceRunner, args=args)


if __name__ == "__main__":
    raise SystemExit(main())
