"""scene_graph_node: the live 3D scene graph from perception, depth views and the semantic map.

Parameters:
  semantic_map (str, "sim:kitchen_a"): a semantic map JSON file, or "sim:<layout>" for the embedded kitchen's.
  cameras (string[], [kitchen_overview, table_cam, head_rgbd]): depth views used for visibility (missing
    objects) and door/drawer openings; topics follow depth_topic and camera_info_topic patterns.
  depth_topic ("/{camera}/depth/image_raw"), camera_info_topic ("/{camera}/color/camera_info").
  world_frame ("map"), gripper_frame ("gripper"): TF frames.
  views_period_s (0.5): how often depth views are evaluated; publish_period_s (1.0): low-rate republish.
  known_labels (string[], []): labels accepted from perception; empty accepts any.
  missing_after_s (1.0), association_gate_m (0.15), handover_window_s (3.0): see GraphSettings.
  synonyms_from_catalog (bool, true): the kitchen catalogue's synonyms for find_objects.
  load_snapshot (str, ""): resume from this snapshot; snapshot_file (str, ""): where ~/save writes (and
    where the graph is saved at shutdown, if set).
Subscribes: /perception/detections (Detection3DArray), the cameras' depth and CameraInfo, /tf, /tf_static,
  /robot/held_object (String: what the gripper holds, "" for nothing).
Publishes: /scene_graph (SceneGraph, transient-local; on change and every publish_period_s),
  /scene_graph/events (SceneGraphEvent), /scene_graph/markers (MarkerArray).
Serves: /scene_graph/find_objects (FindObjects), /scene_graph/get_relations (GetRelations),
  /scene_graph/describe (DescribeScene), /scene_graph/propose_viewpoints (ProposeViewpoints),
  /scene_graph/save (std_srvs/Trigger: write the snapshot to snapshot_file).
"""
from __future__ import annotations

import json
import math
import threading
from collections import deque
from pathlib import Path

import numpy as np
from geometry_msgs.msg import PoseStamped, Quaternion
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import String
from std_srvs.srv import Trigger
from tf2_msgs.msg import TFMessage
from visualization_msgs.msg import MarkerArray

from planner_ros import conversions as cs
from planner_ros.names import normalise_name
from planner_ros.nodes._common import LATCHED_QOS, StartupError, declare, spin_node
from planner_ros.scene_graph.graph import GraphSettings, SceneGraph, SnapshotError
from planner_ros.scene_graph.model import DepthView
from planner_ros.scene_graph.queries import describe_scene, find_objects, propose_viewpoints
from planner_ros.scene_graph.semantic_map import MapError, SemanticMap
from planner_ros.tf_buffer import TfBuffer, TfLookupError
from planner_ros_interfaces.msg import Detection3DArray, SceneGraph as SceneGraphMsg, SceneGraphEvent
from planner_ros_interfaces.srv import DescribeScene, FindObjects, GetRelations, ProposeViewpoints

VIEW_MAX_AGE_S = 1.0   # depth older than this (against perception's progress) is not used
DEPTH_HISTORY = 8      # depth images kept per camera: perception may lag the cameras by seconds


def load_semantic_map(spec: str) -> SemanticMap:
    if spec.startswith("sim:"):
        from planner_ros.sim.layouts import UnknownLayout
        from planner_ros.sim.semantic_map import semantic_map_for_layout
        try:
            return semantic_map_for_layout(spec[4:])
        except UnknownLayout as err:
            raise MapError(str(err)) from None
    return SemanticMap.load(spec)


