"""The skill library and the planner's world view as PDDL, for classical planners.

Each skill the symbolic planner may use has an action model here, as data: typed parameters,
preconditions, add and delete effects. The domain is generated from the robot's skill library, so a
robot whose library has a skill without a model is told so instead of silently planning without it.
The problem comes from a WorldView and goal conditions; ids become PDDL-safe names and the mapping
back to the original ids travels with the problem.

The encoding is STRIPS with typing and equality and unit costs, nothing more, so Fast Downward based
planners (K*) take it as is. That planner's translator refuses most negated goals ("Negative goal not
supported"), so negated goals are written as positive complement facts (not-at, not-holding) that the
actions keep up to date.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from planner_ros.planning.conditions import Condition
from planner_ros.planning.world import WorldView
from planner_ros.skills import SkillLibrary

__all__ = [
    "ACTION_MODELS", "ActionModel", "DOMAIN_NAME", "ModelParam", "NOWHERE", "PddlError", "PddlProblem",
    "domain_pddl", "encode_problem", "parse_action", "problem_pddl",
]

DOMAIN_NAME = "planner-ros-household"
NOWHERE = "nowhere"   # where the robot stands when it is at no receptacle; a location it cannot drive to

# Type names and PDDL words that no scene id may become (an object called "place" would confuse readers
# of the files, and "nowhere" is the domain's constant).
_RESERVED = frozenset({NOWHERE, "object", "item", "location", "place", "either", "and", "not", "define",
                       "domain", "problem"})
_SAFE = re.compile(r"^[a-z][a-z0-9_-]*$")
_VARIABLE = re.compile(r"\?[a-z][a-z0-9_-]*")

_TYPES = "item location - object place - location"
_PREDICATES = (
    "(robot-at ?l - location)",
    "(hand-empty)",
    "(holding ?i - item)",
    "(not-holding ?i - item)",          # complement of holding, for negated goals
    "(at ?i - item ?p - place)",
    "(not-at ?i - item ?p - place)",    # complement of at, for negated goals
    "(accessible ?p - place)",          # open, or has no door or drawer
    "(closed ?p - place)",
    "(openable ?p - place)",            # has a door or drawer
    "(unlocked ?p - place)",
    "(free ?p - place)",                # not blocked: things can be put on or in it
)


class PddlError(ValueError):
    """A task cannot be written as PDDL (a skill without an action model, a goal naming an unknown or
    unreachable object); the message names the culprit."""


@dataclass(frozen=True)
class ModelParam:
    var: str                        # "?to"
    type: str                       # "item", "place" or "location"
    skill_param: str | None = None  # the skill parameter it fills; None: the planner's own bookkeeping


@dataclass(frozen=True)
class ActionModel:
    """A skill as a STRIPS action: literals in PDDL syntax over the parameters' variables."""

    params: tuple[ModelParam, ...]
    preconditions: tuple[str, ...]
    add: tuple[str, ...]
    delete: tuple[str, ...] = ()

    @property
    def skill_params(self) -> tuple[str, ...]:
        return tuple(p.skill_param for p in self.params if p.skill_param is not None)


