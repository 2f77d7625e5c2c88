"""The embedded plan sampler: the K* top-k classical planner proposes the cheapest distinct plans.

The goal conditions and the world view become a PDDL problem (planner_ros.planning.pddl); K* returns
the k cheapest plans, which differ in order and in detours (open the fridge first or fetch the apple
first, close the door at the end or not): exactly the alternatives the action tree branches on. Every
plan is mapped back to validated skill calls. Needs no model and no network; costs about half a second
of CPU per task on a household-sized scene.
"""
from __future__ import annotations

import importlib.util
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

from planner_ros.planning.pddl import ACTION_MODELS, ActionModel, PddlError, domain_pddl, encode_problem, parse_action
from planner_ros.planning.sampling import PlanRequest, SampledPlan, SamplingError, SamplingResult, distinct
from planner_ros.skills import SkillValidationError

__all__ = ["SymbolicSampler"]

# plan_topk runs the Fast Downward driver in the caller's working directory, where it writes output.sas
# and a found_plans/ folder it never removes. It runs here in a child process whose working directory
# is the task's own temporary folder, so concurrent samplers do not share files and nothing is left
# behind; the child also gives a wall-clock limit that kills the whole process group.
_RUNNER = """
import json, sys
from pathlib import Path
from kstar_planner import planners
domain, problem, k, timeout, out = sys.argv[1:6]
result = planners.plan_topk(Path(domain), Path(problem), int(k), timeout=int(timeout))
Path(out).write_text(json.dumps(result))
"""
# The planner's own limit is CPU time per component; the wall-clock guard allows for the interpreter, the
# translator and a busy machine (a 30 s limit took 33 s of wall time on two cores).
_GRACE_S = 5.0
_GRACE_FRACTION = 0.2


def _last_line(text: str) -> str:
    """The planner's error in one line: kstar passes the translator's stderr as a bytes literal."""
    text = text.strip()
    if text.startswith(("b'", 'b"')):
        text = text.encode().decode("unicode_escape")
    lines = [line.strip() for line in text.splitlines() if line.strip() and line.strip() not in ("'", '"')]
    return lines[-1][:300] if lines else "no error output"


class SymbolicSampler:
    """Top-k classical planning (K*, kstar-planner) over the skill library's action models.

    timeout_s bounds one planner run; work_dir is where each run's temporary folder is made (the
    system's temporary directory by default); models maps skill names to action models.
    """

    name = "symbolic:kstar"

    def __init__(self, timeout_s: float = 10.0, work_dir: Path | None = None, *,
                 models: Mapping[str, ActionModel] = ACTION_MODELS) -> None:
        if not timeout_s > 0:
            raise ValueError(f"timeout_s must be positive, got {timeout_s}")
        if importlib.util.find_spec("kstar_planner") is None:
            raise SamplingError("the symbolic sampler needs the K* planner: "
                                "pip install kstar-planner==1.6.0 (see requirements/runtime.txt)")
        self.timeout_s = float(timeout_s)
        self.work_dir = None if work_dir is None else Path(work_dir)
        self.models = models

    def sample(self, request: PlanRequest) -> SamplingResult:
        if request.num_plans < 1:
            return SamplingResult(plans=[], note=f"num_plans is {request.num_plans}: nothing to sample")
        try:
            domain = domain_pddl(request.skills, self.models)
            problem = encode_problem(request.view, request.goal)
        except PddlError as err:
            # A goal the scene cannot express is a task outcome the caller reports, not a crash.
            return SamplingResult(plans=[], note=str(err))
        if problem.satisfied:
            return SamplingResult(plans=[SampledPlan((), self.name)], note="the goal holds already")
        result = self._plan(domain, problem.text, request.num_plans)

        plans: list[SampledPlan] = []
        rejected: list[tuple[str, str]] = []
        # K* lists plans cheapest first; the stable sort only guards that order.
        for raw in sorted(result.get("plans") or [], key=lambda plan: plan.get("cost", 0)):
            actions = list(raw.get("actions") or [])
            try:
                steps = []
                for action in actions:
                    skill, arguments = parse_action(action, problem.names, self.models)
                    steps.append(request.skills.validate(skill, arguments))
            except (PddlError, SkillValidationError) as err:
                rejected.append(("; ".join(actions), str(err)))
                continue
            plans.append(SampledPlan(tuple(steps), self.name))

        note = ""
        if result.get("timeout_triggered"):
            if not plans and not rejected:
                raise SamplingError(f"the K* planner found no plan within {self.timeout_s:g} s; "
                                    "raise timeout_s or simplify the task")
            note = f"the planner stopped at its {self.timeout_s:g} s limit after {len(plans)} plan(s)"
        elif not plans and rejected:
            note = "none of the planner's plans maps to valid skill calls (see rejected)"
        elif not plans:
            if not result.get("unsolvable"):
                raise SamplingError(f"the K* planner failed: {_last_line(result.get('planner_error', ''))}")
            note = "no plan reaches the goal from the current state" + self._hints(request)
        return SamplingResult(plans=distinct(plans), rejected=rejected, model_calls=0, note=note)

    @staticmethod
    def _hints(request: PlanRequest) -> str:
        knowledge = request.view.knowledge
        parts = [f"{what}: {', '.join(sorted(ids))}"
                 for what, ids in (("locked", knowledge.locked), ("blocked", knowledge.blocked)) if ids]
        return f" ({'; '.join(parts)})" if parts else ""

    def _plan(self, domain: str, problem: str, k: int) -> dict:
        """plan_topk's result dictionary, run in a child process in a fresh temporary folder."""
        if self.work_dir is not None:
            self.work_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="kstar-", dir=self.work_dir) as tmp:
            folder = Path(tmp)
            (folder / "domain.pddl").write_text(domain)
            (folder / "problem.pddl").write_text(problem)
            out = folder / "result.json"
            command = [sys.executable, "-c", _RUNNER, str(folder / "domain.pddl"), str(folder / "problem.pddl"),
                       str(k), str(math.ceil(self.timeout_s)), str(out)]
            proc = subprocess.Popen(command, cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    start_new_session=True)
            wall_limit_s = self.timeout_s * (1.0 + _GRACE_FRACTION) + _GRACE_S
            try:
                _, stderr = proc.communicate(timeout=wall_limit_s)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.communicate()
                raise SamplingError(f"the K* planner did not finish within {wall_limit_s:.3g} s "
                                    "and was stopped") from None
            if proc.returncode != 0 or not out.is_file():
                raise SamplingError(f"the K* planner run failed (exit code {proc.returncode}): "
                                    f"{_last_line(stderr.decode(errors='replace'))}")
            return json.loads(out.read_text())
