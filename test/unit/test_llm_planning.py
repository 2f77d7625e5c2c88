"""Language-model planning against ScriptedOpenAIServer (a TEST DOUBLE on loopback): plan sampling, goal
writing, the LLM decider, strict parsing of model output, and the prompt templates. No ROS, no real model."""
from __future__ import annotations

import ast
import builtins
import os
from pathlib import Path

import numpy as np
import pytest
from llm_double import ScriptedOpenAIServer

from planner_ros.llm import LLMError, OpenAIChatModel
from planner_ros.paths import config_dir
from planner_ros.perception.detection import DetectorError
from planner_ros.planning import llm_planning, plan_text, prompts
from planner_ros.planning.conditions import Condition
from planner_ros.planning.deciders import DecisionContext, LLMDecider, OfflineDecider
from planner_ros.planning.executive import PlannerSettings, TreePlanner
from planner_ros.planning.llm_planning import LLMGoalWriter, LLMPlanSampler, parse_goal_text
from planner_ros.planning.plan_text import MAX_STEPS, NameResolver, parse_plan_text
from planner_ros.planning.prompts import (
    TEMPLATE_FIELDS, TemplateError, documented_fields, load_template, scene_text,
)
from planner_ros.planning.sampling import PlanRequest, SamplingError
from planner_ros.planning.tree import ActionTree
from planner_ros.planning.world import Knowledge, ObjectStatus, ObjectView, ReceptacleView, WorldView
from planner_ros.skills import DEFAULT_SKILLS
from planner_ros.verification.scene_graph_verifier import SceneGraphVerifier
from planner_ros.world.symbolic import SymbolicHousehold
from planner_ros.world.symbolic_robot import SymbolicRobot

SYNONYMS = {"milk carton": ["milk", "carton of milk"], "mug": ["cup", "coffee mug"], "apple": ["red apple"]}
MILK_GOAL = (Condition("on", ("milk_carton_1", "table")),)
MILK_PLAN = ["navigate_to(fridge)", "open(fridge)", "pick(milk_carton_1)", "navigate_to(table)",
             "place(milk_carton_1, table)"]


def kitchen(**changes) -> WorldView:
    """Milk in a fridge behind a closed door, two apples, a mug; a banana looked for and not found."""
    objects = {
        "milk_carton_1": ObjectView("milk_carton_1", "milk carton", "in", "fridge"),
        "apple_1": ObjectView("apple_1", "apple", "on", "table"),
        "apple_2": ObjectView("apple_2", "apple", "on", "counter", ObjectStatus.REMEMBERED),
        "mug_1": ObjectView("mug_1", "mug", "on", "counter"),
        "banana_1": ObjectView("banana_1", "banana", "on", "table", ObjectStatus.MISSING),
    }
    receptacles = {
        "fridge": ReceptacleView("fridge", "fridge", container=True, part="fridge_door", opening=0.0),
        "table": ReceptacleView("table", "table"),
        "counter": ReceptacleView("counter", "counter"),
        "sink": ReceptacleView("sink", "sink", container=True),
    }
    return WorldView(objects=changes.pop("objects", objects), receptacles=changes.pop("receptacles", receptacles),
                     **changes)


def chat(server: ScriptedOpenAIServer, **kwargs) -> OpenAIChatModel:
    kwargs.setdefault("backoff_s", 0.001)
    kwargs.setdefault("timeout_s", 5.0)
    return OpenAIChatModel(server.url, "test-model", **kwargs)


def request(num_plans: int, view: WorldView | None = None, **kwargs) -> PlanRequest:
    return PlanRequest(kwargs.pop("instruction", "Put the milk on the table."), kwargs.pop("goal", MILK_GOAL),
                       view or kitchen(), DEFAULT_SKILLS, num_plans, **kwargs)


def prompt_of(server: ScriptedOpenAIServer, index: int = 0) -> str:
    (message,) = server.requests[index]["messages"]
    assert message["role"] == "user"
    return message["content"]


def texts(steps) -> list[str]:
    return [s.text for s in steps]


