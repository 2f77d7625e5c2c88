"""Language-model planning: plan sampling (Tree-Planner) and goal writing (LLM+P), over any ChatModel.

- LLMPlanSampler: one prompt (skills, scene, worked examples, task, goal, steps done, earlier failures),
  sampled N times in one request; each answer is parsed strictly (planner_ros.planning.plan_text), invalid
  steps dropped with their reasons, empty plans rejected, repeats merged.
- LLMGoalWriter: the model writes only goal conditions over the scene's ids; a classical planner or the
  action tree does the rest. Answers are validated line by line; when a line is invalid the model is asked
  again with the errors (ISR-LLM), a bounded number of times. Objects the model names that the view lacks
  come back as missing labels, so the executive searches for them before planning.

Prompts are files under config/prompts (planner_ros.planning.prompts); nothing the model writes is evaluated.
"""
from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from planner_ros.llm import ChatMessage, ChatModel, LLMError
from planner_ros.perception.vocabulary import DEFAULT_SIMILARITY_THRESHOLD, TextEmbedder
from planner_ros.planning.conditions import PREDICATES, Condition, GoalError, parse_condition
from planner_ros.planning.executive import GoalResult
from planner_ros.planning.plan_text import AnswerLines, NameResolver, excerpt, parse_plan_text, split_arguments
from planner_ros.planning.prompts import TEMPLATE_FIELDS, load_template, scene_text
from planner_ros.planning.sampling import PlanRequest, SampledPlan, SamplingError, SamplingResult, distinct
from planner_ros.planning.world import WorldView

__all__ = ["GoalText", "LLMGoalWriter", "LLMPlanSampler", "parse_goal_text", "skills_text"]

_RAW_EXCERPT = 300      # characters of a rejected answer kept in the record
_MAX_ERROR_LINES = 10   # errors fed back to the goal writer per retry
_CONDITION = re.compile(r"^(not\s+)?([A-Za-z_]+)\s*\(([^()]*)\)\s*[.;,]?\s*$", re.ASCII)


def skills_text(skills) -> str:
    """One line per skill: its signature and its one-line description."""
    return "\n".join(f"- {spec.signature}: {spec.description}" for spec in skills)


def _raw_excerpt(text: str) -> str:
    """The start of an answer for the record: its lines kept, invisible characters escaped."""
    lines = [excerpt(line, _RAW_EXCERPT) for line in str(text)[: _RAW_EXCERPT + 1].splitlines()]
    return "\n".join(lines)[:_RAW_EXCERPT]


def _bullets(items: Sequence[str], empty: str) -> str:
    return "\n".join(f"- {item}" for item in items) if items else f"- {empty}"


class LLMPlanSampler:
    """Tree-Planner's plan sampling: one prompt, `num_plans` samples (their N), each parsed and grounded.

    template: a name under config/prompts or a path; temperature and top_p: sampling (Tree-Planner used 0.8
    and 0.95); synonyms (label -> names), embedder and threshold: how names in answers map onto scene ids.
    """

    def __init__(self, model: ChatModel, template: str | Path = "plan_sampling", *, temperature: float = 0.8,
                 top_p: float = 0.95, max_tokens: int = 400, synonyms: Mapping[str, Sequence[str]] | None = None,
                 embedder: TextEmbedder | None = None, threshold: float = DEFAULT_SIMILARITY_THRESHOLD) -> None:
        self.model = model
        self.template = load_template(template, TEMPLATE_FIELDS["plan_sampling"])
        self.temperature = temperature
        self.top_p = top_p
        self.max_tokens = max_tokens
        self.synonyms = dict(synonyms or {})
        self.embedder = embedder
        self.threshold = threshold
        self.name = f"llm:{model.name}"

    def prompt(self, request: PlanRequest) -> str:
        goal = [c.text for c in request.goal]
        return self.template.format(
            skills=skills_text(request.skills), scene=scene_text(request.view), instruction=request.instruction,
            goal=_bullets(goal, "not given: infer it from the task"),
            done=_bullets(request.done_steps, "nothing yet"),
            errors=_bullets(request.diagnoses, "none"))  # the view's own notes are in the scene text

    def sample(self, request: PlanRequest) -> SamplingResult:
        if request.num_plans < 1:
            return SamplingResult(plans=[], note=f"num_plans is {request.num_plans}: nothing to sample")
        try:
            completion = self.model.complete([ChatMessage("user", self.prompt(request))], n=request.num_plans,
                                             temperature=self.temperature, top_p=self.top_p,
                                             max_tokens=self.max_tokens)
        except LLMError as err:
            raise SamplingError(f"the language model {self.model.name} could not sample plans ({err.kind}): {err}") \
                from err
        resolver = NameResolver(request.view, synonyms=self.synonyms, embedder=self.embedder,
                                threshold=self.threshold)
        plans: list[SampledPlan] = []
        rejected: list[tuple[str, str]] = []
        mapped: dict[str, None] = {}
        for text in completion.texts:
            parsed = parse_plan_text(text, request.skills, request.view, resolver=resolver)
            raw = _raw_excerpt(text)
            if parsed.truncated:
                rejected.append((raw, f"the answer is {parsed.truncated}, so not a plan"))
            elif not parsed.steps:
                why = "; ".join(parsed.dropped[:3]) if parsed.dropped else "no line of the form skill(arg, ...)"
                rejected.append((raw, f"no valid step: {why}"))
            else:
                plans.append(SampledPlan(parsed.steps, self.name, parsed.dropped))
                mapped.update(dict.fromkeys(parsed.mapped))
        unique = distinct(plans)
        if unique:
            note = (f"{len(plans)} of {len(completion.texts)} sample(s) gave a plan, {len(unique)} distinct"
                    + (f"; names mapped: {', '.join(mapped)}" if mapped else ""))
        else:  # the executive ends the task with this note
            note = (f"none of the language model's {len(completion.texts)} sample(s) gave a valid plan"
                    + (f"; the first: {rejected[0][1]}" if rejected else ""))
        return SamplingResult(plans=unique, rejected=rejected, model_calls=completion.calls,
                              prompt_tokens=completion.prompt_tokens, completion_tokens=completion.completion_tokens,
                              note=note)


