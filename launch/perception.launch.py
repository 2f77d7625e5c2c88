"""ros2 launch planner_ros perception.launch.py: the kitchen with perception (config/bringup/perception.yaml)."""
from planner_ros.launcher.ros_launch import launch_description


def generate_launch_description():
    return launch_description("perception")
