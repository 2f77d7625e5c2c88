"""Goal conditions (`in(apple_1, fridge)`) as data, and their evaluation against world facts.

Conditions are parsed by a regular expression and never evaluated as code. The facts come from the
simulator's ground truth (evaluation) or from a scene graph.
"""
from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from planner_ros.planning.conditions import Condition, GoalError, parse_condition

__all__ = ["CLOSED_AT_MOST", "Condition", "GoalError", "GoalReport", "OPEN_AT_LEAST", "WorldFacts", "evaluate",
           "evaluate_any_instance", "holds", "interchangeable", "parse_condition"]

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
    instead: Mapping[str, str] = field(default_factory=dict)   # goal object -> the interchangeable one judged

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


def interchangeable(kinds: Mapping[str, str], start: WorldFacts, objects: Iterable[str],
                    any_of_kind: Iterable[str] = ()) -> dict[str, tuple[str, ...]]:
    """For each object, the objects an instruction cannot tell it apart from: the same kind, starting on or in
    the same receptacle ("the cup" with two cups on the table names either), or for objects in any_of_kind
    (the instruction says "a cup") the same kind anywhere. Itself first."""
    out = {}
    anywhere = set(any_of_kind)
    for oid in objects:
        where = tuple(start.relations.get(oid, ("none", None)))
        twins = sorted(o for o, kind in kinds.items() if o != oid and kind == kinds.get(oid)
                       and (oid in anywhere or where[0] in ("on", "in")
                            and tuple(start.relations.get(o, ("none", None))) == where))
        out[oid] = (oid, *twins)
    return out


def _renamed(conditions: Iterable[Condition], names: Mapping[str, str]) -> tuple[Condition, ...]:
    return tuple(Condition(c.predicate, (names.get(c.args[0], c.args[0]), *c.args[1:]), c.negated) for c in conditions)


def evaluate_any_instance(goal: Iterable[Condition], facts: WorldFacts,
                          alternatives: Mapping[str, Sequence[str]]) -> GoalReport:
    """The goal judged on the best one-to-one choice of interchangeable objects (ties: the named ones)."""
    goal = tuple(goal)
    subjects = list(dict.fromkeys(c.args[0] for c in goal if c.predicate in ("on", "in", "held")))
    best = evaluate(goal, facts)
    for choice in itertools.product(*(alternatives.get(o, (o,)) for o in subjects)):
        swap = {o: c for o, c in zip(subjects, choice) if o != c}
        if not swap or len(set(choice)) < len(choice):
            continue
        report = evaluate(_renamed(goal, swap), facts)
        if len(report.satisfied) > len(best.satisfied):
            back = {v: k for k, v in swap.items()}
            best = GoalReport(_renamed(report.satisfied, back), _renamed(report.unsatisfied, back), swap)
    return best