class TableEmbedder:
    """A TextEmbedder with fixed vectors for a few names; any other text gets an axis of its own (similarity 0)."""

    def __init__(self, table: dict[str, list[float]]) -> None:
        self.table = table
        self.axes: dict[str, int] = {}
        self.calls: list[list[str]] = []

    def embed(self, texts):
        self.calls.append(list(texts))
        rows = []
        for text in texts:
            if text in self.table:
                vector = np.array(self.table[text] + [0.0] * (16 - len(self.table[text])))
            else:
                vector = np.zeros(16)
                vector[8 + self.axes.setdefault(text, len(self.axes)) % 8] = 1.0
            rows.append(vector / np.linalg.norm(vector))
        return np.array(rows)


# -- plan sampling -----------------------------------------------------------------------------------------
def test_sampler_returns_distinct_grounded_plans_and_records_what_it_dropped():
    by_label = "navigate_to(fridge)\nopen(fridge)\npick(milk)\nnavigate_to(table)\nplace(milk, table)"
    by_id = ("Plan:\n1. navigate_to(fridge)\n2. open(fridge)\n3. pick(milk_carton_1)\n4. navigate_to(table)\n"
             "5. place(milk_carton_1, table)")
    with_errors = ("- navigate_to(fridge)\n- open(the fridge)\n- teleport(table)\n- pick(carton of milk)\n"
                   "- pick(pear)\n- navigate_to(Table)\n- place(milk_carton_1, table)\n- navigate_to(fridge)\n"
                   "- close(fridge_door)")
    script = [by_label, by_id, with_errors, "I am sorry, I cannot plan that.", ""]
    with ScriptedOpenAIServer(script) as server:
        sampler = LLMPlanSampler(chat(server), synonyms=SYNONYMS)
        result = sampler.sample(request(5))
    assert sampler.name == "llm:openai:test-model"
    assert [texts(p.steps) for p in result.plans] == [
        MILK_PLAN, MILK_PLAN + ["navigate_to(fridge)", "close(fridge_door)"]]
    assert all(p.source == "llm:openai:test-model" for p in result.plans)
    assert result.plans[0].dropped == ()
    assert result.plans[1].dropped == (
        "teleport(table): unknown skill 'teleport'; known skills: close, navigate_to, open, pick, place",
        "pick(pear): object: no object 'pear' in the scene by id, label or synonym")
    assert [why for _, why in result.rejected] == ["no valid step: no line of the form skill(arg, ...)"] * 2
    assert result.rejected[0][0] == "I am sorry, I cannot plan that."
    assert "milk -> milk_carton_1 (synonym 1.00)" in result.note
    assert "carton of milk -> milk_carton_1 (synonym 1.00)" in result.note
    assert result.note.startswith("3 of 5 sample(s) gave a plan, 2 distinct")
    # One request for all N samples, with Tree-Planner's sampling settings; usage as the double counts it.
    (body,) = server.requests
    assert (body["n"], body["temperature"], body["top_p"], body["max_tokens"]) == (5, 0.8, 0.95, 400)
    assert result.model_calls == 1
    assert result.prompt_tokens == len(prompt_of(server).split())
    assert result.completion_tokens == sum(len(t.split()) for t in script)


def test_the_sampling_prompt_holds_skills_scene_task_goal_and_what_went_wrong():
    view = kitchen(robot_at="fridge", knowledge=Knowledge(locked=frozenset({"sink"})))
    req = request(2, view, done_steps=("navigate_to(fridge)",),
                  diagnoses=("open(fridge) failed: the door is jammed", "pick(mug_1) failed: the mug slipped"))
    with ScriptedOpenAIServer(["open(fridge)"]) as server:
        LLMPlanSampler(chat(server), temperature=0.5, top_p=0.9, max_tokens=123).sample(req)
    text = prompt_of(server)
    for skill in DEFAULT_SKILLS:
        assert f"- {skill.signature}: {skill.description}" in text
    assert scene_text(view) in text
    assert "Task: Put the milk on the table.\nGoal:\n- on(milk_carton_1, table)\n" in text
    assert "Done so far:\n- navigate_to(fridge)\nEarlier failures:\n- open(fridge) failed: the door is jammed\n" \
           "- pick(mug_1) failed: the mug slipped\nPlan:" in text
    assert text.rstrip().endswith("Plan:")
    assert "Example 1" in text and "#" not in text  # the examples are there, the header is not
    body = server.requests[0]
    assert (body["n"], body["temperature"], body["top_p"], body["max_tokens"]) == (2, 0.5, 0.9, 123)


