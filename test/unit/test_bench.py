"""The benchmark's pure parts: seeds, episode lists, configurations from a parameters file, the figures
(intervals, sets, the verifier audit, call ratios) and the report. No simulator: rows are built here."""
from __future__ import annotations

import argparse
import math
from pathlib import Path

import pytest

from planner_ros.bench.configs import CONFIGURATIONS, load_parameters, make_planner
from planner_ros.bench.episode import HELD_OUT_SEED_BASE, SUITE_SEED, episode_seed
from planner_ros.bench.report import aggregate, markdown, plot, verifier_figures, wilson
from planner_ros.bench.runner import BenchOptions, _episodes, options_from_args, quick_scenarios, reproduction
from planner_ros.paths import config_dir
from planner_ros.planning.baselines import IterativePlanner, OpenLoopPlanner
from planner_ros.planning.components import build_components
from planner_ros.planning.executive import TreePlanner
from planner_ros.sim.scenario import load_scenarios

SCENARIOS = load_scenarios(config_dir() / "tasks")


def test_held_out_seeds_avoid_training_evaluation_and_suite_seeds():
    from planner_ros.perception.sim_views import EVAL_SEEDS, TRAIN_SEEDS

    seeds = {episode_seed(s.seed, k) for s in SCENARIOS.values() for k in range(10)}
    assert len(seeds) == 10 * len({s.seed for s in SCENARIOS.values()})
    assert all(HELD_OUT_SEED_BASE <= x < HELD_OUT_SEED_BASE + 10_000 for x in seeds)
    assert not seeds & set(TRAIN_SEEDS) and not seeds & set(EVAL_SEEDS)
    assert episode_seed(131, SUITE_SEED) == 131
    with pytest.raises(ValueError, match="seed index must be 0..9"):
        episode_seed(131, 10)


def test_the_quick_set_is_one_recoverable_fault_variant_per_category():
    from planner_ros.bench.report import infeasible_reason

    quick = quick_scenarios(SCENARIOS)
    categories = {s.category for s in SCENARIOS.values()}
    assert len(quick) == len(categories) and {SCENARIOS[n].category for n in quick} == categories
    assert all(SCENARIOS[n].variant == "fault" and not infeasible_reason(SCENARIOS[n]) for n in quick)
    assert "clear_plate_to_sink:fault" not in quick   # an obstacle covers the sink: no planner can recover


def test_episodes_cross_scenarios_seeds_and_configurations(tmp_path):
    options = BenchOptions(out=tmp_path, seeds=2, only=("fetch_apple_to_counter:clean",))
    episodes = _episodes(options, SCENARIOS)
    assert len(episodes) == 2 * len(CONFIGURATIONS) and len({e.key for e in episodes}) == len(episodes)
    full = _episodes(BenchOptions(out=tmp_path, full=True, configurations=("full",)), SCENARIOS)
    assert len(full) == len(SCENARIOS)
    faults = _episodes(BenchOptions(out=tmp_path, full=True, configurations=("full",), variants=("fault",)), SCENARIOS)
    assert len(faults) == len(SCENARIOS) // 2 and all(e.scenario.endswith(":fault") for e in faults)
    with pytest.raises(ValueError, match="unknown scenario"):
        _episodes(BenchOptions(out=tmp_path, only=("fetch_apple:dirty",)), SCENARIOS)


def _args(**overrides):
    values = dict(out=None, full=False, seeds=1, suite_seeds=False, configurations="full,open_loop", only="",
                  variants="clean,fault",
                  workers=2, detector="embedded", parameters=None, no_stages=True, compare=None,
                  no_skill_checks=False)
    return argparse.Namespace(**{**values, **overrides})


def test_bench_options_refuse_unknown_configurations_and_seed_counts(tmp_path):
    options = options_from_args(_args(out=tmp_path), ["planner-ros", "bench"])
    assert options.configurations == ("full", "open_loop") and options.out == tmp_path and not options.stages
    with pytest.raises(ValueError, match="unknown configuration"):
        options_from_args(_args(configurations="full,greedy"), [])
    with pytest.raises(ValueError, match="--seeds must be 1..10"):
        options_from_args(_args(seeds=11), [])
    with pytest.raises(ValueError, match="--variants takes clean, fault or both"):
        options_from_args(_args(variants="dirty"), [])


def test_a_parameters_file_picks_backends_and_limits(tmp_path):
    path = tmp_path / "planner.yaml"
    path.write_text("planner:\n  ros__parameters:\n    sampler: llm\n    llm.backend: openai\n"
                    "    llm.base_url: http://127.0.0.1:9/v1\n    llm.model: m\n    num_plans: 7\n    max_replans: 1\n")
    config, settings = load_parameters(path)
    assert (config.sampler, config.goal_writer, config.llm["backend"], config.llm["model"]) == ("llm", "parser",
                                                                                                 "openai", "m")
    assert (settings.num_plans, settings.max_replans, settings.max_corrections) == (7, 1, 10)
    shipped, _ = load_parameters(config_dir() / "params" / "planner.yaml")
    assert (shipped.sampler, shipped.decider, shipped.llm["backend"]) == ("symbolic", "offline", "none")
    (tmp_path / "bad.yaml").write_text("verifier: {}\n")
    with pytest.raises(ValueError, match="expected planner: ros__parameters"):
        load_parameters(tmp_path / "bad.yaml")
    with pytest.raises(ValueError, match="cannot read planner parameters"):
        load_parameters(tmp_path / "absent.yaml")