# The semantics of the default skills as planner_ros.world.symbolic executes them: the robot must stand
# at a receptacle to use it or what lies on it; a closed container refuses pick and place; open and close
# need a free hand. Hidden parameters (where the robot comes from, where the object lies) let the
# planner name the facts an effect deletes.
ACTION_MODELS: Mapping[str, ActionModel] = MappingProxyType({
    "navigate_to": ActionModel(
        params=(ModelParam("?from", "location"), ModelParam("?to", "place", "target")),
        # Driving to where the robot already is would only pad plans.
        preconditions=("(robot-at ?from)", "(not (= ?from ?to))"),
        add=("(robot-at ?to)",),
        delete=("(robot-at ?from)",),
    ),
    "pick": ActionModel(
        params=(ModelParam("?i", "item", "object"), ModelParam("?p", "place")),
        preconditions=("(hand-empty)", "(robot-at ?p)", "(at ?i ?p)", "(accessible ?p)"),
        add=("(holding ?i)", "(not-at ?i ?p)"),
        delete=("(hand-empty)", "(at ?i ?p)", "(not-holding ?i)"),
    ),
    "place": ActionModel(
        params=(ModelParam("?i", "item", "object"), ModelParam("?p", "place", "target")),
        preconditions=("(holding ?i)", "(robot-at ?p)", "(accessible ?p)", "(free ?p)"),
        add=("(at ?i ?p)", "(hand-empty)", "(not-holding ?i)"),
        delete=("(holding ?i)", "(not-at ?i ?p)"),
    ),
    "open": ActionModel(
        params=(ModelParam("?p", "place", "target"),),
        preconditions=("(hand-empty)", "(robot-at ?p)", "(openable ?p)", "(closed ?p)", "(unlocked ?p)"),
        add=("(accessible ?p)",),
        delete=("(closed ?p)",),
    ),
    "close": ActionModel(
        params=(ModelParam("?p", "place", "target"),),
        preconditions=("(hand-empty)", "(robot-at ?p)", "(openable ?p)", "(accessible ?p)"),
        add=("(closed ?p)",),
        delete=("(accessible ?p)",),
    ),
})


# -- domain -----------------------------------------------------------------------------------------
def _check_model(name: str, spec_params: Sequence[tuple[str, bool]], model: ActionModel) -> None:
    if not _SAFE.match(name):
        raise PddlError(f"skill '{name}' cannot be a PDDL action name (lowercase letters, digits, _ and - only)")
    declared = [p.var for p in model.params]
    for literal in model.preconditions + model.add + model.delete:
        unknown = sorted(set(_VARIABLE.findall(literal)) - set(declared))
        if unknown:
            raise PddlError(f"action model of '{name}': {literal} uses undeclared {', '.join(unknown)}")
    mapped = set(model.skill_params)
    extra = sorted(mapped - {p for p, _ in spec_params})
    unfilled = sorted(p for p, optional in spec_params if not optional and p not in mapped)
    if extra or unfilled:
        raise PddlError(f"action model of '{name}' does not match the skill's parameters: "
                        f"unknown {extra}, unfilled {unfilled}")


def _action(name: str, model: ActionModel) -> str:
    params = " ".join(f"{p.var} - {p.type}" for p in model.params)
    effects = model.add + tuple(f"(not {literal})" for literal in model.delete)
    return (f"  (:action {name}\n"
            f"    :parameters ({params})\n"
            f"    :precondition (and {' '.join(model.preconditions)})\n"
            f"    :effect (and {' '.join(effects)}))")


def domain_pddl(skills: SkillLibrary, models: Mapping[str, ActionModel] = ACTION_MODELS) -> str:
    """The PDDL domain with one action per library skill; every skill needs an action model."""
    actions = []
    for spec in skills:
        model = models.get(spec.name)
        if model is None:
            raise PddlError(f"skill '{spec.name}' needs an action model for the symbolic planner "
                            f"(planner_ros.planning.pddl.ACTION_MODELS has: {', '.join(sorted(models))})")
        _check_model(spec.name, [(p.name, p.optional) for p in spec.params], model)
        actions.append(_action(spec.name, model))
    if not actions:
        raise PddlError("the skill library is empty: nothing to plan with")
    predicates = "\n    ".join(_PREDICATES)
    return (f"(define (domain {DOMAIN_NAME})\n"
            "  (:requirements :strips :typing :equality)\n"
            f"  (:types {_TYPES})\n"
            f"  (:constants {NOWHERE} - location)\n"
            f"  (:predicates\n    {predicates})\n"
            + "\n".join(actions) + "\n)\n")


