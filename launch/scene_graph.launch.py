"""ros2 launch planner_ros scene_graph.launch.py: the kitchen with perception and the scene graph
(config/bringup/scene_graph.yaml)."""
from planner_ros.launcher.ros_launch import launch_description


def generate_launch_description():
    return launch_description("scene_graph")
