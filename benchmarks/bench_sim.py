"""Simulator throughput: render+publish rate per camera view and the physics real-time factor in a task.

Run: python benchmarks/bench_sim.py [--seconds S]

1. Render+publish: the sim renders all cameras back to back (colour + depth, 640x480), converts them
   to sensor_msgs and publishes them with rclpy (a real publisher; localhost DDS), while the robot
   runs a task's reference plan. The rate per view is frames published per wall second with every
   camera running, i.e. the highest camera_rate_hz the sim can sustain at real-time factor 1.
2. Physics: reference plans of one task per layout executed without rendering; real-time factor =
   simulated seconds / wall seconds, robot moving and objects in contact.
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from planner_ros.ros_env import isolated_env  # noqa: E402

os.environ.update(isolated_env())

import rclpy  # noqa: E402
from sensor_msgs.msg import CameraInfo, Image  # noqa: E402

from planner_ros import conversions as cs  # noqa: E402
from planner_ros.paths import config_dir  # noqa: E402
from planner_ros.sim.engine import EpisodeConfig, SimEngine  # noqa: E402
from planner_ros.sim.scenario import load_scenarios  # noqa: E402

CAMERAS = ("kitchen_overview", "table_cam", "head_rgbd")
PHYSICS_TASKS = ("store_apple_in_fridge:clean", "set_bowl_cup_plate:clean", "store_yogurt_and_butter:clean")


def run_plan(engine: SimEngine, scenario, deadline: float | None = None) -> None:
    for call in scenario.plan:
        job = engine.start(call)
        while not job.done.is_set():
            engine.tick()
            if deadline is not None and time.monotonic() > deadline:
                return


def bench_render(scenario, seconds: float) -> None:
    rclpy.init()
    node = rclpy.create_node("bench_sim")
    pubs = {c: (node.create_publisher(Image, f"/{c}/color/image_raw", 2),
                node.create_publisher(Image, f"/{c}/depth/image_raw", 2),
                node.create_publisher(CameraInfo, f"/{c}/color/camera_info", 2)) for c in CAMERAS}
    # A camera period of one control step: every tick renders every camera.
    engine = SimEngine(EpisodeConfig(scenario=scenario), cameras=CAMERAS, camera_rate_hz=1000.0)
    counts = dict.fromkeys(CAMERAS, 0)
    start = time.monotonic()
    sim0 = engine.time_s
    calls = iter(scenario.plan * 10)
    job = None
    while time.monotonic() - start < seconds:
        if job is None or job.done.is_set():
            job = engine.start(next(calls))
        for frame in engine.tick():
            stamp = cs.seconds_to_time(frame.stamp_s)
            for pub, msg in zip(pubs[frame.name], cs.camera_frame_to_msgs(frame, stamp)):
                pub.publish(msg)
            counts[frame.name] += 1
    wall = time.monotonic() - start
    engine.close()
    node.destroy_node()
    rclpy.shutdown()
    print(f"render + convert + publish, all {len(CAMERAS)} cameras running, 640x480 colour+depth, "
          f"{wall:.0f} s wall ({engine.time_s - sim0:.1f} s simulated while the robot worked):")
    for cam, n in counts.items():
        print(f"  {cam:<18} {n / wall:5.2f} frames/s per view   (target >= 2)")


def bench_physics(scenarios) -> None:
    print("\nphysics while the robot executes a task, no rendering:")
    print(f"  {'task':<34} {'layout':<10} {'sim s':>7} {'wall s':>7} {'RTF':>7}   (target >= 5)")
    for sc in scenarios:
        engine = SimEngine(EpisodeConfig(scenario=sc))
        sim0, t0 = engine.time_s, time.perf_counter()
        run_plan(engine, sc)
        wall = time.perf_counter() - t0
        sim = engine.time_s - sim0
        print(f"  {sc.name:<34} {sc.layout:<10} {sim:7.1f} {wall:7.2f} {sim / wall:6.1f}x")
        engine.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="wall time of the render benchmark")
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
          f"MUJOCO_GL={os.environ.get('MUJOCO_GL')}")
    scenarios = load_scenarios(config_dir() / "tasks")
    bench_render(scenarios[PHYSICS_TASKS[0]], args.seconds)
    bench_physics([scenarios[name] for name in PHYSICS_TASKS])


if __name__ == "__main__":
    main()