def test_without_a_goal_the_prompt_says_so_and_braces_in_the_task_stay_literal():
    with ScriptedOpenAIServer(["navigate_to(table)"]) as server:
        LLMPlanSampler(chat(server)).sample(request(1, goal=(), instruction="Tidy {scene} up {0} {errors.x}"))
    text = prompt_of(server)
    assert "Task: Tidy {scene} up {0} {errors.x}\nGoal:\n- not given: infer it from the task\n" in text


def test_an_endpoint_that_fails_then_times_out_is_a_sampling_error():
    with ScriptedOpenAIServer([{"status": 500, "body": "overloaded"}, {"delay_s": 5.0, "text": "too late"}]) as server:
        sampler = LLMPlanSampler(chat(server, timeout_s=0.2, max_retries=1))
        with pytest.raises(SamplingError) as caught:
            sampler.sample(request(3))
    assert len(server.requests) == 2
    assert "openai:test-model" in str(caught.value) and "(timeout)" in str(caught.value)
    assert isinstance(caught.value.__cause__, LLMError) and caught.value.__cause__.kind == "timeout"


def test_a_sampling_error_ends_the_task_with_the_models_message():
    robot = SymbolicRobot(SymbolicHousehold.from_config(SYMBOLIC_KITCHEN))
    with ScriptedOpenAIServer(["in(apple_1, fridge)", {"status": 400, "body": "context too long"}]) as server:
        model = chat(server)
        planner = TreePlanner(DEFAULT_SKILLS, LLMGoalWriter(model), LLMPlanSampler(model),
                              LLMDecider(model, load_template("decide_step")), robot, robot,
                              SceneGraphVerifier(robot), PlannerSettings(num_plans=4))
        result = planner.run("Put the apple in the fridge.")
    assert not result.success
    assert result.summary.startswith("the plan sampler failed: the language model openai:test-model")
    assert "context too long" in result.summary and robot.calls == []


def test_zero_plans_asked_is_no_request():
    with ScriptedOpenAIServer(["never"]) as server:
        result = LLMPlanSampler(chat(server)).sample(request(0))
    assert result.plans == [] and server.requests == [] and "nothing to sample" in result.note


ADVERSARIAL = [
    "__import__('os').system('rm -rf /')",
    "pick(apple_1)\n" * 10_000,
    "navigate_to(((((fridge)))))\npick(apple_1(apple_2))\nplace(" + "(" * 3000 + ")" * 3000,
    "ｐｉｃｋ（apple_1）\npick(äpfel)\nnavigate_to(fridge\u200b)\n\U0001f34e(apple_1)\npick(apple_1\u0000)",
    "navigate_to(fridge); import os\nexec('x')\neval(open('/etc/passwd').read())\nopen('/etc/passwd')\n"
    "pick(lambda: 1)\nplace(apple_1, {scene})\nnavigate_to(fridge) and os.remove('x')",
    "x" * 50_000,
]


def test_adversarial_output_is_dropped_and_never_evaluated(monkeypatch):
    calls = []
    for name in ("eval", "exec", "compile"):
        monkeypatch.setattr(builtins, name, lambda *a, _n=name, **k: calls.append(_n))
    monkeypatch.setattr(os, "system", lambda *a: calls.append("system"))
    monkeypatch.setattr(os, "remove", lambda *a: calls.append("remove"))
    view = kitchen()
    for text in ADVERSARIAL:
        parsed = parse_plan_text(text, DEFAULT_SKILLS, view, synonyms=SYNONYMS)
        if text.startswith("pick(apple_1)\n"):
            assert parsed.truncated and len(parsed.steps) == MAX_STEPS
        else:
            assert parsed.steps == (), (text[:40], parsed.steps)
        assert len(parsed.dropped) <= plan_text.MAX_LINES + 1
        assert all(len(d) < 400 and d.isprintable() for d in parsed.dropped)
    assert calls == []


