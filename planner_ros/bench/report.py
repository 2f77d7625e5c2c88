"""The benchmark's figures from its episode rows: per configuration and set (clean, fault, fault type),
with 95% Wilson intervals over episodes (scenarios x seeds), the verifier audit, model-call ratios,
a markdown report and PNG plots. Pure: rows in, text and files out."""
from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["aggregate", "infeasible_reason", "markdown", "plot", "verifier_figures", "wilson"]

Z95 = 1.959964


def wilson(successes: int, n: int) -> tuple[float, float]:
    """95% Wilson score interval of a binomial proportion (sensible at 0/n and n/n, unlike mean +- 2 sd)."""
    if n == 0:
        return float("nan"), float("nan")
    p = successes / n
    centre = (p + Z95 ** 2 / (2 * n)) / (1 + Z95 ** 2 / n)
    half = Z95 * math.sqrt(p * (1 - p) / n + Z95 ** 2 / (4 * n * n)) / (1 + Z95 ** 2 / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def _mean(values: Iterable[Any]) -> float:
    values = [float(v) for v in values if isinstance(v, (int, float)) and math.isfinite(v)]
    return sum(values) / len(values) if values else float("nan")


def infeasible_reason(scenario) -> str:
    """Why no planner can reach this fault variant's goal in this world, decided from the task file alone
    (before any run): "" when the fault can be recovered from. Rules: a locked or jammed door or drawer the
    goal needs (an object must go in or come out of what it closes, or it must end open); a goal object taken
    out of the house; an obstacle on a goal destination; an object slipping from the gripper while driving
    (it lands on the floor, and the arm grasps only from above onto furniture)."""
    goal_objects = {c.args[0] for c in scenario.goal if c.predicate in ("on", "in", "held")}
    destinations = {c.args[1] for c in scenario.goal if c.predicate in ("on", "in")}
    parts_needed = {c.args[0] for c in scenario.goal if c.predicate in ("open", "closed") and not c.negated}
    for fault in scenario.faults:
        kind, target = fault.type.value, fault.target
        if kind in ("locked", "jammed"):
            receptacle = target.removesuffix("_door")
            starts_inside = any(scenario.objects[o].location == receptacle for o in goal_objects if o in scenario.objects)
            if receptacle in destinations or starts_inside or (kind == "jammed" and target in parts_needed):
                return f"{target} is {kind} and the goal needs it open"
        elif kind == "missing" and target in goal_objects:
            return f"{target} is taken out of the house"
        elif kind == "obstacle" and target in destinations:
            return f"an obstacle covers {target}, a goal destination"
        elif kind == "slip" and fault.on_skill == "navigate_to":
            return f"{target} slips while driving and lands on the floor, out of the arm's reach"
    return ""


def _sets(row: Mapping[str, Any], infeasible: Callable[[str], str]) -> list[str]:
    """The sets an episode counts in: its variant, for fault variants recoverable or not, and its fault type."""
    if row["variant"] != "fault":
        return ["clean"]
    return ["fault", "fault, infeasible by construction" if infeasible(row["scenario"]) else "fault, recoverable",
            f"fault: {row['fault']}"]


def aggregate(rows: Sequence[Mapping[str, Any]], infeasible: Callable[[str], str]) -> dict[str, dict[str, dict]]:
    """{configuration: {set: figures}} over the rows."""
    groups: dict[tuple[str, str], list[Mapping[str, Any]]] = defaultdict(list)
    for row in rows:
        for name in ["all", *_sets(row, infeasible)]:
            groups[(row["configuration"], name)].append(row)
    out: dict[str, dict[str, dict]] = defaultdict(dict)
    for (configuration, name), group in groups.items():
        won = sum(bool(r["success"]) for r in group)
        low, high = wilson(won, len(group))
        m = [r["metrics"] for r in group]
        out[configuration][name] = {
            "episodes": len(group), "successes": won, "success_rate": won / len(group), "ci95": [low, high],
            "goal_condition_recall": _mean(r["goal_condition_recall"] for r in group),
            **{key: _mean(x.get(key) for x in m) for key in (
                "executability", "skill_calls", "corrections", "replans", "planner_calls", "llm_calls", "vlm_calls",
                "prompt_tokens", "completion_tokens", "sim_time_s", "wall_time_s")},
            "false_successes": sum(bool(r["planner_believed_success"]) and not r["success"] for r in group)}
    return dict(out)


def verifier_figures(rows: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per variant: failed steps (ground truth) the verifier flagged, successful steps it flagged (false
    alarms), unknown answers; failures the executor itself reported are split from silent ones."""
    rows = list(rows)   # read once per variant
    out: dict[str, dict[str, Any]] = {}
    for variant in ("fault", "clean"):
        records = [a for r in rows if r["variant"] == variant for a in r.get("verifier_audit", [])]
        failed = [a for a in records if not a["truth_success"]]
        silent = [a for a in failed if a["executor_success"]]
        fine = [a for a in records if a["truth_success"]]
        flagged = sum(a["verdict"] == "failure" for a in failed)
        alarms = sum(a["verdict"] == "failure" for a in fine)
        out[variant] = {
            "verified_steps": len(records), "failed_steps": len(failed), "detected": flagged,
            "detection_rate": flagged / len(failed) if failed else float("nan"),
            "silent_failures": len(silent), "silent_detected": sum(a["verdict"] == "failure" for a in silent),
            "successful_steps": len(fine), "false_alarms": alarms,
            "false_alarm_rate": alarms / len(fine) if fine else float("nan"),
            "unknown": sum(a["verdict"] == "unknown" for a in records),
            "false_alarm_steps": sorted({f"{a['step']}: {a['reason']}"[:160] for a in fine if a["verdict"] == "failure"}),
            "missed_steps": sorted({f"{a['step']}: unmet {', '.join(a['truth_unmet'])}; said {a['verdict']}"
                                    for a in failed if a["verdict"] != "failure"})}
    return out


def _pct(x: float) -> str:
    return "n/a" if not math.isfinite(x) else f"{x:.0%}"


def _num(x: float, digits: int = 1) -> str:
    return "n/a" if not math.isfinite(x) else f"{x:.{digits}f}"


def markdown(figures: Mapping[str, Mapping[str, dict]], verifier: Mapping[str, dict], *, order: Sequence[str],
             header: str, rows: Sequence[Mapping[str, Any]] = (), extra: str = "") -> str:
    lines = [header, "", "| configuration | set | episodes | success [95% CI] | goal recall | executability | "
             "skill calls | corrections | replans | planner calls | LLM calls | tokens (prompt+completion) | "
             "sim s | wall s | false successes |", "|" + "---|" * 15]
    set_order = ["all", "clean", "fault", "fault, recoverable", "fault, infeasible by construction"]
    for configuration in order:
        sets = figures.get(configuration, {})
        names = [s for s in set_order if s in sets] + sorted(s for s in sets if s.startswith("fault: "))
        for name in names:
            f = sets[name]
            low, high = f["ci95"]
            lines.append(
                f"| {configuration} | {name} | {f['episodes']} | {f['successes']}/{f['episodes']} "
                f"({_pct(f['success_rate'])}) [{_pct(low)}, {_pct(high)}] | {_num(f['goal_condition_recall'], 2)} | "
                f"{_num(f['executability'], 2)} | {_num(f['skill_calls'])} | {_num(f['corrections'], 2)} | "
                f"{_num(f['replans'], 2)} | {_num(f['planner_calls'])} | {_num(f['llm_calls'])} | "
                f"{_num(f['prompt_tokens'] + f['completion_tokens'], 0)} | {_num(f['sim_time_s'], 0)} | "
                f"{_num(f['wall_time_s'], 0)} | {f['false_successes']} |")
    calls = {c: figures[c]["all"]["planner_calls"] + figures[c]["all"]["llm_calls"] for c in order
             if c in figures and "all" in figures[c]}
    if "iterative" in calls:
        base = calls["iterative"]
        ratios = ", ".join(f"{c} {v / base:.2f}" for c, v in calls.items() if c != "iterative" and base)
        lines += ["", f"Planner + model calls per task relative to the iterative baseline ({_num(base)} per task): "
                      f"{ratios}."]
    swaps = sorted(f"{r['key']} ({', '.join(f'{a} by {b}' for a, b in r['judged_instead'].items())})"
                   for r in rows if r.get("judged_instead"))
    if swaps:
        lines += ["", "Goals met by an object the instruction cannot tell apart from the named one (same kind, same "
                      "starting place): " + "; ".join(swaps) + "."]
    for variant, v in verifier.items():
        if not v["verified_steps"]:
            continue
        lines += ["", f"Verifier audit, {variant} variants ({v['verified_steps']} verified steps, ground truth read "
                      f"when each step ended): detected {v['detected']}/{v['failed_steps']} failed steps "
                      f"({_pct(v['detection_rate'])}; {v['silent_detected']}/{v['silent_failures']} of those the "
                      f"executor reported as done), false alarms on {v['false_alarms']}/{v['successful_steps']} "
                      f"successful steps ({_pct(v['false_alarm_rate'])}), {v['unknown']} unknown."]
        lines += [f"- missed: {s}" for s in v["missed_steps"]] + [f"- false alarm: {s}" for s in v["false_alarm_steps"]]
    if extra:
        lines += ["", extra]
    return "\n".join(lines) + "\n"


def plot(figures: Mapping[str, Mapping[str, dict]], order: Sequence[str], path: Path) -> Path:
    """Success rate with its interval per configuration and set, and calls per task, side by side."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    configurations = [c for c in order if c in figures]
    sets = [s for s in ("clean", "fault", "fault, recoverable") if any(s in figures[c] for c in configurations)]
    sets += sorted({s for c in configurations for s in figures[c] if s.startswith("fault: ")})
    fig, (left, right) = plt.subplots(1, 2, figsize=(14, 5), gridspec_kw={"width_ratios": [3, 1]})
    width = 0.8 / max(1, len(configurations))
    for i, configuration in enumerate(configurations):
        xs, ys, errs = [], [], [[], []]
        for j, name in enumerate(sets):
            f = figures[configuration].get(name)
            if f is None:
                continue
            xs.append(j + i * width)
            ys.append(f["success_rate"])
            errs[0].append(f["success_rate"] - f["ci95"][0])
            errs[1].append(f["ci95"][1] - f["success_rate"])
        left.bar(xs, ys, width, yerr=errs, capsize=2, label=configuration)
        total = figures[configuration].get("all", {})
        right.bar(i, total.get("planner_calls", 0) + total.get("llm_calls", 0), label=configuration)
    left.set_xticks([j + 0.4 - width / 2 for j in range(len(sets))], sets, rotation=30, ha="right")
    left.set_ylabel("success (ground truth), 95% Wilson interval")
    left.set_ylim(0, 1.05)
    left.legend(fontsize=8)
    right.set_xticks(range(len(configurations)), configurations, rotation=30, ha="right")
    right.set_ylabel("planner + model calls per task")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
