"""The VLM verifier (RePLan): targeted yes/no questions about a step's expected effects, asked with the latest
camera images to a vision-language model, several samples each and a majority.

Each expected effect becomes one question in plain words ("Is the apple inside the fridge?"); a negated
effect keeps the positive question and expects "no", so a model never has to untangle a double negative.
navigate_to has no effect the scene graph shows; the VLM asks whether the robot is next to its target (the
pseudo-predicate `near`, which only this verifier uses). Answers are parsed strictly (yes or no, optionally
followed by a short justification); anything else is counted as unparsable and votes for nothing. A question
is settled when more than half of its samples agree; otherwise, and when the endpoint fails or no image
newer than the step exists, the verdict is UNKNOWN with the reason: never a success it did not observe.

An executor's failure is never overruled. Failures (and requests with `diagnose`) get a diagnosis: the VLM
names a cause (locked, missing, moved, blocked, slipped, not_reachable or none) and one sentence, in the form
`<cause>: <sentence>`; a cause the executor already reported specifically is kept and the VLM's sentence
added as evidence.

CombinedVerifier asks the scene graph first and the VLM only where the scene graph cannot tell.
"""
from __future__ import annotations

import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from planner_ros.llm.base import ChatMessage, ChatModel, ContentPart, LLMError, TextPart, image_part
from planner_ros.planning.conditions import Condition
from planner_ros.planning.interfaces import Verdict, VerdictStatus, Verifier, VerifyRequest
from planner_ros.planning.prompts import load_template
from planner_ros.skills import FailureCode, SkillCall

__all__ = [
    "Answer", "CAUSES", "CameraImage", "CombinedVerifier", "DIAGNOSIS_FIELDS", "ImageSource", "LatestImages",
    "QUESTION_FIELDS", "Question", "VLMVerifier", "checks_for", "make_vision_model", "object_words",
    "parse_diagnosis", "parse_yes_no", "questions_for",
]

# What the code fills in each template (checked when the verifier is built; see planner_ros.planning.prompts).
QUESTION_FIELDS = ("cameras", "question")
DIAGNOSIS_FIELDS = ("instruction", "step", "report", "unmet", "causes", "cameras")

# The causes a diagnosis may name, what each means (shown to the model) and the code the planner gets.
CAUSES: dict[str, tuple[FailureCode, str]] = {
    "locked": (FailureCode.LOCKED, "a door or drawer does not open"),
    "missing": (FailureCode.OBJECT_MISSING, "the object is not where it was expected, nor anywhere in view"),
    "moved": (FailureCode.OBJECT_MOVED, "the object is somewhere else than expected"),
    "blocked": (FailureCode.BLOCKED, "something is in the way, or there is no room to place the object"),
    "slipped": (FailureCode.SLIPPED, "the object fell out of or was never held by the gripper"),
    "not_reachable": (FailureCode.NOT_REACHABLE, "the robot cannot reach the object or place from where it is"),
    "none": (FailureCode.NONE, "nothing in the images explains a failure"),
}
# Executor codes that say no more than "it failed": a VLM cause replaces them; any other code is kept.
UNSPECIFIC = frozenset({FailureCode.NONE, FailureCode.EXECUTION_ERROR, FailureCode.TIMEOUT})

BACKEND_PREFIX = "vlm"


# -- images ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CameraImage:
    camera: str
    rgb: np.ndarray     # (H, W, 3) uint8
    stamp_s: float      # when the image was taken (robot clock)


class ImageSource(Protocol):
    def latest(self, cameras: Sequence[str], after_s: float) -> list[CameraImage]:
        """The newest image of each camera in `cameras` (every known camera when empty) taken at or after
        after_s; an implementation may wait for them within its own timeout. Cameras without one are left out."""
        ...


