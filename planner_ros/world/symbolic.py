"""A symbolic household: objects on or in receptacles, containers that open, a robot with one hand.

It executes the default skills with their preconditions checked against its own state, so a bad call
fails with a specific code and reason, exactly as a physical world would refuse it. It has no geometry:
it is the fast world for exercising the ROS plumbing and, later, planners; the MuJoCo kitchen is the
physical one.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from planner_ros.skills.library import FailureCode, SkillCall, SkillOutcome


class SceneConfigError(ValueError):
    """A symbolic scene description is malformed; the message names the entry."""


@dataclass
class Receptacle:
    id: str
    label: str
    container: bool = False     # objects go "in" (and it may open) rather than "on"
    openable: bool = False
    is_open: bool = True
    locked: bool = False


@dataclass
class Item:
    id: str
    label: str
    location: str               # receptacle id, or "robot" while held


# Nominal skill durations in seconds of robot time; the node scales them for feedback pacing.
SKILL_DURATION_S = {"navigate_to": 2.0, "pick": 1.5, "place": 1.5, "open": 1.2, "close": 1.0}


@dataclass
class SymbolicHousehold:
    receptacles: dict[str, Receptacle]
    items: dict[str, Item]
    robot_at: str = "start"
    holding: str | None = None
    locations: set[str] = field(default_factory=set)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> SymbolicHousehold:
        """Build from {receptacles: {id: {...}}, objects: {id: {label, location}}, robot_at, locations}.

        An object's location is a receptacle id; whether it is on or in follows from the receptacle.
        """
        if not isinstance(config, Mapping):
            raise SceneConfigError(f"scene must be a mapping, got {type(config).__name__}")
        receptacles: dict[str, Receptacle] = {}
        for rid, spec in (config.get("receptacles") or {}).items():
            spec = dict(spec or {})
            container = bool(spec.pop("container", False))
            openable = bool(spec.pop("openable", False))
            is_open = bool(spec.pop("open", not openable))
            locked = bool(spec.pop("locked", False))
            label = str(spec.pop("label", rid))
            if spec:
                raise SceneConfigError(f"receptacle '{rid}': unknown keys {sorted(spec)}")
            receptacles[rid] = Receptacle(rid, label, container, openable, is_open, locked)
        items: dict[str, Item] = {}
        for oid, spec in (config.get("objects") or {}).items():
            spec = dict(spec or {})
            where = spec.pop("location", None)
            label = str(spec.pop("label", oid))
            if spec:
                raise SceneConfigError(f"object '{oid}': unknown keys {sorted(spec)}")
            if where not in receptacles:
                raise SceneConfigError(f"object '{oid}': location {where!r} is not a receptacle")
            if oid in receptacles:
                raise SceneConfigError(f"id '{oid}' names both an object and a receptacle")
            items[oid] = Item(oid, label, where)
        locations = {str(loc) for loc in config.get("locations") or []}
        return cls(receptacles, items, str(config.get("robot_at", "start")), None, locations | {"start"})

    # -- queries ------------------------------------------------------------------------------------
    def place_of(self, entity: str) -> str | None:
        """Where the robot must be to reach entity: a receptacle is its own place; an item is its holder's."""
        if entity in self.receptacles or entity in self.locations:
            return entity
        item = self.items.get(entity)
        return None if item is None or item.location == "robot" else item.location

    def relation(self, item_id: str) -> tuple[str, str]:
        item = self.items[item_id]
        if item.location == "robot":
            return ("held_by", "robot")
        return ("in" if self.receptacles[item.location].container else "on", item.location)

    def facts(self) -> list[str]:
        """The state as sorted facts, for records and tests."""
        facts = [f"robot_at({self.robot_at})", f"holding({self.holding})" if self.holding else "hand_empty"]
        for rid, rec in sorted(self.receptacles.items()):
            if rec.openable:
                facts.append(f"{'open' if rec.is_open else 'closed'}({rid})")
            if rec.locked:
                facts.append(f"locked({rid})")
        for iid in sorted(self.items):
            predicate, target = self.relation(iid)
            facts.append(f"{predicate}({iid}, {target})")
        return facts

    # -- skills -------------------------------------------------------------------------------------
    def check(self, call: SkillCall) -> SkillOutcome:
        """Whether call can run now; on refusal, the specific failure code and reason."""
        handler = getattr(self, f"_check_{call.skill}", None)
        if handler is None:
            return SkillOutcome.failed(FailureCode.UNKNOWN_SKILL, f"the symbolic world cannot run '{call.skill}'")
        return handler(call)

    def apply(self, call: SkillCall) -> None:
        """Apply the effects of a call that check() accepted."""
        getattr(self, f"_apply_{call.skill}")(call)

    def execute(self, call: SkillCall) -> SkillOutcome:
        outcome = self.check(call)
        if outcome.success:
            self.apply(call)
        return outcome

    def _ok(self, call: SkillCall) -> SkillOutcome:
        return SkillOutcome(success=True, duration_s=SKILL_DURATION_S.get(call.skill, 1.0))

    def _unknown(self, entity: str) -> SkillOutcome:
        return SkillOutcome.failed(FailureCode.UNKNOWN_OBJECT, f"'{entity}' is not in this scene")

    def _not_near(self, entity: str) -> SkillOutcome:
        return SkillOutcome.failed(
            FailureCode.NOT_REACHABLE,
            f"the robot is at '{self.robot_at}', not near '{entity}'; navigate_to({self.place_of(entity)}) first",
        )

    def _check_navigate_to(self, call: SkillCall) -> SkillOutcome:
        target = call.arg("target")
        return self._ok(call) if self.place_of(target) is not None else self._unknown(target)

    def _apply_navigate_to(self, call: SkillCall) -> None:
        self.robot_at = self.place_of(call.arg("target"))

    def _check_pick(self, call: SkillCall) -> SkillOutcome:
        obj = call.arg("object")
        if obj not in self.items:
            return self._unknown(obj)
        if self.holding:
            return SkillOutcome.failed(FailureCode.HAND_FULL, f"the hand already holds '{self.holding}'")
        holder = self.receptacles[self.items[obj].location]
        if self.robot_at != holder.id:
            return self._not_near(obj)
        if holder.openable and not holder.is_open:
            return SkillOutcome.failed(FailureCode.CONTAINER_CLOSED, f"'{obj}' is inside '{holder.id}', which is closed")
        return self._ok(call)

    def _apply_pick(self, call: SkillCall) -> None:
        self.holding = call.arg("object")
        self.items[self.holding].location = "robot"

    def _check_place(self, call: SkillCall) -> SkillOutcome:
        obj, target = call.arg("object"), call.arg("target")
        if obj not in self.items:
            return self._unknown(obj)
        if target not in self.receptacles:
            return self._unknown(target)
        if self.holding != obj:
            held = f"holds '{self.holding}'" if self.holding else "is empty"
            return SkillOutcome.failed(FailureCode.HAND_EMPTY, f"cannot place '{obj}': the hand {held}")
        if self.robot_at != target:
            return self._not_near(target)
        rec = self.receptacles[target]
        if rec.openable and not rec.is_open:
            return SkillOutcome.failed(FailureCode.CONTAINER_CLOSED, f"'{target}' is closed; open it first")
        return self._ok(call)

    def _apply_place(self, call: SkillCall) -> None:
        self.items[call.arg("object")].location = call.arg("target")
        self.holding = None

    def _check_articulated(self, call: SkillCall, want_open: bool) -> SkillOutcome:
        target = call.arg("target")
        if target not in self.receptacles:
            return self._unknown(target)
        rec = self.receptacles[target]
        if not rec.openable:
            return SkillOutcome.failed(FailureCode.PRECONDITION_FAILED, f"'{target}' has no door, drawer or lid")
        if self.holding:
            return SkillOutcome.failed(FailureCode.HAND_FULL, f"the hand holds '{self.holding}'; it needs a free hand")
        if self.robot_at != target:
            return self._not_near(target)
        if rec.is_open == want_open:
            state = "open" if want_open else "closed"
            return SkillOutcome.failed(FailureCode.PRECONDITION_FAILED, f"'{target}' is already {state}")
        if want_open and rec.locked:
            return SkillOutcome.failed(FailureCode.LOCKED, f"'{target}' is locked and does not open")
        return self._ok(call)

    def _check_open(self, call: SkillCall) -> SkillOutcome:
        return self._check_articulated(call, want_open=True)

    def _apply_open(self, call: SkillCall) -> None:
        self.receptacles[call.arg("target")].is_open = True

    def _check_close(self, call: SkillCall) -> SkillOutcome:
        return self._check_articulated(call, want_open=False)

    def _apply_close(self, call: SkillCall) -> None:
        self.receptacles[call.arg("target")].is_open = False
