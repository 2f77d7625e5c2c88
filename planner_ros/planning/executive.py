"""The closed loop: ground the task, sample plans, merge them into an action tree, decide, execute,
verify, backtrack, and replan with a diagnosis (Tree-Planner + RePLan). Pure: the robot comes in
through the Executor, Observer and Verifier ports (planner_ros.planning.interfaces).

A robot cannot restore a saved state, so after a failure the walk re-reads the world: a step whose
effects already hold is kept without running it, a step whose preconditions no longer hold is pruned,
and when a failure is one the tree cannot fix (locked, jammed, blocked, missing, moved, slipped, out of
reach) the planner replans from the current state with the diagnosis in the request.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from planner_ros.planning.affordance import (apply_effects, condition_holds, effects_hold, expected_effects, preconditions,
                                              reaches)
from planner_ros.planning.conditions import Condition
from planner_ros.planning.deciders import Decider, DecisionContext
from planner_ros.planning.interfaces import Executor, Observer, Verdict, VerdictStatus, Verifier, VerifyRequest
from planner_ros.planning.sampling import PlanRequest, PlanSampler, SampledPlan, SamplingError
from planner_ros.planning.tree import ActionTree, NodeStatus
from planner_ros.planning.world import Knowledge, ObjectStatus, WorldView
from planner_ros.skills import FailureCode, SkillCall, SkillLibrary

__all__ = ["GoalResult", "GoalWriter", "PlannerSettings", "TaskMetrics", "TaskResult", "TreePlanner",
           "REPLAN_CODES"]

# Failures the tree cannot fix by trying a sibling: the world is not what the plans assumed.
REPLAN_CODES = frozenset({FailureCode.LOCKED, FailureCode.JAMMED, FailureCode.BLOCKED, FailureCode.OBJECT_MISSING,
                          FailureCode.OBJECT_MOVED, FailureCode.SLIPPED, FailureCode.NOT_REACHABLE,
                          FailureCode.UNKNOWN_OBJECT})
LOOK_S = 1.5   # how long the robot looks at a place it searches

# Executor refusals that mean the step was not executable where it was dispatched.
NOT_EXECUTABLE = frozenset({FailureCode.UNKNOWN_SKILL, FailureCode.INVALID_ARGUMENTS, FailureCode.UNKNOWN_OBJECT,
                            FailureCode.PRECONDITION_FAILED, FailureCode.HAND_FULL, FailureCode.HAND_EMPTY,
                            FailureCode.NOT_REACHABLE, FailureCode.CONTAINER_CLOSED})


@dataclass(frozen=True)
class GoalResult:
    goal: tuple[Condition, ...]
    missing_labels: tuple[str, ...] = ()   # named in the task but not in the scene graph (search for them)
    look_first: tuple[str, ...] = ()       # receptacles the task says they are in ("from the cabinet")
    error: str = ""                        # the instruction could not be turned into a goal
    model_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0


class GoalWriter(Protocol):
    name: str

    def goal(self, instruction: str, view: WorldView, *, searched: bool = False) -> GoalResult:
        """Goal conditions for instruction over view's ids; searched: a second call after searching for
        what the first could not bind (a writer may then accept objects away from the place the task named)."""


@dataclass(frozen=True)
class PlannerSettings:
    num_plans: int = 20
    max_corrections: int = 10
    max_replans: int = 3
    max_skill_calls: int = 60
    search_places: int = 4         # receptacles to look at for an object the scene graph lacks


@dataclass
class TaskMetrics:
    """The metrics of ../shared/notes/algorithms.md, per task."""

    success: bool = False
    goal_condition_recall: float = float("nan")
    executability: float = float("nan")
    skill_calls: int = 0
    corrections: int = 0
    replans: int = 0
    planner_calls: int = 0        # sampler invocations (one LLM prompt sampled N times, or one K* search)
    llm_calls: int = 0
    vlm_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    wall_time_s: float = 0.0
    sim_time_s: float = 0.0

    def add_usage(self, calls: int, prompt: int, completion: int, *, vision: bool = False) -> None:
        if vision:
            self.vlm_calls += calls
        else:
            self.llm_calls += calls
        self.prompt_tokens += prompt
        self.completion_tokens += completion


@dataclass
class TaskResult:
    success: bool
    summary: str
    metrics: TaskMetrics
    goal: tuple[str, ...]
    executed_steps: list[str]
    events: list[dict[str, Any]] = field(default_factory=list)
    trees: list[list[dict]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"success": self.success, "summary": self.summary, "metrics": asdict(self.metrics),
                "goal": list(self.goal), "executed_steps": self.executed_steps, "events": self.events,
                "trees": self.trees}


class TaskStopped(Exception):
    """Ends a task early (a limit, a cancel, an unrecoverable failure); summary says why."""

    def __init__(self, summary: str) -> None:
        super().__init__(summary)
        self.summary = summary


class TreePlanner:
    def __init__(self, skills: SkillLibrary, goal_writer: GoalWriter, sampler: PlanSampler, decider: Decider,
                 executor: Executor, observer: Observer, verifier: Verifier,
                 settings: PlannerSettings | None = None, *,
                 on_event: Callable[[dict[str, Any]], None] | None = None,
                 on_tree: Callable[[ActionTree, int, int], None] | None = None,
                 should_cancel: Callable[[], bool] | None = None,
                 describe: Callable[[WorldView, tuple[Condition, ...]], str] | None = None) -> None:
        self.skills = skills
        self.goal_writer = goal_writer
        self.sampler = sampler
        self.decider = decider
        self.executor = executor
        self.observer = observer
        self.verifier = verifier
        self.settings = settings or PlannerSettings()
        self.on_event = on_event
        self.on_tree = on_tree
        self.should_cancel = should_cancel or (lambda: False)
        self.describe = describe
        self.phase, self.current_step = "grounding", ""   # what feedback reports, before and during a task

    # -- the task -------------------------------------------------------------------------------------
    def run(self, instruction: str, task_id: str = "task") -> TaskResult:
        self._reset(instruction, task_id)
        wall0, sim0 = time.monotonic(), self.observer.now_s()
        try:
            summary = self._run()
            success = True
        except TaskStopped as stop:
            summary, success = stop.summary, False
        view = self._view()
        m = self.metrics
        if self.goal:
            held = sum(condition_holds(c, view) for c in self.goal)
            m.goal_condition_recall = held / len(self.goal)
            success = success and held == len(self.goal)
        m.success = success
        m.executability = self._executable / m.skill_calls if m.skill_calls else float("nan")
        m.wall_time_s = time.monotonic() - wall0
        m.sim_time_s = self.observer.now_s() - sim0
        self._emit("task_finished", detail=summary, success=success)
        return TaskResult(success, summary, m, tuple(c.text for c in self.goal), list(self.done_steps), self.events,
                          [t.to_json() for t in self.trees])

    def _reset(self, instruction: str, task_id: str) -> None:
        self.instruction, self.task_id = instruction, task_id
        self._phase("grounding")
        self.metrics = TaskMetrics()
        self.events: list[dict[str, Any]] = []
        self.trees: list[ActionTree] = []
        self.done_steps: list[str] = []
        self.diagnoses: list[str] = []
        self.knowledge = Knowledge()
        self.robot_at: str | None = None
        self.goal: tuple[Condition, ...] = ()
        self._executable = 0
        self._step_ids = 0
        self._recent: list[tuple[float, SkillCall]] = []   # (end time, call) of steps that succeeded
        self._grounded_at: dict[str, str] = {}              # goal object -> its place when the goal was set

    def _run(self) -> str:
        self._emit("task_started", detail=self.instruction)
        self._ground()
        for attempt in range(self.settings.max_replans + 1):
            if attempt:
                self.metrics.replans += 1
                self._emit("replanned", detail=self.diagnoses[-1] if self.diagnoses else "tree exhausted",
                           replans=self.metrics.replans)
            if self._goal_holds():
                return "the goal holds"
            tree = self._sample()
            outcome = self._walk(tree)
            if outcome == "success":
                return f"the goal holds after {self.metrics.skill_calls} skill call(s)"
        last = self.diagnoses[-1] if self.diagnoses else "no plan reached the goal"
        raise TaskStopped(f"gave up after {self.metrics.replans} replan(s): {last}")

    # -- grounding and search (TaPA: look before declaring an object absent) ---------------------------
    def _ground(self) -> None:
        self._phase("grounding")
        view = self._view(after_s=self.observer.now_s())
        result = self.goal_writer.goal(self.instruction, view)
        self.metrics.add_usage(result.model_calls, result.prompt_tokens, result.completion_tokens)
        if result.error:
            raise TaskStopped(result.error)
        if result.missing_labels:
            self._search(result.missing_labels, first=result.look_first)
            view = self._view()
            result = self.goal_writer.goal(self.instruction, view, searched=True)
            self.metrics.add_usage(result.model_calls, result.prompt_tokens, result.completion_tokens)
            if result.error or result.missing_labels:
                raise TaskStopped(result.error or f"could not find {', '.join(result.missing_labels)} after searching")
        self.goal = result.goal
        self._grounded_at = {c.args[0]: view.objects[c.args[0]].place for c in self.goal
                             if c.args and c.args[0] in view.objects}
        self._emit("goal_grounded", detail=", ".join(c.text for c in self.goal), goal=[c.text for c in self.goal])

    def _search(self, labels: tuple[str, ...], first: tuple[str, ...] = (),
                known: frozenset[str] = frozenset()) -> None:
        """Look at the places first, then at the scene graph's proposals, until an object of each label shows
        that is not one of `known` (objects of the label already seen elsewhere) and lies where a skill can take it."""
        self._phase("searching")
        for label in labels:
            places = list(dict.fromkeys([*first, *self.observer.search_places(label)]))
            for place in places[: self.settings.search_places + len(first)]:
                self._emit("searching", detail=f"looking for {label} at {place}", label=label, place=place)
                if not self._go_to(place):
                    continue
                view = self._view()
                rec = view.receptacles.get(place)
                is_open = rec is not None and rec.is_open
                if rec is not None and rec.part and not is_open and place not in self.knowledge.locked:
                    hand_free = not view.holding or self._put_down(view.holding, view)
                    if hand_free and self._go_to(place):
                        is_open = self._dispatch_search_step(SkillCall("open", (("target", place),)))
                if is_open and rec.look_from:
                    # Where the robot stands to use it, nothing inside shows (a low cabinet's top hides its shelf).
                    self._dispatch_search_step(SkillCall("navigate_to", (("target", rec.look_from),)))
                if self._found(label, known):
                    self._emit("found", detail=f"{label} found at {place}", label=label, place=place)
                    break

    def _put_down(self, held: str, view: WorldView) -> bool:
        """Opening a door or drawer takes a free hand: put the held object where the goal wants it, else back
        where it was when the goal was set, whichever takes it now. False if neither does."""
        wanted = [c.args[1] for c in self.goal if c.predicate in ("on", "in") and not c.negated and c.args[0] == held]
        for place in dict.fromkeys([*wanted, self._grounded_at.get(held, "")]):
            rec = view.receptacles.get(place)
            if rec is None or not rec.is_open or place in self.knowledge.blocked or not self._go_to(place):
                continue
            if self._dispatch_search_step(SkillCall("place", (("object", held), ("target", place)))):
                self._emit("hand_freed", detail=f"put {held} down at {place} to open things while searching",
                           object=held, place=place)
                return True
        return False

    def _go_to(self, place: str) -> bool:
        """Whether the robot stands at place, navigating there (a search step) if it does not yet."""
        return self.robot_at == place or self._dispatch_search_step(SkillCall("navigate_to", (("target", place),)))

    def _found(self, label: str, known: frozenset[str]) -> bool:
        # Look for a moment: perception confirms an object over a few frames.
        view = self._view(after_s=self.observer.now_s() + LOOK_S)
        return any(o.label == label and o.id not in known and not self._lost(o) for o in view.usable_objects().values())

    def _dispatch_search_step(self, call: SkillCall) -> bool:
        """A step outside the tree (searching): executed and verified like any other, and what a failure
        teaches (a door that does not open) is kept; it is not a correction of a plan."""
        verdict = self._execute_and_verify(call, self._view())
        if verdict.status == VerdictStatus.FAILURE:
            self._learn(verdict, call)
            return False
        return True

    # -- sampling -------------------------------------------------------------------------------------
    def _recover_missing(self) -> None:
        """Goal objects the scene graph marks missing or has nowhere: look again, then search (TaPA) before
        planning without them. One found elsewhere under a new id takes its place in the goal."""
        view = self._view()
        for oid in dict.fromkeys(c.args[0] for c in self.goal if c.predicate in ("on", "in", "held")):
            obj = view.objects.get(oid)
            if obj is None or oid in self.knowledge.missing or not self._lost(obj):
                continue
            why = "missing from the scene graph" if obj.status is ObjectStatus.MISSING else "not on or in anything"
            self._emit("object_missing", step="", detail=f"{oid} is {why}; looking again", object=oid)
            view = self._view(after_s=self.observer.now_s() + 1.0)
            if not self._lost(view.objects[oid]):
                continue
            others = frozenset(o.id for o in view.usable_objects().values() if o.label == obj.label and o.id != oid)
            self._search((obj.label,), known=others)
            view = self._view()
            if not self._lost(view.objects[oid]):
                continue
            spare = self._stand_ins(oid, obj.label, view)
            if spare:
                self.goal = tuple(Condition(c.predicate, (spare[0], *c.args[1:]), c.negated) if c.args[0] == oid else c
                                  for c in self.goal)
                self._grounded_at[spare[0]] = self._grounded_at.get(oid, "")
                self._emit("goal_rebound", detail=f"{oid} was not found; {spare[0]} takes its place",
                           goal=[c.text for c in self.goal])
            else:
                self.knowledge = self.knowledge.merged(Knowledge(missing=frozenset({oid}),
                                                                 notes=(f"{oid} was searched for and not found",)))

    def _stand_ins(self, oid: str, label: str, view: WorldView) -> list[str]:
        """Other objects of the lost one's label that can take its place, those where it was when the goal was
        set first. Not one that already meets its goal conditions: "the cup from the cabinet onto the counter"
        is not done by a cup that was on the counter all along."""
        bound = {c.args[0] for c in self.goal}
        mine = [c for c in self.goal if c.args and c.args[0] == oid]
        out = []
        for o in view.usable_objects().values():
            if o.label != label or o.id in bound or o.relation not in ("on", "in"):
                continue
            if all(condition_holds(Condition(c.predicate, (o.id, *c.args[1:]), c.negated), view) for c in mine):
                continue
            out.append(o.id)
        return sorted(out, key=lambda i: (view.objects[i].place != self._grounded_at.get(oid), i))

    @staticmethod
    def _lost(obj) -> bool:
        """Missing, or lying nowhere the skills can take it from (after a slip, before perception re-finds it).
        A held object is not lost: every view gives it the relation "held"."""
        return obj.status is ObjectStatus.MISSING or obj.relation == "none"

    def _sample_plans(self, num_plans: int) -> list[SampledPlan]:
        """One sampler call from the current state (with what was done and learnt so far)."""
        self._recover_missing()
        self._phase("sampling")
        request = PlanRequest(self.instruction, self.goal, self._view(), self.skills, num_plans,
                              tuple(self.done_steps), tuple(self.diagnoses))
        try:
            result = self.sampler.sample(request)
        except SamplingError as err:
            raise TaskStopped(f"the plan sampler failed: {err}") from None
        self.metrics.planner_calls += 1
        self.metrics.add_usage(result.model_calls, result.prompt_tokens, result.completion_tokens)
        for raw, why in result.rejected:
            self._emit("plan_rejected", detail=why, plan=raw)
        if not result.plans:
            raise TaskStopped(result.note or "the sampler returned no valid plan")
        return list(result.plans)

    def _sample(self) -> ActionTree:
        plans = self._sample_plans(self.settings.num_plans)
        tree = ActionTree([p.steps for p in plans])
        self.trees.append(tree)
        self._emit("plans_sampled", detail=f"{len(plans)} plan(s) -> {len(tree.nodes)} tree nodes",
                   sampler=self.sampler.name, plans=tree.plan_texts(), dropped=[d for p in plans for d in p.dropped])
        self._publish(tree, -1)
        return tree

    # -- the walk ---------------------------------------------------------------------------------------
    def _walk(self, tree: ActionTree) -> str:
        """Decide top-down until the goal holds ("success"), a failure needs a new plan ("replan") or the
        tree has no untried branch left ("exhausted")."""
        node = 0
        errors: dict[int, list[str]] = {}
        while True:
            if self.should_cancel():
                raise TaskStopped("canceled")
            view = self._view()
            if self._goal_holds(view):
                return "success"
            options = tree.untried_children(node)
            if not options:
                target = tree.backtrack_target(node)
                if target is None:
                    self.diagnoses.append("every branch of the action tree failed; plan again from the current state")
                    return "exhausted"
                self._phase("backtracking")
                self._emit("backtracked", detail=f"from node {node} to node {target}", node=node, to=target)
                node = target
                continue
            # A robot cannot restore a saved state: a branch no plan of which still reaches the goal from
            # here (say, it picks an object now elsewhere) is pruned before anything moves for it.
            dead = [o for o in options if not o.is_end
                    and not any(reaches(s, view, self.goal) for s in tree.suffixes(o.id))]
            for o in dead:
                tree.mark(o.id, NodeStatus.PRUNED, "no plan through it reaches the goal from the current state")
                tree.prune_subtree(o.id, "under a pruned step")
                self._emit("step_pruned", step=o.step, detail="no plan through it reaches the goal from here",
                           node=o.id)
            if dead:
                self._publish(tree, -1)
                continue
            self._phase("deciding")
            if len(options) == 1:
                child, reason = options[0], "the only untried child"
            else:
                decision = self.decider.decide(options, DecisionContext(
                    self.instruction, view, tuple(self.done_steps), tuple(errors.get(node, ())),
                    self.describe(view, self.goal) if self.describe else ""))
                self.metrics.add_usage(decision.model_calls, decision.prompt_tokens, decision.completion_tokens)
                child, reason = tree.nodes[decision.node_id], decision.reason
            self._emit("step_chosen", step=child.step, detail=reason, node=child.id)
            if child.is_end:
                unmet = ", ".join(c.text for c in self.goal if not condition_holds(c, view))
                tree.mark(child.id, NodeStatus.FAILED, f"plan ended with the goal unmet: {unmet}")
                errors.setdefault(node, []).append(f"that plan ended with {unmet} unmet")
                continue
            call = child.call
            if effects_hold(call, view):
                tree.mark(child.id, NodeStatus.SUCCEEDED, "its effects already hold; kept without running it")
                self._emit("step_kept", step=call.text, detail="effects already hold", node=child.id)
                node = child.id
                continue
            ok, why = preconditions(call, view)
            if not ok:
                tree.mark(child.id, NodeStatus.PRUNED, f"preconditions do not hold now: {why}")
                tree.prune_subtree(child.id, "under a pruned step")
                self._emit("step_pruned", step=call.text, detail=why, node=child.id)
                errors.setdefault(node, []).append(f"{call.text}: {why}")
                self._publish(tree, -1)
                continue
            tree.mark(child.id, NodeStatus.RUNNING)
            self._publish(tree, child.id)
            verdict = self._execute_and_verify(call, view)
            if verdict.status == VerdictStatus.FAILURE:
                tree.mark(child.id, NodeStatus.FAILED, verdict.reason)
                self._publish(tree, -1)
                text = self._correct(verdict, call)
                if verdict.diagnosis in REPLAN_CODES:
                    self.diagnoses.append(text)
                    return "replan"
                errors.setdefault(node, []).append(text)
                continue
            tree.mark(child.id, NodeStatus.SUCCEEDED, "" if verdict.status == VerdictStatus.SUCCESS
                      else f"unverified: {verdict.reason}")
            self.done_steps.append(call.text)
            self._publish(tree, -1)
            node = child.id

    def _execute_and_verify(self, call: SkillCall, view: WorldView) -> Verdict:
        outcome = self._execute(call, view)
        self._phase("verifying")
        # Only what perception sees after the step ended can confirm it.
        verdict = self.verifier.verify(VerifyRequest(self.instruction, call, outcome, expected_effects(call, view),
                                                     self.observer.now_s(), diagnose=not outcome.success,
                                                     robot_at=self.robot_at))
        vision = verdict.backend.startswith("vlm")
        self.metrics.add_usage(verdict.model_calls, verdict.prompt_tokens, verdict.completion_tokens, vision=vision)
        if verdict.status == VerdictStatus.SUCCESS and not outcome.success:
            # The executor's failure stands: a verifier may not report success the robot did not achieve.
            verdict = Verdict(VerdictStatus.FAILURE, 1.0, outcome.reason, diagnosis=outcome.code,
                              diagnosis_text=outcome.reason, backend=verdict.backend)
        if verdict.status == VerdictStatus.UNKNOWN and not outcome.success:
            verdict = Verdict(VerdictStatus.FAILURE, 1.0, outcome.reason, diagnosis=outcome.code,
                              diagnosis_text=f"{outcome.reason} (verifier: {verdict.reason})", backend=verdict.backend)
        self._emit("step_verified", step=call.text, detail=verdict.reason, verdict=verdict.status.name.lower(),
                   diagnosis=verdict.diagnosis.name, confidence=round(verdict.confidence, 3),
                   failed=list(verdict.failed), backend=verdict.backend)
        return verdict

    def _execute(self, call: SkillCall, view: WorldView):
        self._phase("executing", call.text)
        self._step_ids += 1
        outcome = self.executor.execute(call, f"{self.task_id}/{self._step_ids}")
        self.metrics.skill_calls += 1
        if outcome.success or outcome.code not in NOT_EXECUTABLE:
            self._executable += 1
        if call.skill == "navigate_to":
            self.robot_at = view.place_of(call.arg("target")) if outcome.success else None
        elif outcome.success:
            self._recent.append((self.observer.now_s(), call))
        self._emit("step_executed", step=call.text, detail=outcome.reason or "ok", success=outcome.success,
                   code=outcome.code.name, duration_s=round(outcome.duration_s, 3))
        if self.metrics.skill_calls > self.settings.max_skill_calls:
            raise TaskStopped(f"more than {self.settings.max_skill_calls} skill calls")
        return outcome

    def _correct(self, verdict: Verdict, call: SkillCall) -> str:
        """A failed plan step: counted as a correction, what it taught kept, the task stopped past the limit.
        Returns the failure in words, for the next decision or plan."""
        self.metrics.corrections += 1
        self._learn(verdict, call)
        text = f"{call.text} failed: {verdict.diagnosis_text or verdict.reason}"
        if self.metrics.corrections > self.settings.max_corrections:
            raise TaskStopped(f"more than {self.settings.max_corrections} corrections; last: {text}")
        return text

    def _learn(self, verdict: Verdict, call: SkillCall) -> None:
        """Facts a failure taught that the scene graph cannot show, or not yet (so the next plan avoids them).
        An object the robot reached for and did not find is held as lying nowhere known until perception shows
        it again somewhere else: the next sampling looks for it instead of reaching for the same spot again."""
        code = verdict.diagnosis
        view = self._view()
        if code in (FailureCode.LOCKED, FailureCode.JAMMED) and call.skill == "open":
            owner = view.part_owner(call.arg("target"))
            self.knowledge = self.knowledge.merged(Knowledge(locked=frozenset({owner or call.arg("target")})))
        elif code == FailureCode.BLOCKED and call.skill == "place":
            self.knowledge = self.knowledge.merged(Knowledge(blocked=frozenset({call.arg("target")})))
        elif code == FailureCode.OBJECT_MISSING and call.skill == "pick":
            obj = view.objects.get(call.arg("object"))
            if obj is not None and obj.relation in ("on", "in"):
                note = f"{obj.id} was not found {obj.relation} {obj.place}"
                lesson = Knowledge(not_at=frozenset({(obj.id, obj.place)}), notes=(note,))
                self.knowledge = self.knowledge.merged(lesson)

    # -- helpers ------------------------------------------------------------------------------------
    def _view(self, after_s: float | None = None) -> WorldView:
        """The observer's view, plus the effects of steps that succeeded after its newest observation: the
        scene graph lags the robot, and the robot knows what it just did until perception catches up."""
        view = self.observer.observe(after_s).with_robot_at(self.robot_at).with_knowledge(self.knowledge)
        self._recent = [(t, c) for t, c in self._recent if t > view.stamp_s]
        for _, call in self._recent:
            if not effects_hold(call, view) and preconditions(call, view)[0]:
                view = apply_effects(call, view)
        return view

    def _goal_holds(self, view: WorldView | None = None) -> bool:
        view = view or self._view()
        return bool(self.goal) and all(condition_holds(c, view) for c in self.goal)

    def _phase(self, phase: str, step: str = "") -> None:
        self.phase, self.current_step = phase, step

    def _publish(self, tree: ActionTree, running: int) -> None:
        if self.on_tree is not None:
            self.on_tree(tree, len(self.trees) - 1, running)

    def _emit(self, kind: str, *, step: str = "", detail: str = "", **data: Any) -> None:
        event = {"type": kind, "task_id": self.task_id, "step": step, "detail": detail,
                 "sim_time_s": round(self.observer.now_s(), 3), **data}
        self.events.append(event)
        if self.on_event is not None:
            self.on_event(event)
