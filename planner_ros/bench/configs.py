"""The planner configurations the benchmark compares, and the backends a parameters file selects.

Every configuration gets the same goal writer, sampler, decider, verifier, skills, scene and perception;
they differ only in how plans are chosen and corrected (planner_ros.planning.baselines).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml

from planner_ros.planning.baselines import IterativePlanner, OpenLoopPlanner
from planner_ros.planning.components import Components, PlannerConfig
from planner_ros.planning.executive import PlannerSettings, TreePlanner
from planner_ros.planning.interfaces import Executor, Observer, Verifier
from planner_ros.skills import DEFAULT_SKILLS

__all__ = ["CONFIGURATIONS", "DESCRIPTIONS", "load_parameters", "make_planner"]

CONFIGURATIONS = ("open_loop", "iterative", "tree_backtrack", "full")
DESCRIPTIONS = {
    "open_loop": "sample once, run the first plan, no verification, no replanning",
    "iterative": "plan from the current state before every step, take its first step (SayCan/ReAct style)",
    "tree_backtrack": "Tree-Planner with verification and backtracking, no replanning",
    "full": "Tree-Planner + verifier + RePLan (the shipped system)",
}
LLM_KEYS = ("backend", "base_url", "model", "api_key_env", "timeout_s", "max_retries", "device", "local_files_only")


def load_parameters(path: Path | None) -> tuple[PlannerConfig, PlannerSettings]:
    """Backends and limits from a planner parameters file (config/params/planner.yaml's format: the
    `planner.ros__parameters` mapping, flat `llm.*` keys); None: the offline defaults."""
    if path is None:
        return PlannerConfig(), PlannerSettings()
    try:
        data = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as err:
        raise ValueError(f"cannot read planner parameters {path}: {err}") from err
    params = (data or {}).get("planner", {}).get("ros__parameters") if isinstance(data, Mapping) else None
    if not isinstance(params, Mapping):
        raise ValueError(f"{path}: expected planner: ros__parameters: {{...}} as in config/params/planner.yaml")
    return parameters_to_config(params)


def parameters_to_config(params: Mapping[str, Any]) -> tuple[PlannerConfig, PlannerSettings]:
    default_config, default_settings = PlannerConfig(), PlannerSettings()
    llm = {key: params[f"llm.{key}"] for key in LLM_KEYS if f"llm.{key}" in params}
    config = PlannerConfig(
        goal_writer=str(params.get("goal_writer", default_config.goal_writer)),
        sampler=str(params.get("sampler", default_config.sampler)),
        decider=str(params.get("decider", default_config.decider)),
        llm=llm or default_config.llm,
        temperature=float(params.get("temperature", default_config.temperature)),
        top_p=float(params.get("top_p", default_config.top_p)),
        decider_samples=int(params.get("decider_samples", default_config.decider_samples)))
    settings = PlannerSettings(
        num_plans=int(params.get("num_plans", default_settings.num_plans)),
        max_corrections=int(params.get("max_corrections", default_settings.max_corrections)),
        max_replans=int(params.get("max_replans", default_settings.max_replans)),
        max_skill_calls=int(params.get("max_skill_calls", default_settings.max_skill_calls)))
    return config, settings


def make_planner(configuration: str, components: Components, settings: PlannerSettings, executor: Executor,
                 observer: Observer, verifier: Verifier) -> TreePlanner:
    if configuration not in CONFIGURATIONS:
        raise ValueError(f"unknown configuration {configuration!r}; choose from {', '.join(CONFIGURATIONS)}")
    cls = {"open_loop": OpenLoopPlanner, "iterative": IterativePlanner}.get(configuration, TreePlanner)
    if configuration == "tree_backtrack":
        settings = replace(settings, max_replans=0)
    return cls(DEFAULT_SKILLS, components.goal_writer, components.sampler, components.decider, executor, observer,
               verifier, settings, describe=components.describe)
