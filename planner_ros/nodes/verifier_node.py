"""verifier_node: did an executed step achieve its expected effects? Serves /verify_step.

Backends (parameter `backend`):
  scene_graph (the embedded default): each expected effect is checked against a scene graph built from
    observations made after the step started (it waits up to fresh_timeout_s for one; without it the answer is
    UNKNOWN, never a success it did not observe). An executor's failure is never overruled; it is diagnosed
    (locked, jammed, blocked, missing, moved, slipped) for the planner's replanning prompt.
  vlm (RePLan): one yes/no question per expected effect ("Is the apple inside the fridge?"), asked with the
    newest colour image of each camera taken after the step started, `vlm.samples` answers and a majority;
    failures get a VLM diagnosis. See planner_ros.verification.vlm_verifier.
  combined: the scene graph first, the VLM only when the scene graph answers UNKNOWN or has nothing it can
    check (navigate_to).

Parameters:
  semantic_map (str, "sim:kitchen_a"): the same map the scene graph node uses (containers, doors; their labels
    name them in VLM questions).
  fresh_timeout_s (float, 3.0): how long to wait for a fresh scene graph, and for fresh camera images.
  backend (str, "scene_graph"): scene_graph | vlm | combined.
  vlm.backend ("openai" | "transformers"), vlm.base_url, vlm.model, vlm.api_key_env ("OPENAI_API_KEY"),
    vlm.timeout_s (20), vlm.max_retries (1), vlm.device ("cpu"), vlm.local_files_only (true): the vision
    model, as the planner's llm.* (an OpenAI-compatible vision endpoint, or a local transformers
    vision-language model directory or hub id). The planner's verify_timeout_s bounds a whole verification
    (every question and the diagnosis): keep the VLM's timeouts well inside it.
  vlm.samples (int, 3), vlm.temperature (float, 0.2): answers per question and their sampling temperature.
  cameras (string[], [kitchen_overview, table_cam, head_rgbd]), color_topic ("/{camera}/color/image_raw"):
    the colour images the VLM sees (vlm and combined only).
Subscribes: /scene_graph (scene_graph, combined); the cameras' colour topics (vlm, combined).
Serves: /verify_step (VerifyStep).
"""
from __future__ import annotations

from rclpy.callback_groups import MutuallyExclusiveCallbackGroup, ReentrantCallbackGroup
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import Image

from planner_ros import conversions as cs
from planner_ros.llm import LLMError
from planner_ros.nodes._common import StartupError, declare, spin_node
from planner_ros.nodes._scene_graph_follower import SceneGraphFollower
from planner_ros.nodes.scene_graph_node import load_semantic_map
from planner_ros.planning.conditions import GoalError, parse_condition
from planner_ros.planning.interfaces import Verdict, VerdictStatus, VerifyRequest
from planner_ros.planning.prompts import TemplateError
from planner_ros.scene_graph.semantic_map import MapError
from planner_ros.skills import DEFAULT_SKILLS, FailureCode, SkillOutcome, SkillValidationError
from planner_ros.verification.scene_graph_verifier import BACKEND, SceneGraphVerifier
from planner_ros.verification.vlm_verifier import CombinedVerifier, LatestImages, VLMVerifier, make_vision_model
from planner_ros_interfaces.srv import VerifyStep

BACKENDS = (BACKEND, "vlm", "combined")
VLM_DEFAULTS = (("backend", "openai"), ("base_url", ""), ("model", ""), ("api_key_env", "OPENAI_API_KEY"),
                ("timeout_s", 20.0), ("max_retries", 1), ("device", "cpu"), ("local_files_only", True))


