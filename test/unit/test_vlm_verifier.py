"""The VLM verifier (RePLan) against ScriptedOpenAIServer, a TEST DOUBLE of an OpenAI vision chat endpoint on
loopback with scripted answers: questions from conditions, strict answer parsing, majority votes, diagnosis,
endpoint failures, missing images, the combined verifier and usage counts. No ROS, no model."""
from __future__ import annotations

import base64
import io
import threading
import time

import numpy as np
import pytest
from llm_double import ScriptedOpenAIServer

from planner_ros.llm import LLMError, OpenAIChatModel
from planner_ros.llm import openai_http
from planner_ros.planning.conditions import Condition, parse_condition
from planner_ros.planning.interfaces import Verdict, VerdictStatus, VerifyRequest
from planner_ros.planning.prompts import documented_fields, load_template
from planner_ros.skills import FailureCode, SkillCall, SkillOutcome
from planner_ros.verification.vlm_verifier import (
    DIAGNOSIS_FIELDS,
    QUESTION_FIELDS,
    CameraImage,
    CombinedVerifier,
    LatestImages,
    VLMVerifier,
    make_vision_model,
    parse_diagnosis,
    parse_yes_no,
    questions_for,
)

LABELS = {"apple_1": "apple", "fridge": "fridge", "fridge_door": "fridge door", "table": "dining table"}
OK = SkillOutcome(True)
PLACE = SkillCall("place", (("object", "apple_1"), ("target", "fridge")))
OPEN = SkillCall("open", (("target", "fridge_door"),))
PLACE_EFFECTS = (parse_condition("in(apple_1, fridge)"), parse_condition("not held(apple_1)"))


class FakeImages:
    """An ImageSource holding fixed images; records what it was asked."""

    def __init__(self, images: list[CameraImage]) -> None:
        self.images = images
        self.asked: list[tuple[tuple[str, ...], float]] = []

    def latest(self, cameras, after_s):
        self.asked.append((tuple(cameras), after_s))
        return [i for i in self.images if i.stamp_s >= after_s and (not cameras or i.camera in cameras)]


def _rgb(value: int) -> np.ndarray:
    return np.full((6, 8, 3), value, dtype=np.uint8)


IMAGES = [CameraImage("kitchen_overview", _rgb(10), 5.0), CameraImage("table_cam", _rgb(200), 5.2)]


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(openai_http, "_sleep", lambda s: None)


def _verifier(server: ScriptedOpenAIServer, images=IMAGES, *, timeout_s: float = 5.0, max_retries: int = 0,
              **kwargs) -> VLMVerifier:
    model = OpenAIChatModel(server.url, "vision-test", timeout_s=timeout_s, max_retries=max_retries, backoff_s=0.001)
    return VLMVerifier(model, FakeImages(list(images)), labels=LABELS, **kwargs)


def _request(call=PLACE, expected=PLACE_EFFECTS, outcome=OK, after_s=4.0, diagnose=False) -> VerifyRequest:
    return VerifyRequest("put the apple in the fridge", call, outcome, tuple(expected), after_s, diagnose)


def _decoded_pixels(url: str) -> np.ndarray:
    from PIL import Image
    header, data = url.split(",", 1)
    assert header == "data:image/png;base64"
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(data))))


# -- questions and parsing ---------------------------------------------------------------------------------
def test_questions_from_conditions_read_naturally():
    conditions = [parse_condition(t) for t in ("in(apple_1, fridge)", "on(mug_2, table)", "held(apple_1)",
                                               "open(fridge_door)", "closed(cabinet_door)", "not held(apple_1)",
                                               "not in(milk_carton_1, fridge)")]
    questions = questions_for(conditions, LABELS)
    assert [q.text for q in questions] == [
        "Is the apple inside the fridge?", "Is the mug on the dining table?",
        "Is the robot's gripper holding the apple?", "Is the fridge door open?", "Is the cabinet door closed?",
        "Is the robot's gripper holding the apple?", "Is the milk carton inside the fridge?"]
    assert [q.expected for q in questions] == [True] * 5 + [False, False]
    assert questions[0].condition == conditions[0]


def test_questions_refuse_a_predicate_they_cannot_ask():
    with pytest.raises(ValueError, match="no yes/no question for the condition 'under"):
        questions_for([Condition("under", ("apple_1", "table"))], LABELS)