def test_adversarial_samples_are_rejected_by_the_sampler(monkeypatch):
    monkeypatch.setattr(os, "system", lambda *a: pytest.fail("os.system was called"))
    with ScriptedOpenAIServer(ADVERSARIAL) as server:
        result = LLMPlanSampler(chat(server)).sample(request(len(ADVERSARIAL)))
    assert result.plans == []
    assert len(result.rejected) == len(ADVERSARIAL)
    assert all(len(raw) <= 300 for raw, _ in result.rejected)
    reasons = [why for _, why in result.rejected]
    assert reasons[0] == ("no valid step: __import__('os').system('rm -rf /'): not a single call of the form "
                          "skill(arg, ...)")
    assert reasons[1] == "the answer is longer than 60 steps, so not a plan"
    assert reasons[5] == "the answer is longer than 20000 characters, so not a plan"
    assert "navigate_to(fridge\\u200b): target: 'fridge\\u200b' is not a name" in reasons[3]
    assert result.rejected[3][0].splitlines()[2] == "navigate_to(fridge\\u200b)"  # lines kept, invisibles escaped
    assert result.note == ("none of the language model's 6 sample(s) gave a valid plan; the first: no valid step: "
                           "__import__('os').system('rm -rf /'): not a single call of the form skill(arg, ...)")


