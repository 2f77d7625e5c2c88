"""The `planner-ros` command."""
from __future__ import annotations

import argparse
import os
import sys
from datetime import datetime, timezone
from pathlib import Path

from planner_ros.launcher.bringup import BringupError, load_bringup, resolve_bringup_path, with_overrides
from planner_ros.paths import config_dir, runs_dir
from planner_ros.ros_env import describe, isolated_env


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, not argparse's usage block
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _run_bringup(name: str, env: dict[str, str], use_sim_time: bool | None,
                 overrides: dict[str, dict] | None = None) -> int:
    from planner_ros.launcher.supervisor import Supervisor

    try:
        bringup = load_bringup(resolve_bringup_path(name), use_sim_time=use_sim_time)
        if overrides:
            bringup = with_overrides(bringup, overrides)
    except BringupError as err:
        print(f"planner-ros: error: {err}", file=sys.stderr)
        return 2
    supervisor = Supervisor(bringup, env=env)
    supervisor.say(f"bringup '{bringup.name}' from {bringup.path}; {describe(env)}")
    return supervisor.run()


def _bringup_env(args: argparse.Namespace) -> dict[str, str]:
    """Real robots span machines, so the environment's discovery settings are kept unless --localhost."""
    env = isolated_env(domain_id=args.domain_id) if args.localhost else dict(os.environ)
    if args.domain_id is not None and not args.localhost:
        env["ROS_DOMAIN_ID"] = str(args.domain_id)
    return env


def cmd_bringup(args: argparse.Namespace) -> int:
    if args.list:
        for path in sorted((config_dir() / "bringup").glob("*.yaml")):
            print(path.stem)
        return 0
    if not args.config:
        print("planner-ros: error: bringup needs a config name or file (see planner-ros bringup --list)",
              file=sys.stderr)
        return 2
    return _run_bringup(args.config, _bringup_env(args), True if args.use_sim_time else None)


def cmd_demo(args: argparse.Namespace) -> int:
    env = isolated_env(domain_id=args.domain_id)
    if args.symbolic:
        print("[demo] the symbolic-household skill server and a scripted skill sequence", flush=True)
        return _run_bringup("symbolic_demo", env, None)
    run_dir = runs_dir() / f"{datetime.now(timezone.utc):%Y%m%d-%H%M%S}-demo"
    overrides = {"task_client": {"record_dir": str(run_dir)}, "planner": {"record_dir": str(run_dir)},
                 "camera_recorder": {"output_dir": str(run_dir / "views")},
                 "scene_graph": {"snapshot_file": str(run_dir / "scene_graph.json")}}
    if args.scenario:
        from planner_ros.paths import config_dir
        from planner_ros.sim.scenario import find_scenario, load_scenarios
        layout = find_scenario(load_scenarios(config_dir() / "tasks"), args.scenario).layout
        overrides["sim"] = {"scenario": args.scenario}
        overrides["task_client"]["scenario"] = args.scenario
        for node in ("scene_graph", "verifier", "planner"):  # the map of the scenario's kitchen
            overrides.setdefault(node, {})["semantic_map"] = f"sim:{layout}"
    print(f"[demo] the closed loop in the MuJoCo kitchen (planner, verifier, scene graph, perception); "
          f"record and camera views in {run_dir}", flush=True)
    code = _run_bringup("demo", env, None, overrides)
    print(f"[demo] {'finished' if code == 0 else f'FAILED (exit {code})'}; record and views: {run_dir}", flush=True)
    return code


def cmd_sim(args: argparse.Namespace) -> int:
    env = _bringup_env(args)
    params = {"real_time_factor": args.real_time_factor}
    if args.scenario:
        params["scenario"] = args.scenario
    if args.layout:
        params.update(layout=args.layout, seed=args.seed)
    return _run_bringup("sim", env, None, {"sim": params})


def _eval_detector(args: argparse.Namespace, **options):
    """The detector an `eval` stage asked for, or None after printing why it cannot be built."""
    from planner_ros.perception.backends import make_detector
    from planner_ros.perception.detection import DetectorError

    try:
        return make_detector(args.backend, model=args.model or "", allow_download=args.allow_download, **options)
    except DetectorError as err:
        print(f"planner-ros: error: {err}", file=sys.stderr)
        return None


def _eval_progress(done: int, total: int, what: str = "scene") -> None:
    print(f"\r[eval] {what} {done}/{total}", end="" if done < total else "\n", file=sys.stderr, flush=True)


def _eval_output(text: str, report_json: str, path: Path | None) -> int:
    print(text)
    if path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(report_json)
        print(f"[eval] wrote {path}")
    return 0


def cmd_eval_perception(args: argparse.Namespace) -> int:
    from planner_ros.perception.evaluate import evaluate_perception, format_report

    detector = _eval_detector(args)
    if detector is None:
        return 2
    report = evaluate_perception(detector, scenes=args.scenes, robot_poses=args.robot_poses,
                                 first_seed=args.first_seed, objects_in_bin=args.objects_in_bin,
                                 progress=_eval_progress)
    return _eval_output(format_report(report), report.to_json(), args.json)


def cmd_eval_scene_graph(args: argparse.Namespace) -> int:
    from planner_ros.scene_graph.evaluate import check_seeds, evaluate_scene_graph, format_report

    check_seeds(args.scenes, args.episodes, args.first_seed)  # ValueError (exit 2) before anything is built
    detector = _eval_detector(args, embedder="none")  # the vocabulary is the catalogue's own names
    if detector is None:
        return 2
    report = evaluate_scene_graph(detector, scenes=args.scenes, episodes=args.episodes, first_seed=args.first_seed,
                                  robot_poses=args.robot_poses,
                                  progress=lambda what, done, total: _eval_progress(done, total, what))
    return _eval_output(format_report(report), report.to_json(), args.json)


