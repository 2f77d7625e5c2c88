"""verifier_node: did an executed step achieve its expected effects? Serves /verify_step.

Backend `scene_graph` (the embedded default): each expected effect is checked against a scene graph built
from observations made after the step started (it waits up to fresh_timeout_s for one; without it the
answer is UNKNOWN, never a success it did not observe). An executor's failure is never overruled; it is
diagnosed (locked, jammed, blocked, missing, moved, slipped) for the planner's replanning prompt.

Parameters:
  semantic_map (str, "sim:kitchen_a"): the same map the scene graph node uses (containers, doors).
  fresh_timeout_s (float, 3.0): how long to wait for a fresh scene graph.
  backend (str, "scene_graph"): the only backend built so far (a VLM backend is the Verifier issue's).
Subscribes: /scene_graph. Serves: /verify_step (VerifyStep).
"""
from __future__ import annotations

from rclpy.callback_groups import MutuallyExclusiveCallbackGroup, ReentrantCallbackGroup
from rclpy.node import Node

from planner_ros import conversions as cs
from planner_ros.nodes._common import StartupError, declare, spin_node
from planner_ros.nodes._scene_graph_follower import SceneGraphFollower
from planner_ros.nodes.scene_graph_node import load_semantic_map
from planner_ros.planning.conditions import GoalError, parse_condition
from planner_ros.planning.interfaces import Verdict, VerdictStatus, VerifyRequest
from planner_ros.scene_graph.semantic_map import MapError
from planner_ros.skills import DEFAULT_SKILLS, FailureCode, SkillOutcome, SkillValidationError
from planner_ros.verification.scene_graph_verifier import BACKEND, SceneGraphVerifier
from planner_ros_interfaces.srv import VerifyStep


class VerifierNode(Node):
    def __init__(self) -> None:
        super().__init__("verifier")
        spec = declare(self, "semantic_map", "sim:kitchen_a", "semantic map JSON file, or sim:<layout>")
        fresh = float(declare(self, "fresh_timeout_s", 3.0, "wait this long for a fresh scene graph"))
        backend = declare(self, "backend", BACKEND, "verification backend")
        if backend != BACKEND:
            raise StartupError(f"verifier backend {backend!r} is not available; built: {BACKEND!r} (the VLM backend "
                               "is not implemented yet)")
        try:
            semantic_map = load_semantic_map(spec)
        except (MapError, OSError) as err:
            raise StartupError(f"cannot load the semantic map {spec!r}: {err}") from err
        self.follower = SceneGraphFollower(self, semantic_map, fresh_timeout_s=fresh,
                                           callback_group=MutuallyExclusiveCallbackGroup())
        self.verifier = SceneGraphVerifier(self.follower)
        self.create_service(VerifyStep, "verify_step", self._verify, callback_group=ReentrantCallbackGroup())

    def _verify(self, request, response):
        try:
            call = DEFAULT_SKILLS.validate(request.skill, cs.arguments_from_msg(request.arguments))
            expected = tuple(parse_condition(c) for c in request.expected_effects)
        except (SkillValidationError, GoalError) as err:
            reason = err.reason if isinstance(err, SkillValidationError) else str(err)
            return cs.verdict_to_response(Verdict(VerdictStatus.UNKNOWN, 0.0, f"cannot verify: {reason}",
                                                  backend=BACKEND), response)
        failure = request.executor_failure
        outcome = SkillOutcome(request.executor_success, FailureCode(failure.code), failure.reason)
        verdict = self.verifier.verify(VerifyRequest(request.instruction, call, outcome, expected,
                                                     cs.time_to_seconds(request.after), request.diagnose))
        if verdict.status != VerdictStatus.SUCCESS:
            self.get_logger().info(f"{call.text}: {verdict.status.name} ({verdict.reason})")
        return cs.verdict_to_response(verdict, response)


def main(args: list[str] | None = None) -> int:
    return spin_node(VerifierNode, threads=3, args=args)


if __name__ == "__main__":
    raise SystemExit(main())