class LatestImages:
    """A thread-safe ImageSource: the newest image per camera, put by subscriptions, read by the verifier.

    latest() waits up to `wait_s` (wall time) until every requested camera that has ever sent an image has one
    taken at or after after_s, then returns the fresh ones it has (possibly none)."""

    def __init__(self, *, wait_s: float = 3.0) -> None:
        self.wait_s = float(wait_s)
        self._images: dict[str, CameraImage] = {}
        self._changed = threading.Condition()

    def put(self, camera: str, rgb: np.ndarray, stamp_s: float) -> None:
        if not isinstance(rgb, np.ndarray) or rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise ValueError(f"camera {camera!r}: expected an (H, W, 3) uint8 RGB image, got "
                             f"{getattr(rgb, 'shape', None)} {getattr(rgb, 'dtype', type(rgb).__name__)}")
        with self._changed:
            self._images[camera] = CameraImage(camera, rgb, float(stamp_s))
            self._changed.notify_all()

    def _fresh(self, cameras: Sequence[str], after_s: float) -> tuple[list[CameraImage], bool]:
        names = list(cameras) or sorted(self._images)
        known = [c for c in names if c in self._images]
        fresh = [self._images[c] for c in known if self._images[c].stamp_s >= after_s]
        return fresh, bool(fresh) and len(fresh) == len(known)

    def latest(self, cameras: Sequence[str], after_s: float) -> list[CameraImage]:
        deadline = time.monotonic() + self.wait_s
        with self._changed:
            fresh, complete = self._fresh(cameras, after_s)
            while not complete and (left := deadline - time.monotonic()) > 0:
                self._changed.wait(left)
                fresh, complete = self._fresh(cameras, after_s)
        return fresh


# -- questions ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Question:
    condition: Condition
    text: str          # "Is the apple inside the fridge?"
    expected: bool     # the answer that confirms the condition (False for a negated one)


def object_words(oid: str, labels: Mapping[str, str]) -> str:
    """"the apple" for apple_1: the label when known, else the id without its instance number, in words."""
    label = (labels.get(oid) or re.sub(r"_\d+$", "", oid)).replace("_", " ").strip()
    return f"the {label or oid}"


_QUESTIONS: dict[str, Callable[[list[str]], str]] = {
    "in": lambda a: f"Is {a[0]} inside {a[1]}?",
    "on": lambda a: f"Is {a[0]} on {a[1]}?",
    "held": lambda a: f"Is the robot's gripper holding {a[0]}?",
    "open": lambda a: f"Is {a[0]} open?",
    "closed": lambda a: f"Is {a[0]} closed?",
    "near": lambda a: f"Is the robot standing next to {a[0]}?",
}
_ARITY = {"in": 2, "on": 2, "held": 1, "open": 1, "closed": 1, "near": 1}


def questions_for(expected: Sequence[Condition], view_labels: Mapping[str, str]) -> list[Question]:
    """One yes/no question per condition, objects named by their labels (ids turned into words otherwise).
    ValueError names a predicate no question is written for."""
    questions = []
    for condition in expected:
        ask = _QUESTIONS.get(condition.predicate)
        if ask is None or len(condition.args) != _ARITY[condition.predicate]:
            raise ValueError(f"no yes/no question for the condition {condition.text!r}; the VLM can ask about "
                             f"{', '.join(f'{p}/{n}' for p, n in _ARITY.items())}")
        questions.append(Question(condition, ask([object_words(a, view_labels) for a in condition.args]),
                                  not condition.negated))
    return questions


def checks_for(call: SkillCall, expected: Sequence[Condition]) -> tuple[Condition, ...]:
    """What the VLM checks after call: its expected effects, or for navigate_to (which has none the scene
    graph shows) whether the robot stands next to its target."""
    if not expected and call.skill == "navigate_to" and call.arg("target"):
        return (Condition("near", (call.arg("target"),)),)
    return tuple(expected)


