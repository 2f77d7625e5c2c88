"""Faults to inject into the simulated world, immediately or when a rule matches a skill call.

A fault is data (FaultSpec); FaultSchedule decides when each fires. Firing a fault is the world's job
(planner_ros.sim.skills), so this module stays pure and testable without physics.
"""
from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class FaultType(str, Enum):
    SLIP = "slip"                    # the held object slips out of the gripper during the triggering skill
    LOCKED = "locked"                # a door or drawer does not open at all
    JAMMED = "jammed"                # a door or drawer opens only partly (params: fraction, default 0.2)
    MISSING = "missing"              # an object disappears from the world
    MOVED = "moved"                  # an object is moved elsewhere (params: destination receptacle)
    OBSTACLE = "obstacle"            # an obstacle covers a place target
    CAMERA_DROP = "camera_drop"      # a camera stops publishing (params: duration_s; 0 = for good)
    DEPTH_CORRUPT = "depth_corrupt"  # a camera's depth is corrupted (params: fraction of pixels, default 0.3)


class FaultError(ValueError):
    """A fault description is malformed; the message names the field."""


@dataclass(frozen=True)
class FaultSpec:
    type: FaultType
    target: str
    on_skill: str = ""               # empty: fire at once (or at scenario start)
    on_argument: str = ""            # the triggering call must have an argument with this value
    on_call: int = 1                 # n-th matching call fires it (1-based); 0: every matching call
    params: Mapping[str, Any] = field(default_factory=dict)
    id: str = ""

    @property
    def immediate(self) -> bool:
        return not self.on_skill

    def describe(self) -> str:
        when = "now" if self.immediate else (
            f"on {'every' if self.on_call == 0 else f'call {self.on_call} of'} {self.on_skill}"
            + (f"({self.on_argument})" if self.on_argument else ""))
        return f"{self.type.value} {self.target} {when}"


def fault_from_mapping(data: Mapping[str, Any], *, where: str = "fault") -> FaultSpec:
    """Parse {type, target, on_skill?, on_argument?, on_call?, params?, id?} with clear errors."""
    if not isinstance(data, Mapping):
        raise FaultError(f"{where}: must be a mapping, got {type(data).__name__}")
    allowed = {"type", "target", "on_skill", "on_argument", "on_call", "params", "id"}
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise FaultError(f"{where}: unknown keys {unknown}; allowed: {sorted(allowed)}")
    try:
        kind = FaultType(str(data.get("type", "")))
    except ValueError:
        raise FaultError(f"{where}: unknown fault type {data.get('type')!r}; "
                         f"known: {', '.join(t.value for t in FaultType)}") from None
    target = str(data.get("target") or "")
    if not target:
        raise FaultError(f"{where}: 'target' is required (an object, articulated part or camera)")
    on_call = data.get("on_call", 1)
    if not isinstance(on_call, int) or on_call < 0:
        raise FaultError(f"{where}: 'on_call' must be an integer >= 0, got {on_call!r}")
    params = data.get("params") or {}
    if not isinstance(params, Mapping):
        raise FaultError(f"{where}: 'params' must be a mapping")
    if kind is FaultType.MOVED and not params.get("destination"):
        raise FaultError(f"{where}: a 'moved' fault needs params.destination (a receptacle id)")
    return FaultSpec(kind, target, str(data.get("on_skill") or ""), str(data.get("on_argument") or ""),
                     on_call, dict(params), str(data.get("id") or ""))


class FaultSchedule:
    """Pending faults and the count of matching calls seen for each rule."""

    def __init__(self) -> None:
        self._faults: dict[str, FaultSpec] = {}
        self._matches: dict[str, int] = {}
        self._ids = itertools.count(1)

    def add(self, fault: FaultSpec) -> FaultSpec:
        fault_id = fault.id or f"fault_{next(self._ids)}"
        if fault_id in self._faults:
            raise FaultError(f"fault id '{fault_id}' is already pending")
        stored = FaultSpec(fault.type, fault.target, fault.on_skill, fault.on_argument, fault.on_call,
                           dict(fault.params), fault_id)
        self._faults[fault_id] = stored
        self._matches[fault_id] = 0
        return stored

    def clear(self) -> None:
        self._faults.clear()
        self._matches.clear()

    @property
    def pending(self) -> list[FaultSpec]:
        return list(self._faults.values())

    def take_immediate(self) -> list[FaultSpec]:
        """Remove and return the faults that fire at once."""
        now = [f for f in self._faults.values() if f.immediate]
        for fault in now:
            self._remove(fault.id)
        return now

    def on_call(self, skill: str, argument_values: tuple[str, ...]) -> list[FaultSpec]:
        """Faults fired by this skill call; one-shot rules are removed once fired."""
        fired = []
        for fault in list(self._faults.values()):
            if fault.immediate or fault.on_skill != skill:
                continue
            if fault.on_argument and fault.on_argument not in argument_values:
                continue
            self._matches[fault.id] += 1
            if fault.on_call == 0 or self._matches[fault.id] == fault.on_call:
                fired.append(fault)
                if fault.on_call != 0:
                    self._remove(fault.id)
        return fired

    def _remove(self, fault_id: str) -> None:
        self._faults.pop(fault_id, None)
        self._matches.pop(fault_id, None)
