"""Runs the benchmark: scenarios x held-out seeds x configurations, episodes in parallel worker processes
(one fresh process per episode), every finished episode appended to episodes.jsonl at once so an
interrupted run resumes where it stopped; then results.json, report.md and success.png."""
from __future__ import annotations

import json
import multiprocessing as mp
import os
import platform
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from planner_ros.bench.configs import CONFIGURATIONS, DESCRIPTIONS
from planner_ros.bench.episode import SUITE_SEED, EpisodeSpec, run_episode
from planner_ros.bench.report import aggregate, infeasible_reason, markdown, plot, verifier_figures

__all__ = ["BenchOptions", "quick_scenarios", "run_bench"]


def quick_scenarios(scenarios: dict) -> list[str]:
    """The quick set: per category (task file), the fault variant of the first task whose fault a planner
    can recover from (report.infeasible_reason, decided from the task files, not from any run): where
    the configurations differ. The full set adds every other scenario, clean variants included."""
    first: dict[str, str] = {}
    for s in scenarios.values():
        if s.variant == "fault" and not infeasible_reason(s):
            first.setdefault(s.category, s.name)
    return list(first.values())


@dataclass(frozen=True)
class BenchOptions:
    out: Path
    full: bool = False
    seeds: int = 1                       # held-out seeds per scenario (indices 0..seeds-1)
    suite_seeds: bool = False            # the task files' own seeds instead (those development used)
    configurations: tuple[str, ...] = CONFIGURATIONS
    only: tuple[str, ...] = ()           # scenario names; empty: the quick or full set
    variants: tuple[str, ...] = ("clean", "fault")
    workers: int = 2
    detector: str = "embedded"
    parameters: str = ""
    stages: bool = True                  # also the perception and scene-graph evaluations
    compare: Path | None = None          # an earlier run of the same episodes: report any success that differs
    skill_self_checks: bool = True       # False: skills do not notice their own failures (the verifier's test)
    command: str = ""


def _episodes(options: BenchOptions, scenarios: dict) -> list[EpisodeSpec]:
    names = list(options.only) or (sorted(scenarios) if options.full else quick_scenarios(scenarios))
    unknown = [n for n in names if n not in scenarios]
    if unknown:
        raise ValueError(f"unknown scenario(s) {', '.join(unknown)}; names are task_id:clean or task_id:fault")
    names = [n for n in names if scenarios[n].variant in options.variants]
    seeds = [SUITE_SEED] if options.suite_seeds else list(range(options.seeds))
    return [EpisodeSpec(name, configuration, seed, options.detector, options.parameters, options.skill_self_checks)
            for seed in seeds for name in names for configuration in options.configurations]


