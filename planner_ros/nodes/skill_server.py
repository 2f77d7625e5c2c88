"""skill_server: serves the ExecuteSkill action over a world backend (the symbolic household for now).

Parameters:
  world (str, "symbolic"): the world backend.
  scene_file (str): symbolic scene YAML, absolute or relative to the package's config/ folder.
  time_scale (float, 1.0): wall-clock seconds per second of robot time; 0 finishes skills at once.
  feedback_hz (float, 10.0): feedback rate while a skill runs.
Actions: execute_skill (planner_ros_interfaces/action/ExecuteSkill).
Services: list_skills (planner_ros_interfaces/srv/ListSkills).
One skill runs at a time, as on a single-arm robot: a goal that arrives while one runs fails with BUSY.
"""
from __future__ import annotations

import threading
import time
from pathlib import Path

import yaml
from rclpy.action import ActionServer, CancelResponse
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.node import Node

from planner_ros import conversions as cs
from planner_ros.nodes._common import StartupError, declare, finish_skill_goal, spin_node
from planner_ros.paths import config_dir
from planner_ros.skills import DEFAULT_SKILLS, FailureCode, SkillOutcome, SkillValidationError
from planner_ros.world.symbolic import SceneConfigError, SymbolicHousehold
from planner_ros_interfaces.action import ExecuteSkill
from planner_ros_interfaces.srv import ListSkills

# Feedback phase names per skill, spread evenly over its duration.
PHASES = {
    "navigate_to": ("plan_path", "drive", "align"),
    "pick": ("approach", "grasp", "lift"),
    "place": ("approach", "release", "retreat"),
    "open": ("grasp_handle", "pull", "release"),
    "close": ("grasp_handle", "push", "release"),
}


class SkillServer(Node):
    def __init__(self) -> None:
        super().__init__("skill_server")
        world = declare(self, "world", "symbolic", "world backend: symbolic")
        scene_file = declare(self, "scene_file", "scenes/kitchen_symbolic.yaml", "symbolic scene YAML")
        self.time_scale = float(declare(self, "time_scale", 1.0, "wall seconds per robot second"))
        self.feedback_period_s = 1.0 / max(1.0, float(declare(self, "feedback_hz", 10.0, "feedback rate")))
        if world != "symbolic":
            raise StartupError(f"unknown world backend '{world}'; available: symbolic")
        self.world = load_scene(scene_file)
        self._busy = threading.Lock()
        group = ReentrantCallbackGroup()
        self._server = ActionServer(
            self, ExecuteSkill, "execute_skill", execute_callback=self._execute,
            cancel_callback=lambda _: CancelResponse.ACCEPT, callback_group=group,
        )
        self.create_service(ListSkills, "list_skills", self._list_skills, callback_group=group)
        self.get_logger().info(f"serving {len(list(DEFAULT_SKILLS))} skills over the symbolic world from {scene_file}")

    def _list_skills(self, _request, response):
        response.skills = [cs.skill_to_msg(spec) for spec in DEFAULT_SKILLS]
        return response

    def _execute(self, goal_handle):
        if self._busy.acquire(blocking=False):
            try:
                outcome = self._run(goal_handle)
            finally:
                self._busy.release()
        else:
            outcome = SkillOutcome.failed(FailureCode.BUSY, f"'{goal_handle.request.skill}' arrived while another "
                                          "skill was running; wait for its result or cancel it")
            self.get_logger().warning(outcome.reason)
        return finish_skill_goal(goal_handle, outcome)

    def _run(self, goal_handle) -> SkillOutcome:
        goal = goal_handle.request
        log = self.get_logger()
        try:
            call = DEFAULT_SKILLS.validate(goal.skill, cs.arguments_from_msg(goal.arguments))
        except SkillValidationError as err:
            log.warning(f"refused '{goal.skill}': {err.code.name}: {err.reason}")
            return SkillOutcome.failed(err.code, err.reason)
        outcome = self.world.check(call)
        if not outcome.success:
            log.info(f"{call.text}: {outcome.code.name}: {outcome.reason}")
            return outcome
        phases = PHASES.get(call.skill, ("run",))
        wall_s = outcome.duration_s * self.time_scale
        start = time.monotonic()
        feedback = ExecuteSkill.Feedback()
        while (elapsed := time.monotonic() - start) < wall_s:
            if goal_handle.is_cancel_requested:
                log.info(f"{call.text}: canceled after {elapsed:.2f} s; the world is unchanged")
                return SkillOutcome.failed(FailureCode.CANCELED, f"{call.text} was canceled before it finished")
            feedback.progress = elapsed / wall_s
            feedback.phase = phases[min(len(phases) - 1, int(feedback.progress * len(phases)))]
            feedback.message = f"{call.text}: {feedback.phase}"
            goal_handle.publish_feedback(feedback)
            time.sleep(min(self.feedback_period_s, max(0.0, wall_s - elapsed)))
        self.world.apply(call)
        log.info(f"{call.text}: succeeded ({outcome.duration_s:.1f} s robot time)")
        return outcome


def load_scene(scene_file: str) -> SymbolicHousehold:
    path = Path(scene_file)
    if not path.is_absolute():
        path = config_dir() / path
    try:
        return SymbolicHousehold.from_config(yaml.safe_load(path.read_text()))
    except OSError as err:
        raise StartupError(f"cannot read scene_file {path}: {err}; set the scene_file parameter") from err
    except (yaml.YAMLError, SceneConfigError) as err:
        raise StartupError(f"scene_file {path} is malformed: {err}") from err


def main(args: list[str] | None = None) -> int:
    return spin_node(SkillServer, threads=3, args=args)


if __name__ == "__main__":
    raise SystemExit(main())