def parse_action(text: str, names: Mapping[str, str],
                 models: Mapping[str, ActionModel] = ACTION_MODELS) -> tuple[str, dict[str, str]]:
    """A planner's action ("pick apple_1 table") as (skill, arguments) in original ids; hidden
    parameters are dropped."""
    tokens = text.strip().strip("()").split()
    if not tokens:
        raise PddlError(f"empty action {text!r} in the planner's plan")
    name, values = tokens[0].lower(), [t.lower() for t in tokens[1:]]
    model = models.get(name)
    if model is None:
        raise PddlError(f"the planner returned action {text!r}, which has no action model")
    if len(values) != len(model.params):
        raise PddlError(f"the planner returned {text!r}; '{name}' takes {len(model.params)} parameter(s)")
    arguments = {}
    for param, value in zip(model.params, values):
        if param.skill_param is None:
            continue
        if value not in names:
            raise PddlError(f"the planner returned {text!r}; '{value}' is no object of the problem")
        arguments[param.skill_param] = names[value]
    return name, arguments


# -- problem ----------------------------------------------------------------------------------------
def _pddl_names(ids: Iterable[str]) -> dict[str, str]:
    """Original id -> a unique lowercase PDDL name (Fast Downward lowercases names; ids may not)."""
    used = set(_RESERVED)
    out: dict[str, str] = {}
    for original in ids:
        if original in out:
            continue
        base = re.sub(r"[^a-z0-9_-]", "_", original.lower())
        if not base[:1].isalpha():
            base = f"id-{base}"
        name, n = base, 2
        while name in used:
            name, n = f"{base}-{n}", n + 1
        used.add(name)
        out[original] = name
    return out


Atom = tuple[str, ...]   # ("at", "apple_1", "table"), in PDDL names


def _render(atom: Atom) -> str:
    return f"({' '.join(atom)})"


@dataclass(frozen=True)
class PddlProblem:
    text: str
    names: Mapping[str, str]          # PDDL name -> original id
    init: frozenset[Atom]
    goal: tuple[Atom, ...]
    excluded: Mapping[str, str]       # object id -> why the planner cannot use it

    @property
    def satisfied(self) -> bool:
        """The goal holds in the initial state already."""
        return set(self.goal) <= self.init


def encode_problem(view: WorldView, goal: Sequence[Condition]) -> PddlProblem:
    """The planning problem for goal from view (see problem_pddl)."""
    if not goal:
        raise PddlError("no goal conditions: the symbolic planner needs a goal to plan for")
    usable = view.usable_objects()
    holding = view.holding or next((o.id for o in usable.values() if o.relation == "held"), None)
    at: dict[str, str] = {}           # item -> receptacle it is on or in
    missing: dict[str, str] = {}      # object -> why: where it is, nobody knows
    unreachable: dict[str, str] = {}  # object -> why: it lies where no skill can take it from
    for oid, obj in view.objects.items():
        if oid == holding:
            continue
        if oid not in usable:
            missing[oid] = ("was searched for and not found" if oid in view.knowledge.missing
                            else "is missing from the scene graph (not seen where it was)")
        elif obj.relation in ("on", "in") and obj.place in view.receptacles:
            at[oid] = obj.place
        elif obj.relation in ("on", "in"):
            unreachable[oid] = f"is {obj.relation} '{obj.place}', which is not a known receptacle"
        else:
            unreachable[oid] = ("is not on or in any receptacle (on the floor?), "
                                "where the robot's skills cannot reach it")
    items = ([holding] if holding else []) + list(at)
    both = sorted(set(items) & set(view.receptacles))
    if both:
        raise PddlError(f"id '{both[0]}' names both an object and a receptacle")
    to_pddl = _pddl_names(list(view.receptacles) + items)
    n = to_pddl.__getitem__

    init: set[Atom] = {("hand-empty",) if holding is None else ("holding", n(holding))}
    init.add(("robot-at", n(view.robot_at) if view.robot_at in view.receptacles else NOWHERE))
    for rec in view.receptacles.values():
        r = n(rec.id)
        init.add(("accessible", r) if rec.is_open else ("closed", r))
        if rec.part:
            init.add(("openable", r))
            if rec.id not in view.knowledge.locked:
                init.add(("unlocked", r))
        if rec.id not in view.knowledge.blocked:
            init.add(("free", r))
    for item in items:
        if item != holding:
            init.add(("not-holding", n(item)))
        for rec in view.receptacles:
            init.add(("at", n(item), n(rec)) if at.get(item) == rec else ("not-at", n(item), n(rec)))

    goal_atoms: list[Atom] = []
    for condition in goal:
        atom = _goal_atom(condition, view, to_pddl, items, missing, unreachable)
        if atom is not None:
            goal_atoms.append(atom)
    goal_atoms = list(dict.fromkeys(goal_atoms))

    names = {pddl: original for original, pddl in to_pddl.items()}
    text = _problem_text(view, to_pddl, items, init, goal_atoms)
    return PddlProblem(text, names, frozenset(init), tuple(goal_atoms), {**missing, **unreachable})


