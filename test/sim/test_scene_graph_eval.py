"""`eval scene-graph` end to end with the oracle detector (a perfect detector, so what is measured is the
graph): the report is well formed and flagged, and the scripted move and removal are handled. Fewer,
shorter steps than the CLI's keep it quick (the graph's visibility thresholds are in pixels, so the
resolution stays 640x480); the figures themselves come from `planner-ros eval scene-graph`."""
from __future__ import annotations

import json
import math

import pytest

from planner_ros.perception.backends import make_detector
from planner_ros.perception.sim_views import EVAL_SEEDS
from planner_ros.scene_graph.evaluate import evaluate_scene_graph, format_report


@pytest.fixture(scope="module")
def report():
    return evaluate_scene_graph(make_detector("oracle", embedder="none"), scenes=2, episodes=2,
                                first_seed=EVAL_SEEDS.start + 40, robot_poses=1, period_s=0.5, warmup_s=1.0,
                                moved_watch_s=3.0)


def test_report_is_flagged_oracle_and_its_rates_are_fractions(report):
    assert report.is_oracle and "ORACLE" in format_report(report)
    assert report.scenes == 2 and report.episodes == 2 and report.frames > 0
    rates = [report.relations["precision"], report.relations["recall"], report.objects["recall"],
             report.objects["precision"], report.articulation["accuracy"], report.articulation["coverage"],
             report.moved["success_rate"], report.removed["success_rate"]]
    assert all(0.0 <= r <= 1.0 for r in rates), rates
    assert report.relations["true_relations"] > 0 and report.articulation["with_state"] > 0
    assert 0.0 <= report.articulation["mean_abs_error"] <= 1.0
    assert report.update_ms_median > 0 and report.observe_views_ms_median > 0
    data = json.loads(report.to_json())
    assert data["is_oracle"] is True and data["scene_seeds"] == [EVAL_SEEDS.start + 40, EVAL_SEEDS.start + 41]


def test_moved_and_removed_objects_are_handled_with_a_perfect_detector(report):
    assert report.moved["runs"] == 2 and report.moved["successes"] == 2, report.notes
    assert report.removed["runs"] == 2 and report.removed["successes"] == 2, report.notes
    assert report.removed["delay_max_s"] <= report.removed["deadline_s"]
    assert not math.isnan(report.removed["delay_median_s"])


def test_seeds_outside_the_held_out_range_are_refused():
    oracle = make_detector("oracle", embedder="none")
    with pytest.raises(ValueError, match="must lie in"):
        evaluate_scene_graph(oracle, scenes=1, episodes=1, first_seed=EVAL_SEEDS.start - 1)
    with pytest.raises(ValueError, match="at least 1"):
        evaluate_scene_graph(oracle, scenes=0, episodes=1)
