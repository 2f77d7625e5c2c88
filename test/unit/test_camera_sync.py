"""Colour/depth pairing per camera: approximate time, drops with counters, reordering, health states."""
from planner_ros.perception.camera_sync import CameraSync, LabelsMatch, SyncSettings


def test_pairs_within_slop_in_time_order():
    sync = CameraSync("cam", SyncSettings(slop_s=0.02))
    assert sync.add_color(1.00, "c1") == []
    assert sync.add_depth(1.01, "d1") == [(1.00, "c1", "d1")]
    assert sync.add_depth(1.50, "d2") == []
    assert sync.add_color(1.51, "c2") == [(1.51, "c2", "d2")]


def test_colour_without_depth_is_dropped_and_counted():
    sync = CameraSync("cam", SyncSettings(slop_s=0.02))
    sync.add_color(1.0, "c1")
    sync.add_color(2.0, "c2")
    assert sync.add_depth(2.0, "d2") == [(2.0, "c2", "d2")]
    assert sync.health.counters["colour_without_depth"] == 1


def test_depth_stream_that_stops_is_reported_after_max_wait():
    sync = CameraSync("cam", SyncSettings(slop_s=0.02, max_wait_s=0.5))
    sync.add_color(1.0, "c1")
    sync.expire(1.2)
    assert sync.health.state == "waiting"
    sync.expire(1.6)
    assert sync.health.state == "no_depth"
    assert sync.health.dropped_unpaired == 1


def test_reordered_messages_still_pair():
    sync = CameraSync("cam", SyncSettings(slop_s=0.02))
    sync.add_depth(2.0, "d2")
    sync.add_depth(1.0, "d1")  # arrives late
    assert sync.add_color(1.0, "c1") == [(1.0, "c1", "d1")]
    assert sync.add_color(2.0, "c2") == [(2.0, "c2", "d2")]


def test_stale_camera_and_recovery():
    sync = CameraSync("cam", SyncSettings(stale_after_s=3.0))
    sync.processed(10.0)
    sync.check_stale(12.0)
    assert sync.health.state == "ok"
    sync.check_stale(14.0)
    assert sync.health.state == "stale" and "4.0 s" in sync.health.detail
    sync.processed(14.5)
    assert sync.health.state == "ok" and sync.health.frames == 2


def test_queue_is_bounded():
    sync = CameraSync("cam", SyncSettings(queue_size=3))
    for k in range(10):
        sync.add_color(float(k), f"c{k}")
    assert sync.health.counters["queue_overflow"] == 7


def test_a_pair_waits_for_labels_that_arrive_after_it():
    labels = LabelsMatch(slop_s=0.02)
    assert labels.match((1.00, "c1", "d1")) == (None, False)   # parked
    assert labels.add(2.00, "L2") is None                        # not its labels
    assert labels.add(1.01, "L1") == (1.00, "c1", "d1")          # completes the parked pair
    assert labels.match((1.00, "c1", "d1")) == ("L1", False)     # labels already there: no wait


def test_a_waiting_pair_displaced_by_a_newer_one_is_reported():
    labels = LabelsMatch(slop_s=0.02)
    assert labels.match((1.0, "c1", "d1")) == (None, False)
    assert labels.match((1.5, "c2", "d2")) == (None, True)       # the 1.0 pair is lost
    assert labels.add(1.0, "L1") is None                         # too late for it
    assert labels.add(1.5, "L2") == (1.5, "c2", "d2")