def _goal_atom(condition: Condition, view: WorldView, to_pddl: Mapping[str, str], items: Sequence[str],
               missing: Mapping[str, str], unreachable: Mapping[str, str]) -> Atom | None:
    """The positive goal fact for condition; None for a negated condition that holds and cannot change."""
    p, args, negated = condition.predicate, condition.args, condition.negated
    if p in ("on", "in", "held"):
        obj = args[0]
        if obj in missing or (obj in unreachable and not negated):
            raise PddlError(f"goal {condition.text}: '{obj}' {missing.get(obj) or unreachable[obj]}")
        if obj not in unreachable and obj not in items:
            raise PddlError(f"goal {condition.text}: '{obj}' is not an object in the scene")
        if p != "held" and args[1] not in view.receptacles:
            raise PddlError(f"goal {condition.text}: '{args[1]}' is not a known receptacle")
        if obj in unreachable:
            return None   # negated, and the object lies where no skill can move it: holds already
        if p == "held":
            return ("not-holding" if negated else "holding", to_pddl[obj])
        return ("not-at" if negated else "at", to_pddl[obj], to_pddl[args[1]])
    if p in ("open", "closed"):
        owner = view.part_owner(args[0])
        if owner is None:
            raise PddlError(f"goal {condition.text}: '{args[0]}' is neither a receptacle nor a door or drawer")
        if not view.receptacles[owner].part:
            raise PddlError(f"goal {condition.text}: '{owner}' has no door or drawer")
        want_open = (p == "open") != negated
        return ("accessible" if want_open else "closed", to_pddl[owner])
    raise PddlError(f"goal {condition.text}: the symbolic planner has no encoding for '{p}'")


def _problem_text(view: WorldView, to_pddl: Mapping[str, str], items: Sequence[str], init: Iterable[Atom],
                  goal: Sequence[Atom]) -> str:
    objects = []
    if items:
        objects.append(" ".join(to_pddl[i] for i in items) + " - item")
    if view.receptacles:
        objects.append(" ".join(to_pddl[r] for r in view.receptacles) + " - place")
    facts = "\n    ".join(_render(atom) for atom in sorted(init))
    goals = " ".join(_render(atom) for atom in goal)
    return (f"(define (problem task)\n"
            f"  (:domain {DOMAIN_NAME})\n"
            f"  (:objects {'  '.join(objects)})\n"
            f"  (:init\n    {facts})\n"
            f"  (:goal (and {goals})))\n")


def problem_pddl(view: WorldView, goal: Sequence[Condition]) -> tuple[str, dict[str, str]]:
    """The PDDL problem and the map from its names back to the original ids.

    Objects are the usable objects on or in a receptacle or held, and every receptacle; objects on the
    floor, on unknown places or missing are left out, and a goal that needs one raises PddlError.
    """
    problem = encode_problem(view, goal)
    return problem.text, dict(problem.names)
