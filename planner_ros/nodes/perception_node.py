"""perception_node: open-vocabulary detection on multi-view RGB-D, fused into persistent 3D object tracks.

Parameters:
  cameras (string[], [kitchen_overview, table_cam, head_rgbd]): camera names; topics follow the patterns below.
  color_topic ("/{camera}/color/image_raw"), depth_topic ("/{camera}/depth/image_raw"),
  camera_info_topic ("/{camera}/color/camera_info"), segmentation_topic ("/{camera}/segmentation", oracle only).
  world_frame (str, "map"): frame of the published objects; camera poses come from /tf and /tf_static.
  detector (str, "embedded"): embedded | onnx | ultralytics | transformers | oracle (simulator debugging only).
  model (str, ""): model file, directory, or (with allow_download) name / hub id; embedded: the shipped model.
  allow_download (bool, false), score_threshold (float, -1 = backend default), embedder (str, "minilm" | "none").
  vocabulary (string[], []): names to look for at start; empty = every class of a closed-set detector.
  slop_s (0.02), max_wait_s (0.5), tf_tolerance_s (0.1), stale_after_s (3.0), forget_after_s (30.0),
  confirm_confidence (0.5), publish_debug_images (false).
Subscribes: the cameras' colour (rgb8/bgr8/rgba8/bgra8), depth (32FC1 m or 16UC1 mm) and CameraInfo, /tf, /tf_static.
Publishes: /perception/detections (Detection3DArray of fused tracks, each stamped when last seen; the array is
  stamped with the newest frame processed),
  /perception/markers (MarkerArray), /perception/debug/<camera> (annotated rgb8, when enabled), /diagnostics.
Serves: /perception/set_vocabulary (SetVocabulary).
"""
from __future__ import annotations

import threading
import time

from diagnostic_msgs.msg import DiagnosticArray
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup, ReentrantCallbackGroup
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, Image
from tf2_msgs.msg import TFMessage
from visualization_msgs.msg import MarkerArray

from planner_ros import conversions as cs
from planner_ros.geometry import CameraIntrinsics
from planner_ros.nodes._common import LATCHED_QOS, StartupError, declare, spin_node
from planner_ros.perception.backends import make_detector
from planner_ros.perception.camera_sync import CameraSync, LabelsMatch, SyncSettings
from planner_ros.perception.debug_image import annotate
from planner_ros.perception.detection import DetectorError
from planner_ros.perception.fusion import FusionSettings
from planner_ros.perception.pipeline import FrameInput, InvalidFrame, PerceptionPipeline, check_images
from planner_ros.tf_buffer import TfBuffer, TfLookupError
from planner_ros_interfaces.msg import Detection3DArray
from planner_ros_interfaces.srv import SetVocabulary

_WARN_PERIOD_S = 5.0  # throttle for per-camera warnings


class _Camera:
    """Per-camera state: pairing, latest intrinsics, and a one-deep slot so a busy camera keeps only its
    newest frame instead of building a backlog."""

    def __init__(self, name: str, sync: SyncSettings) -> None:
        self.name = name
        self.sync = CameraSync(name, sync)
        self.intrinsics: CameraIntrinsics | None = None
        self.pending: tuple | None = None
        self.labels = LabelsMatch(sync.slop_s)  # the oracle's segmentation, matched to frame pairs
        self.busy = False
        self.lock = threading.Lock()
        self.skipped_busy = 0


