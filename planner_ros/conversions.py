"""The one bridge between ROS messages and the pure core types (numpy arrays, planner_ros.geometry).

Only message classes are imported here (no rclpy node code), so this module stays cheap to import and
easy to test without a running ROS graph.
"""
from __future__ import annotations

import math
import sys
from collections.abc import Mapping

import numpy as np
from builtin_interfaces.msg import Time
from geometry_msgs.msg import Point, Pose, Quaternion, Transform, TransformStamped, Vector3
from planner_ros_interfaces.action import ExecuteSkill
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from diagnostic_msgs.msg import KeyValue as DiagKeyValue
from planner_ros_interfaces.msg import (
    ActionTree,
    ActionTreeNode,
    BoundingBox2D,
    Detection3D,
    Detection3DArray,
    KeyValue,
    ObjectState,
    PlannerEvent,
    Relation,
    SceneGraph,
    SceneGraphEvent,
    SceneObject,
    SkillArgument,
    SkillDescription,
    SkillFailure,
    SkillParameter,
    TaskMetrics,
)
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import ColorRGBA
from visualization_msgs.msg import Marker, MarkerArray

from planner_ros.geometry import CameraIntrinsics, Pose3D
from planner_ros.planning.interfaces import Verdict, VerdictStatus
from planner_ros.planning.world import ObjectStatus, ObjectView, WorldView
from planner_ros.scene_graph.model import ObjectObservation
from planner_ros.scene_graph.planner_view import receptacle_views
from planner_ros.sim.goals import WorldFacts
from planner_ros.skills import FailureCode, SkillOutcome, SkillSpec, SkillValidationError

__all__ = [
    "ImageConversionError",
    "arguments_from_msg",
    "arguments_to_msg",
    "outcome_from_result",
    "outcome_to_result",
    "skill_to_msg",
    "camera_frame_to_msgs",
    "ground_truth_to_msg",
    "facts_from_scene_graph",
    "SUPPORTED_ENCODINGS",
    "camera_info_to_intrinsics",
    "core_to_pose",
    "core_to_transform",
    "depth_to_metres",
    "image_to_numpy",
    "intrinsics_to_camera_info",
    "numpy_to_image",
    "pose_to_core",
    "seconds_to_time",
    "time_to_seconds",
    "transform_to_core",
    "transform_stamped",
    "color_to_rgb",
    "tracks_to_detection_array",
    "detections_to_markers",
    "camera_health_to_diagnostics",
]

# encoding -> (element dtype, channels); spelled exactly as sensor_msgs/image_encodings.hpp does.
_ENCODINGS: dict[str, tuple[np.dtype, int]] = {
    "rgb8": (np.dtype(np.uint8), 3),
    "bgr8": (np.dtype(np.uint8), 3),
    "rgba8": (np.dtype(np.uint8), 4),
    "bgra8": (np.dtype(np.uint8), 4),
    "mono8": (np.dtype(np.uint8), 1),
    "mono16": (np.dtype(np.uint16), 1),
    "8UC1": (np.dtype(np.uint8), 1),
    "8UC3": (np.dtype(np.uint8), 3),
    "16UC1": (np.dtype(np.uint16), 1),
    "32FC1": (np.dtype(np.float32), 1),
    "64FC1": (np.dtype(np.float64), 1),
}
SUPPORTED_ENCODINGS: tuple[str, ...] = tuple(_ENCODINGS)
_HOST_BIG_ENDIAN = sys.byteorder == "big"
_INT32_MAX = 2**31 - 1


class ImageConversionError(ValueError):
    """An Image message and an array (or an encoding) do not fit together."""


def _encoding_spec(encoding: str) -> tuple[np.dtype, int]:
    try:
        return _ENCODINGS[encoding]
    except KeyError:
        raise ImageConversionError(
            f"unsupported image encoding {encoding!r}; supported: {', '.join(SUPPORTED_ENCODINGS)}"
        ) from None


