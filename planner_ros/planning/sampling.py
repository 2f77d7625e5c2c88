"""Plan samplers: one interface for everything that proposes candidate plans for the action tree.

A sampler gets the task (instruction and goal conditions), the planner's current view of the world,
the skill library and what was learned so far (steps done, diagnoses), and returns several candidate
plans as validated skill calls. What it could not use is returned with a reason, never silently lost.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from planner_ros.planning.conditions import Condition
from planner_ros.planning.world import WorldView
from planner_ros.skills import SkillCall, SkillLibrary

__all__ = ["PlanRequest", "PlanSampler", "SampledPlan", "SamplingError", "SamplingResult", "distinct"]


class SamplingError(RuntimeError):
    """The sampler could not run at all (planner binary failed, endpoint unreachable); says what to do."""


@dataclass(frozen=True)
class PlanRequest:
    instruction: str
    goal: tuple[Condition, ...]        # may be empty when only a language model knows the goal
    view: WorldView
    skills: SkillLibrary
    num_plans: int = 20
    done_steps: tuple[str, ...] = ()   # executed and verified so far, for context
    diagnoses: tuple[str, ...] = ()    # why earlier attempts failed (RePLan), newest last


@dataclass(frozen=True)
class SampledPlan:
    steps: tuple[SkillCall, ...]
    source: str                        # "symbolic:kstar", "llm:<model>", ...
    dropped: tuple[str, ...] = ()      # steps removed while validating, each with its reason


@dataclass
class SamplingResult:
    plans: list[SampledPlan]
    rejected: list[tuple[str, str]] = field(default_factory=list)   # (raw plan text, why it was discarded)
    model_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    note: str = ""                     # e.g. "goal unreachable: fridge is locked"


class PlanSampler(Protocol):
    name: str

    def sample(self, request: PlanRequest) -> SamplingResult: ...


def distinct(plans: Sequence[SampledPlan]) -> list[SampledPlan]:
    """Plans in order, without repeats of the same step sequence (samples often coincide)."""
    seen: set[tuple[SkillCall, ...]] = set()
    out = []
    for plan in plans:
        if plan.steps not in seen:
            seen.add(plan.steps)
            out.append(plan)
    return out
