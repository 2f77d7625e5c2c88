"""The planner's ports to a robot: an executor for skills, an observer for the world view, a verifier.

Small protocols so the same planning core drives the ROS nodes, the in-process MuJoCo harness and a
symbolic world in tests; none of them is imported here.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol

from planner_ros.planning.conditions import Condition
from planner_ros.planning.world import WorldView
from planner_ros.skills import FailureCode, SkillCall, SkillOutcome

__all__ = ["Executor", "Observer", "Verdict", "VerdictStatus", "Verifier", "VerifyRequest"]


class Executor(Protocol):
    def execute(self, call: SkillCall, step_id: str) -> SkillOutcome:
        """Run one validated call to the end (or failure); never raises for a skill failure."""


class Observer(Protocol):
    def observe(self, after_s: float | None = None) -> WorldView:
        """The current view; with after_s, one that includes observations made after that time (an
        implementation waits for perception within its own timeout and says so in the view's stamp)."""

    def now_s(self) -> float:
        """The robot's clock (simulated time in simulation)."""

    def search_places(self, label: str) -> list[str]:
        """Receptacles worth looking at for an object the view lacks, best first (scene graph viewpoints)."""


class VerdictStatus(enum.IntEnum):
    """Mirrors VerifyStep.Response SUCCESS / FAILURE / UNKNOWN."""

    SUCCESS = 0
    FAILURE = 1
    UNKNOWN = 2


@dataclass(frozen=True)
class VerifyRequest:
    instruction: str
    call: SkillCall
    outcome: SkillOutcome                 # what the executor reported
    expected: tuple[Condition, ...]        # effects that should hold now
    after_s: float                         # only observations after this time count
    diagnose: bool = False
    robot_at: str | None = None            # where the robot stands, when the caller knows (diagnosing moves)


@dataclass(frozen=True)
class Verdict:
    status: VerdictStatus
    confidence: float
    reason: str
    failed: tuple[str, ...] = ()           # expected effects that do not hold
    diagnosis: FailureCode = FailureCode.NONE
    diagnosis_text: str = ""
    subject: str = ""                      # the object or receptacle the diagnosis is about
    backend: str = ""
    model_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0


class Verifier(Protocol):
    def verify(self, request: VerifyRequest) -> Verdict: ...