def _progress(done: int, total: int, started: float, last: str) -> None:
    elapsed = time.monotonic() - started
    eta = elapsed / done * (total - done) if done else float("nan")
    bar = "#" * (30 * done // max(1, total))
    eta_text = f"{eta / 60:.0f} min left" if done else "estimating"
    print(f"\r[bench] [{bar:<30}] {done}/{total} {elapsed / 60:.0f} min, {eta_text}  {last[:60]:<60}",
          end="" if done < total else "\n", file=sys.stderr, flush=True)


def _stage_figures(options: BenchOptions, out: Path) -> str:
    """Perception and scene-graph figures on their held-out scenes, in the same report (smaller in quick mode)."""
    from planner_ros.perception.backends import make_detector
    from planner_ros.perception.evaluate import evaluate_perception
    from planner_ros.perception.evaluate import format_report as perception_text
    from planner_ros.scene_graph.evaluate import evaluate_scene_graph
    from planner_ros.scene_graph.evaluate import format_report as graph_text

    scenes, graph_scenes, graph_episodes = (20, 10, 10) if options.full else (4, 3, 3)
    print(f"[bench] perception ({scenes} scenes) and scene graph ({graph_scenes} x {graph_episodes})",
          file=sys.stderr, flush=True)
    perception = evaluate_perception(make_detector(options.detector), scenes=scenes)
    (out / "perception.json").write_text(perception.to_json())
    graph = evaluate_scene_graph(make_detector(options.detector, embedder="none"), scenes=graph_scenes,
                                 episodes=graph_episodes)
    (out / "scene_graph.json").write_text(graph.to_json())
    return "\n".join([f"Perception (`planner-ros eval perception --scenes {scenes}`):", "", "```",
                      perception_text(perception), "```", "",
                      f"Scene graph (`planner-ros eval scene-graph --scenes {graph_scenes} --episodes {graph_episodes}`):",
                      "", "```", graph_text(graph), "```"])


def _machine() -> str:
    return f"{platform.node()}: {platform.platform()}, Python {platform.python_version()}, {os.cpu_count()} CPU(s)"


def run_bench(options: BenchOptions) -> dict[str, Any]:
    from planner_ros.paths import config_dir
    from planner_ros.sim.scenario import load_scenarios

    scenarios = load_scenarios(config_dir() / "tasks")
    episodes = _episodes(options, scenarios)
    out = options.out
    out.mkdir(parents=True, exist_ok=True)
    log = out / "episodes.jsonl"
    done = _read_episodes(log) if log.exists() else {}
    todo = [e for e in episodes if e.key not in done]
    print(f"[bench] {len(episodes)} episode(s) ({len(done)} already in {log}), {options.workers} worker(s)",
          file=sys.stderr, flush=True)
    started = time.monotonic()
    if todo:
        with log.open("a") as sink, mp.get_context("spawn").Pool(options.workers, maxtasksperchild=1) as pool:
            for i, row in enumerate(pool.imap_unordered(run_episode, todo), 1):
                sink.write(json.dumps(row) + "\n")
                sink.flush()
                done[row["key"]] = row
                _progress(i, len(todo), started, f"{row['key']}: {'ok' if row['success'] else 'FAILED'}")
    rows = [done[e.key] for e in episodes]
    figures = aggregate(rows, lambda name: infeasible_reason(scenarios[name]))
    verifier = verifier_figures(r for r in rows if r["configuration"] == "full")
    order = [c for c in CONFIGURATIONS if c in options.configurations]
    seeds = "the task files' own seeds" if options.suite_seeds else f"{options.seeds} held-out seed(s) per scenario"
    header = "\n".join([
        f"# planner-ros bench ({'full' if options.full else 'quick'})", "",
        f"Command: `{options.command}`  ", f"Machine: {_machine()}  ",
        f"Episodes: {len(rows)} ({len({r['scenario'] for r in rows})} scenarios x {seeds} x "
        f"{len(order)} configuration(s)); detector {options.detector}; planner parameters "
        f"{options.parameters or 'offline defaults'}; success judged on the simulator's ground truth"
        + ("" if options.skill_self_checks else "; skills without self-checks (they report success whatever "
                                                "happened, so only the verifier can notice a failure)") + ".", "",
        *[f"- `{c}`: {DESCRIPTIONS[c]}" for c in order]])
    extra = _stage_figures(options, out) if options.stages else ""
    if options.compare is not None:
        extra = "\n\n".join(x for x in (reproduction(rows, options.compare), extra) if x)
    text = markdown(figures, verifier, order=order, header=header, rows=rows, extra=extra)
    (out / "report.md").write_text(text)
    plot(figures, order, out / "success.png")
    results = {"command": options.command, "machine": _machine(), "options": {
        k: (str(v) if isinstance(v, Path) else v) for k, v in options.__dict__.items()},
        "figures": figures, "verifier": verifier, "episodes": rows}
    (out / "results.json").write_text(json.dumps(results, indent=1, default=str))
    print(text)
    print(f"[bench] wrote {out / 'report.md'}, results.json, success.png", file=sys.stderr)
    return results


def _read_episodes(path: Path) -> dict[str, dict]:
    """A run's finished episodes by key."""
    rows = (json.loads(line) for line in path.read_text().splitlines() if line.strip())
    return {row["key"]: row for row in rows}


def reproduction(rows: Sequence[dict], earlier_run: Path) -> str:
    """How many of these episodes ended as they did in an earlier run of the same seeds."""
    earlier = _read_episodes(Path(earlier_run) / "episodes.jsonl")
    shared = [r for r in rows if r["key"] in earlier]
    differ = [r["key"] for r in shared if bool(r["success"]) != bool(earlier[r["key"]]["success"])]
    same_steps = sum(r["steps"] == earlier[r["key"]]["steps"] for r in shared)
    return (f"Reproduction against {earlier_run}: {len(shared) - len(differ)}/{len(shared)} episodes ended with the "
            f"same success or failure, {same_steps}/{len(shared)} with the same executed steps"
            + (f"; different: {', '.join(differ)}" if differ else "") + ".")


def configurations_arg(text: str) -> tuple[str, ...]:
    names = split_names(text)
    bad = [n for n in names if n not in CONFIGURATIONS]
    if bad or not names:
        raise ValueError(f"unknown configuration(s) {', '.join(bad) or '(none)'}; choose from {', '.join(CONFIGURATIONS)}")
    return names


def variants_arg(text: str) -> tuple[str, ...]:
    names = split_names(text)
    if not names or any(n not in ("clean", "fault") for n in names):
        raise ValueError(f"--variants takes clean, fault or both; got {text!r}")
    return names


def split_names(text: str) -> tuple[str, ...]:
    return tuple(n.strip() for n in text.split(",") if n.strip())


def options_from_args(args, command: Sequence[str]) -> BenchOptions:
    from planner_ros.paths import runs_dir

    if not 1 <= args.seeds <= 10:
        raise ValueError(f"--seeds must be 1..10 (held-out seed indices 0..9); got {args.seeds}")
    out = args.out or runs_dir() / f"bench_{'full' if args.full else 'quick'}_{time.strftime('%Y%m%d_%H%M%S')}"
    return BenchOptions(out=Path(out), full=args.full, seeds=args.seeds, suite_seeds=args.suite_seeds,
                        configurations=configurations_arg(args.configurations), only=split_names(args.only),
                        variants=variants_arg(args.variants),
                        workers=args.workers, detector=args.detector, parameters=args.parameters or "",
                        stages=not args.no_stages, compare=args.compare,
                        skill_self_checks=not args.no_skill_checks, command=" ".join(command))
