"""`planner-ros demo` end to end: the MuJoCo world, the task replay, perception and the recorder under the
launcher."""
from __future__ import annotations

import json
import os
import subprocess
import sys


def test_demo_completes_the_task_and_saves_camera_views(tmp_path):
    result = subprocess.run([sys.executable, "-m", "planner_ros.cli", "demo"], cwd=tmp_path, env=dict(os.environ),
                            capture_output=True, text=True, timeout=400)
    out = result.stdout + result.stderr
    assert result.returncode == 0, out[-4000:]
    runs = list((tmp_path / "runs").glob("*-demo"))
    assert len(runs) == 1, out[-2000:]
    summary = json.loads((runs[0] / "summary.json").read_text())
    assert summary["as_expected"] == summary["steps"] == 7 and summary["goal_met"], summary
    views = runs[0] / "views"
    assert (views / "contact_sheet.png").stat().st_size > 10_000
    for camera in ("kitchen_overview", "table_cam", "head_rgbd"):
        assert list(views.glob(f"{camera}_color_*.png")) and list(views.glob(f"{camera}_depth_*.png")), camera
    assert "[sim] " in out and "goal holds in ground truth" in out
    # Perception ran beside it: its annotated views were recorded.
    assert "[perception] " in out and list(views.glob("*_detections_*.png")), out[-2000:]
    # The scene graph followed the task from perception and depth alone and was saved with the run: the milk
    # carton went into the fridge (carried there in the hand), and the fridge door ended closed.
    graph = json.loads((runs[0] / "scene_graph.json").read_text())
    nodes = {n["id"]: n for n in graph["nodes"]}
    assert nodes["fridge_door"]["states"]["open"]["value"] == "false", nodes["fridge_door"]
    milk = [n["id"] for n in nodes.values() if n["label"] == "milk_carton"]
    assert any([m, "in", "fridge"] == r[:3] for m in milk for r in graph["relations"]), (milk, graph["relations"])
    assert "held true" in out and "-> open" in out, out[-3000:]