# -- goal writing ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class GoalText:
    """One answer of the goal writer, validated."""

    goal: tuple[Condition, ...]
    missing_labels: tuple[str, ...] = ()   # objects named that the view does not hold
    invalid: tuple[str, ...] = ()          # "line: reason" for each line that is not a usable condition
    mapped: tuple[str, ...] = ()           # "name -> id (how score)"

    @property
    def usable(self) -> bool:
        return bool(self.goal or self.missing_labels)


def parse_goal_text(text: str, view: WorldView, resolver: NameResolver) -> GoalText:
    """Goal conditions, one a line, over the view's ids. Objects are mapped like plan arguments; an object
    that maps to nothing is a missing label (search for it); a receptacle or door that maps to nothing makes
    the line invalid. `in`/`on` follow the receptacle (a container takes `in`), as the offline parser does."""
    goal: list[Condition] = []
    missing: list[str] = []
    invalid: list[str] = []
    mapped: list[str] = []
    for line in AnswerLines(text, invalid):
        if "(" not in line:
            continue  # prose ("Goal:")
        match = _CONDITION.match(line)
        if not match:
            invalid.append(f"{excerpt(line)}: not of the form predicate(arg[, arg])")
            continue
        negated, predicate, raw = match.groups()
        predicate = predicate.lower()
        args = split_arguments(raw)
        if predicate not in PREDICATES:
            invalid.append(f"{excerpt(line)}: unknown predicate '{predicate}'; use {', '.join(sorted(PREDICATES))}")
            continue
        if len(args) != PREDICATES[predicate]:
            invalid.append(f"{excerpt(line)}: '{predicate}' takes {PREDICATES[predicate]} argument(s)")
            continue
        kinds = {"on": ("object", "receptacle"), "in": ("object", "receptacle"), "held": ("object",),
                 "open": ("articulated",), "closed": ("articulated",)}[predicate]
        ids: list[str] = []
        why = ""
        absent = ""
        for value, kind in zip(args, kinds):
            found = resolver.resolve(value, kind)
            if found.id is not None:
                ids.append(found.id)
                if found.id != value:
                    mapped.append(found.text)
            elif kind == "object" and found.cause in ("unknown", "missing"):
                absent = resolver.canonical_label(value)
            else:
                why = why or f"{value.strip()}: {found.reason}"
        if why:
            invalid.append(f"{excerpt(line)}: {why}")
            continue
        if absent:
            missing.append(absent)
            continue
        if predicate in ("on", "in"):
            predicate = "in" if view.receptacles[ids[1]].container else "on"
        elif predicate in ("open", "closed"):
            owner = view.part_owner(ids[0])
            ids[0] = view.receptacles[owner].part or ids[0]
        try:
            condition = parse_condition(f"{negated or ''}{predicate}({', '.join(ids)})")
        except GoalError as err:  # ids the condition grammar does not take (e.g. with '-' or '.')
            invalid.append(f"{excerpt(line)}: {err}")
            continue
        goal.append(condition)
    return GoalText(tuple(dict.fromkeys(goal)), tuple(dict.fromkeys(missing)), tuple(invalid),
                    tuple(dict.fromkeys(mapped)))


