"""The planner's parts by configuration (planner_ros.planning.components): offline defaults without any model,
refusals that say what to set, and language-model backends built without touching the network. No ROS."""
from __future__ import annotations

import socket
import urllib.request
from pathlib import Path

import pytest

from planner_ros.llm import OpenAIChatModel
from planner_ros.planning import components as components_module
from planner_ros.planning.components import ComponentError, PlannerConfig, build_components
from planner_ros.planning.conditions import Condition
from planner_ros.planning.deciders import LLMDecider, OfflineDecider
from planner_ros.planning.instructions import ParserGoalWriter
from planner_ros.planning.llm_planning import LLMGoalWriter, LLMPlanSampler
from planner_ros.planning.symbolic_sampler import SymbolicSampler
from planner_ros.planning.world import ObjectView, ReceptacleView, WorldView

# What planner_node passes (every llm.* parameter is declared, so all keys are always present).
NODE_LLM = {"backend": "none", "base_url": "", "model": "", "api_key_env": "OPENAI_API_KEY", "timeout_s": 60.0,
            "max_retries": 3, "device": "cpu", "local_files_only": True}
OPENAI = {**NODE_LLM, "backend": "openai", "base_url": "http://127.0.0.1:9/v1", "model": "qwen2.5-7b-instruct"}


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to connect fails the test: building must not talk to a server."""
    def refuse(*args, **kwargs):
        raise AssertionError(f"network access while building components: {args!r}")
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(urllib.request.OpenerDirector, "open", refuse)


@pytest.fixture
def no_model(monkeypatch):
    """Any attempt to build a chat model fails the test."""
    def refuse(config):
        if config.get("backend") != "none":
            raise AssertionError(f"a model was built: {config!r}")
        return None
    monkeypatch.setattr(components_module, "make_chat_model", refuse)


# -- offline defaults --------------------------------------------------------------------------------------
@pytest.mark.parametrize("llm", [{"backend": "none"}, NODE_LLM], ids=["minimal", "as_the_node_passes_it"])
def test_defaults_build_the_offline_parts_without_a_model(llm, no_model, no_network):
    parts = build_components(PlannerConfig(llm=llm, symbolic_timeout_s=4.0))
    assert isinstance(parts.goal_writer, ParserGoalWriter)
    assert isinstance(parts.sampler, SymbolicSampler)
    assert isinstance(parts.decider, OfflineDecider)
    assert parts.model_name == "none"
    assert parts.describe_config() == {"goal_writer": "parser", "sampler": "symbolic:kstar", "decider": "offline",
                                       "model": "none", "temperature": 0.8, "top_p": 0.95}


def test_the_offline_goal_writer_knows_the_catalogs_synonyms():
    parts = build_components(PlannerConfig())
    view = WorldView({"soda_can_1": ObjectView("soda_can_1", "soda_can", "on", "table")},
                     {"table": ReceptacleView("table", "table"), "bin": ReceptacleView("bin", "bin", container=True)})
    assert parts.goal_writer.goal("throw the coke in the trash", view).goal == (
        Condition("in", ("soda_can_1", "bin")),)


def test_describe_focuses_the_scene_on_what_the_goal_names():
    parts = build_components(PlannerConfig())
    view = WorldView({"apple_1": ObjectView("apple_1", "apple", "on", "table"),
                      "mug_1": ObjectView("mug_1", "mug", "on", "counter")},
                     {"table": ReceptacleView("table", "table"), "counter": ReceptacleView("counter", "counter")})
    text = parts.describe(view, (Condition("on", ("apple_1", "counter")),))
    assert "apple_1" in text and "mug_1" not in text


# -- refusals ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("choice", [{"goal_writer": "llm"}, {"sampler": "llm"}, {"decider": "llm"},
                                    {"goal_writer": "llm", "sampler": "llm", "decider": "llm"}])
@pytest.mark.parametrize("llm", [{"backend": "none"}, NODE_LLM], ids=["minimal", "as_the_node_passes_it"])
def test_an_llm_choice_without_a_backend_is_refused_naming_llm_backend(choice, llm, no_network):
    with pytest.raises(ComponentError) as err:
        build_components(PlannerConfig(llm=llm, **choice))
    assert "llm.backend" in str(err.value)


@pytest.mark.parametrize("key, value", [("goal_writer", "gpt"), ("sampler", "pddl"), ("decider", "random"),
                                        ("sampler", "LLM"), ("decider", "")])
def test_unknown_choices_are_refused_naming_the_key_the_value_and_the_options(key, value, no_model):
    with pytest.raises(ComponentError) as err:
        build_components(PlannerConfig(**{key: value}))
    message = str(err.value)
    assert key in message and repr(value) in message
    assert all(option in message for option in components_module.CHOICES[key])


def test_an_unknown_backend_is_refused_even_when_no_part_needs_a_model():
    # A typo must not silently fall back to the offline parts.
    with pytest.raises(ComponentError) as err:
        build_components(PlannerConfig(llm={"backend": "anthropic"}))
    assert "anthropic" in str(err.value)


def test_an_openai_backend_without_base_url_says_so(no_network):
    with pytest.raises(ComponentError) as err:
        build_components(PlannerConfig(sampler="llm", llm={**OPENAI, "base_url": ""}))
    assert "base_url" in str(err.value)


# -- language-model backends -------------------------------------------------------------------------------
def test_an_openai_backend_builds_every_llm_part_without_a_network_call(no_network):
    config = PlannerConfig(goal_writer="llm", sampler="llm", decider="llm", llm=OPENAI, temperature=0.6, top_p=0.9,
                           decider_samples=5)
    parts = build_components(config)
    assert isinstance(parts.goal_writer, LLMGoalWriter)
    assert isinstance(parts.sampler, LLMPlanSampler)
    assert isinstance(parts.decider, LLMDecider)
    model = parts.sampler.model
    assert isinstance(model, OpenAIChatModel)
    assert parts.goal_writer.model is model and parts.decider.model is model   # one client for all
    assert model.url == "http://127.0.0.1:9/v1/chat/completions"
    assert (model.timeout_s, model.max_retries) == (60.0, 3)
    assert (parts.sampler.temperature, parts.sampler.top_p, parts.decider.samples) == (0.6, 0.9, 5)
    assert parts.model_name == "openai:qwen2.5-7b-instruct"
    assert parts.describe_config()["model"] == "openai:qwen2.5-7b-instruct"


def test_an_openai_backend_can_serve_one_llm_part_beside_offline_ones(no_network):
    parts = build_components(PlannerConfig(sampler="llm", llm=OPENAI))
    assert isinstance(parts.goal_writer, ParserGoalWriter)
    assert isinstance(parts.sampler, LLMPlanSampler)
    assert isinstance(parts.decider, OfflineDecider)


def test_a_required_api_key_that_is_not_set_is_a_component_error(monkeypatch, no_network):
    monkeypatch.delenv("PLANNER_TEST_NO_SUCH_KEY", raising=False)
    llm = {**OPENAI, "api_key_env": "PLANNER_TEST_NO_SUCH_KEY", "api_key_required": True}
    with pytest.raises(ComponentError) as err:
        build_components(PlannerConfig(sampler="llm", llm=llm))
    assert "PLANNER_TEST_NO_SUCH_KEY" in str(err.value)


def test_a_transformers_model_directory_that_does_not_exist_is_a_clear_component_error(tmp_path: Path, no_network):
    missing = tmp_path / "no_such_model"
    llm = {**NODE_LLM, "backend": "transformers", "model": str(missing)}
    with pytest.raises(ComponentError) as err:
        build_components(PlannerConfig(sampler="llm", llm=llm))
    message = str(err.value)
    assert "cannot build the language model" in message
    assert str(missing) in message and "does not exist" in message