def cmd_bench(args: argparse.Namespace) -> int:
    from planner_ros.bench.runner import options_from_args, run_bench

    options = options_from_args(args, ["planner-ros", *sys.argv[1:]])
    if options.parameters:
        from planner_ros.bench.configs import load_parameters
        from planner_ros.planning.components import build_components

        build_components(load_parameters(Path(options.parameters))[0])  # refuse a bad config before any episode
    run_bench(options)
    return 0


def _add_detector_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--backend", default="embedded",
                        help="detector backend (default: embedded; oracle reads the simulator's segmentation)")
    parser.add_argument("--model", help="model file, directory or name for the backend")
    parser.add_argument("--allow-download", action="store_true", help="let the backend fetch a named model")


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
    demo.add_argument("--scenario", help="task to carry out, <task_id>[:clean|fault] (default: config/params/demo.yaml)")
    demo.add_argument("--symbolic", action="store_true", help="the symbolic-household demo instead (no physics)")
    demo.set_defaults(func=cmd_demo)

    sim = sub.add_parser("sim", help="run the embedded MuJoCo household alone (config/bringup/sim.yaml)")
    sim.add_argument("--scenario", help="<task_id>[:clean|fault] from config/tasks")
    sim.add_argument("--layout", choices=["kitchen_a", "kitchen_b", "kitchen_c"], help="layout (no scenario)")
    sim.add_argument("--seed", type=int, default=0, help="seed for --layout")
    sim.add_argument("--real-time-factor", type=float, default=1.0, help="sim s per wall s; 0: as fast as possible")
    sim.add_argument("--localhost", action="store_true", help="localhost-only discovery and a fresh domain id")
    sim.add_argument("--domain-id", type=int, help="ROS_DOMAIN_ID for the nodes")
    sim.set_defaults(func=cmd_sim)

    evaluation = sub.add_parser("eval", help="evaluate a pipeline stage on held-out simulator scenes")
    stages = evaluation.add_subparsers(dest="stage", metavar="STAGE", parser_class=_Parser, required=True)
    perception = stages.add_parser("perception", help="2D AP50, fused 3D recall and centroid error, throughput")
    _add_detector_arguments(perception)
    perception.add_argument("--scenes", type=int, default=20, help="held-out scenes (default 20)")
    perception.add_argument("--robot-poses", type=int, default=2, help="robot poses per scene (default 2)")
    perception.add_argument("--first-seed", type=int, help="first held-out seed (default: the first of the range)")
    perception.add_argument("--objects-in-bin", type=int, default=0, metavar="N",
                            help="add 1..N objects in the bin to every scene and report their recall on its own")
    perception.add_argument("--json", type=Path, help="also write the report as JSON here")
    perception.set_defaults(func=cmd_eval_perception)

    graph = stages.add_parser("scene-graph", help="on/in relations, door states, moved and removed objects, timing",
                              description="The scene graph fed by the perception pipeline, scored against the "
                                          "simulator on held-out static scenes and scripted episodes.")
    _add_detector_arguments(graph)
    graph.add_argument("--scenes", type=int, default=10, help="held-out static scenes (default 10)")
    graph.add_argument("--episodes", type=int, default=10,
                       help="scripted move/remove episodes (default 10; seeds: first seed + 5000 on)")
    graph.add_argument("--robot-poses", type=int, default=2, help="robot poses per static scene (default 2)")
    graph.add_argument("--first-seed", type=int, help="first held-out seed (default: the first of the range)")
    graph.add_argument("--json", type=Path, help="also write the report as JSON here")
    graph.set_defaults(func=cmd_eval_scene_graph)

    bench = sub.add_parser("bench", help="the closed loop and its baselines on the task suite, side by side",
                           description="Run the task suite of the embedded world (clean and fault variants, held-out "
                                       "seeds) under several planner configurations in one harness; write "
                                       "results.json, report.md and success.png under runs/.")
    bench.add_argument("--full", action="store_true", help="every scenario (default: the quick set, under 30 min)")
    bench.add_argument("--seeds", type=int, default=1, help="held-out seeds per scenario (default 1, at most 10)")
    bench.add_argument("--suite-seeds", action="store_true", help="the task files' own seeds (used in development)")
    bench.add_argument("--configurations", default="open_loop,iterative,tree_backtrack,full",
                       help="comma-separated: open_loop, iterative, tree_backtrack, full")
    bench.add_argument("--only", default="", help="comma-separated scenario names (task_id:clean|fault)")
    bench.add_argument("--variants", default="clean,fault", help="clean, fault or both (default both)")
    bench.add_argument("--workers", type=int, default=2, help="parallel episode processes (default 2)")
    bench.add_argument("--detector", default="embedded", help="detector backend (embedded | oracle)")
    bench.add_argument("--parameters", help="planner parameters YAML (config/params/planner.yaml's format) choosing "
                                            "the goal writer, sampler, decider and language model")
    bench.add_argument("--no-stages", action="store_true", help="skip the perception and scene-graph figures")
    bench.add_argument("--out", type=Path, help="run folder (an existing one resumes; default runs/bench_*)")
    bench.add_argument("--no-skill-checks", action="store_true",
                       help="skills do not check their own result (no grasp or joint sensing): failures are silent "
                            "and only the verifier can notice them")
    bench.add_argument("--compare", type=Path, help="an earlier run folder: report episodes whose success differs")
    bench.set_defaults(func=cmd_bench)
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
