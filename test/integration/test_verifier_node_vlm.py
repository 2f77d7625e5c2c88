"""verifier_node with the VLM backend over DDS: real camera images from sim_node go, as base64 data URLs,
to an OpenAI-compatible vision endpoint on loopback. The endpoint is ScriptedOpenAIServer, a TEST DOUBLE
replaying scripted answers (no vision model can run here); the node, the images, the HTTP and the
/verify_step service are real. A yes majority is success, answers that are not yes/no and a timeout are
UNKNOWN with the reason, never success."""
from __future__ import annotations

import rclpy
from launcher_process import ProbeNode, bringup_with_probe
from llm_double import ScriptedOpenAIServer
from rosgraph_msgs.msg import Clock

from planner_ros import conversions as cs
from planner_ros.planning.interfaces import VerdictStatus
from planner_ros_interfaces.srv import VerifyStep

BRINGUP = """
use_sim_time: true
nodes:
  - name: sim
    executable: sim_node
    parameters:
      - scenario: "fetch_apple_to_counter:clean"
        cameras: [kitchen_overview]
        camera_rate_hz: 2.0
  - name: verifier
    executable: verifier_node
    parameters:
      - semantic_map: "sim:kitchen_a"
        backend: vlm
        vlm.base_url: "{url}"
        vlm.model: scripted-vlm
        vlm.samples: 3
        vlm.timeout_s: 3.0
        vlm.max_retries: 0
        cameras: [kitchen_overview]
        fresh_timeout_s: 10.0
"""
SCRIPT = ["yes", "Yes.", "no",                    # 1: a yes majority
          "maybe", "I cannot tell", "banana",     # 2: nothing parses
          {"delay_s": 30.0, "text": "yes"}, "yes", "yes"]   # 3: the endpoint does not answer in time


class Probe(ProbeNode):
    def __init__(self) -> None:
        super().__init__("vlm_verifier_probe")
        self.clock: list[Clock] = []
        self.create_subscription(Clock, "/clock", self.clock.append, 10)
        self.client = self.create_client(VerifyStep, "verify_step")

    def verify(self):
        self.spin_until(lambda: bool(self.clock), 60, "/clock")
        request = VerifyStep.Request(instruction="Bring the apple to the counter.", skill="pick",
                                     arguments=cs.arguments_to_msg({"object": "apple_1"}), executor_success=True,
                                     expected_effects=["held(apple_1)"], after=self.clock[-1].clock)
        assert self.client.wait_for_service(timeout_sec=60)
        future = self.client.call_async(request)
        rclpy.spin_until_future_complete(self, future, timeout_sec=60)
        assert future.done(), "no answer from /verify_step"
        return cs.verdict_from_response(future.result())


def test_vlm_verifier_node_asks_with_real_images_and_never_claims_what_it_did_not_parse(tmp_path):
    with ScriptedOpenAIServer(SCRIPT) as server:
        path = tmp_path / "bringup" / "vlm.yaml"
        with bringup_with_probe(path, BRINGUP.format(url=server.url), Probe) as (probe, launcher):
            yes = probe.verify()
            assert yes.status is VerdictStatus.SUCCESS, (yes, launcher.output)
            assert yes.backend.startswith("vlm") and yes.model_calls >= 1 and yes.prompt_tokens > 0
            body = server.requests[0]
            assert body["model"] == "scripted-vlm" and body.get("n") == 3
            parts = [p for m in body["messages"] if isinstance(m["content"], list) for p in m["content"]]
            images = [p["image_url"]["url"] for p in parts if p.get("type") == "image_url"]
            assert images and all(u.startswith("data:image/") and ";base64," in u for u in images)
            assert any("apple" in p.get("text", "").lower() for p in parts if p.get("type") == "text")

            unparsed = probe.verify()
            assert unparsed.status is VerdictStatus.UNKNOWN and unparsed.reason, unparsed

            timed_out = probe.verify()
            assert timed_out.status is VerdictStatus.UNKNOWN, timed_out
            assert "time" in timed_out.reason.lower(), timed_out.reason
