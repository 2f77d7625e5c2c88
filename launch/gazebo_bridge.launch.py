"""ros2 launch planner_ros gazebo_bridge.launch.py [bridge_config:=/path/to/bridge.yaml]

Starts ros_gz_bridge's parameter_bridge with config/gazebo/bridge.yaml (or bridge_config), on sim
time, mapping a Gazebo Harmonic world onto the planner_ros topic contract. Start Gazebo first (e.g.
`ros2 launch ros_gz_sim gz_sim.launch.py gz_args:="-r household.sdf"`). See docs/gazebo.md.

Not run here: neither Gazebo nor ros_gz is installable on the machines planner_ros is tested on.
"""
import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

DEFAULT_CONFIG = os.path.join(get_package_share_directory("planner_ros"), "config", "gazebo", "bridge.yaml")


def generate_launch_description():
    return LaunchDescription([
        DeclareLaunchArgument(
            "bridge_config",
            default_value=DEFAULT_CONFIG,
            description="ros_gz_bridge YAML config (list of topic mappings)",
        ),
        Node(
            package="ros_gz_bridge",
            executable="parameter_bridge",
            name="planner_ros_gz_bridge",
            parameters=[{
                "config_file": LaunchConfiguration("bridge_config"),
                "use_sim_time": True,
            }],
            output="screen",
        ),
    ])
