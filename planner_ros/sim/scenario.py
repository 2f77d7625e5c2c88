"""Household tasks for the embedded world: layout, seed, instruction, goal conditions, faults.

Task files live in config/tasks/*.yaml. Each task has a clean variant and a fault variant. Goal
conditions are data (`in(apple_1, fridge)`), parsed by a regular expression and checked against the
world's ground truth; they are never evaluated as code. A task's `plan` is a reference solution used
by tests and benchmarks to show the task is solvable; planners never see it.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from planner_ros.sim.faults import FaultError, FaultSpec, fault_from_mapping
from planner_ros.sim.goals import Condition, GoalError, parse_condition
from planner_ros.sim.scene import ObjectPlacement
from planner_ros.skills import DEFAULT_SKILLS, FailureCode, SkillCall, SkillLibrary, SkillValidationError

class ScenarioError(ValueError):
    """A task file is malformed; the message names the file, the task and the field."""


@dataclass(frozen=True)
class ExpectedFailure:
    step: int                 # 1-based index into the plan
    code: FailureCode


@dataclass(frozen=True)
class Scenario:
    """One runnable episode: a task in its clean or fault variant."""

    task_id: str
    variant: str              # "clean" or "fault"
    category: str
    layout: str
    seed: int
    instruction: str
    objects: Mapping[str, ObjectPlacement]
    random_objects: int
    goal: tuple[Condition, ...]
    plan: tuple[SkillCall, ...]
    faults: tuple[FaultSpec, ...] = ()
    expected_failure: ExpectedFailure | None = None
    # Objects the instruction names by kind only ("a cup"): any object of that kind meets the goal.
    any_of_kind: frozenset[str] = frozenset()

    @property
    def name(self) -> str:
        return f"{self.task_id}:{self.variant}"


def parse_call(text: str, library: SkillLibrary = DEFAULT_SKILLS) -> SkillCall:
    """`place(apple_1, fridge)` -> a validated SkillCall (positional arguments in parameter order)."""
    try:
        return library.parse(text)
    except SkillValidationError as err:
        raise ScenarioError(f"plan step {text!r}: {err.reason}") from None


def _task_scenarios(entry: Any, category: str, where: str) -> list[Scenario]:
    if not isinstance(entry, Mapping):
        raise ScenarioError(f"{where}: each task must be a mapping")
    allowed = {"id", "layout", "seed", "instruction", "objects", "random_objects", "goal", "plan", "fault_variant",
               "any_of_kind"}
    unknown = sorted(set(entry) - allowed)
    if unknown:
        raise ScenarioError(f"{where}: unknown keys {unknown}; allowed: {sorted(allowed)}")
    for key in ("id", "layout", "instruction"):
        if not isinstance(entry.get(key), str) or not entry[key]:
            raise ScenarioError(f"{where}: '{key}' must be a non-empty string")
    where = f"{where} '{entry['id']}'"
    if not isinstance(entry.get("seed"), int):
        raise ScenarioError(f"{where}: 'seed' must be an integer")
    objects = {}
    for oid, spec in (entry.get("objects") or {}).items():
        if not isinstance(spec, Mapping) or set(spec) != {"kind", "location"}:
            raise ScenarioError(f"{where}: object '{oid}' needs exactly 'kind' and 'location'")
        objects[str(oid)] = ObjectPlacement(str(spec["kind"]), str(spec["location"]))
    try:
        goal = tuple(parse_condition(c) for c in entry.get("goal") or [])
    except GoalError as err:
        raise ScenarioError(f"{where}: {err}") from None
    plan = tuple(parse_call(s) for s in entry.get("plan") or [])
    if not goal or not plan:
        raise ScenarioError(f"{where}: needs a non-empty 'goal' and a reference 'plan'")
    any_of_kind = entry.get("any_of_kind") or []
    if not isinstance(any_of_kind, list) or any(str(o) not in objects for o in any_of_kind):
        raise ScenarioError(f"{where}: 'any_of_kind' must list ids from 'objects'")
    common = dict(task_id=entry["id"], category=category, layout=entry["layout"], seed=entry["seed"],
                  instruction=entry["instruction"], objects=objects,
                  random_objects=int(entry.get("random_objects", 6)), goal=goal, plan=plan,
                  any_of_kind=frozenset(str(o) for o in any_of_kind))
    scenarios = [Scenario(variant="clean", **common)]
    variant = entry.get("fault_variant")
    if not isinstance(variant, Mapping) or not variant.get("faults"):
        raise ScenarioError(f"{where}: needs a 'fault_variant' with at least one fault")
    try:
        faults = tuple(fault_from_mapping(f, where=f"{where} fault {i + 1}") for i, f in enumerate(variant["faults"]))
    except FaultError as err:
        raise ScenarioError(str(err)) from None
    expected = None
    if variant.get("plan_fails_at") is not None:
        fails = variant["plan_fails_at"]
        try:
            expected = ExpectedFailure(int(fails["step"]), FailureCode[str(fails["code"])])
        except (KeyError, TypeError, ValueError):
            raise ScenarioError(f"{where}: plan_fails_at needs step (1-based) and a failure code name") from None
        if not 1 <= expected.step <= len(plan):
            raise ScenarioError(f"{where}: plan_fails_at.step {expected.step} is outside the plan")
    scenarios.append(Scenario(variant="fault", faults=faults, expected_failure=expected, **common))
    return scenarios


def load_task_file(path: Path) -> list[Scenario]:
    try:
        data = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as err:
        raise ScenarioError(f"cannot read task file {path}: {err}") from err
    if not isinstance(data, Mapping) or not isinstance(data.get("tasks"), list):
        raise ScenarioError(f"{path}: expected a mapping with a 'tasks' list")
    category = str(data.get("category") or Path(path).stem)
    scenarios: list[Scenario] = []
    for i, entry in enumerate(data["tasks"]):
        scenarios += _task_scenarios(entry, category, f"{path}: tasks[{i}]")
    return scenarios


def load_scenarios(folder: Path) -> dict[str, Scenario]:
    """Every scenario of every task file in folder, by name (`<task_id>:<clean|fault>`)."""
    scenarios: dict[str, Scenario] = {}
    for path in sorted(Path(folder).glob("*.yaml")):
        for scenario in load_task_file(path):
            if scenario.name in scenarios:
                raise ScenarioError(f"{path}: task id '{scenario.task_id}' is used twice")
            scenarios[scenario.name] = scenario
    return scenarios


def find_scenario(scenarios: Mapping[str, Scenario], name: str) -> Scenario:
    """`task_id` (its clean variant) or `task_id:clean|fault`; ScenarioError naming examples otherwise."""
    full = name if ":" in name else f"{name}:clean"
    if full not in scenarios:
        raise ScenarioError(f"unknown scenario '{name}'; see config/tasks (e.g. {', '.join(sorted(scenarios)[:3])}, ...)")
    return scenarios[full]
