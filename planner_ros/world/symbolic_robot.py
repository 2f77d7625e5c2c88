"""The symbolic household behind the planner's ports: the planner core runs on it without ROS, physics or
perception (tests, and the shape any external symbolic benchmark would take)."""
from __future__ import annotations

from collections.abc import Callable

from planner_ros.planning.world import ObjectView, ReceptacleView, WorldView
from planner_ros.skills import SkillCall, SkillOutcome
from planner_ros.world.symbolic import SymbolicHousehold

__all__ = ["SymbolicRobot"]


class SymbolicRobot:
    """Executor + Observer over a SymbolicHousehold. `interfere(call, household)` may change the world
    before a call runs and return an outcome to report instead (faults in tests)."""

    def __init__(self, household: SymbolicHousehold,
                 interfere: Callable[[SkillCall, SymbolicHousehold], SkillOutcome | None] | None = None) -> None:
        self.world = household
        self.interfere = interfere
        self.clock_s = 0.0
        self.calls: list[str] = []

    def now_s(self) -> float:
        return self.clock_s

    def execute(self, call: SkillCall, step_id: str = "") -> SkillOutcome:
        self.calls.append(call.text)
        outcome = self.interfere(call, self.world) if self.interfere else None
        if outcome is None:
            outcome = self.world.execute(call)
        self.clock_s += max(outcome.duration_s, 0.1)
        return outcome

    def observe(self, after_s: float | None = None) -> WorldView:
        objects = {}
        for iid, item in self.world.items.items():
            if item.location == "robot":
                objects[iid] = ObjectView(iid, item.label, "held")
            else:
                predicate, place = self.world.relation(iid)
                objects[iid] = ObjectView(iid, item.label, predicate, place)
        receptacles = {rid: ReceptacleView(rid, r.label, r.container, f"{rid}_door" if r.openable else "",
                                           1.0 if r.is_open else 0.0)
                       for rid, r in self.world.receptacles.items()}
        return WorldView(objects, receptacles, self.world.holding, None, self.clock_s)

    def search_places(self, label: str) -> list[str]:
        return sorted(self.world.receptacles)