def image_to_numpy(msg: Image) -> np.ndarray:
    """Pixels of an Image as (H, W) for one channel or (H, W, C) otherwise, in native byte order.

    When rows are unpadded (step == width * bytes per pixel) and the byte order is native, the result
    is a zero-copy view of msg.data marked read-only, so it can neither corrupt nor be corrupted
    silently; call .copy() to edit. Otherwise (padding or byte swap) it is a fresh, writable,
    C-contiguous copy.
    """
    dtype, channels = _encoding_spec(msg.encoding)
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    data_len = len(msg.data)
    row_bytes = width * dtype.itemsize * channels
    if step < row_bytes or data_len < step * height:
        raise ImageConversionError(
            f"{msg.encoding} image of width={width} height={height} step={step} needs "
            f"step >= {row_bytes} and data length >= step*height = {step * height}; "
            f"got data length {data_len}"
        )
    shape = (height, width) if channels == 1 else (height, width, channels)
    swap = bool(msg.is_bigendian) != _HOST_BIG_ENDIAN and dtype.itemsize > 1
    wire_dtype = dtype.newbyteorder(">" if msg.is_bigendian else "<")
    raw = np.frombuffer(msg.data, dtype=np.uint8, count=step * height)
    if step == row_bytes and not swap:
        out = raw.view(dtype).reshape(shape)
        out.flags.writeable = False
        return out
    # The byte slice keeps the last axis contiguous, which is all .view() needs to reinterpret it.
    rows = raw.reshape(height, step)[:, :row_bytes].view(wire_dtype).reshape(shape)
    return np.ascontiguousarray(rows, dtype=dtype)


def numpy_to_image(
    array: np.ndarray, encoding: str, *, stamp: Time | None = None, frame_id: str = ""
) -> Image:
    """Image message holding a copy of array; dtype and channel count must match encoding exactly.

    No implicit casting: a float64 array for 32FC1 is a caller bug worth hearing about, not a
    silent precision loss.
    """
    dtype, channels = _encoding_spec(encoding)
    arr = np.asarray(array)
    if arr.dtype.kind != dtype.kind or arr.dtype.itemsize != dtype.itemsize:
        raise ImageConversionError(f"encoding {encoding!r} needs dtype {dtype}, got {arr.dtype}")
    if channels == 1 and arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    expected_ndim = 2 if channels == 1 else 3
    if arr.ndim != expected_ndim or (channels > 1 and arr.shape[2] != channels):
        want = "(H, W)" if channels == 1 else f"(H, W, {channels})"
        raise ImageConversionError(f"encoding {encoding!r} needs shape {want}, got {arr.shape}")
    msg = Image()
    if stamp is not None:
        msg.header.stamp = stamp
    msg.header.frame_id = frame_id
    msg.height, msg.width = int(arr.shape[0]), int(arr.shape[1])
    msg.encoding = encoding
    msg.is_bigendian = int(_HOST_BIG_ENDIAN)
    msg.step = msg.width * dtype.itemsize * channels
    # bytes, not an ndarray: rclpy copies an ndarray element by element (~78 ms for 640x480 rgb8),
    # bytes in about 1 ms. dtype=native also byte-swaps a non-native input.
    msg.data = np.ascontiguousarray(arr, dtype=dtype).tobytes()
    return msg


def depth_to_metres(msg: Image) -> np.ndarray:
    """(H, W) float32 depth in metres: 32FC1 is taken as metres already (may be a read-only view);
    16UC1 is millimetres (the OpenNI/RealSense convention) with 0 meaning "no reading" -> NaN."""
    if msg.encoding == "32FC1":
        return image_to_numpy(msg)
    if msg.encoding == "16UC1":
        raw = image_to_numpy(msg)
        depth = raw.astype(np.float32) / np.float32(1000.0)
        depth[raw == 0] = np.nan
        return depth
    raise ImageConversionError(f"depth image must be 32FC1 (m) or 16UC1 (mm), got encoding {msg.encoding!r}")


