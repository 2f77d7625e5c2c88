"""Fuse 3D observations from many views and frames into persistent object tracks.

Association is per label and by distance: an observation joins the nearest track with its label whose centre
is within a gate (the larger of `gate_m` and half the track's largest extent), greedily, nearest pairs
first, at most one observation per track per camera frame. Unmatched observations start tentative tracks.
A track's confidence is 1 - prod(1 - score) over its observations (two weak sightings agree more than one),
and it is published once the confidence reaches `confirm_confidence`. Positions are a weighted running mean
whose weight is capped, so a track follows a slowly moving object instead of freezing; a jump beyond the
gate starts a new track and the old one ages out. Tracks of different labels on one spot are one object that
some view misreads; only the better-supported label is published. Tracks not observed for `forget_after_s` are dropped, and
every published track carries its own last-seen time, so nothing stale is presented as fresh.
"""
from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from planner_ros.perception.lifting import Observation3D

__all__ = ["FusionSettings", "ObjectTracker", "Track"]


@dataclass(frozen=True)
class FusionSettings:
    gate_m: float = 0.1
    confirm_confidence: float = 0.5
    forget_after_s: float = 30.0
    max_weight: float = 10.0        # cap on a track's accumulated weight in the running mean
    merge_distance_m: float = 0.05  # same-label tracks closer than this are one object
    conflict_distance_m: float = 0.04  # tracks of different labels closer than this are one object misread


@dataclass
class Track:
    track_id: str
    label: str
    class_name: str
    centre_m: np.ndarray
    extent_m: np.ndarray
    confidence: float
    first_seen_s: float
    last_seen_s: float
    hits: int = 1
    weight: float = 1.0
    num_points: int = 0
    last_seen_by: dict[str, float] = field(default_factory=dict)   # camera -> stamp
    boxes_2d: dict[str, tuple[float, float, float, float]] = field(default_factory=dict)  # camera -> box

    def absorb(self, obs: Observation3D, max_weight: float) -> None:
        w = obs.score
        total = self.weight + w
        self.centre_m = (self.centre_m * self.weight + obs.centre_m * w) / total
        self.extent_m = np.maximum(self.extent_m * 0.9, obs.extent_m)  # slow shrink, fast growth
        self.weight = min(total, max_weight)
        self.confidence = 1.0 - (1.0 - self.confidence) * (1.0 - min(obs.score, 0.99))
        self.hits += 1
        self.last_seen_s = max(self.last_seen_s, obs.stamp_s)
        self.num_points = obs.num_points
        self.last_seen_by[obs.camera] = obs.stamp_s
        self.boxes_2d[obs.camera] = obs.box_xyxy


class ObjectTracker:
    def __init__(self, settings: FusionSettings = FusionSettings()) -> None:
        self.settings = settings
        self.tracks: dict[str, Track] = {}
        self._ids = itertools.count(1)

    def _gate(self, track: Track) -> float:
        return max(self.settings.gate_m, 0.5 * float(np.max(track.extent_m)))

    def update(self, observations: Sequence[Observation3D]) -> None:
        """Fold in the observations of one camera frame."""
        pairs = []
        for i, obs in enumerate(observations):
            for tid, track in self.tracks.items():
                if track.label != obs.label:
                    continue
                d = float(np.linalg.norm(track.centre_m - obs.centre_m))
                if d <= self._gate(track):
                    pairs.append((d, i, tid))
        pairs.sort()
        used_obs: set[int] = set()
        used_tracks: set[str] = set()
        for _, i, tid in pairs:
            if i in used_obs or tid in used_tracks:
                continue
            used_obs.add(i)
            used_tracks.add(tid)
            self.tracks[tid].absorb(observations[i], self.settings.max_weight)
        for i, obs in enumerate(observations):
            if i not in used_obs:
                tid = f"obj_{next(self._ids)}"
                self.tracks[tid] = Track(tid, obs.label, obs.class_name, obs.centre_m.copy(), obs.extent_m.copy(),
                                         min(obs.score, 0.99), obs.stamp_s, obs.stamp_s, 1, obs.score,
                                         obs.num_points, {obs.camera: obs.stamp_s}, {obs.camera: obs.box_xyxy})
        self._merge_duplicates()

    def _merge_duplicates(self) -> None:
        ids = sorted(self.tracks, key=lambda t: -self.tracks[t].hits)
        for a, b in itertools.combinations(ids, 2):
            ta, tb = self.tracks.get(a), self.tracks.get(b)
            if ta is None or tb is None or ta.label != tb.label:
                continue
            if np.linalg.norm(ta.centre_m - tb.centre_m) > self.settings.merge_distance_m:
                continue
            total = ta.weight + tb.weight
            ta.centre_m = (ta.centre_m * ta.weight + tb.centre_m * tb.weight) / total
            ta.weight = min(total, self.settings.max_weight)
            ta.extent_m = np.maximum(ta.extent_m, tb.extent_m)
            ta.confidence = 1.0 - (1.0 - ta.confidence) * (1.0 - tb.confidence)
            ta.hits += tb.hits
            ta.first_seen_s = min(ta.first_seen_s, tb.first_seen_s)
            ta.last_seen_s = max(ta.last_seen_s, tb.last_seen_s)
            for cam, stamp in tb.last_seen_by.items():
                if stamp >= ta.last_seen_by.get(cam, -np.inf):
                    ta.last_seen_by[cam] = stamp
                    ta.boxes_2d[cam] = tb.boxes_2d[cam]
            del self.tracks[b]

    def forget_older_than(self, now_s: float) -> list[str]:
        """Drop tracks unseen for forget_after_s; returns their ids."""
        stale = [tid for tid, t in self.tracks.items() if now_s - t.last_seen_s > self.settings.forget_after_s]
        for tid in stale:
            del self.tracks[tid]
        return stale

    def confirmed(self) -> list[Track]:
        """Tracks confident enough to publish. Two labels on one spot are one object that some view misreads
        (a far camera calling an apple a lemon): only the label with more sightings is published."""
        ranked = sorted((t for t in self.tracks.values() if t.confidence >= self.settings.confirm_confidence),
                        key=lambda t: (-t.hits, t.track_id))
        kept: list[Track] = []
        for track in ranked:
            if not any(k.label != track.label and float(np.linalg.norm(k.centre_m - track.centre_m))
                       <= self.settings.conflict_distance_m for k in kept):
                kept.append(track)
        return sorted(kept, key=lambda t: t.track_id)

    def clear(self) -> None:
        self.tracks.clear()
