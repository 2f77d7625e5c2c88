"""One camera frame through the pipeline: check it, detect, lift to 3D, fuse into the object tracks.

The ROS node and the evaluation run the same code. Frames from different cameras may be processed on
different threads: detection runs outside the lock when the backend allows it (onnxruntime sessions do),
fusion always under it.
"""
from __future__ import annotations

import copy
import threading
import time
from dataclasses import dataclass, field

import numpy as np

from planner_ros.geometry import CameraIntrinsics, Pose3D
from planner_ros.perception.detection import Detection2D, Detector
from planner_ros.perception.fusion import FusionSettings, ObjectTracker, Track
from planner_ros.perception.lifting import LiftSettings, Observation3D, lift_detection

__all__ = ["FrameInput", "FrameResult", "InvalidFrame", "PerceptionPipeline", "check_images"]


class InvalidFrame(ValueError):
    """A frame that cannot be used; the message says what is wrong with it."""


@dataclass(frozen=True)
class FrameInput:
    camera: str
    stamp_s: float
    rgb: np.ndarray                 # (H, W, 3) uint8
    depth_m: np.ndarray             # (H, W) float metres, NaN or 0 for no return
    intrinsics: CameraIntrinsics
    world_from_optical: Pose3D
    segmentation: np.ndarray | None = None  # simulator instance labels, for the oracle only


@dataclass
class FrameResult:
    camera: str
    stamp_s: float
    detections: list[Detection2D]
    observations: list[Observation3D]
    not_lifted: list[tuple[Detection2D, str]] = field(default_factory=list)  # (detection, why)
    detect_s: float = 0.0
    lift_fuse_s: float = 0.0


def check_images(rgb: np.ndarray, depth: np.ndarray, k: CameraIntrinsics) -> None:
    """Raises InvalidFrame saying what is wrong when colour, depth and camera info do not fit together."""
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise InvalidFrame(f"colour image must be (H, W, 3) uint8, got {rgb.shape} {rgb.dtype}")
    if depth.ndim != 2 or not np.issubdtype(depth.dtype, np.floating):
        raise InvalidFrame(f"depth must be (H, W) float metres, got {depth.shape} {depth.dtype}")
    if depth.shape != rgb.shape[:2]:
        raise InvalidFrame(f"depth {depth.shape[1]}x{depth.shape[0]} does not match colour "
                           f"{rgb.shape[1]}x{rgb.shape[0]}; register depth to colour first")
    if (k.height, k.width) != depth.shape:
        raise InvalidFrame(f"camera info is for {k.width}x{k.height} but the images are "
                           f"{depth.shape[1]}x{depth.shape[0]}")


class PerceptionPipeline:
    def __init__(self, detector: Detector, *, lift: LiftSettings = LiftSettings(),
                 fusion: FusionSettings = FusionSettings()) -> None:
        self.detector = detector
        self.lift_settings = lift
        self.tracker = ObjectTracker(fusion)
        self._fuse_lock = threading.Lock()
        # Backends whose inference is safe to call from several threads at once skip this lock.
        self._detect_lock = None if getattr(detector, "thread_safe", False) else threading.Lock()

    def process(self, frame: FrameInput) -> FrameResult:
        """Detect, lift and fuse one frame; raises InvalidFrame (nothing is fused) for a broken frame."""
        check_images(frame.rgb, frame.depth_m, frame.intrinsics)
        t0 = time.perf_counter()
        if self._detect_lock is None:
            detections = self.detector.detect(frame.rgb, frame.segmentation)
        else:
            with self._detect_lock:
                detections = self.detector.detect(frame.rgb, frame.segmentation)
        t1 = time.perf_counter()
        observations, not_lifted = [], []
        for det in detections:
            lifted = lift_detection(det, frame.depth_m, frame.intrinsics, frame.world_from_optical,
                                    camera=frame.camera, stamp_s=frame.stamp_s, settings=self.lift_settings)
            if lifted.observation is None:
                not_lifted.append((det, lifted.reason))
            else:
                observations.append(lifted.observation)
        with self._fuse_lock:
            self.tracker.update(observations)
        return FrameResult(frame.camera, frame.stamp_s, detections, observations, not_lifted, t1 - t0,
                           time.perf_counter() - t1)

    def tracks(self, now_s: float | None = None) -> list[Track]:
        """Confirmed tracks, after dropping those unseen for too long (when `now_s` is given)."""
        with self._fuse_lock:
            if now_s is not None:
                self.tracker.forget_older_than(now_s)
            return copy.deepcopy(self.tracker.confirmed())  # callers read them while fusion goes on

    def keep_labels(self, labels: set[str]) -> None:
        """Drop tracks whose label is no longer looked for (after a vocabulary change)."""
        with self._fuse_lock:
            for tid in [tid for tid, t in self.tracker.tracks.items() if t.label not in labels]:
                del self.tracker.tracks[tid]

    def reset(self) -> None:
        with self._fuse_lock:
            self.tracker.clear()