def camera_info_to_intrinsics(msg: CameraInfo) -> CameraIntrinsics:
    """Intrinsics from K; an all-zero K (uncalibrated camera) is rejected rather than used."""
    k = np.asarray(msg.k, dtype=np.float64)
    try:
        return CameraIntrinsics(
            width=int(msg.width),
            height=int(msg.height),
            fx=float(k[0]),
            fy=float(k[4]),
            cx=float(k[2]),
            cy=float(k[5]),
            frame_id=msg.header.frame_id,
            distortion_model=msg.distortion_model,
            distortion=tuple(float(c) for c in msg.d),
        )
    except ValueError as exc:
        raise ValueError(f"CameraInfo (frame_id={msg.header.frame_id!r}) is unusable: {exc}") from exc


def intrinsics_to_camera_info(intr: CameraIntrinsics, *, stamp: Time | None = None) -> CameraInfo:
    """CameraInfo of a monocular camera: R = identity and P = [K | 0] (Tx = Ty = 0)."""
    msg = CameraInfo()
    if stamp is not None:
        msg.header.stamp = stamp
    msg.header.frame_id = intr.frame_id
    msg.width, msg.height = intr.width, intr.height
    msg.distortion_model = intr.distortion_model
    msg.d = list(intr.distortion)
    k = intr.matrix
    msg.k = k.ravel()
    msg.r = np.eye(3).ravel()
    msg.p = np.hstack([k, np.zeros((3, 1))]).ravel()
    return msg


def pose_to_core(msg: Pose) -> Pose3D:
    p, q = msg.position, msg.orientation
    return Pose3D((p.x, p.y, p.z), (q.x, q.y, q.z, q.w))


def core_to_pose(pose: Pose3D) -> Pose:
    (px, py, pz), (qx, qy, qz, qw) = pose.position_m, pose.orientation_xyzw
    return Pose(position=Point(x=px, y=py, z=pz), orientation=Quaternion(x=qx, y=qy, z=qz, w=qw))


def transform_to_core(msg: Transform) -> Pose3D:
    t, q = msg.translation, msg.rotation
    return Pose3D((t.x, t.y, t.z), (q.x, q.y, q.z, q.w))


def core_to_transform(pose: Pose3D) -> Transform:
    (px, py, pz), (qx, qy, qz, qw) = pose.position_m, pose.orientation_xyzw
    return Transform(translation=Vector3(x=px, y=py, z=pz), rotation=Quaternion(x=qx, y=qy, z=qz, w=qw))


def add_tf_message(buffer, msg, *, static: bool) -> tuple[float, list[str]]:
    """Add a TFMessage's transforms to a planner_ros.tf_buffer.TfBuffer. Returns the newest stamp added
    (-inf if none) and, for each transform refused, why."""
    newest, errors = -math.inf, []
    for t in msg.transforms:
        stamp = time_to_seconds(t.header.stamp)
        try:
            buffer.add(t.header.frame_id, t.child_frame_id, transform_to_core(t.transform), stamp, static=static)
        except ValueError as err:
            errors.append(f"ignoring a transform {t.header.frame_id} -> {t.child_frame_id}: {err}")
            continue
        newest = max(newest, stamp)
    return newest, errors


def transform_stamped(pose: Pose3D, parent: str, child: str, stamp: Time) -> TransformStamped:
    """A TF edge: `pose` is child's pose in parent."""
    msg = TransformStamped(transform=core_to_transform(pose))
    msg.header.stamp = stamp
    msg.header.frame_id = parent
    msg.child_frame_id = child
    return msg


def time_to_seconds(msg: Time) -> float:
    return msg.sec + msg.nanosec * 1e-9


def seconds_to_time(seconds: float) -> Time:
    """Time from non-negative seconds, rounded to the nearest nanosecond.

    Splitting off the integer part first keeps nanosecond resolution for epoch-sized values, and the
    carry keeps nanosec < 1e9 when the fraction rounds up (1.999999999999 -> 2 s, 0 ns).
    """
    value = float(seconds)
    if not math.isfinite(value) or value < 0.0:
        raise ValueError(f"seconds must be finite and >= 0, got {seconds!r}")
    sec = math.floor(value)
    nanosec = round((value - sec) * 1e9)
    if nanosec >= 1_000_000_000:
        sec, nanosec = sec + 1, nanosec - 1_000_000_000
    if sec > _INT32_MAX:
        raise ValueError(f"seconds {seconds!r} overflows builtin_interfaces/Time.sec (int32)")
    return Time(sec=int(sec), nanosec=int(nanosec))