# -- parsing -----------------------------------------------------------------------------------------------
_YES_NO = re.compile(r"(?P<word>yes|no)(?:\s*[.!]?|[,.:;!]\s+(?P<why>[^\n]{1,200}?))", re.IGNORECASE)
_OTHER_ANSWER = re.compile(r"\b(yes|no)\b", re.IGNORECASE)


def parse_yes_no(text: str) -> bool | None:
    """True for a yes, False for a no, None for anything else. Accepted: "yes", "No.", "Yes!" and a yes/no
    followed by punctuation and a one-line justification ("No, the apple is on the table."); rejected: empty
    text, hedges ("maybe"), both answers ("Yes and no", "Yes, or no"), a justification with no punctuation."""
    match = _YES_NO.fullmatch(text.strip()) if isinstance(text, str) else None
    if match is None:
        return None
    why = match.group("why") or ""
    if any(w.lower() != match.group("word").lower() for w in _OTHER_ANSWER.findall(why)):
        return None  # the justification gives the other answer too
    return match.group("word").lower() == "yes"


_DIAGNOSIS = re.compile(r"(?P<cause>[a-z_ ]+?)\s*:\s*(?P<sentence>[^\n]{1,300})", re.IGNORECASE)


def parse_diagnosis(text: str) -> tuple[str, str] | None:
    """(cause, sentence) from "<cause>: <one sentence>", the cause one of CAUSES ("not reachable" is read
    as not_reachable); None for anything else (another cause, no colon, several lines, an empty sentence)."""
    match = _DIAGNOSIS.fullmatch(text.strip()) if isinstance(text, str) else None
    if match is None:
        return None
    cause = "_".join(match.group("cause").lower().split())
    sentence = match.group("sentence").strip()
    if cause not in CAUSES or not sentence:
        return None
    return cause, sentence


# -- the verifier ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Answer:
    """The votes on one question."""
    question: Question
    yes: int = 0
    no: int = 0
    unparsable: int = 0
    error: str = ""            # why the model gave no answer (an LLMError's message)

    @property
    def samples(self) -> int:
        return self.yes + self.no + self.unparsable

    @property
    def majority(self) -> bool | None:
        """The answer more than half of the samples gave; unparsable samples count against both."""
        if self.yes * 2 > self.samples:
            return True
        if self.no * 2 > self.samples:
            return False
        return None

    @property
    def holds(self) -> bool | None:
        """Whether the condition holds by the majority, None when there is none."""
        return None if self.majority is None else self.majority == self.question.expected

    @property
    def agreeing(self) -> int:
        return self.yes if self.majority else self.no if self.majority is False else 0

    def tally(self) -> str:
        if self.error:
            return f"{self.question.text} no answer ({self.error})"
        return (f"{self.question.text} yes {self.yes}, no {self.no}, unparsable {self.unparsable} "
                f"of {self.samples}")


@dataclass
class _Usage:
    model_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    failed: str = ""  # the first endpoint error in this request: no further calls after it

    def add(self, completion: Any) -> None:
        self.model_calls += completion.calls
        self.prompt_tokens += completion.prompt_tokens
        self.completion_tokens += completion.completion_tokens

    def counts(self) -> dict[str, int]:
        return {"model_calls": self.model_calls, "prompt_tokens": self.prompt_tokens,
                "completion_tokens": self.completion_tokens}


def _template(template: str | Path, fields: Sequence[str]) -> str:
    # A template name or file (config/prompts, header stripped, placeholders checked), or the text itself.
    is_text = isinstance(template, str) and "{" in template
    return template if is_text else load_template(template, fields)


