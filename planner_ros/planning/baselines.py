"""The baselines the benchmark compares Tree-Planner + RePLan against, on the same ports and parts.

- open loop: sample once, run the first plan blind (no verification, no backtracking, no replanning); a
  step the robot itself reports as failed ends the task, since nothing would recover it;
- iterative (SayCan / ReAct style): before every step, plan afresh from the current state with the whole
  history and every diagnosis, and take only that plan's first step; each step is verified.

"Tree-Planner without replanning" needs no class: TreePlanner with PlannerSettings(max_replans=0).
Both reuse TreePlanner's grounding, search, execution, verification and metrics, so the comparison
differs only in how plans are chosen and corrected.
"""
from __future__ import annotations

from planner_ros.planning.executive import TreePlanner, TaskStopped
from planner_ros.planning.interfaces import VerdictStatus

__all__ = ["IterativePlanner", "OpenLoopPlanner"]


class OpenLoopPlanner(TreePlanner):
    def _run(self) -> str:
        self._emit("task_started", detail=self.instruction)
        self._ground()
        if self._goal_holds():
            return "the goal holds"
        plan = self._sample_plans(self.settings.num_plans)[0]
        self._emit("plan_chosen", detail=f"the first of the sampled plans, {len(plan.steps)} step(s), run blind",
                   plan=[c.text for c in plan.steps])
        for call in plan.steps:
            if self.should_cancel():
                raise TaskStopped("canceled")
            outcome = self._execute(call, self._view())
            if not outcome.success:
                raise TaskStopped(f"{call.text} failed: {outcome.reason} (an open-loop plan has no recovery)")
            self.done_steps.append(call.text)
        return f"ran the first plan's {len(plan.steps)} step(s) without checking them"


class IterativePlanner(TreePlanner):
    def _run(self) -> str:
        self._emit("task_started", detail=self.instruction)
        self._ground()
        while True:
            if self.should_cancel():
                raise TaskStopped("canceled")
            if self._goal_holds():
                return f"the goal holds after {self.metrics.skill_calls} skill call(s)"
            plan = self._sample_plans(1)[0]
            if not plan.steps:
                raise TaskStopped("the sampler's plan is empty but the goal does not hold")
            call = plan.steps[0]
            self._emit("step_chosen", step=call.text, detail="the first step of a plan from the current state")
            verdict = self._execute_and_verify(call, self._view())
            if verdict.status != VerdictStatus.FAILURE:
                self.done_steps.append(call.text)
                continue
            self.diagnoses.append(self._correct(verdict, call))