class PerceptionNode(Node):
    def __init__(self) -> None:
        super().__init__("perception")
        self.fatal_error: str | None = None
        names = list(declare(self, "cameras", ["kitchen_overview", "table_cam", "head_rgbd"], "camera names"))
        patterns = {key: declare(self, f"{key}_topic", default, f"{key} topic pattern")
                    for key, default in (("color", "/{camera}/color/image_raw"),
                                         ("depth", "/{camera}/depth/image_raw"),
                                         ("camera_info", "/{camera}/color/camera_info"),
                                         ("segmentation", "/{camera}/segmentation"))}
        self.world_frame = declare(self, "world_frame", "map", "frame of the published objects")
        backend = declare(self, "detector", "embedded", "detector backend")
        threshold = float(declare(self, "score_threshold", -1.0, "detection score threshold; -1: backend default"))
        try:
            self.detector = make_detector(backend, model=declare(self, "model", "", "model file, dir or name"),
                                          score_threshold=threshold if threshold >= 0 else None,
                                          allow_download=bool(declare(self, "allow_download", False, "may fetch")),
                                          embedder=declare(self, "embedder", "minilm", "name embedder"))
        except DetectorError as err:
            raise StartupError(f"perception: cannot start detector {backend!r}: {err}") from err
        vocabulary = [n for n in declare(self, "vocabulary", [""], "names to look for") if n]
        report = self.detector.set_vocabulary(vocabulary)
        if report.not_detectable:
            self.get_logger().warning(f"vocabulary: {report.message}")
        sync = SyncSettings(slop_s=float(declare(self, "slop_s", 0.02, "colour/depth pairing tolerance")),
                            max_wait_s=float(declare(self, "max_wait_s", 0.5, "wait for a partner image")),
                            stale_after_s=float(declare(self, "stale_after_s", 3.0, "camera stale after")))
        self.tf_tolerance_s = float(declare(self, "tf_tolerance_s", 0.1, "camera pose time tolerance"))
        fusion = FusionSettings(forget_after_s=float(declare(self, "forget_after_s", 30.0, "forget unseen tracks")),
                                confirm_confidence=float(declare(self, "confirm_confidence", 0.5, "publish above")))
        self.publish_debug = bool(declare(self, "publish_debug_images", False, "annotated images"))
        self.pipeline = PerceptionPipeline(self.detector, fusion=fusion)
        self.tf = TfBuffer()
        self.cameras = {n: _Camera(n, sync) for n in names}
        self._last_warning: dict[str, float] = {}
        self._processed_s = 0.0

        frames = ReentrantCallbackGroup()
        self.create_subscription(TFMessage, "/tf", lambda m: self._on_tf(m, False), 50,
                                 callback_group=MutuallyExclusiveCallbackGroup())
        self.create_subscription(TFMessage, "/tf_static", lambda m: self._on_tf(m, True), LATCHED_QOS)
        self.debug_pubs = {}
        for name in names:
            def topic(key: str, camera: str = name) -> str:
                return patterns[key].format(camera=camera)
            pairing = self.cameras[name].sync
            for key, add in (("color", pairing.add_color), ("depth", pairing.add_depth)):
                self.create_subscription(Image, topic(key), lambda m, c=name, a=add: self._on_image(c, m, a),
                                         qos_profile_sensor_data, callback_group=frames)
            self.create_subscription(CameraInfo, topic("camera_info"), lambda m, c=name: self._on_info(c, m),
                                     qos_profile_sensor_data)
            if self.detector.is_oracle:
                self.create_subscription(Image, topic("segmentation"), lambda m, c=name: self._on_seg(c, m),
                                         qos_profile_sensor_data, callback_group=frames)
            if self.publish_debug:
                self.debug_pubs[name] = self.create_publisher(Image, f"/perception/debug/{name}", 2)
        self.detections_pub = self.create_publisher(Detection3DArray, "/perception/detections", 10)
        self.markers_pub = self.create_publisher(MarkerArray, "/perception/markers", 10)
        self.diagnostics_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self.create_service(SetVocabulary, "/perception/set_vocabulary", self._set_vocabulary)
        self.create_timer(1.0, self._housekeeping)
        oracle = "  ** ORACLE: reads simulator segmentation; debugging only **" if self.detector.is_oracle else ""
        self.get_logger().info(f"detector {self.detector.describe()}; cameras {names}; vocabulary "
                               f"{list(self.detector.vocabulary)}{oracle}")

    # -- inputs --------------------------------------------------------------------------------------------
    def _warn(self, key: str, text: str) -> None:
        now = time.monotonic()
        if now - self._last_warning.get(key, -1e9) >= _WARN_PERIOD_S:
            self._last_warning[key] = now
            self.get_logger().warning(text)

    def _on_tf(self, msg: TFMessage, static: bool) -> None:
        for error in cs.add_tf_message(self.tf, msg, static=static)[1]:
            self._warn("tf", error)

    def _on_info(self, camera: str, msg: CameraInfo) -> None:
        try:
            self.cameras[camera].intrinsics = cs.camera_info_to_intrinsics(msg)
        except ValueError as err:
            self.cameras[camera].sync.mark("bad_frame", f"unusable camera info: {err}")
            self._warn(f"{camera}/info", f"{camera}: unusable camera info: {err}")

    def _on_seg(self, camera: str, msg: Image) -> None:
        cam = self.cameras[camera]
        completed = cam.labels.add(cs.time_to_seconds(msg.header.stamp), cs.image_to_numpy(msg))
        if completed is not None:
            self._process(cam, [completed])

    def _on_image(self, camera: str, msg: Image, add) -> None:
        """A colour or depth image (`add` is the camera's add_color or add_depth)."""
        cam = self.cameras[camera]
        stamp = cs.time_to_seconds(msg.header.stamp)
        cam.sync.expire(stamp)
        self._process(cam, add(stamp, msg))

    # -- processing ----------------------------------------------------------------------------------------
    def _process(self, cam: _Camera, pairs: list) -> None:
        if not pairs:
            return
        with cam.lock:
            if cam.busy:  # another thread is on this camera: leave it the newest pair only
                cam.skipped_busy += len(pairs) - 1 + (cam.pending is not None)
                cam.pending = pairs[-1]
                return
            cam.busy = True
            cam.skipped_busy += len(pairs) - 1
            cam.pending = pairs[-1]
        try:
            while True:
                with cam.lock:
                    pair, cam.pending = cam.pending, None
                    if pair is None:
                        cam.busy = False
                        return
                self._process_pair(cam, *pair)
        except BaseException:
            with cam.lock:
                cam.busy = False
            raise

    def _process_pair(self, cam: _Camera, stamp: float, color_msg: Image, depth_msg: Image) -> None:
        name = cam.name
        if cam.intrinsics is None:
            cam.sync.mark("no_camera_info", "no CameraInfo received yet")
            self._warn(f"{name}/noinfo", f"{name}: skipping frames until its CameraInfo arrives")
            return
        try:
            rgb = cs.color_to_rgb(color_msg)
            depth = cs.depth_to_metres(depth_msg)
            check_images(rgb, depth, cam.intrinsics)
        except (cs.ImageConversionError, InvalidFrame) as err:
            cam.sync.mark("bad_frame", str(err))
            self._warn(f"{name}/invalid", f"{name}: skipping frame: {err}")
            return
        optical = color_msg.header.frame_id or cam.intrinsics.frame_id
        try:
            pose = self.tf.lookup(self.world_frame, optical, stamp, self.tf_tolerance_s)
        except TfLookupError as err:
            cam.sync.mark("no_tf", str(err))
            self._warn(f"{name}/tf", f"{name}: skipping frame, no camera pose: {err}")
            return
        segmentation = None
        if self.detector.is_oracle:
            segmentation, displaced = cam.labels.match((stamp, color_msg, depth_msg))
            if segmentation is None:  # the pair waits for its labels (_on_seg); a displaced one is lost
                if displaced:
                    cam.sync.mark("bad_frame", "no segmentation image for this frame (oracle): is the simulator "
                                               "running with publish_segmentation: true?")
                return
        try:
            result = self.pipeline.process(FrameInput(name, stamp, rgb, depth, cam.intrinsics, pose, segmentation))
        except DetectorError as err:  # the backend refused this frame; the node and the other views go on
            cam.sync.mark("bad_frame", f"detector: {err}")
            self._warn(f"{name}/detector", f"{name}: detector failed on a frame: {err}")
            return
        cam.sync.processed(time.monotonic())
        if result.not_lifted:
            reasons = "; ".join(f"{d.label}: {why}" for d, why in result.not_lifted[:3])
            self.get_logger().debug(f"{name}: {len(result.not_lifted)} detections without 3D ({reasons})")
        self._processed_s = max(self._processed_s, stamp)
        self._publish(stamp)
        if name in self.debug_pubs:
            self.debug_pubs[name].publish(cs.numpy_to_image(annotate(rgb, result.detections), "rgb8",
                                                            stamp=color_msg.header.stamp, frame_id=optical))

    def _publish(self, forget_before_s: float) -> None:
        """Publish the confirmed tracks, dropping those unseen for forget_after_s before `forget_before_s`.
        The header is stamped with the newest frame processed: how far perception has got, which consumers
        need to tell "not detected" from "not processed yet" when the detector lags the cameras."""
        tracks = self.pipeline.tracks(forget_before_s)
        array = cs.tracks_to_detection_array(tracks, self.world_frame, cs.seconds_to_time(max(self._processed_s, 0.0)),
                                             self.detector.backend, self.detector.is_oracle)
        self.detections_pub.publish(array)
        self.markers_pub.publish(cs.detections_to_markers(array))

    # -- housekeeping and services ---------------------------------------------------------------------------
    def _housekeeping(self) -> None:
        now = time.monotonic()
        for cam in self.cameras.values():
            cam.sync.check_stale(now)
            if cam.sync.health.state == "stale":
                self._warn(f"{cam.name}/stale", f"{cam.name}: {cam.sync.health.detail}; fusing the other views")
            cam.sync.health.counters["skipped_busy"] = cam.skipped_busy
        # Also publish here, so that forgotten objects disappear even when every camera has stopped.
        self._publish(self.get_clock().now().nanoseconds * 1e-9)
        self.diagnostics_pub.publish(cs.camera_health_to_diagnostics(
            self.get_name(), {n: c.sync.health for n, c in self.cameras.items()}, self.get_clock().now().to_msg()))

    def _set_vocabulary(self, request, response):
        names = [n for n in request.names if n.strip()]
        if request.append:
            names = list(dict.fromkeys([*self.detector.vocabulary, *names]))
        report = self.detector.set_vocabulary(names)
        self.pipeline.keep_labels(set(self.detector.vocabulary))
        response.success = True
        response.detectable, response.not_detectable = list(report.detectable), list(report.not_detectable)
        response.message = report.message
        self.get_logger().info(f"vocabulary set: {report.message}")
        return response


def main(args: list[str] | None = None) -> int:
    return spin_node(PerceptionNode, threads=4, args=args)


if __name__ == "__main__":
    raise SystemExit(main())