def test_no_planning_module_calls_eval_exec_or_import_at_run_time():
    for module in (plan_text, llm_planning, prompts):
        tree = ast.parse(Path(module.__file__).read_text())
        called = {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
        assert not called & {"eval", "exec", "compile", "__import__"}, module.__name__


# -- parsing and grounding ------------------------------------------------------------------------------------
def test_line_forms_prose_and_the_end_of_the_plan():
    text = ("Sure! Here is the plan (short):\n\n1. navigate_to(table)\n2) pick(apple)\nStep 3: navigate_to(fridge)\n"
            "- `open(Fridge door)`\n* place(object=apple_1, target=fridge)  # into the fridge\ndone\npick(mug_1)")
    parsed = parse_plan_text(text, DEFAULT_SKILLS, kitchen(), synonyms=SYNONYMS)
    assert texts(parsed.steps) == ["navigate_to(table)", "pick(apple_1)", "navigate_to(fridge)",
                                   "open(fridge_door)", "place(apple_1, fridge)"]
    assert parsed.dropped == () and not parsed.truncated
    assert parsed.mapped == ("apple -> apple_1 (label 1.00)", "Fridge door -> fridge_door (id 1.00)")


def test_parsing_stops_where_the_model_starts_another_example():
    text = "navigate_to(table)\npick(apple_1)\n\nExample 4\nScene:\nPlan:\nnavigate_to(sink)"
    assert texts(parse_plan_text(text, DEFAULT_SKILLS, kitchen()).steps) == ["navigate_to(table)", "pick(apple_1)"]


@pytest.mark.parametrize("line, reason", [
    ("fly(kitchen)", "unknown skill 'fly'"),
    ("pick(banana)", "object: 'banana' is missing (looked for, not found)"),
    ("pick(banana_1)", "object: 'banana_1' is missing (looked for, not found)"),
    ("pick(pear)", "object: no object 'pear' in the scene by id, label or synonym"),
    ("pick(fridge)", "object: 'fridge' is a receptacle, not an object"),
    ("open(table)", "target: 'table' has no door or drawer"),
    ("place(apple_1)", "missing argument 'target'"),
    ("place(apple_1, table, now)", "takes 2 argument(s), got 3"),
    ("place(object=apple_1, object=mug_1)", "has no parameter left"),
    ("pick(apple_1(2))", "not a single call"),
    ("navigate_to(\"; rm -rf /\")", "is not a name"),
])
def test_invalid_steps_are_dropped_with_their_reason(line, reason):
    parsed = parse_plan_text(f"navigate_to(table)\n{line}", DEFAULT_SKILLS, kitchen())
    assert texts(parsed.steps) == ["navigate_to(table)"]
    (dropped,) = parsed.dropped
    assert dropped.startswith(line[:20]) and reason in dropped


def test_names_map_by_id_label_synonym_in_that_order_deterministically():
    resolver = NameResolver(kitchen(), synonyms=SYNONYMS)
    assert resolver.resolve("apple_2", "object").how == "id"       # the id wins over the label
    assert resolver.resolve("apple", "object").id == "apple_1"     # first usable object with the label, by id
    assert resolver.resolve("the coffee mug", "object").id == "mug_1"
    assert resolver.resolve("cup", "location").id == "mug_1"       # locations include objects
    assert resolver.resolve("fridge_door", "receptacle").id == "fridge"  # a door where a receptacle is meant
    assert resolver.resolve("fridge", "articulated").id == "fridge"
    assert resolver.resolve("counter", "articulated").cause == "wrong_kind"
    assert resolver.resolve("milk", "receptacle").cause == "wrong_kind"
    assert resolver.canonical_label("milk") == "milk carton" and resolver.canonical_label("banana_1") == "banana"


def test_embeddings_map_near_names_above_the_threshold_only():
    embedder = TableEmbedder({"mug": [1, 0, 0], "teacup": [0.95, 0.31, 0], "apple": [0, 1, 0],
                              "milk carton": [0, 0, 1], "cheese": [0.4, 0.4, 0.6]})
    text = "pick(teacup)\npick(cheese)\npick(apple)"
    # cheese . milk carton = 0.6 / |(0.4, 0.4, 0.6)| = 0.73: below a 0.75 threshold, above 0.72
    parsed = parse_plan_text(text, DEFAULT_SKILLS, kitchen(), embedder=embedder, threshold=0.75)
    assert texts(parsed.steps) == ["pick(mug_1)", "pick(apple_1)"]
    assert parsed.mapped == ("teacup -> mug_1 (embedding 0.95)", "apple -> apple_1 (label 1.00)")
    (dropped,) = parsed.dropped
    assert dropped == ("pick(cheese): object: no object 'cheese' in the scene (closest label 'milk carton' at "
                       "similarity 0.73 < 0.75)")
    parsed = parse_plan_text(text, DEFAULT_SKILLS, kitchen(), embedder=embedder, threshold=0.72)
    assert texts(parsed.steps) == ["pick(mug_1)", "pick(milk_carton_1)", "pick(apple_1)"]


def test_the_sampler_embeds_the_scene_labels_once_for_all_samples():
    embedder = TableEmbedder({"mug": [1, 0, 0], "teacup": [0.95, 0.31, 0]})
    with ScriptedOpenAIServer(["navigate_to(counter)\npick(teacup)"] * 3) as server:
        result = LLMPlanSampler(chat(server), embedder=embedder).sample(request(3))
    assert [texts(p.steps) for p in result.plans] == [["navigate_to(counter)", "pick(mug_1)"]]
    assert len(embedder.calls) == 1


def test_an_embedder_that_cannot_load_leaves_ids_labels_and_synonyms_working():
    class Broken:
        def embed(self, texts):
            raise DetectorError("the sentence embedder package is not installed")

    parsed = parse_plan_text("pick(milk)\npick(teacup)", DEFAULT_SKILLS, kitchen(), synonyms=SYNONYMS,
                             embedder=Broken())
    assert texts(parsed.steps) == ["pick(milk_carton_1)"]
    assert "embedder unavailable: the sentence embedder package is not installed" in parsed.dropped[0]


# -- goal writing ------------------------------------------------------------------------------------------
def test_the_goal_writer_parses_conditions_over_ids_and_labels():
    answer = "Goal:\n1. on(apple, fridge)\n2. closed(fridge)\n- not held(mug_1)\ndone\nin(mug_1, sink)"
    with ScriptedOpenAIServer([answer]) as server:
        writer = LLMGoalWriter(chat(server), synonyms=SYNONYMS)
        result = writer.goal("Put the apple in the fridge and close it.", kitchen())
    assert writer.name == "llm:openai:test-model"
    # on/in follow the receptacle; a door is named by its part id, as the offline parser does.
    assert [c.text for c in result.goal] == ["in(apple_1, fridge)", "closed(fridge_door)", "not held(mug_1)"]
    assert result.error == "" and result.missing_labels == ()
    assert (result.model_calls, result.completion_tokens) == (1, len(answer.split()))
    assert result.prompt_tokens == len(prompt_of(server).split())
    body = server.requests[0]
    assert (body["n"], body["temperature"], body["max_tokens"]) == (1, 0.0, 200)
    text = prompt_of(server)
    assert scene_text(kitchen()) in text and "Task: Put the apple in the fridge and close it." in text
    assert "Problems with your previous answer:\n- none\nGoal:" in text


def test_the_goal_writer_asks_again_with_the_errors():
    script = ["You should put the apple into the fridge.", "in(apple_1, freezer)\nopen(table)\nput(apple_1)",
              "in(apple_1, fridge)"]
    with ScriptedOpenAIServer(script) as server:
        result = LLMGoalWriter(chat(server)).goal("Put the apple in the fridge.", kitchen())
    assert [c.text for c in result.goal] == ["in(apple_1, fridge)"] and result.error == ""
    assert result.model_calls == 3 and len(server.requests) == 3
    assert "- the answer held no goal condition" in prompt_of(server, 1)
    third = prompt_of(server, 2)
    assert "- in(apple_1, freezer): freezer: no receptacle 'freezer' in the scene" in third
    assert "- open(table): table: 'table' has no door or drawer" in third
    assert "- put(apple_1): unknown predicate 'put'" in third


def test_strict_goal_writing_retries_a_partly_invalid_answer_and_lenient_takes_it():
    script = ["in(apple_1, fridge)\nclosed(freezer_door)", "in(apple_1, fridge)\nclosed(fridge_door)"]
    with ScriptedOpenAIServer(script) as server:
        strict = LLMGoalWriter(chat(server)).goal("Put the apple in the fridge and close it.", kitchen())
    assert [c.text for c in strict.goal] == ["in(apple_1, fridge)", "closed(fridge_door)"]
    assert strict.model_calls == 2
    with ScriptedOpenAIServer(script) as server:
        writer = LLMGoalWriter(chat(server), strict=False)
        lenient = writer.goal("Put the apple in the fridge and close it.", kitchen())
    assert [c.text for c in lenient.goal] == ["in(apple_1, fridge)"] and lenient.model_calls == 1
    assert writer.last_invalid == ("closed(freezer_door): freezer_door: no door, drawer or openable receptacle "
                                   "'freezer_door' in the scene by id, label or synonym",)


def test_objects_the_view_lacks_are_missing_labels_to_search_for():
    view = kitchen(objects={"apple_1": ObjectView("apple_1", "apple", "on", "table"),
                            "banana_1": ObjectView("banana_1", "banana", "on", "table", ObjectStatus.MISSING)})
    answer = "in(apple_1, fridge)\non(milk, table)\nin(yogurt_2, fridge)\nin(banana_1, fridge)\nin(pear, fridge)"
    with ScriptedOpenAIServer([answer]) as server:
        result = LLMGoalWriter(chat(server), synonyms=SYNONYMS).goal("Put everything away.", view)
    assert [c.text for c in result.goal] == ["in(apple_1, fridge)"]
    assert result.missing_labels == ("milk carton", "yogurt", "banana", "pear")
    assert result.error == "" and result.model_calls == 1


def test_the_goal_writer_gives_up_with_an_error_after_its_retries():
    with ScriptedOpenAIServer(["I do not know."]) as server:
        result = LLMGoalWriter(chat(server), retries=2).goal("Juggle.", kitchen())
    assert result.goal == () and len(server.requests) == 3 and result.model_calls == 3
    assert result.error.startswith("the language model wrote no valid goal condition for 'Juggle.' in 3 attempt(s)")


def test_a_failing_model_is_a_goal_error_not_an_exception():
    with ScriptedOpenAIServer([{"status": 401, "body": "bad key"}]) as server:
        result = LLMGoalWriter(chat(server)).goal("Put the apple in the fridge.", kitchen())
    assert result.goal == () and "failed (http)" in result.error and "bad key" in result.error


def test_several_goal_samples_vote():
    with ScriptedOpenAIServer(["in(apple_1, fridge)", "in(apple_1, sink)", "in(apple, fridge)"]) as server:
        result = LLMGoalWriter(chat(server), samples=3).goal("Put the apple in the fridge.", kitchen())
    assert [c.text for c in result.goal] == ["in(apple_1, fridge)"]
    assert server.requests[0]["n"] == 3 and server.requests[0]["temperature"] == 0.7


def test_goal_text_limits_and_garbage():
    resolver = NameResolver(kitchen())
    text = "in(apple_1, fridge)\n" + "on(" * 100 + "\n" + "in(x, fridge)\n" * 500
    parsed = parse_goal_text(text, kitchen(), resolver)
    assert [c.text for c in parsed.goal] == ["in(apple_1, fridge)"]
    assert parsed.missing_labels == ("x",)
    assert len(parsed.invalid) <= plan_text.MAX_LINES + 1


# -- the LLM decider with the decide_step template -----------------------------------------------------------
def _options(plans: list[list[str]]):
    tree = ActionTree([[DEFAULT_SKILLS.parse(s) for s in plan] for plan in plans])
    return tree.untried_children(0)


CONTEXT = DecisionContext("Put the apple in the fridge.", kitchen(), ("navigate_to(counter)",),
                          ("navigate_to(sink) failed: blocked",), "Robot: at counter; holds nothing.")


def test_the_decider_takes_the_majority_letter():
    options = _options([["navigate_to(fridge)"], ["navigate_to(table)"], ["navigate_to(sink)"]])
    with ScriptedOpenAIServer(["B", "Answer: B. navigate_to(table)", "A"]) as server:
        decider = LLMDecider(chat(server), load_template("decide_step"))
        decision = decider.decide(options, CONTEXT)
    assert decision.node_id == options[1].id and decision.reason == "2 of 3 votes"
    assert decision.scores == {"navigate_to(fridge)": 1.0, "navigate_to(table)": 2.0, "navigate_to(sink)": 0.0}
    assert (decision.model_calls, decision.unparsed) == (1, 0)
    assert decision.prompt_tokens == len(prompt_of(server).split()) and decision.completion_tokens == 5
    assert server.requests[0]["n"] == 3
    text = prompt_of(server)
    assert "Options:\nA. navigate_to(fridge)\nB. navigate_to(table)\nC. navigate_to(sink)\n" in text
    assert "Task: Put the apple in the fridge." in text and "Robot: at counter; holds nothing." in text
    assert "- navigate_to(counter)" in text and "- navigate_to(sink) failed: blocked" in text
    assert "{" not in text


def test_the_decider_breaks_ties_by_support():
    options = _options([["navigate_to(fridge)"], ["navigate_to(table)", "pick(apple_1)"],
                        ["navigate_to(table)", "open(fridge)"]])
    assert [len(o.support) for o in options] == [1, 2]
    with ScriptedOpenAIServer(["A", "B", "Hmm, hard to say."]) as server:
        decision = LLMDecider(chat(server), load_template("decide_step")).decide(options, CONTEXT)
    assert decision.node_id == options[1].id and decision.unparsed == 1


def test_the_decider_falls_back_to_the_offline_choice_on_garbage():
    options = _options([["navigate_to(fridge)"], ["navigate_to(table)"], ["navigate_to(table)", "pick(apple_1)"]])
    with ScriptedOpenAIServer(["Hmm, hard to say.", "42", "Z"]) as server:
        decision = LLMDecider(chat(server), load_template("decide_step")).decide(options, CONTEXT)
    offline = OfflineDecider().decide(options, CONTEXT)
    assert decision.node_id == offline.node_id and decision.unparsed == 3
    assert decision.reason.startswith("no usable answer in 3 sample(s); offline choice")
    assert decision.model_calls == 1


# -- the whole loop, every model call through the double ------------------------------------------------------
SYMBOLIC_KITCHEN = {
    "receptacles": {"table": {}, "counter": {}, "fridge": {"container": True, "openable": True, "open": False},
                    "sink": {"container": True}},
    "objects": {"apple_1": {"label": "apple", "location": "table"}, "mug_1": {"label": "mug", "location": "counter"}},
}


def test_goal_writer_sampler_and_decider_drive_the_planner_to_the_goal():
    robot = SymbolicRobot(SymbolicHousehold.from_config(SYMBOLIC_KITCHEN))
    good = ("navigate_to(fridge)\nopen(fridge)\nnavigate_to(table)\npick(apple)\nnavigate_to(fridge)\n"
            "place(apple, fridge)")
    # Valid but with a detour: both first steps stay live, so the decider is asked.
    worse = ("navigate_to(table)\nnavigate_to(fridge)\nopen(fridge)\nnavigate_to(table)\npick(apple)\n"
             "navigate_to(fridge)\nplace(apple, fridge)")
    script = ["in(apple_1, fridge)", good, worse, "garbage", "A", "A", "B"]
    with ScriptedOpenAIServer(script) as server:
        model = chat(server)
        planner = TreePlanner(DEFAULT_SKILLS, LLMGoalWriter(model), LLMPlanSampler(model),
                              LLMDecider(model, load_template("decide_step")), robot, robot,
                              SceneGraphVerifier(robot), PlannerSettings(num_plans=3))
        result = planner.run("Put the apple in the fridge.")
    assert result.success, result.summary
    assert result.goal == ("in(apple_1, fridge)",)
    assert robot.calls == ["navigate_to(fridge)", "open(fridge)", "navigate_to(table)", "pick(apple_1)",
                           "navigate_to(fridge)", "place(apple_1, fridge)"]
    assert result.metrics.llm_calls == 3 == len(server.requests)
    assert result.metrics.prompt_tokens > 0 and result.metrics.completion_tokens > 0
    rejected = [e for e in result.events if e["type"] == "plan_rejected"]
    assert len(rejected) == 1 and rejected[0]["plan"] == "garbage"


# -- templates and the scene text ------------------------------------------------------------------------------
TEMPLATES = sorted((config_dir() / "prompts").glob("*.txt"))


def test_the_templates_folder_holds_every_template_the_code_fills():
    assert {p.stem for p in TEMPLATES} == set(TEMPLATE_FIELDS)


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.stem)
def test_every_template_loads_and_formats_with_its_documented_placeholders(path):
    documented = documented_fields(path)
    assert set(documented) == set(TEMPLATE_FIELDS[path.stem])
    body = load_template(path.stem)
    assert body == load_template(path) and not body.startswith("#")
    values = {name: f"<<{name}>>" for name in documented}
    text = body.format(**values)
    assert all(v in text for v in values.values())
    assert "{" not in text and "}" not in text


