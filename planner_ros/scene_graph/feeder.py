"""Perception pipeline plus scene graph in one process: what the perception and scene graph nodes do over
DDS, fed one instant (the frames of one stamp) at a time and timed. Used by the evaluation and by the
in-process closed loop (planner_ros.sim.closed_loop)."""
from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Sequence

from planner_ros.perception.detection import Detector
from planner_ros.perception.fusion import Track
from planner_ros.perception.pipeline import FrameInput, PerceptionPipeline
from planner_ros.scene_graph.graph import SceneGraph
from planner_ros.scene_graph.model import DepthView, ObjectObservation
from planner_ros.sim.cameras import CameraFrame
from planner_ros.sim.semantic_map import semantic_map_for_layout
from planner_ros.sim.world import World

__all__ = ["GraphFeeder", "observation_of"]


def observation_of(track: Track) -> ObjectObservation:
    """A fused track as the node receives it (conversions.detection_to_observation of the published one)."""
    return ObjectObservation(track.track_id, track.label, tuple(float(v) for v in track.centre_m),
                             tuple(float(v) for v in track.extent_m), float(track.confidence),
                             tuple(sorted(track.boxes_2d)), float(track.last_seen_s))


class GraphFeeder:
    """Perception pipeline plus scene graph, fed one instant (all frames of one stamp) at a time, timed."""

    def __init__(self, detector: Detector, world: World) -> None:
        self.detector = detector
        self.pipeline = PerceptionPipeline(detector)
        self.graph = SceneGraph(semantic_map_for_layout(world.index.layout))
        self.lut = world.instance_label_lookup()
        self.update_s: list[float] = []
        self.views_s: list[float] = []
        self.rejected: Counter[str] = Counter()  # rejection reason (numbers blanked) -> observations
        self.rejected_tracks: set[str] = set()
        self.frames = 0

    def step(self, frames: Sequence[CameraFrame]) -> None:
        for f in frames:
            segmentation = self.lut[f.segmentation] if self.detector.is_oracle else None
            self.pipeline.process(FrameInput(f.name, f.stamp_s, f.rgb, f.depth_m, f.intrinsics,
                                             f.world_from_optical, segmentation))
            observations = [observation_of(t) for t in self.pipeline.tracks(f.stamp_s)]
            t0 = time.perf_counter()
            report = self.graph.update(observations, f.stamp_s)
            self.update_s.append(time.perf_counter() - t0)
            for r in report.rejected:
                self.rejected[re.sub(r"-?\d+(\.\d+)?", "#", r.reason)] += 1
                self.rejected_tracks.add(r.track_id)
            self.frames += 1
        if frames:
            views = [DepthView(f.name, f.stamp_s, f.depth_m, f.intrinsics, f.world_from_optical) for f in frames]
            t0 = time.perf_counter()
            self.graph.observe_views(views, max(f.stamp_s for f in frames))
            self.views_s.append(time.perf_counter() - t0)