# -- skills ---------------------------------------------------------------------------------------------
def arguments_from_msg(arguments: list[SkillArgument]) -> dict[str, str]:
    """SkillArgument[] -> {name: value}; a name given twice is ambiguous and refused."""
    result: dict[str, str] = {}
    for arg in arguments:
        if arg.name in result:
            raise SkillValidationError(FailureCode.INVALID_ARGUMENTS, f"argument '{arg.name}' is given twice")
        result[arg.name] = arg.value
    return result


def arguments_to_msg(arguments: Mapping[str, str]) -> list[SkillArgument]:
    return [SkillArgument(name=str(k), value=str(v)) for k, v in arguments.items()]


def skill_to_msg(spec: SkillSpec) -> SkillDescription:
    return SkillDescription(
        name=spec.name,
        description=spec.description,
        parameters=[SkillParameter(name=p.name, type=p.type.value, description=p.description, optional=p.optional)
                    for p in spec.params],
        preconditions=list(spec.preconditions),
        effects=list(spec.effects),
    )


def outcome_to_result(outcome: SkillOutcome) -> ExecuteSkill.Result:
    return ExecuteSkill.Result(
        success=outcome.success,
        failure=SkillFailure(code=int(outcome.code), reason=outcome.reason),
        duration_s=float(outcome.duration_s),
    )


def outcome_from_result(result: ExecuteSkill.Result) -> SkillOutcome:
    try:
        code = FailureCode(result.failure.code)
    except ValueError:
        code = FailureCode.EXECUTION_ERROR
    return SkillOutcome(success=bool(result.success), code=code, reason=result.failure.reason,
                        duration_s=float(result.duration_s))


# -- simulator ------------------------------------------------------------------------------------------
def camera_frame_to_msgs(frame, stamp: Time) -> tuple[Image, Image, CameraInfo]:
    """A rendered RGB-D frame (planner_ros.sim.cameras.CameraFrame) as color, depth and CameraInfo."""
    frame_id = frame.intrinsics.frame_id
    color = numpy_to_image(frame.rgb, "rgb8", stamp=stamp, frame_id=frame_id)
    depth = numpy_to_image(frame.depth_m, "32FC1", stamp=stamp, frame_id=frame_id)
    return color, depth, intrinsics_to_camera_info(frame.intrinsics, stamp=stamp)


def _box_pose(lo, hi) -> tuple[Pose, Vector3]:
    centre = [(a + b) / 2 for a, b in zip(lo, hi)]
    pose = Pose(position=Point(x=centre[0], y=centre[1], z=centre[2]), orientation=Quaternion(w=1.0))
    return pose, Vector3(x=hi[0] - lo[0], y=hi[1] - lo[1], z=hi[2] - lo[2])


