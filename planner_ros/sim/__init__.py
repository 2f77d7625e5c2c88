"""The embedded MuJoCo household: scene, physics, skills, cameras, faults and tasks (pure core, no rclpy)."""
import os

# Headless CPU rendering unless the user chose a backend (egl, glfw); must be set before mujoco is imported.
os.environ.setdefault("MUJOCO_GL", "osmesa")