@pytest.mark.parametrize("text, expected", [
    ("yes", True), ("Yes.", True), ("YES!", True), ("  no  ", False), ("No.", False),
    ("Yes, the apple is in the fridge.", True), ("No. The apple is still on the table.", False),
    ("No, the gripper is empty and nothing else.", False),
])
def test_parse_yes_no_accepts_plain_answers(text, expected):
    assert parse_yes_no(text) is expected


@pytest.mark.parametrize("text", ["", "maybe", "Yes and no", "yes no", "Yes, or no.", "I think yes",
                                  "Yeah", "yes\nno", "Yes the apple is there", "Nope", None])
def test_parse_yes_no_rejects_everything_else(text):
    assert parse_yes_no(text) is None


def test_parse_diagnosis_is_strict():
    assert parse_diagnosis("locked: the door did not move") == ("locked", "the door did not move")
    assert parse_diagnosis("Not reachable: the apple is at the back") == ("not_reachable", "the apple is at the back")
    assert parse_diagnosis("  SLIPPED : the apple lies on the floor. ") == ("slipped", "the apple lies on the floor.")
    for bad in ("", "locked", "broken: the door fell off", "the door is locked", "locked:", "locked: a\nb",
                "locked - the door did not move"):
        assert parse_diagnosis(bad) is None, bad


def test_the_templates_load_with_their_documented_fields():
    assert set(documented_fields("verify_question")) == set(QUESTION_FIELDS)
    assert set(documented_fields("diagnose_failure")) == set(DIAGNOSIS_FIELDS)
    for name, fields in (("verify_question", QUESTION_FIELDS), ("diagnose_failure", DIAGNOSIS_FIELDS)):
        body = load_template(name, fields)
        text = body.format(**{f: f"<<{f}>>" for f in fields})
        assert all(f"<<{f}>>" in text for f in fields) and "{" not in text


# -- verification --------------------------------------------------------------------------------------------
def test_request_carries_every_camera_image_and_the_question():
    with ScriptedOpenAIServer(["Yes"] * 3 + ["No"] * 3) as server:
        verifier = _verifier(server)
        verdict = verifier.verify(_request())
    assert verifier.images.asked == [((), 4.0)]
    first = server.requests[0]
    assert first["model"] == "vision-test" and first["n"] == 3 and first["temperature"] == 0.2
    (message,) = first["messages"]
    assert message["role"] == "user"
    parts = message["content"]
    urls = [p["image_url"]["url"] for p in parts if p["type"] == "image_url"]
    texts = [p["text"] for p in parts if p["type"] == "text"]
    assert len(urls) == 2
    np.testing.assert_array_equal(_decoded_pixels(urls[0]), _rgb(10))
    np.testing.assert_array_equal(_decoded_pixels(urls[1]), _rgb(200))
    assert "Is the apple inside the fridge?" in texts[-1] and "kitchen_overview, table_cam" in texts[-1]
    assert texts[0].startswith("Image from camera kitchen_overview")
    second_texts = [p["text"] for p in server.requests[1]["messages"][0]["content"] if p["type"] == "text"]
    assert "Is the robot's gripper holding the apple?" in second_texts[-1]
    assert verdict.status == VerdictStatus.SUCCESS and len(server.requests) == 2


def test_yes_majority_is_success_with_vote_fraction_and_usage():
    # in(apple, fridge): yes, yes, maybe -> holds; not held(apple): no x3 -> holds.
    with ScriptedOpenAIServer(["Yes, it is on the middle shelf.", "yes", "maybe", "No", "No.", "no"]) as server:
        verdict = _verifier(server).verify(_request())
    assert verdict.status == VerdictStatus.SUCCESS
    assert verdict.confidence == pytest.approx(5 / 6)
    assert verdict.backend == "vlm:openai:vision-test" and verdict.failed == ()
    assert "unparsable 1 of 3" in verdict.reason
    assert verdict.model_calls == 2 == len(server.requests)
    assert verdict.prompt_tokens > 0 and verdict.completion_tokens == 7 + 1 + 1 + 1 + 1 + 1
    assert verdict.diagnosis == FailureCode.NONE  # no diagnosis asked on success


