"""ros2 launch planner_ros demo.launch.py: the nodes of config/bringup/demo.yaml."""
from planner_ros.launcher.ros_launch import launch_description


def generate_launch_description():
    return launch_description("demo")
