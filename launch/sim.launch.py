"""ros2 launch planner_ros sim.launch.py: the embedded MuJoCo household (config/bringup/sim.yaml)."""
from planner_ros.launcher.ros_launch import launch_description


def generate_launch_description():
    return launch_description("sim")