def test_no_majority_is_failure_naming_the_condition_with_a_diagnosis():
    script = ["No, it is on the table.", "no", "No",                  # in(apple, fridge): contradicted
              "No", "no", "No",                                       # not held(apple): holds
              "blocked: the fridge shelf is full of bottles."] * 3    # the diagnosis
    with ScriptedOpenAIServer(script[:6] + script[6:7] * 3) as server:
        verdict = _verifier(server).verify(_request())
    assert verdict.status == VerdictStatus.FAILURE
    assert verdict.failed == ("in(apple_1, fridge)",)
    assert verdict.confidence == pytest.approx(1.0)
    assert "not observed after place(apple_1, fridge): in(apple_1, fridge)" in verdict.reason
    assert verdict.diagnosis == FailureCode.BLOCKED and verdict.subject == "apple_1"
    assert verdict.diagnosis_text.startswith("the fridge shelf is full of bottles.")
    assert "3 of 3 answers" in verdict.diagnosis_text and "kitchen_overview, table_cam" in verdict.diagnosis_text
    assert verdict.model_calls == 3 == len(server.requests)
    diagnosis_text = server.requests[2]["messages"][0]["content"][-1]["text"]
    assert "place(apple_1, fridge)" in diagnosis_text and "- in(apple_1, fridge)" in diagnosis_text
    assert "- not_reachable:" in diagnosis_text


def test_malformed_answers_are_counted_and_without_majority_unknown():
    with ScriptedOpenAIServer(["maybe", "", "Yes and no"]) as server:
        verifier = _verifier(server)
        verdict = verifier.verify(_request(expected=PLACE_EFFECTS[:1]))
    assert verdict.status == VerdictStatus.UNKNOWN and verdict.confidence == 0.0
    assert "yes 0, no 0, unparsable 3 of 3: no majority" in verdict.reason
    assert verdict.model_calls == 1
    with ScriptedOpenAIServer(["yes", "no", "perhaps"]) as server:
        split = _verifier(server).verify(_request(expected=PLACE_EFFECTS[:1]))
    assert split.status == VerdictStatus.UNKNOWN and "yes 1, no 1, unparsable 1 of 3" in split.reason
    with ScriptedOpenAIServer(["yes", "hmm", "not sure"]) as server:  # one yes is no majority of three
        lone = _verifier(server).verify(_request(expected=PLACE_EFFECTS[:1]))
    assert lone.status == VerdictStatus.UNKNOWN


def test_one_contradicted_question_is_a_failure_even_when_another_is_unsure():
    with ScriptedOpenAIServer(["maybe"] * 3 + ["Yes"] * 3 + ["none: nothing visible explains it"] * 3) as server:
        verdict = _verifier(server).verify(_request())
    assert verdict.status == VerdictStatus.FAILURE and verdict.failed == ("not held(apple_1)",)
    assert verdict.diagnosis == FailureCode.NONE and verdict.diagnosis_text.startswith("nothing visible")


def test_endpoint_error_status_is_unknown_with_the_reason():
    with ScriptedOpenAIServer([{"status": 500, "body": "model crashed"}]) as server:
        verdict = _verifier(server, max_retries=1).verify(_request())
    assert verdict.status == VerdictStatus.UNKNOWN
    assert "HTTP 500" in verdict.reason and "model crashed" in verdict.reason
    assert "not asked after the endpoint failed" in verdict.reason  # the second question is not sent
    assert len(server.requests) == 2 and verdict.model_calls == 0  # one question, retried once


def test_endpoint_timeout_is_unknown_with_the_reason():
    with ScriptedOpenAIServer([{"delay_s": 5.0, "text": "Yes"}]) as server:
        start = time.monotonic()
        verdict = _verifier(server, timeout_s=0.2).verify(_request(diagnose=True))
        elapsed = time.monotonic() - start
    assert verdict.status == VerdictStatus.UNKNOWN and "timeout" in verdict.reason
    assert "within timeout_s=0.2 s" in verdict.reason
    assert len(server.requests) == 1 and elapsed < 2.0  # no second question, no diagnosis after the timeout


def test_no_image_after_the_step_is_unknown():
    stale = [CameraImage("kitchen_overview", _rgb(1), 3.9)]
    with ScriptedOpenAIServer(["Yes"]) as server:
        verdict = _verifier(server, stale).verify(_request(after_s=4.0))
        nothing = _verifier(server, [], cameras=("head_rgbd",)).verify(_request())
    assert verdict.status == VerdictStatus.UNKNOWN and "no camera image from any camera taken after t=4.00 s" \
        in verdict.reason
    assert nothing.status == VerdictStatus.UNKNOWN and "from head_rgbd" in nothing.reason
    assert server.requests == []


def test_a_lax_image_source_cannot_pass_stale_images():
    class Lax(FakeImages):
        def latest(self, cameras, after_s):
            return list(self.images)

    with ScriptedOpenAIServer(["Yes"]) as server:
        model = OpenAIChatModel(server.url, "vision-test", timeout_s=5.0)
        verdict = VLMVerifier(model, Lax([CameraImage("table_cam", _rgb(3), 1.0)])).verify(_request(after_s=4.0))
    assert verdict.status == VerdictStatus.UNKNOWN and server.requests == []


