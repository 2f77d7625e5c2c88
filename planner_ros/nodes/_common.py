"""Start-up and shutdown shared by every node's main()."""
from __future__ import annotations

import sys
from collections.abc import Callable

import rclpy
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy

from planner_ros import conversions
from planner_ros.skills import FailureCode, SkillOutcome


# State that late joiners must still get (ground truth, static TF): reliable, keep the last one.
LATCHED_QOS = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)


def spin_node(factory: Callable[[], Node], *, threads: int = 2, args: list[str] | None = None) -> int:
    """Create the node, spin it until Ctrl-C/SIGTERM, shut down cleanly; exit code 1 on a start-up error."""
    rclpy.init(args=args if args is not None else sys.argv)
    node = None
    try:
        node = factory()
        executor = MultiThreadedExecutor(num_threads=threads) if threads > 1 else SingleThreadedExecutor()
        executor.add_node(node)
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except StartupError as err:
        print(f"[FATAL] {err}", file=sys.stderr, flush=True)
        return 1
    finally:
        if node is not None:
            node.destroy_node()
        if rclpy.ok():
            rclpy.shutdown()
    # A node that shut itself down because it could not go on says so in fatal_error.
    return 1 if getattr(node, "fatal_error", None) else 0


def run_once(factory: Callable[[], Node], *, args: list[str] | None = None) -> int:
    """For client nodes that do one job and exit: create the node, return its run() exit code (130 on Ctrl-C)."""
    rclpy.init(args=args if args is not None else sys.argv)
    node = factory()
    try:
        return node.run()
    except KeyboardInterrupt:
        return 130
    finally:
        node.destroy_node()
        if rclpy.ok():
            rclpy.shutdown()


class StartupError(RuntimeError):
    """A node cannot start (bad parameter, missing file); the message says what to fix."""


def declare(node: Node, name: str, default, description: str):
    """Declare a parameter with a description and return its value."""
    from rcl_interfaces.msg import ParameterDescriptor

    return node.declare_parameter(name, default, ParameterDescriptor(description=description)).value


def finish_skill_goal(goal_handle, outcome: SkillOutcome):
    """Set an ExecuteSkill goal's terminal state from its outcome and return the result message."""
    if outcome.code == FailureCode.CANCELED:
        goal_handle.canceled()
    elif outcome.success:
        goal_handle.succeed()
    else:
        goal_handle.abort()
    return conversions.outcome_to_result(outcome)