class VLMVerifier:
    """Verifier over a vision chat model and an image source. `cameras` narrows the images to those cameras
    (all the source has when empty); `labels` names objects in questions (ids are turned into words where it
    has none); `samples` answers per question at `temperature`."""

    def __init__(self, model: ChatModel, images: ImageSource, *, samples: int = 3, temperature: float = 0.2,
                 template: str | Path = "verify_question", diagnosis_template: str | Path = "diagnose_failure",
                 cameras: Sequence[str] = (), labels: Mapping[str, str] | None = None,
                 image_format: str = "png", max_tokens: int = 32, diagnosis_max_tokens: int = 64) -> None:
        if not isinstance(samples, int) or samples < 1:
            raise ValueError(f"samples must be a positive integer, got {samples!r}")
        self.model = model
        self.images = images
        self.samples = samples
        self.temperature = float(temperature)
        self.template = _template(template, QUESTION_FIELDS)
        self.diagnosis_template = _template(diagnosis_template, DIAGNOSIS_FIELDS)
        self.cameras = tuple(cameras)
        self.labels = dict(labels or {})
        self.image_format = image_format
        self.max_tokens = max_tokens
        self.diagnosis_max_tokens = diagnosis_max_tokens
        self.name = f"{BACKEND_PREFIX}:{getattr(model, 'name', 'model')}"

    # The images go first, each after a line naming its camera, then the filled template.
    def _message(self, images: Sequence[CameraImage], encoded: Sequence[ContentPart], text: str) -> ChatMessage:
        parts: list[ContentPart] = []
        for image, part in zip(images, encoded):
            parts += [TextPart(f"Image from camera {image.camera} (t={image.stamp_s:.2f} s):"), part]
        parts.append(TextPart(text))
        return ChatMessage("user", tuple(parts))

    def _fresh_images(self, after_s: float) -> list[CameraImage]:
        # The source should return only fresh images; checked again so a lax source cannot pass stale ones.
        return [i for i in self.images.latest(self.cameras, after_s) if i.stamp_s >= after_s]

    def ask(self, question: Question, images: Sequence[CameraImage], encoded: Sequence[ContentPart] | None = None,
            usage: _Usage | None = None) -> Answer:
        """Ask one question `samples` times with the images; an endpoint failure is an Answer with `error`."""
        usage = usage if usage is not None else _Usage()
        encoded = encoded if encoded is not None else [image_part(i.rgb, self.image_format) for i in images]
        text = self.template.format(question=question.text, cameras=", ".join(i.camera for i in images))
        try:
            completion = self.model.complete([self._message(images, encoded, text)], n=self.samples,
                                             temperature=self.temperature, max_tokens=self.max_tokens)
        except LLMError as err:
            usage.failed = usage.failed or f"{err.kind}: {err}"
            return Answer(question, error=f"{err.kind}: {err}")
        usage.add(completion)
        votes = Counter(parse_yes_no(t) for t in completion.texts)
        return Answer(question, votes[True], votes[False], votes[None])

    def verify(self, request: VerifyRequest) -> Verdict:
        usage = _Usage()
        images = self._fresh_images(request.after_s)
        encoded = [image_part(i.rgb, self.image_format) for i in images]
        outcome = request.outcome
        if not outcome.success:
            code, text, subject = self._diagnose(request, images, encoded, (), usage)
            return Verdict(VerdictStatus.FAILURE, 1.0, f"the robot reported {outcome.code.name}: {outcome.reason}",
                           (), code, text, subject, self.name, **usage.counts())
        try:
            questions = questions_for(checks_for(request.call, request.expected), self.labels)
        except ValueError as err:
            return Verdict(VerdictStatus.UNKNOWN, 0.0, f"cannot verify by VLM: {err}", backend=self.name)
        if not questions:
            return Verdict(VerdictStatus.UNKNOWN, 0.0, f"no expected effect of {request.call.text} to ask the VLM "
                                                       "about", backend=self.name)
        if not images:
            return Verdict(VerdictStatus.UNKNOWN, 0.0, self._no_images(request.after_s), backend=self.name)
        answers: list[Answer] = []
        for question in questions:
            if usage.failed:  # the endpoint just failed: another call would only wait for the same failure
                answers.append(Answer(question, error="not asked after the endpoint failed"))
                continue
            answers.append(self.ask(question, images, encoded, usage))
        contradicted = [a for a in answers if a.holds is False]
        unsure = [a for a in answers if a.holds is None]
        tallies = "; ".join(a.tally() for a in answers)
        if contradicted:
            failed = tuple(a.question.condition.text for a in contradicted)
            votes = sum(a.agreeing for a in contradicted) / sum(a.samples for a in contradicted)
            code, text, subject = self._diagnose(request, images, encoded, failed, usage)
            return Verdict(VerdictStatus.FAILURE, votes, f"VLM: not observed after {request.call.text}: "
                           f"{', '.join(failed)} ({tallies})", failed, code, text, subject, self.name,
                           **usage.counts())
        if unsure:
            verdict = Verdict(VerdictStatus.UNKNOWN, 0.0, "VLM cannot tell: " + "; ".join(
                a.tally() if a.error else f"{a.tally()}: no majority" for a in unsure), backend=self.name)
            if request.diagnose and not usage.failed:
                code, text, subject = self._diagnose(request, images, encoded, (), usage)
                verdict = replace(verdict, diagnosis=code, diagnosis_text=text, subject=subject)
            return replace(verdict, **usage.counts())
        confidence = sum(a.agreeing for a in answers) / sum(a.samples for a in answers)
        verdict = Verdict(VerdictStatus.SUCCESS, confidence, f"VLM observed: {tallies}", backend=self.name)
        if request.diagnose:
            code, text, subject = self._diagnose(request, images, encoded, (), usage)
            verdict = replace(verdict, diagnosis=code, diagnosis_text=text, subject=subject)
        return replace(verdict, **usage.counts())

    def _no_images(self, after_s: float) -> str:
        cameras = ", ".join(self.cameras) if self.cameras else "any camera"
        return f"no camera image from {cameras} taken after t={after_s:.2f} s"

    def _diagnose(self, request: VerifyRequest, images: Sequence[CameraImage], encoded: Sequence[ContentPart],
                  unmet: Sequence[str], usage: _Usage) -> tuple[FailureCode, str, str]:
        """(cause, explanation with evidence, subject). The executor's specific code is kept; the VLM's cause
        replaces an unspecific one only when more than half of the samples name it."""
        call, outcome = request.call, request.outcome
        subject = call.arg("object") or call.arg("target") or ""
        own = outcome.code if not outcome.success else FailureCode.NONE
        base = outcome.reason if not outcome.success else ""

        def without_vlm(why: str) -> tuple[FailureCode, str, str]:
            return own, f"{base} ({why})" if base else why, subject

        if not images:
            return without_vlm(f"no VLM diagnosis: {self._no_images(request.after_s)}")
        if usage.failed:
            return without_vlm(f"no VLM diagnosis: the endpoint failed ({usage.failed})")
        cameras = ", ".join(i.camera for i in images)
        report = (f"it failed with {outcome.code.name}: {outcome.reason}" if not outcome.success
                  else "it reported success")
        text = self.diagnosis_template.format(
            instruction=request.instruction or "(not given)", step=call.text, report=report,
            unmet="\n".join(f"- {u}" for u in unmet) or "- none found",
            causes="\n".join(f"- {name}: {meaning}" for name, (_, meaning) in CAUSES.items()), cameras=cameras)
        try:
            completion = self.model.complete([self._message(images, encoded, text)], n=self.samples,
                                             temperature=self.temperature, max_tokens=self.diagnosis_max_tokens)
        except LLMError as err:
            usage.failed = f"{err.kind}: {err}"
            return without_vlm(f"no VLM diagnosis: {err.kind}: {err}")
        usage.add(completion)
        parsed = [parse_diagnosis(t) for t in completion.texts]
        votes = Counter(p[0] for p in parsed if p is not None)
        cause, count = votes.most_common(1)[0] if votes else ("", 0)
        if count * 2 <= len(parsed):
            shown = "; ".join(repr(t[:80]) for t in completion.texts[:3])
            return without_vlm(f"no VLM diagnosis: no cause named by more than half of {len(parsed)} answers: {shown}")
        sentence = next(p[1] for p in parsed if p is not None and p[0] == cause)
        evidence = f"{sentence} [{self.name}: {cause} in {count} of {len(parsed)} answers; cameras {cameras}]"
        code = CAUSES[cause][0]
        if own not in UNSPECIFIC:
            return own, f"{base}; VLM: {evidence}" if base else f"VLM: {evidence}", subject
        return code, evidence, subject