def test_cameras_narrow_the_images():
    with ScriptedOpenAIServer(["Yes"]) as server:
        verifier = _verifier(server, cameras=("table_cam",))
        verdict = verifier.verify(_request(expected=PLACE_EFFECTS[:1]))
    assert verdict.status == VerdictStatus.SUCCESS and verifier.images.asked == [(("table_cam",), 4.0)]
    urls = [p for p in server.requests[0]["messages"][0]["content"] if p["type"] == "image_url"]
    assert len(urls) == 1


def test_navigate_to_asks_whether_the_robot_is_there_and_nothing_else_is_unknown():
    nav = SkillCall("navigate_to", (("target", "fridge"),))
    with ScriptedOpenAIServer(["Yes"]) as server:
        verdict = _verifier(server).verify(_request(call=nav, expected=()))
        nothing = _verifier(server).verify(_request(call=OPEN, expected=()))
    assert verdict.status == VerdictStatus.SUCCESS
    assert "Is the robot standing next to the fridge?" in server.requests[0]["messages"][0]["content"][-1]["text"]
    assert nothing.status == VerdictStatus.UNKNOWN and "no expected effect" in nothing.reason


# -- executor failures and diagnosis ---------------------------------------------------------------------------
def test_executor_failure_never_becomes_success_and_gets_the_vlm_cause():
    failed = SkillOutcome(False, FailureCode.EXECUTION_ERROR, "the door handle did not turn")
    with ScriptedOpenAIServer(["locked: the door did not move"]) as server:
        verdict = _verifier(server).verify(_request(call=OPEN, expected=(parse_condition("open(fridge_door)"),),
                                                    outcome=failed))
    assert verdict.status == VerdictStatus.FAILURE and verdict.confidence == 1.0
    assert verdict.reason == "the robot reported EXECUTION_ERROR: the door handle did not turn"
    assert verdict.diagnosis == FailureCode.LOCKED and verdict.subject == "fridge_door"
    assert verdict.diagnosis_text.startswith("the door did not move [vlm:openai:vision-test: locked in 3 of 3")
    assert len(server.requests) == 1  # only the diagnosis: the questions cannot overrule the executor
    assert "it failed with EXECUTION_ERROR: the door handle did not turn" in \
        server.requests[0]["messages"][0]["content"][-1]["text"]
    assert verdict.model_calls == 1


def test_a_specific_executor_code_is_kept_with_the_vlm_sentence_as_evidence():
    failed = SkillOutcome(False, FailureCode.JAMMED, "the door stopped at 10 degrees")
    with ScriptedOpenAIServer(["blocked: a chair stands in front of the fridge"]) as server:
        verdict = _verifier(server).verify(_request(call=OPEN, expected=(), outcome=failed))
    assert verdict.diagnosis == FailureCode.JAMMED
    assert verdict.diagnosis_text.startswith("the door stopped at 10 degrees; VLM: a chair stands in front")


def test_a_malformed_diagnosis_keeps_the_executor_code():
    failed = SkillOutcome(False, FailureCode.SLIPPED, "the apple fell")
    with ScriptedOpenAIServer(["the apple is probably on the floor", "slipped", "dunno"]) as server:
        verdict = _verifier(server).verify(_request(outcome=failed))
    assert verdict.status == VerdictStatus.FAILURE and verdict.diagnosis == FailureCode.SLIPPED
    assert verdict.diagnosis_text.startswith("the apple fell (no VLM diagnosis: no cause named by more than half")
    generic = SkillOutcome(False, FailureCode.EXECUTION_ERROR, "arm fault")
    with ScriptedOpenAIServer(["locked: x", "moved: y", "nonsense"]) as server:
        split = _verifier(server).verify(_request(outcome=generic))
    assert split.diagnosis == FailureCode.EXECUTION_ERROR


def test_executor_failure_without_images_or_endpoint_is_still_a_failure():
    failed = SkillOutcome(False, FailureCode.LOCKED, "handle blocked")
    with ScriptedOpenAIServer([{"status": 503, "body": "busy"}]) as server:
        no_images = _verifier(server, []).verify(_request(outcome=failed))
        down = _verifier(server).verify(_request(outcome=failed))
    for verdict in (no_images, down):
        assert verdict.status == VerdictStatus.FAILURE and verdict.diagnosis == FailureCode.LOCKED
    assert "no camera image" in no_images.diagnosis_text and "HTTP 503" in down.diagnosis_text


