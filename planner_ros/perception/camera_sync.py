"""Pair each camera's colour and depth images by timestamp, and keep the camera's health.

Approximate-time pairing per camera: a colour image pairs with the depth image closest in time if they are
within `slop_s`; an image that has waited `max_wait_s` without a partner is dropped and counted (a depth
stream that lags or stopped shows up as `no_depth`). Pairing is per camera, so one camera's trouble never
holds back another's frames.
"""
from __future__ import annotations

import bisect
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

__all__ = ["CameraHealth", "CameraSync", "LabelsMatch", "SyncSettings"]


@dataclass(frozen=True)
class SyncSettings:
    slop_s: float = 0.02          # colour and depth of one frame are this close in time
    max_wait_s: float = 0.5       # how long an image waits for its partner
    stale_after_s: float = 3.0    # no frame pair for this long (receipt time): the camera is stale
    queue_size: int = 8


@dataclass
class CameraHealth:
    state: str = "waiting"          # waiting, ok, stale, no_depth, no_camera_info, no_tf, bad_frame
    detail: str = "no images received yet"
    frames: int = 0                 # pairs processed
    dropped_unpaired: int = 0
    dropped_invalid: int = 0
    last_pair_receipt_s: float | None = None
    counters: dict[str, int] = field(default_factory=dict)

    def count(self, key: str) -> None:
        self.counters[key] = self.counters.get(key, 0) + 1


class CameraSync:
    def __init__(self, name: str, settings: SyncSettings = SyncSettings()) -> None:
        self.name = name
        self.settings = settings
        self.health = CameraHealth()
        self._color: list[tuple[float, Any]] = []
        self._depth: list[tuple[float, Any]] = []
        self._lock = threading.Lock()

    def add_color(self, stamp_s: float, payload: Any) -> list[tuple[float, Any, Any]]:
        with self._lock:
            self._insert(self._color, stamp_s, payload)
            return self._pairs()

    def add_depth(self, stamp_s: float, payload: Any) -> list[tuple[float, Any, Any]]:
        with self._lock:
            self._insert(self._depth, stamp_s, payload)
            return self._pairs()

    def _insert(self, queue: list[tuple[float, Any]], stamp_s: float, payload: Any) -> None:
        # Kept in time order even if the transport reorders; the oldest falls out when full.
        bisect.insort(queue, (stamp_s, payload), key=lambda item: item[0])
        if len(queue) > self.settings.queue_size:
            queue.pop(0)
            self.health.dropped_unpaired += 1
            self.health.count("queue_overflow")

    def _pairs(self) -> list[tuple[float, Any, Any]]:
        """Matched (stamp, colour, depth) triples, oldest first, dropping images that can no longer pair."""
        out = []
        slop = self.settings.slop_s
        while self._color and self._depth:
            c_stamp, colour = self._color[0]
            best = min(range(len(self._depth)), key=lambda i: abs(self._depth[i][0] - c_stamp))
            d_stamp, depth = self._depth[best]
            if abs(d_stamp - c_stamp) <= slop:
                out.append((c_stamp, colour, depth))
                del self._color[0]
                del self._depth[:best + 1]  # older depth images can no longer pair
            elif self._depth[0][0] < c_stamp - slop:
                del self._depth[0]  # older than every colour image left
                self.health.dropped_unpaired += 1
                self.health.count("depth_without_colour")
            else:
                del self._color[0]  # every depth image left is newer than it by more than the slop
                self.health.dropped_unpaired += 1
                self.health.count("colour_without_depth")
        return out

    def expire(self, newest_stamp_s: float) -> None:
        """Drop images that waited longer than max_wait_s (in message time) for a partner."""
        with self._lock:
            limit = newest_stamp_s - self.settings.max_wait_s
            while self._color and self._color[0][0] < limit:
                del self._color[0]
                self.health.dropped_unpaired += 1
                self.health.count("colour_without_depth")
                if not self._depth:
                    self.health.state, self.health.detail = "no_depth", "colour images arrive without depth"
            while self._depth and self._depth[0][0] < limit:
                del self._depth[0]
                self.health.dropped_unpaired += 1
                self.health.count("depth_without_colour")

    def mark(self, state: str, detail: str) -> None:
        with self._lock:
            self.health.state, self.health.detail = state, detail
            if state == "bad_frame":
                self.health.dropped_invalid += 1

    def processed(self, receipt_s: float) -> None:
        with self._lock:
            self.health.frames += 1
            self.health.last_pair_receipt_s = receipt_s
            self.health.state, self.health.detail = "ok", "frames paired and processed"

    def check_stale(self, now_receipt_s: float) -> None:
        with self._lock:
            last = self.health.last_pair_receipt_s
            if last is not None and now_receipt_s - last > self.settings.stale_after_s:
                self.health.state = "stale"
                self.health.detail = f"no frame pair for {now_receipt_s - last:.1f} s"


class LabelsMatch:
    """Each frame pair's segmentation labels (the oracle detector's input). They travel on their own topic and
    often arrive after the images, so a pair without them waits in a one-deep slot until they come; a newer
    pair displaces it, and the displaced one is reported as lost."""

    def __init__(self, slop_s: float, keep: int = 4) -> None:
        self.slop_s = slop_s
        self._labels: deque[tuple[float, Any]] = deque(maxlen=keep)
        self._waiting: tuple | None = None   # (stamp, ...) of a pair without labels yet
        self._lock = threading.Lock()

    def add(self, stamp_s: float, labels: Any) -> tuple | None:
        """Keep labels; returns the waiting pair they complete, if any."""
        with self._lock:
            self._labels.append((stamp_s, labels))
            if self._waiting is not None and abs(self._waiting[0] - stamp_s) <= self.slop_s:
                done, self._waiting = self._waiting, None
                return done
            return None

    def match(self, pair: tuple) -> tuple[Any | None, bool]:
        """(labels, False) for pair (its stamp first), or (None, displaced) with pair left waiting; displaced
        says an older pair was waiting and is dropped."""
        with self._lock:
            labels = next((lab for t, lab in self._labels if abs(t - pair[0]) <= self.slop_s), None)
            if labels is not None:
                return labels, False
            displaced, self._waiting = self._waiting is not None, pair
            return None, displaced