def ground_truth_to_msg(gt, receptacles: Mapping[str, tuple[str, tuple, tuple, str | None]], frame_id: str,
                        stamp: Time, revision: int) -> SceneGraph:
    """Simulator ground truth (planner_ros.sim.world.GroundTruth) as a SceneGraph, for evaluation only.

    receptacles maps id -> (kind "surface"/"container", volume min xyz, volume max xyz, part id or None).
    """
    msg = SceneGraph(revision=revision)
    msg.header.stamp, msg.header.frame_id = stamp, frame_id
    for obj in gt.objects:
        pose = core_to_pose(obj.pose)
        states = [ObjectState(name="held", value=str(obj.relation == "held_by").lower(), amount=math.nan,
                              confidence=1.0)]
        msg.objects.append(SceneObject(
            id=obj.id, label=obj.kind, kind=SceneObject.KIND_OBJECT, status=SceneObject.STATUS_VISIBLE,
            pose=pose, size=Vector3(x=obj.size_m[0], y=obj.size_m[1], z=obj.size_m[2]), confidence=1.0,
            states=states, last_seen=stamp))
        if obj.receptacle is not None:
            predicate = Relation.HELD_BY if obj.relation == "held_by" else obj.relation
            msg.relations.append(Relation(subject_id=obj.id, predicate=predicate, object_id=obj.receptacle,
                                          confidence=1.0))
    for rid, (kind, lo, hi, part) in sorted(receptacles.items()):
        pose, size = _box_pose(lo, hi)
        states = []
        if part is not None:
            amount = float(gt.openings[part])
            states.append(ObjectState(name="open", value=str(amount >= 0.5).lower(), amount=amount, confidence=1.0))
        msg.objects.append(SceneObject(id=rid, label=rid, kind=SceneObject.KIND_RECEPTACLE,
                                       status=SceneObject.STATUS_VISIBLE, pose=pose, size=size, confidence=1.0,
                                       states=states, last_seen=stamp))
        if part is not None and part != rid:
            msg.objects.append(SceneObject(id=part, label=part, kind=SceneObject.KIND_ARTICULATED_PART,
                                           status=SceneObject.STATUS_VISIBLE, parent_id=rid, pose=pose,
                                           confidence=1.0, states=list(states), last_seen=stamp))
            msg.relations.append(Relation(subject_id=part, predicate=Relation.PART_OF, object_id=rid,
                                          confidence=1.0))
    return msg


def facts_from_scene_graph(msg: SceneGraph) -> WorldFacts:
    """What goal conditions are checked against, from a SceneGraph (ground truth or the live graph)."""
    relations = {r.subject_id: (r.predicate, r.object_id) for r in msg.relations
                 if r.predicate in (Relation.ON, Relation.IN, Relation.HELD_BY)}
    openings = {o.id: float(s.amount) for o in msg.objects for s in o.states if s.name == "open"}
    held = next((subject for subject, (predicate, _) in relations.items() if predicate == Relation.HELD_BY), None)
    return WorldFacts(relations, openings, held)



# -- perception -----------------------------------------------------------------------------------------
def color_to_rgb(msg: Image) -> np.ndarray:
    """(H, W, 3) uint8 RGB from an rgb8, bgr8, rgba8 or bgra8 image (drivers differ in channel order)."""
    pixels = image_to_numpy(msg)
    if msg.encoding == "rgb8":
        return pixels
    if msg.encoding == "bgr8":
        return np.ascontiguousarray(pixels[..., ::-1])
    if msg.encoding == "rgba8":
        return np.ascontiguousarray(pixels[..., :3])
    if msg.encoding == "bgra8":
        return np.ascontiguousarray(pixels[..., 2::-1])
    raise ImageConversionError(f"colour image must be rgb8, bgr8, rgba8 or bgra8, got {msg.encoding!r}")


def tracks_to_detection_array(tracks, frame_id: str, stamp: Time, backend: str,
                              is_oracle: bool) -> Detection3DArray:
    """Fused object tracks (planner_ros.perception.fusion.Track) as a Detection3DArray; each detection's
    stamp is when the object was last seen, so consumers can tell fresh from remembered."""
    out = Detection3DArray(detector_backend=backend, is_oracle=is_oracle)
    out.header.frame_id, out.header.stamp = frame_id, stamp
    for t in tracks:
        det = Detection3D(label=t.label, score=float(t.confidence), track_id=t.track_id,
                          num_points=int(t.num_points))
        det.header.frame_id, det.header.stamp = frame_id, seconds_to_time(t.last_seen_s)
        det.pose = Pose(position=Point(x=float(t.centre_m[0]), y=float(t.centre_m[1]), z=float(t.centre_m[2])),
                        orientation=Quaternion(w=1.0))
        det.size = Vector3(x=float(t.extent_m[0]), y=float(t.extent_m[1]), z=float(t.extent_m[2]))
        cameras = sorted(t.boxes_2d)
        det.camera_names = cameras
        det.boxes_2d = [BoundingBox2D(x_min=float(b[0]), y_min=float(b[1]), x_max=float(b[2]), y_max=float(b[3]))
                        for b in (t.boxes_2d[c] for c in cameras)]
        out.detections.append(det)
    return out


