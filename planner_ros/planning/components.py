"""The planner's parts chosen by configuration: goal writer, plan sampler, decider, language model.

Offline defaults need nothing but this package: the instruction parser, the K* symbolic sampler and the
support x affordance decider. Any `llm` choice needs a language model (an OpenAI-compatible endpoint or a
local transformers model, planner_ros.llm); asking for one without a model is refused with what to set.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from planner_ros.llm import LLMError, make_chat_model
from planner_ros.perception.backends import catalog_aliases
from planner_ros.planning.conditions import Condition
from planner_ros.planning.deciders import LLMDecider, OfflineDecider
from planner_ros.planning.instructions import ParserGoalWriter
from planner_ros.planning.llm_planning import LLMGoalWriter, LLMPlanSampler
from planner_ros.planning.prompts import scene_text
from planner_ros.planning.sampling import SamplingError
from planner_ros.planning.symbolic_sampler import SymbolicSampler
from planner_ros.planning.world import WorldView

__all__ = ["ComponentError", "Components", "PlannerConfig", "build_components"]

CHOICES = {"goal_writer": ("parser", "llm"), "sampler": ("symbolic", "llm"), "decider": ("offline", "llm")}


class ComponentError(ValueError):
    """A configuration asks for parts that cannot be built; the message says what to set."""


@dataclass(frozen=True)
class PlannerConfig:
    goal_writer: str = "parser"
    sampler: str = "symbolic"
    decider: str = "offline"
    llm: Mapping[str, Any] = field(default_factory=lambda: {"backend": "none"})
    temperature: float = 0.8
    top_p: float = 0.95
    decider_samples: int = 3
    symbolic_timeout_s: float = 10.0


@dataclass
class Components:
    goal_writer: Any
    sampler: Any
    decider: Any
    model_name: str
    describe: Callable[[WorldView, tuple[Condition, ...]], str]
    config: PlannerConfig

    def describe_config(self) -> dict[str, Any]:
        return {"goal_writer": self.goal_writer.name, "sampler": self.sampler.name, "decider": self.decider.name,
                "model": self.model_name, "temperature": self.config.temperature, "top_p": self.config.top_p}


def _focus(view: WorldView, goal: tuple[Condition, ...]) -> str:
    names = sorted({a for c in goal for a in c.args})
    return scene_text(view, names or None)


def build_components(config: PlannerConfig) -> Components:
    for key, allowed in CHOICES.items():
        if getattr(config, key) not in allowed:
            raise ComponentError(f"{key} must be one of {', '.join(allowed)}; got {getattr(config, key)!r}")
    wants_model = "llm" in (config.goal_writer, config.sampler, config.decider)
    llm = {k: v for k, v in config.llm.items() if not (k != "backend" and v in ("", None))}
    if str(llm.get("backend", "none")) == "none":
        llm = {"backend": "none"}
    elif str(llm["backend"]) == "openai":
        llm = {k: v for k, v in llm.items() if k not in ("device", "local_files_only")}
    elif str(llm["backend"]) == "transformers":
        llm = {k: v for k, v in llm.items() if k in ("backend", "model", "device", "local_files_only")}
    try:
        model = make_chat_model(llm)
    except (ValueError, LLMError) as err:
        raise ComponentError(f"cannot build the language model: {err}") from err
    if wants_model and model is None:
        raise ComponentError("an llm goal writer, sampler or decider needs a language model: set llm.backend "
                             "(openai with llm.base_url and llm.model, or transformers with llm.model)")
    synonyms = catalog_aliases()
    goal_writer = LLMGoalWriter(model, synonyms=synonyms) if config.goal_writer == "llm" \
        else ParserGoalWriter(synonyms)
    try:
        sampler = LLMPlanSampler(model, temperature=config.temperature, top_p=config.top_p, synonyms=synonyms) \
            if config.sampler == "llm" else SymbolicSampler(config.symbolic_timeout_s)
    except (SamplingError, ValueError) as err:
        raise ComponentError(f"cannot build the {config.sampler} sampler: {err}") from err
    decider = LLMDecider(model, samples=config.decider_samples) if config.decider == "llm" else OfflineDecider()
    return Components(goal_writer, sampler, decider, model.name if model else "none", _focus, config)
