"""The pure core imports neither ROS nor the simulator nor a model library: it runs (and is tested) anywhere,
and the planner can drive robots and worlds other than this package's."""
from __future__ import annotations

import subprocess
import sys

import pytest

CORE = ["planner_ros.planning.executive", "planner_ros.planning.components", "planner_ros.planning.llm_planning",
        "planner_ros.planning.symbolic_sampler", "planner_ros.verification.scene_graph_verifier",
        "planner_ros.verification.vlm_verifier", "planner_ros.scene_graph.graph", "planner_ros.perception.pipeline",
        "planner_ros.llm"]


@pytest.mark.parametrize("module", CORE)
def test_the_core_module_imports_no_ros_simulator_or_model_library(module):
    code = (f"import sys, {module}; heavy = [m for m in ('rclpy', 'mujoco', 'torch', 'transformers') "
            "if m in sys.modules]; print(','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "", f"{module} pulls in {out.stdout.strip()}"
