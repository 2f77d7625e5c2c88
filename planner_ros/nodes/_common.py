"""Start-up and shutdown shared by every node's main()."""
from __future__ import annotations

import sys
from collections.abc import Callable

import rclpy
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor, SingleThreadedExecutor
from rclpy.node import Node


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
    return 0


class StartupError(RuntimeError):
    """A node cannot start (bad parameter, missing file); the message says what to fix."""


def declare(node: Node, name: str, default, description: str):
    """Declare a parameter with a description and return its value."""
    from rcl_interfaces.msg import ParameterDescriptor

    return node.declare_parameter(name, default, ParameterDescriptor(description=description)).value
