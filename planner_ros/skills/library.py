"""Skills as data: names, typed parameters, symbolic preconditions and effects, and call validation.

Everything that dispatches a skill goes through SkillLibrary.validate, so only known skills with
well-formed arguments ever reach a robot, whatever a planner or a language model wrote.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum, IntEnum


class ParamType(str, Enum):
    OBJECT = "object"            # graspable object id
    RECEPTACLE = "receptacle"    # surface or container id
    ARTICULATED = "articulated"  # something that opens: door, drawer, fridge
    LOCATION = "location"        # anything the robot can navigate to
    STRING = "string"
    NUMBER = "number"


class FailureCode(IntEnum):
    """Why a skill failed; values match planner_ros_interfaces/msg/SkillFailure."""

    NONE = 0
    UNKNOWN_SKILL = 1
    INVALID_ARGUMENTS = 2
    UNKNOWN_OBJECT = 3
    PRECONDITION_FAILED = 4
    HAND_FULL = 5
    HAND_EMPTY = 6
    NOT_REACHABLE = 7
    CONTAINER_CLOSED = 8
    LOCKED = 9
    JAMMED = 10
    OBJECT_MISSING = 11
    OBJECT_MOVED = 12
    BLOCKED = 13
    SLIPPED = 14
    TIMEOUT = 15
    CANCELED = 16
    EXECUTION_ERROR = 17
    BUSY = 18


@dataclass(frozen=True)
class SkillParam:
    name: str
    type: ParamType
    description: str
    optional: bool = False


@dataclass(frozen=True)
class SkillSpec:
    name: str
    description: str
    params: tuple[SkillParam, ...]
    preconditions: tuple[str, ...] = ()
    effects: tuple[str, ...] = ()

    @property
    def signature(self) -> str:
        return f"{self.name}({', '.join(f'{p.name}: {p.type.value}' for p in self.params)})"


@dataclass(frozen=True)
class SkillCall:
    """A validated call: a known skill with every required argument, in the skill's parameter order."""

    skill: str
    arguments: tuple[tuple[str, str], ...]

    def arg(self, name: str, default: str | None = None) -> str | None:
        return dict(self.arguments).get(name, default)

    @property
    def text(self) -> str:
        return f"{self.skill}({', '.join(value for _, value in self.arguments)})"


@dataclass(frozen=True)
class SkillOutcome:
    success: bool
    code: FailureCode = FailureCode.NONE
    reason: str = ""
    duration_s: float = 0.0

    @classmethod
    def failed(cls, code: FailureCode, reason: str) -> SkillOutcome:
        return cls(success=False, code=code, reason=reason)


class SkillValidationError(ValueError):
    """A call names an unknown skill or has bad arguments; code says which."""

    def __init__(self, code: FailureCode, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_\-./]*$")
_CALL = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\(\s*([^()]*)\)\s*$")


class SkillLibrary:
    def __init__(self, specs: Iterable[SkillSpec]) -> None:
        self._specs = {spec.name: spec for spec in specs}

    def __contains__(self, name: str) -> bool:
        return name in self._specs

    def __iter__(self):
        return iter(self._specs.values())

    def get(self, name: str) -> SkillSpec:
        try:
            return self._specs[name]
        except KeyError:
            raise SkillValidationError(
                FailureCode.UNKNOWN_SKILL, f"unknown skill '{name}'; known skills: {', '.join(sorted(self._specs))}"
            ) from None

    def parse(self, text: str) -> SkillCall:
        """`place(apple_1, fridge)` -> a validated call (positional arguments in parameter order)."""
        match = _CALL.match(str(text))
        if not match:
            raise SkillValidationError(FailureCode.INVALID_ARGUMENTS, f"{text!r} is not of the form skill(arg, ...)")
        skill, raw = match.groups()
        values = [v.strip() for v in raw.split(",")] if raw.strip() else []
        spec = self.get(skill)
        if len(values) > len(spec.params):
            raise SkillValidationError(FailureCode.INVALID_ARGUMENTS,
                                       f"{spec.signature} takes {len(spec.params)} argument(s), got {len(values)}")
        return self.validate(skill, {p.name: v for p, v in zip(spec.params, values)})

    def validate(self, skill: str, arguments: Mapping[str, str]) -> SkillCall:
        spec = self.get(skill)
        known = {p.name for p in spec.params}
        extra = sorted(set(arguments) - known)
        if extra:
            raise SkillValidationError(
                FailureCode.INVALID_ARGUMENTS, f"{spec.signature}: unexpected arguments {extra}"
            )
        ordered: list[tuple[str, str]] = []
        for param in spec.params:
            value = arguments.get(param.name)
            if value is None or value == "":
                if param.optional:
                    continue
                raise SkillValidationError(
                    FailureCode.INVALID_ARGUMENTS, f"{spec.signature}: missing argument '{param.name}'"
                )
            if param.type is ParamType.NUMBER:
                try:
                    float(value)
                except ValueError:
                    raise SkillValidationError(
                        FailureCode.INVALID_ARGUMENTS, f"{spec.signature}: '{param.name}' must be a number, got {value!r}"
                    ) from None
            elif param.type is not ParamType.STRING and not _ID.match(value):
                raise SkillValidationError(
                    FailureCode.INVALID_ARGUMENTS, f"{spec.signature}: '{param.name}' must be an id, got {value!r}"
                )
            ordered.append((param.name, value))
        return SkillCall(skill=spec.name, arguments=tuple(ordered))


DEFAULT_SKILLS = SkillLibrary([
    SkillSpec(
        "navigate_to", "Drive the base next to a location, receptacle or object.",
        (SkillParam("target", ParamType.LOCATION, "where to go"),),
        preconditions=(), effects=("near(target)",),
    ),
    SkillSpec(
        "pick", "Grasp an object and lift it.",
        (SkillParam("object", ParamType.OBJECT, "what to pick"),),
        preconditions=("hand_empty", "near(object)", "reachable(object)"),
        effects=("holding(object)", "not hand_empty"),
    ),
    SkillSpec(
        "place", "Put the held object on a surface or into an open container.",
        (SkillParam("object", ParamType.OBJECT, "the held object"),
         SkillParam("target", ParamType.RECEPTACLE, "surface or container")),
        preconditions=("holding(object)", "near(target)", "open(target) if container"),
        effects=("on(object, target) or in(object, target)", "hand_empty"),
    ),
    SkillSpec(
        "open", "Open a door, drawer or lid.",
        (SkillParam("target", ParamType.ARTICULATED, "what to open"),),
        preconditions=("hand_empty", "near(target)", "closed(target)", "not locked(target)"),
        effects=("open(target)",),
    ),
    SkillSpec(
        "close", "Close a door, drawer or lid.",
        (SkillParam("target", ParamType.ARTICULATED, "what to close"),),
        preconditions=("hand_empty", "near(target)", "open(target)"),
        effects=("closed(target)",),
    ),
])
