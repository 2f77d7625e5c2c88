"""The embedded MuJoCo household: scene, physics, skills, cameras, faults and tasks (pure core, no rclpy)."""