def test_diagnose_request_on_success_asks_for_a_cause():
    with ScriptedOpenAIServer(["Yes"] * 3 + ["No"] * 3 + ["none: the apple sits in the fridge"] * 3) as server:
        verdict = _verifier(server).verify(_request(diagnose=True))
    assert verdict.status == VerdictStatus.SUCCESS and verdict.diagnosis == FailureCode.NONE
    assert verdict.diagnosis_text.startswith("the apple sits in the fridge") and verdict.model_calls == 3


# -- combined --------------------------------------------------------------------------------------------------
class FixedVerifier:
    name = "scene_graph"

    def __init__(self, verdict: Verdict) -> None:
        self.verdict = verdict
        self.calls = 0

    def verify(self, request):
        self.calls += 1
        return self.verdict


def test_combined_uses_the_vlm_only_when_the_scene_graph_cannot_tell():
    sure = FixedVerifier(Verdict(VerdictStatus.FAILURE, 0.8, "apple not in fridge", ("in(apple_1, fridge)",),
                                 backend="scene_graph"))
    with ScriptedOpenAIServer(["Yes"]) as server:
        verdict = CombinedVerifier(sure, _verifier(server)).verify(_request())
    assert verdict is sure.verdict and server.requests == []
    seen = FixedVerifier(Verdict(VerdictStatus.SUCCESS, 0.9, "observed", backend="scene_graph"))
    with ScriptedOpenAIServer(["Yes"]) as server:
        assert CombinedVerifier(seen, _verifier(server)).verify(_request()) is seen.verdict
        assert server.requests == []


def test_combined_asks_the_vlm_when_the_scene_graph_is_unknown_and_merges_usage():
    unsure = FixedVerifier(Verdict(VerdictStatus.UNKNOWN, 0.0, "no scene graph observation after t=4.00 s",
                                   backend="scene_graph", model_calls=1, prompt_tokens=7, completion_tokens=2))
    with ScriptedOpenAIServer(["No, it is on the table"] * 3 + ["no"] * 3 + ["moved: the apple is on the table"] * 3) \
            as server:
        verdict = CombinedVerifier(unsure, _verifier(server)).verify(_request())
    assert verdict.status == VerdictStatus.FAILURE and verdict.failed == ("in(apple_1, fridge)",)
    assert verdict.reason.startswith("scene graph: no scene graph observation after t=4.00 s; VLM: not observed")
    assert verdict.backend == "vlm:openai:vision-test+scene_graph"
    assert verdict.diagnosis == FailureCode.OBJECT_MOVED
    assert verdict.model_calls == 1 + 3 and verdict.prompt_tokens > 7 and verdict.completion_tokens > 2


def test_combined_keeps_the_scene_graph_verdict_when_the_vlm_cannot_tell_either():
    unsure = FixedVerifier(Verdict(VerdictStatus.UNKNOWN, 0.0, "stale graph", backend="scene_graph"))
    with ScriptedOpenAIServer(["maybe"]) as server:
        verdict = CombinedVerifier(unsure, _verifier(server)).verify(_request(expected=PLACE_EFFECTS[:1]))
    assert verdict.status == VerdictStatus.UNKNOWN
    assert verdict.reason.startswith("stale graph; VLM cannot tell either: VLM cannot tell: Is the apple")
    assert verdict.model_calls == 1


def test_combined_asks_the_vlm_for_navigate_to_which_the_scene_graph_cannot_see():
    nav = SkillCall("navigate_to", (("target", "fridge"),))
    trusting = FixedVerifier(Verdict(VerdictStatus.SUCCESS, 0.6, "the executor succeeded; nothing the scene "
                                     "graph shows to check for this skill", backend="scene_graph"))
    with ScriptedOpenAIServer(["No, the robot is at the sink"] * 3 + ["moved: x"]) as server:
        verdict = CombinedVerifier(trusting, _verifier(server)).verify(_request(call=nav, expected=()))
    assert verdict.status == VerdictStatus.FAILURE and verdict.failed == ("near(fridge)",)
    failing = FixedVerifier(Verdict(VerdictStatus.FAILURE, 1.0, "the robot reported BLOCKED: path blocked",
                                    diagnosis=FailureCode.BLOCKED, backend="scene_graph"))
    with ScriptedOpenAIServer(["Yes"]) as server:
        kept = CombinedVerifier(failing, _verifier(server)).verify(
            _request(call=nav, expected=(), outcome=SkillOutcome(False, FailureCode.BLOCKED, "path blocked")))
    assert kept is failing.verdict and server.requests == []


