"""Fusion of 3D observations into tracks: association across views, confirmation, ageing, merging."""
import numpy as np

from planner_ros.perception.fusion import FusionSettings, ObjectTracker
from planner_ros.perception.lifting import Observation3D


def obs(label, xyz, score=0.8, camera="cam_a", stamp=1.0, extent=(0.08, 0.08, 0.1)):
    return Observation3D(label, label, score, camera, stamp, np.asarray(xyz, float), np.asarray(extent, float), 50,
                         (0.0, 0.0, 10.0, 10.0))


def test_two_views_of_one_object_make_one_track_seen_by_both():
    tracker = ObjectTracker()
    tracker.update([obs("mug", (1.0, 2.0, 0.9), camera="cam_a")])
    tracker.update([obs("mug", (1.02, 2.01, 0.9), camera="cam_b")])
    (track,) = tracker.confirmed()
    assert set(track.last_seen_by) == {"cam_a", "cam_b"}
    assert np.allclose(track.centre_m, (1.01, 2.005, 0.9), atol=0.003)
    assert track.hits == 2


def test_same_label_far_apart_are_two_objects_and_labels_never_mix():
    tracker = ObjectTracker()
    tracker.update([obs("mug", (1.0, 2.0, 0.9)), obs("mug", (1.5, 2.0, 0.9)), obs("cup", (1.1, 2.0, 0.9))])
    assert sorted(t.label for t in tracker.confirmed()) == ["cup", "mug", "mug"]
    assert len({t.label for t in tracker.tracks.values() if np.allclose(t.centre_m, (1.1, 2.0, 0.9))}) == 1


def test_two_labels_on_one_spot_publish_only_the_better_supported_one():
    # A far camera keeps calling the apple a lemon; the two nearer ones see an apple.
    tracker = ObjectTracker()
    for stamp in (1.0, 2.0):
        tracker.update([obs("apple", (1.0, 2.0, 0.8), stamp=stamp, camera="table_cam")])
        tracker.update([obs("apple", (1.01, 2.0, 0.8), stamp=stamp, camera="head")])
        tracker.update([obs("lemon", (1.0, 2.02, 0.8), stamp=stamp, camera="overview")])
    assert sorted(t.label for t in tracker.tracks.values()) == ["apple", "lemon"]   # both kept internally
    assert [t.label for t in tracker.confirmed()] == ["apple"]
    # A real lemon a hand's width away is its own object.
    tracker.update([obs("lemon", (1.0, 2.1, 0.8), stamp=3.0, camera="overview")])
    assert sorted(t.label for t in tracker.confirmed()) == ["apple", "lemon"]


def test_weak_detections_confirm_only_when_they_agree():
    tracker = ObjectTracker(FusionSettings(confirm_confidence=0.5))
    tracker.update([obs("apple", (0.0, 0.0, 1.0), score=0.3)])
    assert tracker.confirmed() == []
    tracker.update([obs("apple", (0.01, 0.0, 1.0), score=0.3, camera="cam_b")])
    (track,) = tracker.confirmed()
    assert abs(track.confidence - (1 - 0.7 * 0.7)) < 1e-9


def test_unseen_tracks_are_forgotten_and_keep_their_last_seen_time():
    tracker = ObjectTracker(FusionSettings(forget_after_s=5.0))
    tracker.update([obs("apple", (0, 0, 1), stamp=1.0), obs("pear", (1, 0, 1), stamp=1.0)])
    tracker.update([obs("apple", (0, 0, 1), stamp=4.0)])
    assert {t.label: t.last_seen_s for t in tracker.confirmed()} == {"apple": 4.0, "pear": 1.0}
    assert tracker.forget_older_than(7.0) == ["obj_2"]
    assert [t.label for t in tracker.confirmed()] == ["apple"]


def test_one_frame_gives_each_track_at_most_one_observation():
    tracker = ObjectTracker()
    tracker.update([obs("mug", (0, 0, 1))])
    # Two mugs side by side in the next frame: the nearer one joins the track, the other starts its own.
    tracker.update([obs("mug", (0.06, 0, 1)), obs("mug", (0.01, 0, 1))])
    tracks = tracker.confirmed()
    assert len(tracks) == 2
    assert min(t.hits for t in tracks) == 1 and max(t.hits for t in tracks) == 2


def test_duplicate_tracks_that_converge_are_merged():
    tracker = ObjectTracker(FusionSettings(gate_m=0.05, merge_distance_m=0.05))
    tracker.update([obs("bowl", (0, 0, 1), extent=(0.02, 0.02, 0.02))])
    tracker.update([obs("bowl", (0.09, 0, 1), extent=(0.02, 0.02, 0.02), camera="cam_b")])
    assert len(tracker.tracks) == 2
    for _ in range(20):  # both views now agree on the middle
        tracker.update([obs("bowl", (0.045, 0, 1), extent=(0.02, 0.02, 0.02), camera="cam_c")])
    assert len(tracker.tracks) == 1
