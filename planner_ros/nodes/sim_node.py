"""sim_node: the embedded MuJoCo household as a ROS 2 robot (cameras, TF, clock, skills, faults, ground truth).

Parameters:
  scenario (str, ""): "<task_id>" or "<task_id>:clean|fault" from config/tasks; empty: layout/seed below.
  layout (str, "kitchen_a"), seed (int, 0), random_objects (int, 8): the episode when no scenario is given.
  cameras (string[], [kitchen_overview, table_cam, head_rgbd]): views to render and publish.
  camera_rate_hz (float, 2.0), width (int, 640), height (int, 480).
  real_time_factor (float, 1.0): simulated seconds per wall second; 0 runs as fast as it can.
  ground_truth_rate_hz (float, 2.0).
  publish_segmentation (bool, false): also publish /<cam>/segmentation (mono16 instance labels) for the
    oracle detector (debugging perception; no real camera has it).
Publishes: /<cam>/color/image_raw (rgb8), /<cam>/depth/image_raw (32FC1 m), /<cam>/color/camera_info,
  /tf (map->base_link, base_link->gripper, base_link->robot camera optical frames), /tf_static
  (map->fixed camera optical frames), /clock, /robot/held_object (String, latched: what the gripper holds,
  "" for nothing; the robot's own grasp state), /sim/ground_truth (SceneGraph; evaluation only: the
  planner stack never reads it).
Serves: execute_skill (ExecuteSkill), list_skills (ListSkills), /sim/inject_fault (InjectFault),
  /sim/reset (ResetWorld).
Skill arguments name objects by scene-graph id (the ROS contract): with /scene_graph being published, an
object id the graph holds is resolved to the simulated object nearest to where the graph has it (same
kind, within 0.2 m), as a real robot acts where perception says; other ids are taken as simulator ids
(scripted callers). /robot/held_object then reports the commanded graph id.
"""
from __future__ import annotations


import rclpy
from rclpy.action import ActionServer, CancelResponse
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.node import Node
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import String
from tf2_msgs.msg import TFMessage

from planner_ros import conversions as cs
from planner_ros.nodes._common import LATCHED_QOS, StartupError, declare, finish_skill_goal, spin_node
from planner_ros.paths import config_dir
from planner_ros.sim.cameras import RenderingUnavailable
from planner_ros.sim.closed_loop import translate_call
from planner_ros.sim.engine import MAP_FRAME, EpisodeConfig, SimEngine, SimRuntime
from planner_ros.sim.faults import FaultError, fault_from_mapping
from planner_ros.sim.scenario import ScenarioError, find_scenario, load_scenarios
from planner_ros.skills import DEFAULT_SKILLS, SkillOutcome, SkillValidationError
from planner_ros_interfaces.action import ExecuteSkill
from planner_ros_interfaces.msg import Relation, SceneGraph, SceneObject
from planner_ros_interfaces.srv import InjectFault, ListSkills, ResetWorld