class LLMGoalWriter:
    """LLM+P's division of labour: the model writes the goal conditions only.

    samples: answers per attempt (with more than one, the most frequent usable answer wins, ties to the
    first); retries: attempts after the first, each with the previous errors in the prompt's {errors};
    strict: ask again when any line is invalid, not only when no line is usable (an answer with one bad line
    usually lost a condition the task needs); once retries run out, the best usable answer is taken.
    The invalid lines of the last call are kept in `last_invalid` for records.
    """

    def __init__(self, model: ChatModel, template: str | Path = "goal_writing", *, samples: int = 1,
                 max_tokens: int = 200, retries: int = 2, temperature: float | None = None, strict: bool = True,
                 synonyms: Mapping[str, Sequence[str]] | None = None, embedder: TextEmbedder | None = None,
                 threshold: float = DEFAULT_SIMILARITY_THRESHOLD) -> None:
        if samples < 1 or retries < 0:
            raise ValueError(f"samples must be >= 1 and retries >= 0, got samples={samples}, retries={retries}")
        self.model = model
        self.template = load_template(template, TEMPLATE_FIELDS["goal_writing"])
        self.samples = samples
        self.max_tokens = max_tokens
        self.retries = retries
        # One answer: greedy. Several: they must differ for a vote to mean anything.
        self.temperature = temperature if temperature is not None else (0.0 if samples == 1 else 0.7)
        self.strict = strict
        self.synonyms = dict(synonyms or {})
        self.embedder = embedder
        self.threshold = threshold
        self.name = f"llm:{model.name}"
        self.last_invalid: tuple[str, ...] = ()

    def prompt(self, instruction: str, view: WorldView, errors: Sequence[str] = ()) -> str:
        return self.template.format(scene=scene_text(view), instruction=instruction, errors=_bullets(errors, "none"))

    def goal(self, instruction: str, view: WorldView, *, searched: bool = False) -> GoalResult:
        # The model sees the whole scene after a search too; `searched` changes nothing for it.
        resolver = NameResolver(view, synonyms=self.synonyms, embedder=self.embedder, threshold=self.threshold)
        errors: list[str] = []
        calls = prompt_tokens = completion_tokens = 0
        best: GoalText | None = None
        for _ in range(self.retries + 1):
            try:
                completion = self.model.complete([ChatMessage("user", self.prompt(instruction, view, errors))],
                                                 n=self.samples, temperature=self.temperature,
                                                 max_tokens=self.max_tokens)
            except LLMError as err:
                return GoalResult((), error=f"the goal writer's model {self.model.name} failed ({err.kind}): {err}",
                                  model_calls=calls, prompt_tokens=prompt_tokens,
                                  completion_tokens=completion_tokens)
            calls += completion.calls
            prompt_tokens += completion.prompt_tokens
            completion_tokens += completion.completion_tokens
            answers = [parse_goal_text(text, view, resolver) for text in completion.texts]
            self.last_invalid = tuple(dict.fromkeys(i for a in answers for i in a.invalid))
            usable = [a for a in answers if a.usable]
            clean = [a for a in usable if not a.invalid]
            chosen = _vote(clean) or (None if self.strict else _vote(usable))
            if chosen is not None:
                return GoalResult(chosen.goal, chosen.missing_labels, model_calls=calls, prompt_tokens=prompt_tokens,
                                  completion_tokens=completion_tokens)
            if usable:
                best = min(usable, key=lambda a: len(a.invalid))
            errors = list(self.last_invalid[:_MAX_ERROR_LINES]) or [
                "the answer held no goal condition: write one condition per line, like in(apple_1, fridge)"]
        usage = dict(model_calls=calls, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens)
        if best is not None:
            return GoalResult(best.goal, best.missing_labels, **usage)
        return GoalResult((), error=f"the language model wrote no valid goal condition for {instruction!r} in "
                                    f"{self.retries + 1} attempt(s): {'; '.join(errors)}", **usage)


def _vote(answers: Sequence[GoalText]) -> GoalText | None:
    if not answers:
        return None
    keys = [(frozenset(a.goal), frozenset(a.missing_labels)) for a in answers]
    counts = Counter(keys)
    top = max(counts.values())
    return next(a for a, k in zip(answers, keys) if counts[k] == top)
