"""ros2 launch planner_ros symbolic_demo.launch.py: the nodes of config/bringup/symbolic_demo.yaml."""
from planner_ros.launcher.ros_launch import launch_description


def generate_launch_description():
    return launch_description("symbolic_demo")