def test_combined_with_the_real_scene_graph_verifier_on_a_stale_view():
    from planner_ros.planning.world import ObjectView, ReceptacleView, WorldView
    from planner_ros.verification.scene_graph_verifier import SceneGraphVerifier

    class StaleObserver:
        def observe(self, after_s=None):
            return WorldView({"apple_1": ObjectView("apple_1", "apple", "on", "table")},
                             {"fridge": ReceptacleView("fridge", "fridge", container=True)}, stamp_s=1.0)

    with ScriptedOpenAIServer(["Yes"] * 3 + ["No"] * 3) as server:
        verdict = CombinedVerifier(SceneGraphVerifier(StaleObserver()), _verifier(server)).verify(_request())
    assert verdict.status == VerdictStatus.SUCCESS and len(server.requests) == 2
    assert verdict.reason.startswith("scene graph: no scene graph observation after t=4.00 s")


# -- the image source and the model factory --------------------------------------------------------------------
def test_latest_images_waits_for_fresh_images_of_every_camera_that_publishes():
    images = LatestImages(wait_s=2.0)
    images.put("kitchen_overview", _rgb(1), 1.0)
    images.put("table_cam", _rgb(2), 1.0)

    def publish() -> None:
        time.sleep(0.05)
        images.put("kitchen_overview", _rgb(3), 5.0)
        time.sleep(0.05)
        images.put("table_cam", _rgb(4), 5.1)

    thread = threading.Thread(target=publish)
    thread.start()
    start = time.monotonic()
    fresh = images.latest(["kitchen_overview", "table_cam", "head_rgbd"], 4.0)
    elapsed = time.monotonic() - start
    thread.join()
    assert [(i.camera, i.stamp_s) for i in fresh] == [("kitchen_overview", 5.0), ("table_cam", 5.1)]
    assert elapsed < 1.5  # head_rgbd never published: not waited for
    images.wait_s = 0.05
    assert [i.camera for i in images.latest([], 5.05)] == ["table_cam"]  # after the wait: only fresh ones


def test_latest_images_gives_up_after_its_wait():
    images = LatestImages(wait_s=0.1)
    images.put("table_cam", _rgb(2), 1.0)
    start = time.monotonic()
    assert images.latest(["table_cam"], 4.0) == [] and images.latest([], 4.0) == []
    assert time.monotonic() - start < 1.0
    with pytest.raises(ValueError, match="table_cam.*uint8 RGB"):
        images.put("table_cam", np.zeros((4, 4), np.uint8), 2.0)


def test_make_vision_model_builds_either_backend_and_refuses_bad_config(tmp_path):
    model = make_vision_model({"backend": "openai", "base_url": "http://127.0.0.1:9/v1", "model": "m",
                               "api_key_env": "OPENAI_API_KEY", "timeout_s": 2.0, "max_retries": 0,
                               "device": "cpu", "local_files_only": True})
    assert isinstance(model, OpenAIChatModel) and model.timeout_s == 2.0 and model.max_retries == 0
    with pytest.raises(ValueError, match="needs base_url"):
        make_vision_model({"backend": "openai", "base_url": "", "model": "m"})
    with pytest.raises(ValueError, match="'none' is not one of 'openai', 'transformers'"):
        make_vision_model({"backend": "none"})
    with pytest.raises(ValueError, match="needs model"):
        make_vision_model({"backend": "transformers", "model": "", "base_url": "http://x"})
    pytest.importorskip("transformers", reason="the transformers backend needs transformers")
    with pytest.raises(LLMError) as caught:
        make_vision_model({"backend": "transformers", "model": str(tmp_path / "absent" / "dir"), "device": "cpu"})
    assert caught.value.kind == "weights" and "does not exist" in str(caught.value)


def test_bad_templates_and_samples_are_refused_when_built(tmp_path):
    from planner_ros.planning.prompts import TemplateError
    model = OpenAIChatModel("http://127.0.0.1:9/v1", "m")
    bad = tmp_path / "q.txt"
    bad.write_text("# {question}\nQuestion: {question}\n")
    with pytest.raises(TemplateError, match="lacks the placeholder"):
        VLMVerifier(model, FakeImages([]), template=bad)
    with pytest.raises(ValueError, match="samples must be a positive integer"):
        VLMVerifier(model, FakeImages([]), samples=0)
