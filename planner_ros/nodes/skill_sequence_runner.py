"""skill_sequence_runner: executes a scripted list of skill calls through /execute_skill and checks outcomes.

A smoke test for any ExecuteSkill server (the simulator's or a real robot's): every step names a skill,
its arguments and the expected outcome (success, a failure code, or CANCELED after cancel_after_s), and
the node exits 0 only if every outcome matched. It plans nothing: the steps are the file's.

Parameters:
  sequence_file (str): YAML with `name` and `steps`, absolute or relative to the config/ folder.
  record_dir (str, "runs"): where the run's record (record.jsonl, summary.json) goes.
  server_timeout_s (float, 10.0): how long to wait for the action server.
  step_timeout_s (float, 60.0): how long to wait for each result.
Exit codes: 0 all outcomes as expected; 1 some differed; 2 no server or a bad sequence file.
"""
from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import rclpy
import yaml
from rclpy.action import ActionClient
from rclpy.node import Node

from planner_ros import conversions as cs
from planner_ros.nodes._common import declare
from planner_ros.paths import config_dir
from planner_ros.skills import FailureCode
from planner_ros_interfaces.action import ExecuteSkill


class SequenceError(ValueError):
    """The sequence file is malformed; the message names the step."""


@dataclass(frozen=True)
class Step:
    skill: str
    args: dict[str, str]
    expect: FailureCode              # NONE means success
    cancel_after_s: float | None = None

    @property
    def text(self) -> str:
        return f"{self.skill}({', '.join(self.args.values())})"


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


def load_sequence(path: Path) -> tuple[str, list[Step]]:
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as err:
        raise SequenceError(f"cannot read sequence file {path}: {err}") from err
    if not isinstance(data, dict) or not isinstance(data.get("steps"), list) or not data["steps"]:
        raise SequenceError(f"{path}: expected a mapping with a non-empty 'steps' list")
    steps = []
    for i, entry in enumerate(data["steps"], 1):
        if not isinstance(entry, dict) or not isinstance(entry.get("skill"), str):
            raise SequenceError(f"{path}: step {i} needs a 'skill' name")
        expect = str(entry.get("expect", "success")).upper()
        if expect == "SUCCESS":
            expect = "NONE"
        if expect not in FailureCode.__members__:
            raise SequenceError(f"{path}: step {i}: unknown expect '{entry['expect']}'; use success or one of "
                                f"{', '.join(c.name for c in FailureCode if c)}")
        cancel = entry.get("cancel_after_s")
        steps.append(Step(entry["skill"], {str(k): str(v) for k, v in (entry.get("args") or {}).items()},
                          FailureCode[expect], None if cancel is None else float(cancel)))
    return str(data.get("name", path.stem)), steps


class SkillSequenceRunner(Node):
    def __init__(self) -> None:
        super().__init__("skill_sequence_runner")
        self.sequence_file = declare(self, "sequence_file", "sequences/demo_fridge.yaml", "skill sequence YAML")
        self.record_dir = Path(declare(self, "record_dir", "runs", "where run records are written"))
        self.server_timeout_s = float(declare(self, "server_timeout_s", 10.0, "wait for the action server"))
        self.step_timeout_s = float(declare(self, "step_timeout_s", 60.0, "wait for each result"))
        self.client = ActionClient(self, ExecuteSkill, "execute_skill")

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
        path = Path(self.sequence_file)
        try:
            name, steps = load_sequence(path if path.is_absolute() else config_dir() / path)
        except SequenceError as err:
            log.error(str(err))
            return 2
        if not self.client.wait_for_server(timeout_sec=self.server_timeout_s):
            log.error(f"no execute_skill action server after {self.server_timeout_s:.0f} s; is the skill server "
                      "running, in the same ROS_DOMAIN_ID, with the same discovery range?")
            return 2
        run_dir = self.record_dir / f"{datetime.now(timezone.utc):%Y%m%d-%H%M%S}-{path.stem}"
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
        (run_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        print(f"{name}: {matched}/{len(records)} steps had the expected outcome; record: {run_dir}", flush=True)
        return 0 if matched == len(records) else 1


def main(args: list[str] | None = None) -> int:
    rclpy.init(args=args if args is not None else sys.argv)
    node = SkillSequenceRunner()
    try:
        return node.run()
    except KeyboardInterrupt:
        return 130
    finally:
        node.destroy_node()
        if rclpy.ok():
            rclpy.shutdown()


if __name__ == "__main__":
    raise SystemExit(main())
