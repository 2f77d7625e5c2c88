"""Goal conditions (`in(apple_1, fridge)`) as data, and their evaluation against world facts.

Conditions are parsed by a regular expression and never evaluated as code. The facts come from the
simulator's ground truth (evaluation) or from a scene graph.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from planner_ros.planning.conditions import Condition, GoalError, parse_condition

__all__ = ["CLOSED_AT_MOST", "Condition", "GoalError", "GoalReport", "OPEN_AT_LEAST", "WorldFacts", "evaluate", "holds",
           "parse_condition"]

OPEN_AT_LEAST = 0.5      # opening fraction from which a door or drawer counts as open
CLOSED_AT_MOST = 0.05    # ... and up to which it counts as closed


@dataclass(frozen=True)
class WorldFacts:
    """What goal conditions are checked against (built from the simulator's ground truth)."""

    relations: Mapping[str, tuple[str, str | None]]   # object id -> ("on" | "in" | "held_by" | "none", where)
    openings: Mapping[str, float]                      # articulated part id -> 0..1
    held: str | None = None


@dataclass(frozen=True)
class GoalReport:
    satisfied: tuple[Condition, ...]
    unsatisfied: tuple[Condition, ...]

    @property
    def success(self) -> bool:
        return not self.unsatisfied

    @property
    def recall(self) -> float:
        total = len(self.satisfied) + len(self.unsatisfied)
        return len(self.satisfied) / total if total else 1.0


def holds(condition: Condition, facts: WorldFacts) -> bool:
    p, args = condition.predicate, condition.args
    if p in ("on", "in"):
        value = tuple(facts.relations.get(args[0], ("none", None))) == (p, args[1])
    elif p == "held":
        value = facts.held == args[0]
    elif p == "open":
        value = facts.openings.get(args[0], 0.0) >= OPEN_AT_LEAST
    else:  # closed
        value = facts.openings.get(args[0], 1.0) <= CLOSED_AT_MOST
    return value != condition.negated


def evaluate(goal: Iterable[Condition], facts: WorldFacts) -> GoalReport:
    goal = tuple(goal)
    return GoalReport(tuple(c for c in goal if holds(c, facts)), tuple(c for c in goal if not holds(c, facts)))
