"""Every test run gets localhost-only DDS discovery and a ROS domain id of its own."""
import os
import sys
from pathlib import Path

from planner_ros.ros_env import isolated_env

sys.path.insert(0, str(Path(__file__).parent))  # shared test helpers (train_venv.py)

os.environ.update(isolated_env())