class CombinedVerifier:
    """The scene graph first; the VLM only when the scene graph cannot tell, which is when:
      - it answers UNKNOWN (no fresh observation, or it cannot judge), or
      - the step succeeded by the executor's word and has no expected effect the scene graph shows (navigate_to:
        the scene graph's own verdict there is a low-confidence success that trusts the executor).
    A scene graph SUCCESS or FAILURE with something checked stands as is (an executor's failure included).
    When the VLM is asked and settles the question its verdict is returned; when it cannot tell either, the
    scene graph's verdict is kept with the VLM's reason appended. Either way the usage is the sum of both
    and the backend names both, VLM first ("vlm:<model>+scene_graph", so usage counts as vision)."""

    def __init__(self, scene_graph: Verifier, vlm: Verifier) -> None:
        self.scene_graph = scene_graph
        self.vlm = vlm
        self.name = f"{getattr(vlm, 'name', BACKEND_PREFIX)}+{getattr(scene_graph, 'name', 'scene_graph')}"

    def verify(self, request: VerifyRequest) -> Verdict:
        first = self.scene_graph.verify(request)
        unchecked = (first.status == VerdictStatus.SUCCESS and request.outcome.success and not request.expected)
        if first.status != VerdictStatus.UNKNOWN and not unchecked:
            return first
        second = self.vlm.verify(request)
        usage = {"model_calls": first.model_calls + second.model_calls,
                 "prompt_tokens": first.prompt_tokens + second.prompt_tokens,
                 "completion_tokens": first.completion_tokens + second.completion_tokens}
        backend = f"{second.backend}+{first.backend}"
        if second.status == VerdictStatus.UNKNOWN:
            return replace(first, reason=f"{first.reason}; VLM cannot tell either: {second.reason}", backend=backend,
                           **usage)
        return replace(second, reason=f"scene graph: {first.reason}; {second.reason}", backend=backend, **usage)


