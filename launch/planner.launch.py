"""ros2 launch planner_ros planner.launch.py: the nodes of config/bringup/planner.yaml."""
from planner_ros.launcher.ros_launch import launch_description


def generate_launch_description():
    return launch_description("planner")
