"""Every test run gets localhost-only DDS discovery and a ROS domain id of its own."""
import os

from planner_ros.ros_env import isolated_env

os.environ.update(isolated_env())