class VerifierNode(Node):
    def __init__(self) -> None:
        super().__init__("verifier")
        spec = declare(self, "semantic_map", "sim:kitchen_a", "semantic map JSON file, or sim:<layout>")
        fresh = float(declare(self, "fresh_timeout_s", 3.0, "wait this long for a fresh scene graph or image"))
        backend = declare(self, "backend", BACKEND, "verification backend: " + " | ".join(BACKENDS))
        vlm_config = {key: declare(self, f"vlm.{key}", default, f"vision model: {key}") for key, default in VLM_DEFAULTS}
        samples = int(declare(self, "vlm.samples", 3, "VLM answers per question (majority vote)"))
        temperature = float(declare(self, "vlm.temperature", 0.2, "VLM sampling temperature"))
        cameras = list(declare(self, "cameras", ["kitchen_overview", "table_cam", "head_rgbd"], "VLM camera names"))
        color_topic = declare(self, "color_topic", "/{camera}/color/image_raw", "colour topic pattern")
        if backend not in BACKENDS:
            raise StartupError(f"verifier backend {backend!r} is not one of {', '.join(BACKENDS)}")
        try:
            semantic_map = load_semantic_map(spec)
        except (MapError, OSError) as err:
            raise StartupError(f"cannot load the semantic map {spec!r}: {err}") from err
        scene_graph = vlm = None
        if backend in (BACKEND, "combined"):
            self.follower = SceneGraphFollower(self, semantic_map, fresh_timeout_s=fresh,
                                               callback_group=MutuallyExclusiveCallbackGroup())
            scene_graph = SceneGraphVerifier(self.follower)
        if backend in ("vlm", "combined"):
            labels = {r.id: r.label for r in semantic_map.receptacles.values()}
            labels.update({p.id: p.label for p in semantic_map.parts.values()})
            self.images = LatestImages(wait_s=fresh)
            try:
                model = make_vision_model(vlm_config)
                vlm = VLMVerifier(model, self.images, samples=samples, temperature=temperature, cameras=cameras,
                                  labels=labels)
            except (ValueError, LLMError, TemplateError) as err:
                raise StartupError(f"verifier backend {backend!r}: cannot build the vision model: {err}") from err
            group = MutuallyExclusiveCallbackGroup()  # images keep arriving while a verification waits for them
            for camera in cameras:
                self.create_subscription(Image, color_topic.format(camera=camera),
                                         lambda msg, camera=camera: self._on_image(camera, msg),
                                         qos_profile_sensor_data, callback_group=group)
        self.verifier = CombinedVerifier(scene_graph, vlm) if scene_graph and vlm else scene_graph or vlm
        self.create_service(VerifyStep, "verify_step", self._verify, callback_group=ReentrantCallbackGroup())
        self.get_logger().info(f"verifier ready: backend {self.verifier.name}")

    def _on_image(self, camera: str, msg: Image) -> None:
        try:
            self.images.put(camera, cs.color_to_rgb(msg), cs.time_to_seconds(msg.header.stamp))
        except ValueError as err:  # cs.ImageConversionError (an unsupported encoding) and a bad shape
            self.get_logger().warning(f"{camera}: colour image ignored: {err}", throttle_duration_sec=10.0)

    def _verify(self, request, response):
        try:
            call = DEFAULT_SKILLS.validate(request.skill, cs.arguments_from_msg(request.arguments))
            expected = tuple(parse_condition(c) for c in request.expected_effects)
        except (SkillValidationError, GoalError) as err:
            reason = err.reason if isinstance(err, SkillValidationError) else str(err)
            return cs.verdict_to_response(Verdict(VerdictStatus.UNKNOWN, 0.0, f"cannot verify: {reason}",
                                                  backend=self.verifier.name), response)
        failure = request.executor_failure
        outcome = SkillOutcome(request.executor_success, FailureCode(failure.code), failure.reason)
        verdict = self.verifier.verify(VerifyRequest(request.instruction, call, outcome, expected,
                                                     cs.time_to_seconds(request.after), request.diagnose))
        if verdict.status != VerdictStatus.SUCCESS:
            self.get_logger().info(f"{call.text}: {verdict.status.name} ({verdict.reason})")
        return cs.verdict_to_response(verdict, response)


def main(args: list[str] | None = None) -> int:
    return spin_node(VerifierNode, threads=4, args=args)


if __name__ == "__main__":
    raise SystemExit(main())