class SceneGraphNode(Node):
    def __init__(self) -> None:
        super().__init__("scene_graph")
        spec = declare(self, "semantic_map", "sim:kitchen_a", "semantic map JSON file, or sim:<layout>")
        names = list(declare(self, "cameras", ["kitchen_overview", "table_cam", "head_rgbd"], "depth views"))
        depth_topic = declare(self, "depth_topic", "/{camera}/depth/image_raw", "depth topic pattern")
        info_topic = declare(self, "camera_info_topic", "/{camera}/color/camera_info", "camera info pattern")
        self.world_frame = declare(self, "world_frame", "map", "frame of the graph")
        self.gripper_frame = declare(self, "gripper_frame", "gripper", "TF frame of the grasp point")
        views_period = float(declare(self, "views_period_s", 0.5, "depth view evaluation period"))
        publish_period = float(declare(self, "publish_period_s", 1.0, "low-rate republish period"))
        labels = [n for n in declare(self, "known_labels", [""], "accepted labels; empty: any") if n.strip()]
        settings = GraphSettings(
            missing_after_s=float(declare(self, "missing_after_s", 1.0, "in view and undetected: missing after")),
            association_gate_m=float(declare(self, "association_gate_m", 0.15, "same object within")),
            handover_window_s=float(declare(self, "handover_window_s", 3.0, "wait for a move to explain a new object")),
            known_labels=frozenset(normalise_name(n) for n in labels) if labels else None)
        self.synonyms = {}
        if declare(self, "synonyms_from_catalog", True, "catalogue synonyms for find_objects"):
            from planner_ros.perception.backends import catalog_aliases
            self.synonyms = catalog_aliases()
        self.snapshot_file = declare(self, "snapshot_file", "", "where ~/save writes the snapshot")
        resume = declare(self, "load_snapshot", "", "snapshot to resume from")
        try:
            self.graph = SceneGraph.from_snapshot(json.loads(Path(resume).read_text()), settings) if resume \
                else SceneGraph(load_semantic_map(spec), settings)
        except (MapError, SnapshotError, OSError, json.JSONDecodeError) as err:
            raise StartupError(f"scene_graph: cannot start: {err}") from err
        self.lock = threading.Lock()
        self.tf = TfBuffer()
        # Recent depth per camera. Visibility is judged at perception's time (the stamp of the detections it
        # last published), with the depth images of that time: a detector that lags the cameras must not make
        # objects look undetected.
        self.depth: dict[str, deque[tuple[float, np.ndarray, str]]] = {n: deque(maxlen=DEPTH_HISTORY) for n in names}
        self.perception_s = -math.inf
        self.tf_latest_s = -math.inf  # the hand is followed at the newest pose, not perception's lagging time
        self._views_at_s = -math.inf
        self.intrinsics = {}
        self._published_revision = -1
        self._held_message: str | None = None

        inputs = MutuallyExclusiveCallbackGroup()  # graph updates one at a time
        self.create_subscription(TFMessage, "/tf", lambda m: self._on_tf(m, False), 50)
        self.create_subscription(TFMessage, "/tf_static", lambda m: self._on_tf(m, True), LATCHED_QOS)
        self.create_subscription(Detection3DArray, "/perception/detections", self._on_detections, 10,
                                 callback_group=inputs)
        self.create_subscription(String, "/robot/held_object", self._on_held, LATCHED_QOS, callback_group=inputs)
        for name in names:
            self.create_subscription(Image, depth_topic.format(camera=name), lambda m, c=name: self._on_depth(c, m),
                                     qos_profile_sensor_data)
            self.create_subscription(CameraInfo, info_topic.format(camera=name), lambda m, c=name: self._on_info(c, m),
                                     qos_profile_sensor_data)
        self.graph_pub = self.create_publisher(SceneGraphMsg, "/scene_graph", LATCHED_QOS)
        self.events_pub = self.create_publisher(SceneGraphEvent, "/scene_graph/events",
                                                QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE))
        self.markers_pub = self.create_publisher(MarkerArray, "/scene_graph/markers", 2)
        services = MutuallyExclusiveCallbackGroup()
        for kind, name, handler in ((FindObjects, "find_objects", self._find), (GetRelations, "get_relations", self._rel),
                                    (DescribeScene, "describe", self._describe),
                                    (ProposeViewpoints, "propose_viewpoints", self._viewpoints),
                                    (Trigger, "save", self._save)):
            self.create_service(kind, f"/scene_graph/{name}", handler, callback_group=services)
        self.create_timer(views_period, self._on_views_timer, callback_group=inputs)
        self.create_timer(publish_period, lambda: self._publish(force=True), callback_group=inputs)
        self._publish(force=True)
        self.get_logger().info(f"scene graph on {spec}: {len(self.graph.map.receptacles)} receptacles, "
                               f"{len(self.graph.map.parts)} parts; depth views {names}")

    # -- inputs --------------------------------------------------------------------------------------------
    def _on_tf(self, msg: TFMessage, static: bool) -> None:
        newest, errors = cs.add_tf_message(self.tf, msg, static=static)
        if not static:
            self.tf_latest_s = max(self.tf_latest_s, newest)
        for error in errors:
            self.get_logger().warning(error, throttle_duration_sec=5.0)

    def _on_info(self, camera: str, msg: CameraInfo) -> None:
        try:
            self.intrinsics[camera] = cs.camera_info_to_intrinsics(msg)
        except ValueError as err:
            self.get_logger().warning(f"{camera}: unusable camera info: {err}", throttle_duration_sec=5.0)

    def _on_depth(self, camera: str, msg: Image) -> None:
        try:
            depth = cs.depth_to_metres(msg)
        except cs.ImageConversionError as err:
            self.get_logger().warning(f"{camera}: skipping depth image: {err}", throttle_duration_sec=5.0)
            return
        self.depth[camera].append((cs.time_to_seconds(msg.header.stamp), depth, msg.header.frame_id))

    def _on_detections(self, msg: Detection3DArray) -> None:
        if msg.header.frame_id and msg.header.frame_id != self.world_frame:
            self.get_logger().warning(f"detections in frame {msg.header.frame_id!r}, expected {self.world_frame!r}; "
                                      "ignored", throttle_duration_sec=5.0)
            return
        observations = [cs.detection_to_observation(d) for d in msg.detections]
        stamp = cs.time_to_seconds(msg.header.stamp)
        self.perception_s = max(self.perception_s, stamp)
        with self.lock:
            report = self.graph.update(observations, stamp)
        for r in report.repaired:
            self.get_logger().debug(f"repaired detection {r.track_id} {r.label!r}: {r.reason}")
        for r in report.rejected:
            self.get_logger().warning(f"rejected detection {r.track_id or '(no id)'} {r.label!r}: {r.reason}",
                                      throttle_duration_sec=5.0)
        self._emit(report.events)

    def _on_held(self, msg: String) -> None:
        self._held_message = msg.data
        self._update_hand()

    def _update_hand(self) -> None:
        """The hand at its newest pose, with the gripper's latest grasp report."""
        if not math.isfinite(self.tf_latest_s):
            return
        stamp = self.tf_latest_s
        try:
            hand = np.asarray(self.tf.lookup(self.world_frame, self.gripper_frame, stamp, 0.5).position_m)
        except TfLookupError:
            return
        with self.lock:
            events = self.graph.update_hand(hand, self._held_message, stamp)
        self._emit(events)

    def _on_views_timer(self) -> None:
        self._update_hand()
        now = self.perception_s
        if now <= self._views_at_s:
            return  # perception has published nothing newer: no new evidence about what it missed
        views = []
        for camera, history in self.depth.items():
            k = self.intrinsics.get(camera)
            usable = [entry for entry in list(history) if now - VIEW_MAX_AGE_S <= entry[0] <= now]
            if k is None or not usable:
                continue
            stamp, depth, frame = usable[-1]
            try:
                pose = self.tf.lookup(self.world_frame, frame or k.frame_id, stamp, 0.1)
            except TfLookupError as err:
                self.get_logger().warning(f"{camera}: no pose for its depth image: {err}", throttle_duration_sec=5.0)
                continue
            views.append(DepthView(camera, stamp, depth, k, pose))
        if views:
            self._views_at_s = now
            with self.lock:
                events = self.graph.observe_views(views, now)
            self._emit(events)
        self._publish()

    # -- outputs -------------------------------------------------------------------------------------------
    def _emit(self, events) -> None:
        for e in events:
            self.events_pub.publish(cs.graph_event_to_msg(e, self.graph.revision, self.world_frame))
            self.get_logger().info(f"{e.type.name.lower()}: {e.object_id}: {e.detail}")
        if events:
            self._publish()

    def _publish(self, force: bool = False) -> None:
        with self.lock:
            if not force and self.graph.revision == self._published_revision:
                return
            stamp = self.graph.stamp_s if math.isfinite(self.graph.stamp_s) else 0.0
            msg = cs.scene_graph_to_msg(self.graph, cs.seconds_to_time(stamp))
            self._published_revision = self.graph.revision
        self.graph_pub.publish(msg)
        self.markers_pub.publish(cs.scene_graph_markers(msg))

    # -- services ------------------------------------------------------------------------------------------
    def _find(self, request, response):
        with self.lock:
            matches = find_objects(self.graph, request.query, synonyms=self.synonyms,
                                   min_score=request.min_score or 0.72, max_results=request.max_results)
            response.objects = [cs.scene_node_to_msg(m.node) for m in matches]
        response.scores = [float(m.score) for m in matches]
        response.match_kinds = [m.how for m in matches]
        return response

    def _rel(self, request, response):
        with self.lock:
            response.found = request.object_id in self.graph.nodes
            response.relations = [cs.relation_to_msg(r) for r in self.graph.relations()
                                  if request.object_id in (r.subject_id, r.object_id)]
        response.message = "" if response.found else f"no node {request.object_id!r} in the scene graph"
        return response

    def _describe(self, request, response):
        with self.lock:
            response.summary = describe_scene(self.graph, list(request.focus_names), max_objects=request.max_objects,
                                              synonyms=self.synonyms)
            response.revision = self.graph.revision
        return response

    def _viewpoints(self, request, response):
        with self.lock:
            proposals = propose_viewpoints(self.graph, request.object_name, max_viewpoints=request.max_viewpoints,
                                           synonyms=self.synonyms)
        for p in proposals:
            pose = PoseStamped()
            pose.header.frame_id = self.world_frame
            pose.pose.position.x, pose.pose.position.y = p.x, p.y
            pose.pose.orientation = Quaternion(z=math.sin(p.yaw / 2), w=math.cos(p.yaw / 2))
            response.viewpoints.append(pose)
        response.names = [p.name for p in proposals]
        response.scores = [float(p.score) for p in proposals]
        response.reasons = [p.reason for p in proposals]
        return response

    def _save(self, _request, response):
        if not self.snapshot_file:
            response.success, response.message = False, "no snapshot_file parameter set: nowhere to save"
            return response
        try:
            self.save_snapshot()
        except OSError as err:
            response.success, response.message = False, f"cannot write {self.snapshot_file}: {err}"
            return response
        response.success, response.message = True, f"saved revision {self.graph.revision} to {self.snapshot_file}"
        return response

    def save_snapshot(self) -> None:
        with self.lock:
            data = self.graph.to_snapshot()
        path = Path(self.snapshot_file)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(json.dumps(data, indent=1))
        tmp.replace(path)  # never a half-written snapshot

    def destroy_node(self) -> None:
        if self.snapshot_file:
            try:
                self.save_snapshot()
            except OSError as err:
                self.get_logger().error(f"could not save the scene graph to {self.snapshot_file}: {err}")
        super().destroy_node()


def main(args: list[str] | None = None) -> int:
    return spin_node(SceneGraphNode, threads=3, args=args)


if __name__ == "__main__":
    raise SystemExit(main())