def detections_to_markers(array: Detection3DArray, namespace: str = "perception") -> MarkerArray:
    """Boxes and labels for rviz; the first marker clears the previous set so vanished objects vanish."""
    markers = MarkerArray()
    markers.markers.append(Marker(action=Marker.DELETEALL, ns=namespace))
    for i, det in enumerate(array.detections):
        box = Marker(ns=namespace, id=2 * i, type=Marker.CUBE, action=Marker.ADD, pose=det.pose)
        box.header = array.header
        box.scale = Vector3(x=max(det.size.x, 0.01), y=max(det.size.y, 0.01), z=max(det.size.z, 0.01))
        box.color = ColorRGBA(r=0.1, g=0.8, b=0.2, a=0.35 + 0.5 * det.score)
        text = Marker(ns=namespace, id=2 * i + 1, type=Marker.TEXT_VIEW_FACING, action=Marker.ADD)
        text.header = array.header
        text.pose = Pose(position=Point(x=det.pose.position.x, y=det.pose.position.y,
                                        z=det.pose.position.z + det.size.z / 2 + 0.05), orientation=Quaternion(w=1.0))
        text.scale.z = 0.06
        text.color = ColorRGBA(r=1.0, g=1.0, b=1.0, a=1.0)
        text.text = f"{det.label} {det.score:.2f}" + (" [oracle]" if array.is_oracle else "")
        markers.markers.extend([box, text])
    return markers


def camera_health_to_diagnostics(node_name: str, health: Mapping[str, object], stamp: Time) -> DiagnosticArray:
    """One DiagnosticStatus per camera (planner_ros.perception.camera_sync.CameraHealth)."""
    levels = {"ok": DiagnosticStatus.OK, "waiting": DiagnosticStatus.WARN, "stale": DiagnosticStatus.ERROR}
    out = DiagnosticArray()
    out.header.stamp = stamp
    for camera, h in health.items():
        status = DiagnosticStatus(level=levels.get(h.state, DiagnosticStatus.WARN), name=f"{node_name}: {camera}",
                                  message=f"{h.state}: {h.detail}", hardware_id=camera)
        values = {"frames": h.frames, "dropped_unpaired": h.dropped_unpaired, "dropped_invalid": h.dropped_invalid,
                  **h.counters}
        status.values = [DiagKeyValue(key=k, value=str(v)) for k, v in values.items()]
        out.status.append(status)
    return out


# -- scene graph ----------------------------------------------------------------------------------------
def detection_to_observation(det: Detection3D) -> ObjectObservation:
    """A fused perception track as a scene graph observation."""
    p, size = det.pose.position, det.size
    return ObjectObservation(det.track_id, det.label, (p.x, p.y, p.z), (size.x, size.y, size.z), float(det.score),
                             tuple(det.camera_names), time_to_seconds(det.header.stamp))


def _point(v) -> Point:
    return Point(x=float(v[0]), y=float(v[1]), z=float(v[2]))


def scene_node_to_msg(node) -> SceneObject:
    msg = SceneObject(id=node.id, label=node.label, kind=int(node.kind), status=int(node.status),
                      parent_id=node.parent_id, confidence=float(node.confidence), seen_by=list(node.seen_by))
    msg.pose = Pose(position=_point(node.position_m), orientation=Quaternion(w=1.0))
    msg.size = Vector3(x=float(node.size_m[0]), y=float(node.size_m[1]), z=float(node.size_m[2]))
    msg.states = [ObjectState(name=k, value=v.value, amount=float(v.amount), confidence=float(v.confidence))
                  for k, v in sorted(node.states.items())]
    for field, value in (("first_seen", node.first_seen_s), ("last_seen", node.last_seen_s)):
        if math.isfinite(value):
            setattr(msg, field, seconds_to_time(value))
    return msg


