"""Goal conditions (`in(apple_1, fridge)`, `closed(fridge_door)`) as data.

Parsed by a regular expression and never evaluated as code: whatever wrote them (a task file, a person,
a language model), only these predicates with identifier arguments get through.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Condition", "GoalError", "PREDICATES", "parse_condition"]


class GoalError(ValueError):
    """A goal condition is malformed; the message quotes it."""


_TERM = re.compile(r"^\s*(not\s+)?([a-z_]+)\(\s*([A-Za-z0-9_]+)\s*(?:,\s*([A-Za-z0-9_]+)\s*)?\)\s*$")
PREDICATES = {"on": 2, "in": 2, "held": 1, "open": 1, "closed": 1}


@dataclass(frozen=True)
class Condition:
    predicate: str
    args: tuple[str, ...]
    negated: bool = False

    @property
    def text(self) -> str:
        return f"{'not ' if self.negated else ''}{self.predicate}({', '.join(self.args)})"


def parse_condition(text: str) -> Condition:
    match = _TERM.match(str(text))
    if not match:
        raise GoalError(f"goal condition {text!r} is not of the form predicate(arg[, arg])")
    negated, predicate, a, b = match.groups()
    if predicate not in PREDICATES:
        raise GoalError(f"goal condition {text!r}: unknown predicate '{predicate}'; known: {sorted(PREDICATES)}")
    args = (a,) if b is None else (a, b)
    if len(args) != PREDICATES[predicate]:
        raise GoalError(f"goal condition {text!r}: '{predicate}' takes {PREDICATES[predicate]} argument(s)")
    return Condition(predicate, args, bool(negated))