class SimNode(Node):
    def __init__(self) -> None:
        super().__init__("sim")
        self.fatal_error: str | None = None
        self.scenarios = load_scenarios(config_dir() / "tasks")
        episode = self._episode(declare(self, "scenario", "", "task id[:clean|fault] from config/tasks"),
                                declare(self, "layout", "kitchen_a", "layout without a scenario"),
                                int(declare(self, "seed", 0, "seed without a scenario")),
                                int(declare(self, "random_objects", 8, "random objects without a scenario")))
        cameras = tuple(declare(self, "cameras", ["kitchen_overview", "table_cam", "head_rgbd"], "views"))
        rate = float(declare(self, "camera_rate_hz", 2.0, "camera frames per simulated second"))
        width, height = int(declare(self, "width", 640, "image width")), int(declare(self, "height", 480, "height"))
        rtf = float(declare(self, "real_time_factor", 1.0, "simulated s per wall s; 0 = as fast as possible"))
        segmentation = bool(declare(self, "publish_segmentation", False, "instance labels for the oracle detector"))
        self.gt_period_s = 1.0 / max(0.1, float(declare(self, "ground_truth_rate_hz", 2.0, "ground truth rate")))
        try:
            engine = SimEngine(episode, cameras=cameras, width=width, height=height, camera_rate_hz=rate,
                               segmentation=segmentation)
        except (ValueError, KeyError) as err:  # unknown layout, camera or object kind, bad fault
            raise StartupError(f"cannot build the world: {err}") from err
        except RenderingUnavailable as err:
            raise StartupError(str(err)) from err
        self.seg_pubs = {c: self.create_publisher(Image, f"/{c}/segmentation", 2) for c in cameras} \
            if segmentation else {}
        self.image_pubs = {c: (self.create_publisher(Image, f"/{c}/color/image_raw", 2),
                               self.create_publisher(Image, f"/{c}/depth/image_raw", 2),
                               self.create_publisher(CameraInfo, f"/{c}/color/camera_info", 2)) for c in cameras}
        self.tf_pub = self.create_publisher(TFMessage, "/tf", 10)
        self.tf_static_pub = self.create_publisher(TFMessage, "/tf_static", LATCHED_QOS)
        self.clock_pub = self.create_publisher(Clock, "/clock", 10)
        self.gt_pub = self.create_publisher(SceneGraph, "/sim/ground_truth", LATCHED_QOS)
        self.held_pub = self.create_publisher(String, "/robot/held_object", LATCHED_QOS)
        self._gt_revision, self._next_gt_s, self._held = 0, 0.0, None
        self._graph_objects: dict[str, tuple[str, tuple[float, float, float]]] = {}
        self._graph_held: str | None = None
        self._graph_id_of: dict[str, str] = {}   # simulator object id -> the graph id a pick named it by
        self.create_subscription(SceneGraph, "/scene_graph", self._on_scene_graph, LATCHED_QOS)
        group = ReentrantCallbackGroup()
        ActionServer(self, ExecuteSkill, "execute_skill", execute_callback=self._execute,
                     cancel_callback=lambda _: CancelResponse.ACCEPT, callback_group=group)
        self.create_service(ListSkills, "list_skills", self._list_skills, callback_group=group)
        self.create_service(InjectFault, "/sim/inject_fault", self._inject, callback_group=group)
        self.create_service(ResetWorld, "/sim/reset", self._reset, callback_group=group)
        self.runtime = SimRuntime(engine, real_time_factor=rtf, on_tick=self._on_tick)
        self._publish_static_tf(engine)
        self.runtime.start()
        self.create_timer(1.0, self._check_runtime)
        self.get_logger().info(f"world {engine.world.index.layout} seed {engine.world.index.seed}"
                               f"{' scenario ' + episode.scenario.name if episode.scenario else ''}; "
                               f"cameras {list(cameras)} at {rate} Hz; real-time factor {rtf}")

    def _episode(self, scenario: str, layout: str, seed: int, random_objects: int) -> EpisodeConfig:
        if not scenario:
            return EpisodeConfig(layout, seed, random_objects)
        try:
            return EpisodeConfig(scenario=find_scenario(self.scenarios, scenario))
        except ScenarioError as err:
            raise StartupError(str(err)) from err

    def _check_runtime(self) -> None:
        if self.runtime.error is not None and self.fatal_error is None:
            # Fail loudly: a robot whose world stopped must not look alive. spin_node then exits with 1.
            self.fatal_error = f"the simulation thread died: {self.runtime.error!r}"
            self.get_logger().fatal(self.fatal_error)
            rclpy.try_shutdown()

    # -- sim thread ----------------------------------------------------------------------------------------
    def _on_tick(self, engine: SimEngine, frames) -> None:
        if not self.context.ok():
            return
        try:
            self._publish_tick(engine, frames)
        except Exception:
            if self.context.ok():  # publishing raced with Ctrl-C shutdown: nothing to report
                raise

    def _publish_tick(self, engine: SimEngine, frames) -> None:
        stamp = cs.seconds_to_time(engine.time_s)
        self.clock_pub.publish(Clock(clock=stamp))
        if not frames and engine.time_s < self._next_gt_s:
            return
        for frame in frames:
            for pub, msg in zip(self.image_pubs[frame.name], cs.camera_frame_to_msgs(frame, stamp)):
                pub.publish(msg)
            if self.seg_pubs:
                self.seg_pubs[frame.name].publish(cs.numpy_to_image(engine.instance_labels(frame), "mono16", stamp=stamp,
                                                                    frame_id=frame.intrinsics.frame_id))
        self.tf_pub.publish(TFMessage(transforms=[cs.transform_stamped(pose, parent, child, stamp)
                                                  for parent, child, pose in engine.tf_edges(frames)]))
        held = engine.world.held_object() or ""
        if held != self._held:  # the gripper's own grasp state, as a real hand reports it
            self._held = held
            self.held_pub.publish(String(data=self._graph_id_of.get(held, held)))
        if engine.time_s >= self._next_gt_s:
            self._next_gt_s = engine.time_s + self.gt_period_s
            self._gt_revision += 1
            self.gt_pub.publish(cs.ground_truth_to_msg(engine.ground_truth(), engine.receptacle_boxes(), MAP_FRAME,
                                                       stamp, self._gt_revision))

    def _publish_static_tf(self, engine: SimEngine) -> None:
        stamp = cs.seconds_to_time(engine.time_s)
        self.tf_static_pub.publish(TFMessage(transforms=[cs.transform_stamped(pose, parent, child, stamp)
                                                         for parent, child, pose in engine.static_tf_edges()]))

    # -- executor threads ----------------------------------------------------------------------------------
    def _on_scene_graph(self, msg: SceneGraph) -> None:
        self._graph_objects = {o.id: (o.label, (o.pose.position.x, o.pose.position.y, o.pose.position.z))
                               for o in msg.objects if o.kind == SceneObject.KIND_OBJECT}
        self._graph_held = next((r.subject_id for r in msg.relations if r.predicate == Relation.HELD_BY), None)

    def _list_skills(self, _request, response):
        response.skills = [cs.skill_to_msg(spec) for spec in DEFAULT_SKILLS]
        return response

    def _execute(self, goal_handle):
        goal = goal_handle.request
        try:
            call = DEFAULT_SKILLS.validate(goal.skill, cs.arguments_from_msg(goal.arguments))
        except SkillValidationError as err:
            goal_handle.abort()
            return cs.outcome_to_result(SkillOutcome.failed(err.code, err.reason))
        objects, held_node = self._graph_objects, self._graph_held
        translated = self.runtime.call(lambda e: translate_call(call, e.world, objects, held_node))
        if isinstance(translated, SkillOutcome):
            self.get_logger().warning(f"{call.text}: {translated.reason}")
            return finish_skill_goal(goal_handle, translated)
        if call.skill == "pick" and translated.arg("object") != call.arg("object"):
            self._graph_id_of[translated.arg("object")] = call.arg("object")
        job = self.runtime.call(lambda e: e.start(translated, goal.timeout_s))
        feedback = ExecuteSkill.Feedback()
        while not job.done.wait(0.1):
            if goal_handle.is_cancel_requested:
                job.cancel_requested = True
            feedback.phase, feedback.progress = job.progress.phase, job.progress.fraction
            feedback.message = f"{call.text}: {job.progress.phase}"
            goal_handle.publish_feedback(feedback)
        outcome = job.outcome
        # rclpy pins a severity to each logging call site, hence two calls.
        if outcome.success:
            self.get_logger().info(f"{call.text}: succeeded ({outcome.duration_s:.1f} s)")
        else:
            self.get_logger().warning(f"{call.text}: {outcome.code.name}: {outcome.reason} ({outcome.duration_s:.1f} s)")
        return finish_skill_goal(goal_handle, outcome)

    def _inject(self, request, response):
        fault = request.fault
        try:
            if request.clear_all:
                self.runtime.call(lambda e: e.clear_faults())
                response.accepted, response.reason = True, "all pending faults cleared"
                return response
            spec = fault_from_mapping({
                "type": fault.type, "target": fault.target, "on_skill": fault.on_skill,
                "on_argument": fault.on_argument, "on_call": int(fault.on_call),
                "params": {kv.key: _number_or_text(kv.value) for kv in fault.params}, "id": fault.id})
            stored = self.runtime.call(lambda e: e.inject(spec))
        except (FaultError, ValueError, KeyError) as err:
            response.accepted, response.reason = False, str(err)
            return response
        response.accepted, response.fault_id, response.reason = True, stored.id, f"armed: {stored.describe()}"
        self.get_logger().info(f"fault {stored.id}: {stored.describe()}")
        return response

    def _reset(self, request, response):
        try:
            current = self.runtime.engine.episode
            if request.scenario:
                episode = self._episode(request.scenario, "", 0, 0)
            elif request.layout or request.seed >= 0:
                episode = EpisodeConfig(request.layout or self.runtime.engine.world.index.layout,
                                        int(request.seed) if request.seed >= 0 else current.seed,
                                        current.random_objects)
            else:
                episode = current  # the same episode from its start
            self.runtime.call(lambda e: e.load(episode), timeout_s=120.0)
        except (StartupError, ScenarioError, ValueError, KeyError) as err:
            response.success, response.message = False, str(err)
            return response
        self._publish_static_tf(self.runtime.engine)
        response.success = True
        response.instruction = episode.scenario.instruction if episode.scenario else ""
        response.message = f"reset to {episode.scenario.name if episode.scenario else episode.layout}"
        return response

    def destroy_node(self) -> None:
        self.runtime.stop()
        super().destroy_node()


def _number_or_text(value: str) -> float | str:
    try:
        return float(value)
    except ValueError:
        return value


def main(args: list[str] | None = None) -> int:
    return spin_node(SimNode, threads=4, args=args)


if __name__ == "__main__":
    raise SystemExit(main())
