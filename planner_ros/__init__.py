"""planner_ros: closed-loop household task planning for ROS 2."""
__version__ = "0.1.0"