def test_template_errors_name_the_file(tmp_path):
    with pytest.raises(TemplateError, match="no_such_template.txt does not exist; templates there: decide_step"):
        load_template("no_such_template")
    cases = {
        "lacks.txt": ("# {instruction}\nTask: {instruction}\n", "lacks the placeholder(s) {scene}, {errors}"),
        "extra.txt": ("{instruction} {scene} {errors} {mood}", "uses {mood}, which the code does not fill"),
        "attr.txt": ("{instruction.__class__} {scene} {errors}", "is not a plain {name}"),
        "brace.txt": ("{instruction} {scene} {errors} {", "is not a valid format string"),
        "empty.txt": ("# only a header\n", "is empty"),
    }
    for name, (content, message) in cases.items():
        path = tmp_path / name
        path.write_text(content)
        with pytest.raises(TemplateError) as caught:
            load_template(path, TEMPLATE_FIELDS["goal_writing"])
        assert str(path) in str(caught.value) and message in str(caught.value), str(caught.value)
    with pytest.raises(TemplateError, match="lacks the placeholder"):
        LLMGoalWriter(OpenAIChatModel("http://127.0.0.1:9/v1", "m"), tmp_path / "lacks.txt")


def test_the_scene_text_is_compact_sorted_and_says_what_is_known():
    view = kitchen(holding="mug_1", robot_at="counter",
                   knowledge=Knowledge(locked=frozenset({"fridge"}), blocked=frozenset({"sink"}),
                                       notes=("open(fridge) failed: jammed",)))
    view = WorldView({**view.objects, "mug_1": ObjectView("mug_1", "mug", "held", "")}, view.receptacles,
                     holding="mug_1", robot_at="counter", knowledge=view.knowledge)
    assert scene_text(view) == (
        "Robot: at counter; holds mug_1 (mug).\n"
        "Receptacles:\n"
        "- counter: surface; on it: apple_2 (apple, remembered)\n"
        "- fridge: container, door fridge_door closed; in it: milk_carton_1 (milk carton)\n"
        "- sink: container; in it: nothing\n"
        "- table: surface; on it: apple_1 (apple)\n"
        "Missing (looked for, not found): banana_1 (banana)\n"
        "Known: fridge does not open (locked or jammed); nothing can be placed on or in sink (blocked).\n"
        "Note: open(fridge) failed: jammed")
    assert scene_text(view) == scene_text(WorldView(dict(reversed(view.objects.items())),
                                                    dict(reversed(view.receptacles.items())), holding="mug_1",
                                                    robot_at="counter", knowledge=view.knowledge))


def test_the_scene_text_focuses_on_named_ids():
    text = scene_text(kitchen(), ["milk_carton_1", "fridge_door", "sink", "pear_1"])
    assert text == ("Robot: at no receptacle; holds nothing.\n"
                    "Receptacles:\n"
                    "- fridge: container, door fridge_door closed; in it: milk_carton_1 (milk carton)\n"
                    "- sink: container; in it: nothing\n"
                    "Not in the scene: pear_1")
