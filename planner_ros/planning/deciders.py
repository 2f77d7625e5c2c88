"""Deciders: which child of the action tree to take next, given what the robot sees now.

- OfflineDecider (SayCan-style): a child's support (how many sampled plans go through it) times an
  affordance score (do its preconditions hold in the current view?). No model call.
- LLMDecider (Tree-Planner): the options as lettered choices in one prompt, several samples, majority
  vote; ties broken by support. Answers are parsed as a single letter; anything else is counted and
  ignored, and when no sample gives a usable letter it falls back to the offline score.
"""
from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from planner_ros.planning.affordance import effects_hold, preconditions
from planner_ros.planning.prompts import TEMPLATE_FIELDS, load_template
from planner_ros.planning.tree import TreeNode
from planner_ros.planning.world import WorldView

__all__ = ["Decision", "DecisionContext", "Decider", "LLMDecider", "OfflineDecider", "LETTERS"]

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
UNMET_AFFORDANCE = 0.05    # a step whose preconditions fail now is a last resort, not forbidden
DONE_AFFORDANCE = 0.5      # a step whose effects already hold is cheap but adds nothing


@dataclass(frozen=True)
class DecisionContext:
    instruction: str
    view: WorldView
    done_steps: tuple[str, ...]
    errors: tuple[str, ...] = ()      # why siblings failed at this node, newest last
    scene_text: str = ""              # the scene summary for prompts


@dataclass(frozen=True)
class Decision:
    node_id: int
    reason: str
    scores: dict[str, float]          # option step text -> score or votes
    model_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    unparsed: int = 0                 # model answers that were not a valid option letter


class Decider(Protocol):
    name: str

    def decide(self, options: Sequence[TreeNode], context: DecisionContext) -> Decision: ...


def affordance(node: TreeNode, view: WorldView) -> tuple[float, str]:
    if node.is_end:
        return 1.0, "end of plan"
    ok, why = preconditions(node.call, view)
    if not ok:
        return UNMET_AFFORDANCE, why
    if effects_hold(node.call, view):
        return DONE_AFFORDANCE, "its effects already hold"
    return 1.0, "preconditions hold"


def _offline_scores(options: Sequence[TreeNode], view: WorldView) -> dict[int, tuple[float, str]]:
    total = max(1, max(len(o.support) for o in options))
    out = {}
    for node in options:
        a, why = affordance(node, view)
        out[node.id] = (round(len(node.support) / total * a, 4), why)
    return out


def _best(options: Sequence[TreeNode], score: dict[int, float]) -> TreeNode:
    # Highest score, then most support, then the earliest-built node (cheapest plans are merged first).
    return min(options, key=lambda o: (-score[o.id], -len(o.support), o.id))


class OfflineDecider:
    name = "offline"

    def decide(self, options: Sequence[TreeNode], context: DecisionContext) -> Decision:
        scored = _offline_scores(options, context.view)
        chosen = _best(options, {k: v[0] for k, v in scored.items()})
        return Decision(chosen.id, f"support x affordance {scored[chosen.id][0]:.2f} ({scored[chosen.id][1]})",
                        {o.step: scored[o.id][0] for o in options})


_ANSWER = re.compile(r"^\s*(?:answer\s*[:\-]?\s*)?\(?([A-Z])\)?(?:[.):\s]|$)", re.IGNORECASE)


def parse_letter(text: str, count: int) -> int | None:
    """Index of the option an answer names ("B", "(B)", "Answer: B. pick(...)"), None if it names none."""
    match = _ANSWER.match(text or "")
    if not match:
        return None
    index = LETTERS.index(match.group(1).upper())
    return index if index < count else None


class LLMDecider:
    """Lettered options, `samples` answers, majority vote; ties by support, then tree order."""

    def __init__(self, model, template: str | Path = "decide_step", *, samples: int = 3, temperature: float = 0.7,
                 max_tokens: int = 8) -> None:
        self.model = model
        # A template name or file (config/prompts, header stripped and placeholders checked), or the text.
        is_text = isinstance(template, str) and "{options}" in template
        self.template = template if is_text else load_template(template, TEMPLATE_FIELDS["decide_step"])
        self.samples = samples
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.name = f"llm:{getattr(model, 'name', 'model')}"

    def prompt(self, options: Sequence[TreeNode], context: DecisionContext) -> str:
        lines = [f"{LETTERS[i]}. {'finish (the task is done)' if o.is_end else o.step}" for i, o in enumerate(options)]
        return self.template.format(
            instruction=context.instruction, scene=context.scene_text or "(no scene summary)",
            done="\n".join(f"- {s}" for s in context.done_steps) or "- nothing yet",
            errors="\n".join(f"- {e}" for e in context.errors) or "- none",
            options="\n".join(lines))

    def decide(self, options: Sequence[TreeNode], context: DecisionContext) -> Decision:
        from planner_ros.llm import ChatMessage, LLMError

        options = list(options)[: len(LETTERS)]
        try:
            completion = self.model.complete([ChatMessage("user", self.prompt(options, context))], n=self.samples,
                                             temperature=self.temperature, max_tokens=self.max_tokens)
        except LLMError as err:
            fallback = OfflineDecider().decide(options, context)
            return Decision(fallback.node_id, f"model failed ({err}); offline choice: {fallback.reason}",
                            fallback.scores)
        picks = [parse_letter(text, len(options)) for text in completion.texts]
        votes = Counter(i for i in picks if i is not None)
        unparsed = sum(i is None for i in picks)
        usage = dict(model_calls=completion.calls, prompt_tokens=completion.prompt_tokens,
                     completion_tokens=completion.completion_tokens, unparsed=unparsed)
        if not votes:
            fallback = OfflineDecider().decide(options, context)
            return Decision(fallback.node_id, f"no usable answer in {len(picks)} sample(s); offline choice: "
                                              f"{fallback.reason}", fallback.scores, **usage)
        score = {o.id: float(votes.get(i, 0)) for i, o in enumerate(options)}
        chosen = _best(options, score)
        return Decision(chosen.id, f"{votes[options.index(chosen)]} of {len(picks)} votes",
                        {o.step: score[o.id] for o in options}, **usage)