def scene_graph_to_msg(graph, stamp: Time) -> SceneGraph:
    """The live scene graph (planner_ros.scene_graph.graph.SceneGraph) as a message."""
    msg = SceneGraph(revision=graph.revision)
    msg.header.stamp, msg.header.frame_id = stamp, graph.map.frame_id
    msg.objects = [scene_node_to_msg(n) for n in sorted(graph.nodes.values(), key=lambda n: n.id)]
    msg.relations = [relation_to_msg(r) for r in graph.relations()]
    return msg


def relation_to_msg(relation) -> Relation:
    return Relation(subject_id=relation.subject_id, predicate=relation.predicate, object_id=relation.object_id,
                    confidence=float(relation.confidence))


def graph_event_to_msg(event, revision: int, frame_id: str) -> SceneGraphEvent:
    msg = SceneGraphEvent(revision=revision, type=int(event.type), object_id=event.object_id, label=event.label,
                          detail=event.detail)
    msg.header.stamp, msg.header.frame_id = seconds_to_time(event.stamp_s), frame_id
    return msg


_STATUS_RGBA = {0: (0.1, 0.8, 0.2), 1: (0.9, 0.7, 0.1), 2: (0.9, 0.1, 0.1)}  # visible, remembered, missing


def scene_graph_markers(msg: SceneGraph, namespace: str = "scene_graph") -> MarkerArray:
    """Objects (green visible, amber remembered, red missing), furniture and parts (grey), labels and
    relation edges (on/in white, held_by blue, next_to faint) for rviz."""
    markers = MarkerArray()
    markers.markers.append(Marker(action=Marker.DELETEALL, ns=namespace))
    centres = {o.id: o.pose.position for o in msg.objects}
    next_id = 0

    def add(marker: Marker) -> None:
        nonlocal next_id
        marker.ns, marker.id, marker.action, marker.header = namespace, next_id, Marker.ADD, msg.header
        next_id += 1
        markers.markers.append(marker)

    for o in msg.objects:
        r, g, b = _STATUS_RGBA.get(o.status, (1.0, 1.0, 1.0)) if o.kind == SceneObject.KIND_OBJECT else (0.6, 0.6, 0.65)
        alpha = 0.6 if o.kind == SceneObject.KIND_OBJECT else 0.15
        box = Marker(type=Marker.CUBE, pose=o.pose, color=ColorRGBA(r=r, g=g, b=b, a=alpha))
        box.scale = Vector3(x=max(o.size.x, 0.01), y=max(o.size.y, 0.01), z=max(o.size.z, 0.01))
        add(box)
        states = " ".join(f"{s.name}={s.value}" for s in o.states)
        text = Marker(type=Marker.TEXT_VIEW_FACING, color=ColorRGBA(r=1.0, g=1.0, b=1.0, a=1.0))
        text.pose = Pose(position=Point(x=o.pose.position.x, y=o.pose.position.y,
                                        z=o.pose.position.z + o.size.z / 2 + 0.05), orientation=Quaternion(w=1.0))
        text.scale.z = 0.05 if o.kind == SceneObject.KIND_OBJECT else 0.08
        text.text = o.id + (f" [{states}]" if states else "")
        add(text)
    edges = {Relation.ON: (1.0, 1.0, 1.0, 0.8), Relation.IN: (1.0, 1.0, 1.0, 0.8), Relation.HELD_BY: (0.2, 0.4, 1.0, 1.0),
             Relation.NEXT_TO: (0.8, 0.8, 0.8, 0.25)}
    for rel in msg.relations:
        if rel.predicate not in edges or rel.subject_id not in centres or rel.object_id not in centres:
            continue
        r, g, b, a = edges[rel.predicate]
        line = Marker(type=Marker.LINE_LIST, color=ColorRGBA(r=r, g=g, b=b, a=a), pose=Pose(orientation=Quaternion(w=1.0)))
        line.scale.x = 0.008
        line.points = [centres[rel.subject_id], centres[rel.object_id]]
        add(line)
    return markers


# -- planner --------------------------------------------------------------------------------------------
_OBJECT_STATUS = {SceneObject.STATUS_VISIBLE: "visible", SceneObject.STATUS_REMEMBERED: "remembered",
                  SceneObject.STATUS_MISSING: "missing"}


