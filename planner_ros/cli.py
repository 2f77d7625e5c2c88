"""The `planner-ros` command."""
from __future__ import annotations

import argparse
import os
import sys

from planner_ros.launcher.bringup import BringupError, load_bringup, resolve_bringup_path
from planner_ros.paths import config_dir
from planner_ros.ros_env import describe, isolated_env


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, not argparse's usage block
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _run_bringup(name: str, env: dict[str, str], use_sim_time: bool | None) -> int:
    from planner_ros.launcher.supervisor import Supervisor

    try:
        bringup = load_bringup(resolve_bringup_path(name), use_sim_time=use_sim_time)
    except BringupError as err:
        print(f"planner-ros: error: {err}", file=sys.stderr)
        return 2
    supervisor = Supervisor(bringup, env=env)
    supervisor.say(f"bringup '{bringup.name}' from {bringup.path}; {describe(env)}")
    return supervisor.run()


def cmd_bringup(args: argparse.Namespace) -> int:
    if args.list:
        for path in sorted((config_dir() / "bringup").glob("*.yaml")):
            print(path.stem)
        return 0
    if not args.config:
        print("planner-ros: error: bringup needs a config name or file (see planner-ros bringup --list)",
              file=sys.stderr)
        return 2
    # Real robots span machines, so the environment's discovery settings are kept unless --localhost.
    env = isolated_env(domain_id=args.domain_id) if args.localhost else dict(os.environ)
    if args.domain_id is not None and not args.localhost:
        env["ROS_DOMAIN_ID"] = str(args.domain_id)
    return _run_bringup(args.config, env, True if args.use_sim_time else None)


def cmd_demo(args: argparse.Namespace) -> int:
    env = isolated_env(domain_id=args.domain_id)
    print("[demo] foundation demo: the symbolic-household skill server and a scripted skill sequence, "
          "two ROS 2 processes; no planner or simulator yet", flush=True)
    return _run_bringup("demo", env, None)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="planner-ros", description="Closed-loop household task planning for ROS 2.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    bringup = sub.add_parser("bringup", help="start the nodes of a bringup YAML as supervised processes",
                             description="Start the nodes of config/bringup/<CONFIG>.yaml (or a YAML path).")
    bringup.add_argument("config", nargs="?", help="bringup name (config/bringup/<name>.yaml) or path")
    bringup.add_argument("--list", action="store_true", help="list the bringups in config/bringup")
    bringup.add_argument("--use-sim-time", action="store_true", help="set use_sim_time on every node")
    bringup.add_argument("--localhost", action="store_true",
                         help="localhost-only discovery and a fresh domain id (unless --domain-id)")
    bringup.add_argument("--domain-id", type=int, help="ROS_DOMAIN_ID for the nodes")
    bringup.set_defaults(func=cmd_bringup)

    demo = sub.add_parser("demo", help="run the demo on this machine (localhost-only DDS, own domain id)")
    demo.add_argument("--domain-id", type=int, help="ROS_DOMAIN_ID (default: random in 1..101)")
    demo.set_defaults(func=cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return args.func(args)
    except ValueError as err:  # e.g. a domain id out of range
        print(f"planner-ros: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