@pytest.mark.parametrize("configuration, cls, replans", [("open_loop", OpenLoopPlanner, 3),
                                                          ("iterative", IterativePlanner, 3),
                                                          ("tree_backtrack", TreePlanner, 0), ("full", TreePlanner, 3)])
def test_configurations_differ_only_in_the_planner_loop(configuration, cls, replans):
    config, settings = load_parameters(None)
    planner = make_planner(configuration, build_components(config), settings, None, None, None)
    assert type(planner) is cls and planner.settings.max_replans == replans
    with pytest.raises(ValueError, match="unknown configuration"):
        make_planner("greedy", build_components(config), settings, None, None, None)


def test_wilson_interval():
    assert wilson(0, 10)[0] == 0.0 and 0.25 < wilson(0, 10)[1] < 0.35
    low, high = wilson(9, 10)
    assert 0.55 < low < 0.6 and 0.98 < high <= 1.0
    assert all(math.isnan(x) for x in wilson(0, 0))


def _row(configuration, scenario, success, *, variant="fault", fault="slip", calls=1, audit=(), believed=None):
    metrics = {"executability": 1.0, "skill_calls": 4, "corrections": 1, "replans": 0, "planner_calls": calls,
               "llm_calls": 0, "vlm_calls": 0, "prompt_tokens": 0, "completion_tokens": 0, "sim_time_s": 30.0,
               "wall_time_s": 40.0}
    return {"configuration": configuration, "scenario": scenario, "variant": variant, "fault": fault,
            "success": success, "goal_condition_recall": 1.0 if success else 0.0, "metrics": metrics,
            "planner_believed_success": success if believed is None else believed, "verifier_audit": list(audit)}


def _audit(truth, verdict, executor=True):
    return {"step": "pick(apple_1)", "truth_success": truth, "executor_success": executor, "verdict": verdict,
            "truth_unmet": [] if truth else ["held(apple_1)"], "reason": "r"}


def test_aggregate_splits_sets_counts_false_successes_and_ratios_calls():
    infeasible = {"b:fault": "the fridge is locked"}.get
    rows = [_row("full", "a:fault", True, calls=2), _row("full", "b:fault", False, fault="locked"),
            _row("full", "a:clean", True, variant="clean", fault="none", calls=2),
            _row("iterative", "a:fault", False, calls=8, believed=True)]
    figures = aggregate(rows, lambda name: infeasible(name, ""))
    full = figures["full"]
    assert (full["all"]["successes"], full["all"]["episodes"]) == (2, 3)
    assert full["fault, recoverable"]["successes"] == 1 and full["fault, infeasible by construction"]["episodes"] == 1
    assert full["fault: locked"]["success_rate"] == 0.0 and full["clean"]["success_rate"] == 1.0
    assert figures["iterative"]["all"]["false_successes"] == 1
    rows[0].update(key="full|a:fault|0", judged_instead={"cup_1": "cup_2"})
    text = markdown(figures, {}, order=["iterative", "full"], header="# h", rows=rows)
    assert "starting place): full|a:fault|0 (cup_1 by cup_2)." in text
    assert "| full | fault, recoverable | 1 | 1/1 (100%)" in text
    assert "relative to the iterative baseline (8.0 per task): full 0.21" in text


def test_the_verifier_audit_counts_detections_misses_and_false_alarms():
    rows = [_row("full", "a:fault", True, audit=[_audit(False, "failure", executor=False), _audit(False, "failure"),
                                                  _audit(False, "success"), _audit(True, "success"),
                                                  _audit(True, "failure"), _audit(True, "unknown")])]
    v = verifier_figures(rows)["fault"]
    assert (v["failed_steps"], v["detected"], v["silent_failures"], v["silent_detected"]) == (3, 2, 2, 1)
    assert (v["successful_steps"], v["false_alarms"], v["unknown"]) == (3, 1, 1)
    assert v["detection_rate"] == pytest.approx(2 / 3) and v["false_alarm_rate"] == pytest.approx(1 / 3)
    assert v["missed_steps"] == ["pick(apple_1): unmet held(apple_1); said success"]
    assert "detected 2/3 failed steps (67%; 1/2 of those the executor reported as done)" in \
        markdown({}, verifier_figures(rows), order=[], header="")


def test_plot_writes_a_png(tmp_path):
    figures = aggregate([_row("full", "a:fault", True), _row("open_loop", "a:fault", False)], lambda name: "")
    path = plot(figures, ["open_loop", "full"], tmp_path / "success.png")
    assert Path(path).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_reproduction_names_episodes_whose_outcome_differs(tmp_path):
    import json

    earlier = [{**_row("full", "a:fault", True), "key": "k1", "steps": ["s"]},
               {**_row("full", "b:fault", True), "key": "k2", "steps": ["s"]}]
    (tmp_path / "episodes.jsonl").write_text("".join(json.dumps(r) + "\n" for r in earlier))
    now = [{**earlier[0]}, {**earlier[1], "success": False, "steps": ["t"]}]
    text = reproduction(now, tmp_path)
    assert "1/2 episodes ended with the same success or failure, 1/2 with the same executed steps; different: k2" in text


def test_the_verifier_audit_reads_rows_given_as_a_generator_for_both_variants():
    rows = [_row("full", "a:fault", True, audit=[_audit(False, "failure")]),
            _row("full", "a:clean", True, variant="clean", fault="none", audit=[_audit(True, "success")])]
    v = verifier_figures(r for r in rows)
    assert v["fault"]["verified_steps"] == 1 and v["clean"]["verified_steps"] == 1