def world_view_from_msg(msg: SceneGraph, semantic_map) -> WorldView:
    """The planner's view of a live /scene_graph message; the semantic map says which receptacles are
    containers and which part closes each (the same map the scene graph node uses)."""
    # Support by receptacles only: a cup stacked on a bowl in the sink is in the sink for the planner.
    placed = {r.subject_id: (r.predicate, r.object_id) for r in msg.relations
              if r.predicate in (Relation.ON, Relation.IN) and r.object_id in semantic_map.receptacles}
    held = next((r.subject_id for r in msg.relations if r.predicate == Relation.HELD_BY), None)
    objects = {}
    for o in msg.objects:
        if o.kind != SceneObject.KIND_OBJECT:
            continue
        relation, place = ("held", "") if o.id == held else placed.get(o.id, ("none", ""))
        objects[o.id] = ObjectView(o.id, o.label, relation, place, ObjectStatus(_OBJECT_STATUS.get(o.status, "visible")))
    openings = {o.id: float(s.amount) for o in msg.objects for s in o.states
                if s.name == "open" and math.isfinite(s.amount)}
    return WorldView(objects, receptacle_views(semantic_map, openings), held, None, time_to_seconds(msg.header.stamp),
                     int(msg.revision))


def tree_to_msg(tree, task_id: str, tree_index: int, running: int, stamp: Time) -> ActionTree:
    msg = ActionTree(task_id=task_id, tree_index=tree_index, num_plans=tree.num_plans, current_node=running)
    msg.header.stamp = stamp
    for n in tree.nodes:
        node = ActionTreeNode(id=n.id, parent=n.parent, step=n.step if n.id else "", is_end=n.is_end,
                              status=int(n.status), support=sorted(n.support), note=n.note)
        if n.call is not None:
            node.skill = n.call.skill
            node.arguments = arguments_to_msg(dict(n.call.arguments))
        msg.nodes.append(node)
    return msg


def metrics_to_msg(metrics) -> TaskMetrics:
    return TaskMetrics(success=bool(metrics.success), goal_condition_recall=float(metrics.goal_condition_recall),
                       executability=float(metrics.executability), skill_calls=metrics.skill_calls,
                       corrections=metrics.corrections, replans=metrics.replans, llm_calls=metrics.llm_calls,
                       vlm_calls=metrics.vlm_calls, prompt_tokens=metrics.prompt_tokens,
                       completion_tokens=metrics.completion_tokens, wall_time_s=float(metrics.wall_time_s),
                       sim_time_s=float(metrics.sim_time_s))


def planner_event_to_msg(event: Mapping, stamp: Time) -> PlannerEvent:
    msg = PlannerEvent(task_id=str(event.get("task_id", "")), type=str(event["type"]), step=str(event.get("step", "")),
                       detail=str(event.get("detail", "")))
    msg.header.stamp = stamp
    msg.data = [KeyValue(key=k, value=str(v)) for k, v in sorted(event.items())
                if k not in ("task_id", "type", "step", "detail")]
    return msg


def verdict_to_response(verdict, response):
    response.verdict, response.confidence, response.reason = int(verdict.status), float(verdict.confidence), verdict.reason
    response.failed_conditions = list(verdict.failed)
    response.diagnosis = SkillFailure(code=int(verdict.diagnosis), reason=verdict.diagnosis_text)
    response.diagnosis_text, response.backend = verdict.diagnosis_text, verdict.backend
    response.model_calls, response.prompt_tokens = verdict.model_calls, verdict.prompt_tokens
    response.completion_tokens = verdict.completion_tokens
    return response


def verdict_from_response(response, subject: str = "") -> Verdict:
    return Verdict(VerdictStatus(response.verdict), float(response.confidence), response.reason,
                   tuple(response.failed_conditions), FailureCode(response.diagnosis.code), response.diagnosis_text,
                   subject, response.backend, response.model_calls, response.prompt_tokens, response.completion_tokens)
