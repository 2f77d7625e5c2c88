"""Can a step run now, and what should it change? The default skills' symbolic model, on a WorldView.

The same semantics as the PDDL action models (planner_ros.planning.pddl) and the symbolic world: the robot
stands at a receptacle to use it or what lies on or in it, containers must be open to reach into, doors
and drawers need a free hand. Used by the offline decider (SayCan-style affordance), to skip steps whose
effects already hold after a backtrack, and to tell the verifier what a step should have achieved.
"""
from __future__ import annotations

from dataclasses import replace

from planner_ros.planning.conditions import Condition
from planner_ros.planning.world import ObjectStatus, WorldView
from planner_ros.skills import SkillCall

__all__ = ["apply_effects", "condition_holds", "effects_hold", "expected_effects", "preconditions", "reaches"]


def condition_holds(condition: Condition, view: WorldView) -> bool:
    """A goal condition against the planner's view (its belief, not ground truth)."""
    p, args = condition.predicate, condition.args
    if p in ("on", "in"):
        obj = view.objects.get(args[0])
        value = (obj is not None and obj.status is not ObjectStatus.MISSING and obj.relation == p
                 and obj.place == args[1])
    elif p == "held":
        value = view.holding == args[0]
    else:
        owner = view.part_owner(args[0])
        rec = view.receptacles.get(owner) if owner else None
        value = rec is not None and bool(rec.part) and (rec.is_open if p == "open" else not rec.is_open)
    return value != condition.negated


def preconditions(call: SkillCall, view: WorldView) -> tuple[bool, str]:
    """(True, "") when the call's preconditions hold in view, else (False, what is wrong)."""
    skill = call.skill
    if skill == "navigate_to":
        target = call.arg("target")
        if view.place_of(target) is None:
            return False, f"no known place to stand near '{target}'"
        return True, ""
    if skill == "pick":
        oid = call.arg("object")
        obj = view.usable_objects().get(oid)
        if obj is None:
            return False, f"'{oid}' is not a known, present object"
        if view.holding:
            return False, f"the hand holds '{view.holding}'"
        place = view.place_of(oid)
        if place is None:
            return False, f"'{oid}' is not on or in any receptacle the robot can reach"
        if view.robot_at != place:
            return False, f"the robot is not at '{place}'"
        if not view.receptacles[place].is_open:
            return False, f"'{place}' is closed"
        return True, ""
    if skill == "place":
        oid, target = call.arg("object"), call.arg("target")
        if view.holding != oid:
            return False, f"the hand does not hold '{oid}'"
        rec = view.receptacles.get(target)
        if rec is None:
            return False, f"'{target}' is not a receptacle"
        if view.robot_at != target:
            return False, f"the robot is not at '{target}'"
        if not rec.is_open:
            return False, f"'{target}' is closed"
        if target in view.knowledge.blocked:
            return False, f"'{target}' is blocked"
        return True, ""
    if skill in ("open", "close"):
        owner = view.part_owner(call.arg("target"))
        rec = view.receptacles.get(owner) if owner else None
        if rec is None or not rec.part:
            return False, f"'{call.arg('target')}' has no door or drawer"
        if view.holding:
            return False, f"the hand holds '{view.holding}'"
        if view.robot_at != owner:
            return False, f"the robot is not at '{owner}'"
        if skill == "open" and owner in view.knowledge.locked:
            return False, f"'{owner}' does not open (locked or jammed)"
        return True, ""
    return False, f"no symbolic model for skill '{skill}'"


def expected_effects(call: SkillCall, view: WorldView) -> tuple[Condition, ...]:
    """What should hold after the call succeeds, as conditions the verifier can check."""
    skill = call.skill
    if skill == "pick":
        return (Condition("held", (call.arg("object"),)),)
    if skill == "place":
        oid, target = call.arg("object"), call.arg("target")
        rec = view.receptacles.get(target)
        predicate = "in" if rec is not None and rec.container else "on"
        return (Condition(predicate, (oid, target)), Condition("held", (oid,), negated=True))
    if skill in ("open", "close"):
        owner = view.part_owner(call.arg("target"))
        part = view.receptacles[owner].part if owner in view.receptacles else call.arg("target")
        return (Condition("open" if skill == "open" else "closed", (part,)),)
    # navigate_to: arriving is the robot's own odometry, not something the scene graph shows; what it
    # carries must still be in the gripper on arrival (an object can slip while driving).
    return (Condition("held", (view.holding,)),) if view.holding else ()


def effects_hold(call: SkillCall, view: WorldView) -> bool:
    """Whether running call now would change nothing the plan needs (so after a backtrack it can be kept)."""
    if call.skill == "navigate_to":
        return view.robot_at is not None and view.robot_at == view.place_of(call.arg("target"))
    effects = expected_effects(call, view)
    return bool(effects) and all(condition_holds(c, view) for c in effects)


def apply_effects(call: SkillCall, view: WorldView) -> WorldView:
    """The view as it would be after call succeeds (for looking ahead along a branch; not ground truth)."""
    skill = call.skill
    if skill == "navigate_to":
        return replace(view, robot_at=view.place_of(call.arg("target")))
    objects = dict(view.objects)
    receptacles = dict(view.receptacles)
    holding = view.holding
    if skill == "pick":
        oid = call.arg("object")
        objects[oid] = replace(objects[oid], relation="held", place="")
        holding = oid
    elif skill == "place":
        oid, target = call.arg("object"), call.arg("target")
        objects[oid] = replace(objects[oid], relation="in" if receptacles[target].container else "on", place=target)
        holding = None
    elif skill in ("open", "close"):
        owner = view.part_owner(call.arg("target"))
        receptacles[owner] = replace(receptacles[owner], opening=1.0 if skill == "open" else 0.0)
    return replace(view, objects=objects, receptacles=receptacles, holding=holding)


def reaches(steps, view: WorldView, goal) -> bool:
    """Whether running steps from view (keeping those whose effects already hold) ends with goal true,
    every step's preconditions holding when its turn comes."""
    for call in steps:
        if effects_hold(call, view):
            continue
        if not preconditions(call, view)[0]:
            return False
        view = apply_effects(call, view)
    return all(condition_holds(c, view) for c in goal)
