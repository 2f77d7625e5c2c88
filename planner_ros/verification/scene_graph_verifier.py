"""The embedded default verifier: a step's expected effects checked against a fresh scene graph view.

Fresh means built from observations made after the step started: the verifier asks its observer for
such a view (the observer waits for perception within its timeout) and answers UNKNOWN when it gets
none, rather than trusting state from before the step. An executor's failure is never overruled; it is
diagnosed (locked, jammed, blocked, missing, moved, slipped, not reachable) with the evidence the view
gives, in words the planner can put into a replanning prompt.
"""
from __future__ import annotations

from planner_ros.planning.affordance import condition_holds
from planner_ros.planning.conditions import Condition
from planner_ros.planning.interfaces import Observer, Verdict, VerdictStatus, VerifyRequest
from planner_ros.planning.world import ObjectStatus, WorldView
from planner_ros.skills import FailureCode, SkillCall

__all__ = ["SceneGraphVerifier", "diagnose", "whereabouts"]

BACKEND = "scene_graph"


def whereabouts(view: WorldView, oid: str) -> str:
    obj = view.objects.get(oid)
    if obj is None:
        return "not in the scene graph"
    if obj.status is ObjectStatus.MISSING:
        return "missing (not seen where it was)"
    if obj.relation == "held":
        return "in the gripper"
    if obj.relation in ("on", "in"):
        return f"{obj.relation} {obj.place}"
    return "on the floor or somewhere no skill can reach"


def _object_of(call: SkillCall, view: WorldView) -> str:
    """The object a call is about: its object argument (known to the view or not), or a target that is one."""
    if call.arg("object"):
        return call.arg("object")
    target = call.arg("target")
    return target if target in view.objects else ""


def diagnose(call: SkillCall, code: FailureCode, reason: str, view: WorldView) -> tuple[FailureCode, str, str]:
    """(cause, explanation, subject) for a failed step, refined with what the scene graph shows now."""
    oid = _object_of(call, view)
    target = call.arg("target") or ""
    if code in (FailureCode.LOCKED, FailureCode.JAMMED):
        owner = view.part_owner(target) or target
        return code, f"{owner} does not open ({'locked' if code == FailureCode.LOCKED else 'jammed'}): {reason}", owner
    if code == FailureCode.SLIPPED and oid:
        return code, f"{oid} slipped out of the gripper; it is now {whereabouts(view, oid)}", oid
    if oid and code in (FailureCode.NOT_REACHABLE, FailureCode.OBJECT_MISSING, FailureCode.UNKNOWN_OBJECT,
                        FailureCode.EXECUTION_ERROR):
        obj = view.objects.get(oid)
        if obj is None or obj.status is ObjectStatus.MISSING or code == FailureCode.OBJECT_MISSING:
            return FailureCode.OBJECT_MISSING, f"{oid} is not where it was expected: {reason}", oid
        if obj.relation in ("on", "in") and view.robot_at and obj.place != view.robot_at and call.skill == "pick":
            return FailureCode.OBJECT_MOVED, f"{oid} is now {obj.relation} {obj.place}, not at {view.robot_at}", oid
    if code == FailureCode.BLOCKED:
        return code, f"{target or call.text} is blocked: {reason}", target
    return code, reason, oid or target


class SceneGraphVerifier:
    name = BACKEND

    def __init__(self, observer: Observer) -> None:
        self.observer = observer

    def verify(self, request: VerifyRequest) -> Verdict:
        view = self.observer.observe(request.after_s)
        view = view.with_robot_at(request.robot_at or view.robot_at)
        failed = tuple(c.text for c in request.expected if not condition_holds(c, view))
        outcome = request.outcome
        if not outcome.success:
            code, text, subject = diagnose(request.call, outcome.code, outcome.reason, view)
            return Verdict(VerdictStatus.FAILURE, 1.0, f"the robot reported {outcome.code.name}: {outcome.reason}",
                           failed, code, text, subject, BACKEND)
        if view.stamp_s < request.after_s:
            return Verdict(VerdictStatus.UNKNOWN, 0.0, f"no scene graph observation after t={request.after_s:.2f} s "
                                                       f"(latest {view.stamp_s:.2f} s)", failed, backend=BACKEND)
        if not request.expected:
            return Verdict(VerdictStatus.SUCCESS, 0.6, "the executor succeeded; nothing the scene graph shows to "
                                                       "check for this skill", backend=BACKEND)
        if failed:
            code, text, subject = self._unmet(request.call, view, request.expected)
            return Verdict(VerdictStatus.FAILURE, 0.8, f"not observed after {request.call.text}: {', '.join(failed)}",
                           failed, code, text, subject, BACKEND)
        return Verdict(VerdictStatus.SUCCESS, 0.9, "observed: " + ", ".join(c.text for c in request.expected),
                       backend=BACKEND)

    @staticmethod
    def _unmet(call: SkillCall, view: WorldView, expected: tuple[Condition, ...]) -> tuple[FailureCode, str, str]:
        if call.skill == "navigate_to":
            oid = next(c.args[0] for c in expected if c.predicate == "held")
            return (FailureCode.SLIPPED, f"{oid} fell out of the gripper on the way to {call.arg('target')}; "
                                         f"it is {whereabouts(view, oid)}", oid)
        oid = _object_of(call, view)
        if call.skill == "pick":
            return FailureCode.SLIPPED, f"{oid} is not in the gripper; it is {whereabouts(view, oid)}", oid
        if call.skill == "place":
            code = FailureCode.OBJECT_MISSING if oid and view.objects[oid].status is ObjectStatus.MISSING \
                else FailureCode.EXECUTION_ERROR
            return code, f"{oid} is {whereabouts(view, oid)}, not {call.arg('target')}", oid
        target = call.arg("target") or ""
        owner = view.part_owner(target) or target
        opening = view.receptacles[owner].opening if owner in view.receptacles else float("nan")
        if call.skill == "open":
            return FailureCode.JAMMED, f"{owner} looks only {opening:.0%} open", owner
        return FailureCode.BLOCKED, f"{owner} looks {opening:.0%} open after closing", owner
