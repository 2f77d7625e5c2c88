"""`planner-ros demo` end to end: the closed loop (simulator, perception, scene graph, verifier, planner, task
client, recorder) as separate processes over DDS, under the launcher."""
from __future__ import annotations

import json
import os
import subprocess
import sys


def test_demo_recovers_from_the_slip_and_records_it(tmp_path):
    result = subprocess.run([sys.executable, "-m", "planner_ros.cli", "demo"], cwd=tmp_path, env=dict(os.environ),
                            capture_output=True, text=True, timeout=600)
    out = result.stdout + result.stderr
    assert result.returncode == 0, out[-4000:]
    runs = list((tmp_path / "runs").glob("*-demo"))
    assert len(runs) == 1, out[-2000:]
    summary = json.loads((runs[0] / "summary.json").read_text())
    assert summary["success"] and summary["goal_met"], summary
    assert "goal holds in ground truth" in out
    # The planner's record: the slip was reported and diagnosed, the planner replanned, and the task ended
    # with the apple in the fridge.
    record = json.loads(next(runs[0].glob("*/planner_record.json")).read_text())
    events = record["events"]
    slipped = [e for e in events if e["type"] == "step_verified" and e["diagnosis"] == "SLIPPED"]
    assert slipped and slipped[0]["step"] == "pick(apple_1)", events
    assert any(e["type"] == "replanned" and "slipped" in e["detail"] for e in events)
    assert events[-1]["type"] == "task_finished" and events[-1]["success"]
    assert record["metrics"]["corrections"] >= 1 and record["metrics"]["replans"] >= 1
    assert record["executed_steps"][-1] == "place(apple_1, fridge)" and len(record["trees"]) >= 2
    assert "[event] replanned" in out
    views = runs[0] / "views"
    assert (views / "contact_sheet.png").stat().st_size > 10_000
    for camera in ("kitchen_overview", "table_cam", "head_rgbd"):
        assert list(views.glob(f"{camera}_color_*.png")) and list(views.glob(f"{camera}_depth_*.png")), camera
    assert "[perception] " in out and list(views.glob("*_detections_*.png")), out[-2000:]
    # The scene graph followed the task from perception and depth alone and was saved with the run.
    graph = json.loads((runs[0] / "scene_graph.json").read_text())
    apples = [n["id"] for n in graph["nodes"] if n["label"] == "apple"]
    assert any([a, "in", "fridge"] == r[:3] for a in apples for r in graph["relations"]), (apples, graph["relations"])
