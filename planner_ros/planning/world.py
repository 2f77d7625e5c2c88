"""What the planner knows about the world: a symbolic view built from the scene graph, never ground truth.

The planning core sees the world only through this view (objects with their place and status,
receptacles with their doors, what the hand holds, where the robot stands) and through the facts the
robot learned the hard way (a door that is locked, a place that is blocked). Any robot whose scene
graph can fill a WorldView can use the planner unchanged.
"""
from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

__all__ = ["Knowledge", "ObjectView", "ObjectStatus", "ReceptacleView", "WorldView", "OPEN_AT_LEAST"]

OPEN_AT_LEAST = 0.5   # opening fraction from which the arm can reach into a container


class ObjectStatus(str, enum.Enum):
    VISIBLE = "visible"
    REMEMBERED = "remembered"   # out of view; last known place kept
    MISSING = "missing"         # should have been seen and was not


@dataclass(frozen=True)
class ObjectView:
    id: str
    label: str
    relation: str = "none"      # "on", "in", "held" or "none" (e.g. on the floor)
    place: str = ""             # receptacle id for on/in
    status: ObjectStatus = ObjectStatus.VISIBLE


@dataclass(frozen=True)
class ReceptacleView:
    id: str
    label: str
    container: bool = False     # objects go in (not on) it
    part: str = ""              # the door or drawer that closes it; "" when it has none
    opening: float = 1.0        # 0 closed .. 1 open; 1.0 for receptacles without a part
    look_from: str = ""         # a place to look inside from, where standing at it shows nothing inside

    @property
    def is_open(self) -> bool:
        return not self.part or self.opening >= OPEN_AT_LEAST


@dataclass(frozen=True)
class Knowledge:
    """What execution and diagnosis taught the planner, which the scene graph cannot show."""

    locked: frozenset[str] = frozenset()     # receptacles whose door or drawer does not open (enough)
    blocked: frozenset[str] = frozenset()    # receptacles nothing can be placed on or in
    missing: frozenset[str] = frozenset()    # objects searched for and not found
    # (object, place): the robot reached for the object there and it was not there. Until perception shows
    # it somewhere else, the view holds it as lying nowhere known (the scene graph may not have noticed yet).
    not_at: frozenset[tuple[str, str]] = frozenset()
    notes: tuple[str, ...] = ()              # diagnoses in words, for prompts and records

    def merged(self, other: Knowledge) -> Knowledge:
        return Knowledge(self.locked | other.locked, self.blocked | other.blocked, self.missing | other.missing,
                         self.not_at | other.not_at, tuple(dict.fromkeys(self.notes + other.notes)))


@dataclass(frozen=True)
class WorldView:
    objects: Mapping[str, ObjectView]
    receptacles: Mapping[str, ReceptacleView]
    holding: str | None = None
    robot_at: str | None = None          # the receptacle the robot stands at; None: not at any
    stamp_s: float = 0.0
    revision: int = 0
    knowledge: Knowledge = field(default_factory=Knowledge)

    def with_robot_at(self, place: str | None) -> WorldView:
        return replace(self, robot_at=place)

    def with_knowledge(self, knowledge: Knowledge) -> WorldView:
        merged = self.knowledge.merged(knowledge)
        stale = {oid: replace(o, relation="none", place="") for oid, place in merged.not_at
                 if (o := self.objects.get(oid)) is not None and o.relation in ("on", "in") and o.place == place}
        return replace(self, objects={**self.objects, **stale} if stale else self.objects, knowledge=merged)

    def part_owner(self, name: str) -> str | None:
        """The receptacle a door/drawer id (or the receptacle itself) refers to."""
        if name in self.receptacles:
            return name
        return next((r.id for r in self.receptacles.values() if r.part == name), None)

    def place_of(self, entity: str) -> str | None:
        """Where the robot must stand to reach entity: a receptacle (or its part) is its own place; an
        object is where it lies; None for a held object or one not on or in a known receptacle."""
        owner = self.part_owner(entity)
        if owner is not None:
            return owner
        obj = self.objects.get(entity)
        if obj is None or obj.relation not in ("on", "in"):
            return None
        return obj.place or None

    def usable_objects(self) -> dict[str, ObjectView]:
        """Objects the planner may use: known and not missing."""
        return {oid: o for oid, o in self.objects.items()
                if o.status is not ObjectStatus.MISSING and oid not in self.knowledge.missing}

    def facts(self) -> frozenset[str]:
        """The view as ground facts (the PDDL problem's initial state, prompts, records)."""
        facts = {f"holding({self.holding})" if self.holding else "hand_empty"}
        if self.robot_at:
            facts.add(f"robot_at({self.robot_at})")
        for r in self.receptacles.values():
            if r.part:
                facts.add(f"{'open' if r.is_open else 'closed'}({r.id})")
            if r.id in self.knowledge.locked:
                facts.add(f"locked({r.id})")
            if r.id in self.knowledge.blocked:
                facts.add(f"blocked({r.id})")
        for o in self.usable_objects().values():
            if o.relation in ("on", "in") and o.place:
                facts.add(f"{o.relation}({o.id}, {o.place})")
        return frozenset(facts)