# -- building the model ------------------------------------------------------------------------------------
VISION_BACKENDS = ("openai", "transformers")


def make_vision_model(config: Mapping[str, Any]) -> ChatModel:
    """The vision chat model a node's `vlm.*` parameters describe: backend openai (base_url, model, api_key_env,
    timeout_s, max_retries) or transformers (model, device, local_files_only); keys the chosen backend does
    not use and empty values are left out. ValueError for an unknown backend or a missing key; LLMError when the
    model cannot be built (weights absent, API key required but unset)."""
    backend = config.get("backend")
    values = {k: v for k, v in config.items() if k != "backend" and v not in ("", None)}
    if backend == "openai":
        from planner_ros.llm.factory import make_chat_model
        keys = ("base_url", "model", "api_key_env", "api_key_required", "timeout_s", "max_retries", "backoff_s")
        model = make_chat_model({"backend": "openai", **{k: v for k, v in values.items() if k in keys}})
        assert model is not None
        return model
    if backend == "transformers":
        if not values.get("model"):
            raise ValueError("vision model backend 'transformers' needs model (a local directory or a hub id)")
        from planner_ros.verification.transformers_vlm import TransformersVLMChatModel
        keys = ("device", "local_files_only", "seed")
        return TransformersVLMChatModel(values["model"], **{k: v for k, v in values.items() if k in keys})
    raise ValueError(f"vision model backend {backend!r} is not one of {', '.join(map(repr, VISION_BACKENDS))}")
