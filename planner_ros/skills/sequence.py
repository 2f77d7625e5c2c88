"""Scripted skill sequences with expected outcomes: for smoke-testing skill servers and replaying tasks."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from planner_ros.skills.library import FailureCode


class SequenceError(ValueError):
    """A sequence file or scenario cannot be turned into steps; the message names the step."""


@dataclass(frozen=True)
class Step:
    skill: str
    args: dict[str, str]
    expect: FailureCode              # NONE means success
    cancel_after_s: float | None = None

    @property
    def text(self) -> str:
        return f"{self.skill}({', '.join(self.args.values())})"


def load_sequence(path: Path) -> tuple[str, list[Step]]:
    """Steps from a YAML file: {name, steps: [{skill, args, expect?, cancel_after_s?}]}."""
    try:
        data = yaml.safe_load(Path(path).read_text())
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
    return str(data.get("name", Path(path).stem)), steps


def steps_from_scenario(scenario) -> list[Step]:
    """A task's reference plan (planner_ros.sim.scenario.Scenario) as steps, ending at its expected failure."""
    steps = [Step(call.skill, dict(call.arguments), FailureCode.NONE) for call in scenario.plan]
    failure = scenario.expected_failure
    if failure is not None:
        steps = steps[:failure.step]
        last = steps[-1]
        steps[-1] = Step(last.skill, last.args, failure.code)
    return steps
