"""SimEngine skills in the MuJoCo kitchen: success, refusals with the right code, faults, cancel, cameras.

Every test builds its own small, deterministic world (kitchen_a, seed 0, only the objects named below)
and drives skills one control period at a time through the engine, as the simulator node does.
"""
from __future__ import annotations

import os

os.environ.setdefault("MUJOCO_GL", "osmesa")

import math  # noqa: E402
from collections.abc import Mapping, Sequence  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from planner_ros.sim.engine import EpisodeConfig, SimEngine, SkillJob  # noqa: E402
from planner_ros.sim.faults import FaultError, fault_from_mapping  # noqa: E402
from planner_ros.sim.scenario import Scenario, parse_call  # noqa: E402
from planner_ros.sim.scene import ObjectPlacement  # noqa: E402
from planner_ros.skills import FailureCode, SkillOutcome  # noqa: E402

OBJECTS = {
    "apple_1": ObjectPlacement("apple", "table"),
    "mug_1": ObjectPlacement("mug", "counter"),
    "milk_1": ObjectPlacement("milk_carton", "fridge"),
    "cup_1": ObjectPlacement("cup", "cabinet"),
    "sponge_1": ObjectPlacement("sponge", "drawer"),
}
MAX_TICKS = 3000  # 60 s of simulated time; every skill here takes well under 15 s


def scenario(faults: Sequence[Mapping[str, Any]] = (), *, objects: Mapping[str, ObjectPlacement] = OBJECTS,
             random_objects: int = 0, layout: str = "kitchen_a", seed: int = 0) -> Scenario:
    return Scenario(task_id="test", variant="fault" if faults else "clean", category="test", layout=layout,
                    seed=seed, instruction="", objects=dict(objects), random_objects=random_objects, goal=(),
                    plan=(), faults=tuple(fault_from_mapping(f) for f in faults))


def make_engine(faults: Sequence[Mapping[str, Any]] = (), **kwargs: Any) -> SimEngine:
    cameras = kwargs.pop("cameras", ())
    camera_kwargs = {k: kwargs.pop(k) for k in ("camera_rate_hz", "width", "height") if k in kwargs}
    checks = kwargs.pop("skill_self_checks", True)
    return SimEngine(EpisodeConfig(scenario=scenario(faults, **kwargs), skill_self_checks=checks), cameras=cameras,
                     **camera_kwargs)


def finish(engine: SimEngine, job: SkillJob, max_ticks: int = MAX_TICKS) -> SkillOutcome:
    for _ in range(max_ticks):
        if job.done.is_set():
            break
        engine.tick()
    assert job.done.is_set(), f"{job.call.text} did not finish in {max_ticks} ticks"
    assert job.outcome is not None
    return job.outcome


def run(engine: SimEngine, text: str) -> SkillOutcome:
    """Parse a call, start it and tick until it is done; return its outcome."""
    return finish(engine, engine.start(parse_call(text)))


def run_all(engine: SimEngine, *texts: str) -> None:
    """Run calls that must all succeed (test set-up)."""
    for text in texts:
        outcome = run(engine, text)
        assert outcome.success, f"{text}: {outcome.code.name} {outcome.reason}"


def failed(outcome: SkillOutcome, code: FailureCode, *fragments: str) -> None:
    assert not outcome.success
    assert outcome.code is code, f"expected {code.name}, got {outcome.code.name}: {outcome.reason}"
    for fragment in fragments:
        assert fragment in outcome.reason, outcome.reason


def snapshot(engine: SimEngine) -> dict[str, Any]:
    gt = engine.ground_truth()
    return {
        "held": gt.held_object,
        "relations": {o.id: (o.relation, o.receptacle) for o in gt.objects},
        "positions": {o.id: np.asarray(o.pose.position_m) for o in gt.objects},
        "openings": dict(gt.openings),
    }


def assert_consistent(before: Mapping[str, Any], after: Mapping[str, Any], *, tol_m: float = 0.01,
                      ignore: Sequence[str] = ()) -> None:
    """Nothing held changed, every object is where it was (bar `ignore`), doors and drawers as they were."""
    assert after["held"] == before["held"]
    for oid, rel in before["relations"].items():
        if oid in ignore:
            continue
        assert after["relations"][oid] == rel, oid
        moved = np.linalg.norm(after["positions"][oid] - before["positions"][oid])
        assert moved < tol_m, f"{oid} moved {moved:.3f} m"
    for part, opening in before["openings"].items():
        assert after["openings"][part] == pytest.approx(opening, abs=0.02), part


def relation(engine: SimEngine, oid: str) -> tuple[str, str | None]:
    return engine.world.containment(oid)


def base_distance(engine: SimEngine, place: str) -> float:
    pose, goal = engine.world.base_pose(), engine.world.index.nav_poses[place]
    return math.hypot(pose.x - goal.x, pose.y - goal.y)


# ------------------------------------------------------------------------------------------- success


def test_navigate_pick_and_place_on_a_surface_and_into_the_sink():
    engine = make_engine()
    assert run(engine, "navigate_to(table)").success
    assert base_distance(engine, "table") < 0.05
    outcome = run(engine, "pick(apple_1)")
    assert outcome.success, outcome.reason
    assert outcome.duration_s > 0
    assert engine.ground_truth().held_object == "apple_1"
    assert relation(engine, "apple_1") == ("held_by", "robot")

    run_all(engine, "navigate_to(counter)")
    assert engine.world.held_object() == "apple_1", "carried along"
    assert run(engine, "place(apple_1, counter)").success
    assert engine.world.held_object() is None
    assert relation(engine, "apple_1") == ("on", "counter")
    assert relation(engine, "mug_1") == ("on", "counter"), "the mug it was put next to stayed"

    run_all(engine, "pick(apple_1)", "navigate_to(sink)")
    assert run(engine, "place(apple_1, sink)").success
    assert relation(engine, "apple_1") == ("in", "sink")
    assert engine.facts().relations["apple_1"] == ("in", "sink")


def test_a_placed_apple_stays_where_it_was_put():
    # A stem that carried mass made the apple top-heavy: put on the counter, it rolled over and off within 30 s.
    engine = make_engine(objects={"apple_1": ObjectPlacement("apple", "table")})
    run_all(engine, "navigate_to(table)", "pick(apple_1)", "navigate_to(counter)", "place(apple_1, counter)")
    placed = np.asarray(engine.world.object_pose("apple_1").position_m)
    for _ in range(2500):  # 50 s
        engine.tick()
    assert relation(engine, "apple_1") == ("on", "counter")
    rolled = np.linalg.norm(np.asarray(engine.world.object_pose("apple_1").position_m) - placed)
    assert rolled < 0.002, f"the apple rolled {rolled * 100:.1f} cm"


def test_navigate_to_an_object_goes_to_its_receptacle():
    engine = make_engine()
    assert run(engine, "navigate_to(mug_1)").success
    assert base_distance(engine, "counter") < 0.05
    assert run(engine, "pick(mug_1)").success


def test_open_fridge_place_inside_pick_out_and_close():
    engine = make_engine()
    run_all(engine, "navigate_to(table)", "pick(apple_1)", "navigate_to(fridge)")
    # A free hand is needed to open: put the apple down on the counter next door first.
    failed(run(engine, "open(fridge)"), FailureCode.HAND_FULL, "apple_1")
    run_all(engine, "navigate_to(counter)", "place(apple_1, counter)", "navigate_to(fridge)")
    assert run(engine, "open(fridge)").success
    assert engine.world.opening("fridge_door") >= 0.9
    assert engine.facts().openings["fridge"] >= 0.9, "facts file the opening under the container too"
    assert run(engine, "pick(milk_1)").success
    assert engine.world.held_object() == "milk_1"
    assert run(engine, "place(milk_1, fridge)").success
    assert relation(engine, "milk_1") == ("in", "fridge")
    assert run(engine, "close(fridge)").success
    assert engine.world.opening("fridge_door") <= 0.05
    assert relation(engine, "milk_1") == ("in", "fridge")
    assert relation(engine, "apple_1") == ("on", "counter")


@pytest.mark.parametrize("target, part", [("fridge", "fridge_door"), ("cabinet", "cabinet_door"),
                                          ("drawer", "drawer"), ("fridge_door", "fridge_door")])
def test_open_and_close_each_articulated_part(target, part):
    engine = make_engine()
    run_all(engine, f"navigate_to({target})")
    before = snapshot(engine)
    assert engine.world.opening(part) < 0.05
    assert run(engine, f"open({target})").success
    assert engine.world.opening(part) >= 0.9
    assert engine.world.held_object() is None
    assert run(engine, f"close({target})").success
    assert engine.world.opening(part) <= 0.05
    # Whatever was inside is still inside (the drawer's sponge travelled out and back with it).
    assert_consistent(before, snapshot(engine), tol_m=0.03)


def test_pick_from_the_open_drawer_and_cabinet():
    engine = make_engine()
    run_all(engine, "navigate_to(drawer)", "open(drawer)")
    assert run(engine, "pick(sponge_1)").success
    assert run(engine, "place(sponge_1, drawer)").success
    assert relation(engine, "sponge_1") == ("in", "drawer")
    run_all(engine, "close(drawer)", "navigate_to(cabinet)", "open(cabinet)")
    assert run(engine, "pick(cup_1)").success
    assert engine.world.held_object() == "cup_1"


@pytest.mark.parametrize("layout", ["kitchen_a", "kitchen_b", "kitchen_c"])
def test_the_cabinet_shelf_shows_from_its_look_pose_not_from_where_it_is_used(layout):
    engine = SimEngine(EpisodeConfig(scenario=scenario(objects={"cup_1": OBJECTS["cup_1"]}, layout=layout)),
                       cameras=("head_rgbd",), width=320, height=240, camera_rate_hz=10, segmentation=True)
    cup = engine.world.object_geom_ids("cup_1")

    def cup_pixels() -> int:
        frames = []
        while not frames:
            frames = engine.tick()
        return int(np.isin(frames[0].segmentation, cup).sum())

    run_all(engine, "navigate_to(cabinet)", "open(cabinet)")
    at_cabinet = cup_pixels()
    run_all(engine, "navigate_to(cabinet_view)")
    # The same cup position in every layout (seed 0, the cabinet's own frame): 0 pixels, then 85.
    assert at_cabinet < 10 < cup_pixels(), at_cabinet
    engine.close()


# ------------------------------------------------------------------------------------------ refusals


@pytest.mark.parametrize("text", ["pick(ghost_1)", "navigate_to(ghost_1)", "open(oven)", "close(oven)"])
def test_unknown_ids_are_refused(text):
    engine = make_engine()
    before = snapshot(engine)
    outcome = run(engine, text)
    failed(outcome, FailureCode.UNKNOWN_OBJECT)
    assert outcome.duration_s == 0.0, "refused before anything moved"
    assert_consistent(before, snapshot(engine), tol_m=1e-6)


def test_place_on_an_unknown_receptacle_keeps_holding():
    engine = make_engine()
    run_all(engine, "navigate_to(table)", "pick(apple_1)")
    failed(run(engine, "place(apple_1, oven)"), FailureCode.UNKNOWN_OBJECT, "oven", "counter")
    failed(run(engine, "place(ghost_1, table)"), FailureCode.UNKNOWN_OBJECT, "ghost_1")
    assert engine.world.held_object() == "apple_1"


def test_hand_full_and_hand_empty():
    engine = make_engine()
    run_all(engine, "navigate_to(counter)")
    before = snapshot(engine)
    failed(run(engine, "place(mug_1, counter)"), FailureCode.HAND_EMPTY, "empty")
    assert_consistent(before, snapshot(engine), tol_m=1e-6)

    run_all(engine, "navigate_to(table)", "pick(apple_1)", "navigate_to(counter)")
    before = snapshot(engine)
    failed(run(engine, "pick(mug_1)"), FailureCode.HAND_FULL, "apple_1")
    failed(run(engine, "place(mug_1, counter)"), FailureCode.HAND_EMPTY, "holds 'apple_1'")
    run_all(engine, "navigate_to(drawer)")
    failed(run(engine, "open(drawer)"), FailureCode.HAND_FULL, "apple_1")
    after = snapshot(engine)
    assert_consistent(before, after, ignore=["apple_1"])  # the held apple travelled with the robot
    assert after["held"] == "apple_1"


def test_pick_from_far_away_is_not_reachable():
    engine = make_engine()
    run_all(engine, "navigate_to(counter)")
    before = snapshot(engine)
    failed(run(engine, "pick(apple_1)"), FailureCode.NOT_REACHABLE, "navigate_to(table)")
    assert_consistent(before, snapshot(engine), tol_m=1e-6)
    failed(run(engine, "open(drawer)"), FailureCode.NOT_REACHABLE, "navigate_to(drawer)")


def test_the_closed_fridge_refuses_pick_and_place():
    engine = make_engine()
    run_all(engine, "navigate_to(fridge)")
    before = snapshot(engine)
    failed(run(engine, "pick(milk_1)"), FailureCode.CONTAINER_CLOSED, "open it first")
    assert_consistent(before, snapshot(engine), tol_m=1e-6)

    run_all(engine, "navigate_to(table)", "pick(apple_1)", "navigate_to(fridge)")
    failed(run(engine, "place(apple_1, fridge)"), FailureCode.CONTAINER_CLOSED, "'fridge' is closed")
    assert engine.world.held_object() == "apple_1"
    assert relation(engine, "milk_1") == ("in", "fridge")


def test_preconditions_on_open_and_close():
    engine = make_engine()
    run_all(engine, "navigate_to(drawer)")
    failed(run(engine, "close(drawer)"), FailureCode.PRECONDITION_FAILED, "already closed")
    failed(run(engine, "open(table)"), FailureCode.PRECONDITION_FAILED, "'table'")
    failed(run(engine, "open(apple_1)"), FailureCode.PRECONDITION_FAILED)
    run_all(engine, "open(drawer)")
    before = snapshot(engine)
    failed(run(engine, "open(drawer)"), FailureCode.PRECONDITION_FAILED, "already open")
    assert_consistent(before, snapshot(engine), tol_m=1e-6)


# --------------------------------------------------------------------------------------------- faults

WHEN = {"now": {}, "rule": {"on_skill": "open"}}


@pytest.mark.parametrize("when", ["now", "rule"])
@pytest.mark.parametrize("target, part", [("fridge", "fridge_door"), ("drawer", "drawer")])
def test_locked_part_does_not_open(when, target, part):
    fault = {"type": "locked", "target": part, **WHEN[when]}
    if when == "rule":
        fault["on_argument"] = target
    engine = make_engine([fault])
    assert len(engine.schedule.pending) == (1 if when == "rule" else 0)
    run_all(engine, f"navigate_to({target})")
    before = snapshot(engine)
    failed(run(engine, f"open({target})"), FailureCode.LOCKED, part)
    assert engine.world.opening(part) <= 0.05
    assert engine.schedule.pending == [], "a one-shot rule is used up"
    assert_consistent(before, snapshot(engine))


@pytest.mark.parametrize("when", ["now", "rule"])
@pytest.mark.parametrize("target, part", [("fridge", "fridge_door"), ("drawer", "drawer")])
def test_jammed_part_opens_only_partly(when, target, part):
    fault = {"type": "jammed", "target": part, "params": {"fraction": 0.3}, **WHEN[when]}
    engine = make_engine()
    if when == "now":
        run_all(engine, f"navigate_to({target})")
        engine.inject(fault_from_mapping(fault))
    else:
        engine.inject(fault_from_mapping(fault))  # fires on the first open(), whatever its target
        run_all(engine, f"navigate_to({target})")
    failed(run(engine, f"open({target})"), FailureCode.JAMMED, "stuck")
    assert engine.world.opening(part) == pytest.approx(0.3, abs=0.05)
    assert engine.facts().openings[part] < 0.5


def test_a_rule_fires_on_the_nth_matching_call_only():
    engine = make_engine([{"type": "locked", "target": "drawer", "on_skill": "open", "on_argument": "drawer",
                           "on_call": 2}])
    run_all(engine, "navigate_to(drawer)", "open(drawer)", "close(drawer)")
    failed(run(engine, "open(drawer)"), FailureCode.LOCKED)


def test_a_locked_fault_on_a_receptacle_resolves_to_its_door():
    engine = make_engine([{"type": "locked", "target": "fridge"}])
    run_all(engine, "navigate_to(fridge)")
    failed(run(engine, "open(fridge)"), FailureCode.LOCKED)


@pytest.mark.parametrize("when", ["now", "rule"])
def test_missing_object(when):
    fault = {"type": "missing", "target": "apple_1"}
    if when == "rule":
        fault.update(on_skill="pick", on_argument="apple_1")
    engine = make_engine()
    run_all(engine, "navigate_to(table)")
    engine.inject(fault_from_mapping(fault))
    if when == "now":
        assert relation(engine, "apple_1") == ("none", None)
        failed(run(engine, "navigate_to(apple_1)"), FailureCode.OBJECT_MISSING, "apple_1")
    else:
        assert relation(engine, "apple_1") == ("on", "table"), "a rule waits for its call"
    failed(run(engine, "pick(apple_1)"), FailureCode.OBJECT_MISSING, "apple_1")
    assert engine.world.held_object() is None
    assert relation(engine, "apple_1") == ("none", None)
    assert engine.facts().relations["apple_1"] == ("none", None)


def test_missing_fault_takes_the_held_object_out_of_the_hand():
    engine = make_engine()
    run_all(engine, "navigate_to(table)", "pick(apple_1)")
    engine.inject(fault_from_mapping({"type": "missing", "target": "apple_1"}))
    assert engine.world.held_object() is None
    failed(run(engine, "place(apple_1, table)"), FailureCode.HAND_EMPTY)


@pytest.mark.parametrize("when", ["now", "rule"])
def test_moved_object_is_out_of_reach_until_the_robot_follows_it(when):
    fault = {"type": "moved", "target": "apple_1", "params": {"destination": "counter"}}
    if when == "rule":
        fault.update(on_skill="pick", on_argument="apple_1")
    engine = make_engine([fault])
    run_all(engine, "navigate_to(table)")
    before = snapshot(engine)
    failed(run(engine, "pick(apple_1)"), FailureCode.NOT_REACHABLE, "out of reach")
    assert relation(engine, "apple_1") == ("on", "counter")
    assert_consistent(before, snapshot(engine), ignore=["apple_1"])
    # navigate_to(object) goes where the object is now.
    run_all(engine, "navigate_to(apple_1)")
    assert base_distance(engine, "counter") < 0.05
    assert run(engine, "pick(apple_1)").success


@pytest.mark.parametrize("when", ["now", "rule"])
def test_obstacle_blocks_placing(when):
    fault = {"type": "obstacle", "target": "counter"}
    if when == "rule":
        fault.update(on_skill="place", on_argument="counter")
    engine = make_engine()
    run_all(engine, "navigate_to(table)", "pick(apple_1)", "navigate_to(counter)")
    engine.inject(fault_from_mapping(fault))
    before = snapshot(engine)
    failed(run(engine, "place(apple_1, counter)"), FailureCode.BLOCKED, "no free space")
    assert_consistent(before, snapshot(engine), ignore=["apple_1"])
    assert engine.world.held_object() == "apple_1"
    # Other places still take it.
    run_all(engine, "navigate_to(table)", "place(apple_1, table)")
    assert relation(engine, "apple_1") == ("on", "table")


@pytest.mark.parametrize("on_argument", ["", "apple_1"])
def test_slip_on_pick(on_argument):
    engine = make_engine([{"type": "slip", "target": "apple_1", "on_skill": "pick", "on_argument": on_argument}])
    run_all(engine, "navigate_to(table)")
    before = snapshot(engine)
    failed(run(engine, "pick(apple_1)"), FailureCode.SLIPPED, "apple_1")
    assert engine.world.held_object() is None
    assert relation(engine, "apple_1") == ("on", "table"), "it fell back onto the table"
    assert_consistent(before, snapshot(engine), ignore=["apple_1"])
    assert run(engine, "pick(apple_1)").success, "a one-shot slip is used up"


def test_slip_while_driving():
    engine = make_engine([{"type": "slip", "target": "apple_1", "on_skill": "navigate_to",
                           "on_argument": "counter"}])
    run_all(engine, "navigate_to(table)", "pick(apple_1)")  # navigate_to(table) does not match the rule
    failed(run(engine, "navigate_to(counter)"), FailureCode.SLIPPED, "on the way to 'counter'")
    assert engine.world.held_object() is None
    assert base_distance(engine, "counter") < 0.05, "the base still arrived"
    assert relation(engine, "apple_1") != ("held_by", "robot")


def test_without_self_checks_skills_report_success_whatever_happened():
    """A robot without grasp or joint sensing: the world does the same, the skill does not notice."""
    engine = make_engine([{"type": "slip", "target": "apple_1", "on_skill": "pick"},
                          {"type": "locked", "target": "fridge_door"}], skill_self_checks=False)
    run_all(engine, "navigate_to(table)")
    assert run(engine, "pick(apple_1)").success
    assert engine.world.held_object() is None and relation(engine, "apple_1") == ("on", "table")
    run_all(engine, "navigate_to(counter)")
    assert run(engine, "place(apple_1, counter)").success, "it places with an empty hand"
    assert relation(engine, "apple_1") == ("on", "table")
    run_all(engine, "navigate_to(fridge)")
    assert run(engine, "open(fridge)").success
    assert engine.world.opening("fridge_door") <= 0.05


def test_slip_on_the_second_drive():
    engine = make_engine([{"type": "slip", "target": "apple_1", "on_skill": "navigate_to", "on_call": 2}])
    run_all(engine, "navigate_to(table)", "pick(apple_1)")  # call 1 of navigate_to
    failed(run(engine, "navigate_to(sink)"), FailureCode.SLIPPED)


def test_immediate_slip_drops_the_held_object():
    engine = make_engine()
    run_all(engine, "navigate_to(table)", "pick(apple_1)")
    engine.inject(fault_from_mapping({"type": "slip", "target": "apple_1"}))
    assert engine.world.held_object() is None
    for _ in range(75):
        engine.tick()
    # The arm was stowed over the base, so the apple fell to the floor in front of the robot.
    assert relation(engine, "apple_1") == ("none", None)
    assert engine.world.object_pose("apple_1").position_m[2] < 0.1
    assert engine.world.settle(1.0), "and came to rest"
    failed(run(engine, "place(apple_1, table)"), FailureCode.HAND_EMPTY)


@pytest.mark.parametrize("fault", [
    {"type": "slip", "target": "ghost_1"},
    {"type": "missing", "target": "ghost_1"},
    {"type": "moved", "target": "apple_1", "params": {"destination": "oven"}},
    {"type": "locked", "target": "oven_door"},
    {"type": "jammed", "target": "table"},
    {"type": "obstacle", "target": "roof"},
    {"type": "camera_drop", "target": "nope"},
])
def test_faults_with_unknown_targets_are_fault_errors(fault):
    engine = make_engine()
    bad = fault["params"]["destination"] if fault["type"] == "moved" else fault["target"]
    with pytest.raises(FaultError, match=bad):
        engine.inject(fault_from_mapping(fault))
    assert engine.schedule.pending == []
    assert run(engine, "navigate_to(table)").success, "the engine still works"


def test_a_rule_with_an_unknown_target_is_refused_when_armed_not_when_it_fires():
    engine = make_engine()
    with pytest.raises(FaultError, match="oven_door"):
        engine.inject(fault_from_mapping({"type": "locked", "target": "oven_door", "on_skill": "open"}))
    assert engine.schedule.pending == []
    with pytest.raises(FaultError, match="oven_door"):
        make_engine([{"type": "locked", "target": "oven_door", "on_skill": "open"}])


# --------------------------------------------------------------------------------- busy and cancel


def test_a_second_call_while_one_runs_is_busy():
    engine = make_engine()
    first = engine.start(parse_call("navigate_to(table)"))
    for _ in range(5):
        engine.tick()
    second = engine.start(parse_call("pick(apple_1)"))
    assert second.done.is_set(), "answered at once"
    failed(second.outcome, FailureCode.BUSY, "navigate_to(table)")
    assert not first.done.is_set()
    assert finish(engine, first).success
    assert base_distance(engine, "table") < 0.05
    assert run(engine, "pick(apple_1)").success


def test_cancel_stops_the_base_short_of_the_goal():
    engine = make_engine()
    job = engine.start(parse_call("navigate_to(counter)"))
    for _ in range(MAX_TICKS):
        engine.tick()
        if job.progress.phase == "drive" and job.progress.fraction > 0.6:
            break
    assert not job.done.is_set()
    job.cancel_requested = True
    engine.tick()
    assert job.done.is_set(), "a cancel takes effect on the next tick"
    failed(job.outcome, FailureCode.CANCELED, "canceled")
    stopped = engine.world.base_pose()
    assert base_distance(engine, "counter") > 0.2
    for _ in range(50):  # 1 s with no job: the base holds where it stopped
        engine.tick()
    here = engine.world.base_pose()
    assert math.hypot(here.x - stopped.x, here.y - stopped.y) < 0.05
    assert engine.job is None
    assert run(engine, "navigate_to(counter)").success
    assert base_distance(engine, "counter") < 0.05
    assert run(engine, "pick(mug_1)").success


def test_a_skill_past_its_timeout_is_stopped_with_timeout():
    engine = make_engine()
    job = engine.start(parse_call("navigate_to(counter)"), timeout_s=1.0)
    start_s = engine.time_s
    outcome = finish(engine, job)
    failed(outcome, FailureCode.TIMEOUT, "took longer than 1 s")
    assert 1.0 < engine.time_s - start_s < 1.1, "stopped on the first tick past the limit (simulated time)"
    assert base_distance(engine, "counter") > 0.2
    assert run(engine, "navigate_to(counter)").success


# ------------------------------------------------------------------------------------------ feedback


def test_pick_reports_phases_in_order_and_monotone_progress():
    engine = make_engine()
    run_all(engine, "navigate_to(table)")
    job = engine.start(parse_call("pick(apple_1)"))
    phases, fractions = [], []
    while not job.done.is_set():
        engine.tick()
        if job.done.is_set():
            break
        fractions.append(job.progress.fraction)
        if not phases or phases[-1] != job.progress.phase:
            phases.append(job.progress.phase)
    assert job.outcome.success
    assert len(phases) == len(set(phases)), f"a phase came back: {phases}"
    assert phases == ["open_gripper", "approach", "descend", "grasp", "lift", "stow_arm"]
    assert all(0.0 <= f <= 1.0 for f in fractions)
    assert all(b >= a for a, b in zip(fractions, fractions[1:])), "progress went backwards"
    assert fractions[0] < 0.2 and fractions[-1] == pytest.approx(1.0)


# ------------------------------------------------------------------------------------------- cameras


@pytest.fixture()
def camera_engine():
    engine = make_engine(cameras=("kitchen_overview", "head_rgbd"), camera_rate_hz=10, width=160, height=120)
    yield engine
    engine.close()


def tick_frames(engine: SimEngine, seconds: float) -> list[tuple[str, float]]:
    seen = []
    end = engine.time_s + seconds
    while engine.time_s < end - 1e-9:
        seen += [(f.name, f.stamp_s) for f in engine.tick()]
    return seen


def test_camera_drop_stops_frames_for_its_duration(camera_engine):
    engine = camera_engine
    before = tick_frames(engine, 0.3)
    assert {name for name, _ in before} == {"kitchen_overview", "head_rgbd"}
    t0 = engine.time_s
    engine.inject(fault_from_mapping({"type": "camera_drop", "target": "head_rgbd",
                                      "params": {"duration_s": 0.5}}))
    seen = tick_frames(engine, 1.2)
    overview = [t for name, t in seen if name == "kitchen_overview"]
    head = [t for name, t in seen if name == "head_rgbd"]
    assert len(overview) >= 11, "the other camera keeps publishing at 10 Hz"
    assert not [t for t in head if t <= t0 + 0.5 - 1e-6], "no frames during the drop"
    assert len([t for t in head if t > t0 + 0.5]) >= 5, "frames come back after 0.5 s"
    assert all(t - t0 <= 0.65 for t in head[:1]), "back at the first frame after the drop"
    assert engine.skills.camera_faults == {}


def test_camera_drop_for_good_and_by_rule(camera_engine):
    engine = camera_engine
    engine.inject(fault_from_mapping({"type": "camera_drop", "target": "kitchen_overview", "on_skill": "pick"}))
    assert "kitchen_overview" in {name for name, _ in tick_frames(engine, 0.3)}, "a rule waits for its call"
    run(engine, "pick(apple_1)")  # fails (out of reach) but the call fires the rule
    seen = tick_frames(engine, 2.0)
    assert {name for name, _ in seen} == {"head_rgbd"}


def test_depth_corrupt_breaks_the_requested_fraction(camera_engine):
    engine = camera_engine
    engine.inject(fault_from_mapping({"type": "depth_corrupt", "target": "head_rgbd",
                                      "params": {"fraction": 0.3}}))
    frames = []
    while not frames:
        frames = {f.name: f for f in engine.tick()}
    # Nothing moved since the frames were rendered: a clean render of the same state is the reference.
    for name, frame in frames.items():
        clean = engine.rig.render(engine.world.data, name).depth_m
        valid = np.isfinite(clean)
        assert valid.mean() > 0.5  # the overview camera sees some sky over the low walls
        broken = (np.isnan(frame.depth_m) | (frame.depth_m != clean))[valid]
        if name == "head_rgbd":
            assert 0.25 < broken.mean() < 0.35, broken.mean()
            assert 0.1 < np.isnan(frame.depth_m[valid]).mean() < 0.2, "about half of them are dropouts"
        else:
            assert broken.mean() == 0.0, "other cameras are untouched"
        np.testing.assert_array_equal(frame.rgb, engine.rig.render(engine.world.data, name).rgb)


def test_unknown_camera_in_a_fault_is_a_fault_error(camera_engine):
    with pytest.raises(FaultError, match="unknown camera 'ceiling_cam'.*head_rgbd"):
        camera_engine.inject(fault_from_mapping({"type": "camera_drop", "target": "ceiling_cam"}))
    with pytest.raises(FaultError, match="unknown camera"):
        camera_engine.inject(fault_from_mapping({"type": "depth_corrupt", "target": "ceiling_cam"}))
    assert camera_engine.schedule.pending == []
    assert camera_engine.skills.camera_faults == {}


# -------------------------------------------------------------------------------------- determinism


def test_the_same_scenario_runs_identically_twice():
    plan = ["navigate_to(table)", "pick(apple_1)", "navigate_to(fridge)", "place(apple_1, fridge)",
            "navigate_to(counter)", "place(apple_1, counter)", "navigate_to(drawer)", "open(drawer)",
            "pick(sponge_1)", "navigate_to(sink)", "place(sponge_1, sink)"]
    faults = [{"type": "slip", "target": "sponge_1", "on_skill": "navigate_to", "on_argument": "sink"}]

    def rollout():
        engine = make_engine(faults, random_objects=5, seed=3)
        outcomes = []
        for text in plan:
            outcomes.append(run(engine, text))
        gt = engine.ground_truth()
        return outcomes, {o.id: np.asarray(o.pose.position_m) for o in gt.objects}, engine.time_s

    outcomes_a, positions_a, time_a = rollout()
    outcomes_b, positions_b, time_b = rollout()
    assert outcomes_a == outcomes_b
    assert time_a == time_b
    assert [o.code for o in outcomes_a].count(FailureCode.CONTAINER_CLOSED) == 1
    assert outcomes_a[-2].code is FailureCode.SLIPPED
    assert positions_a.keys() == positions_b.keys() and len(positions_a) == 10
    for oid in positions_a:
        np.testing.assert_allclose(positions_a[oid], positions_b[oid], atol=1e-9, rtol=0, err_msg=oid)


def test_locking_an_open_door_holds_it_open():
    engine = make_engine()
    assert run(engine, "navigate_to(fridge)").success and run(engine, "open(fridge)").success
    engine.inject(fault_from_mapping({"type": "locked", "target": "fridge_door"}))
    for _ in range(50):
        engine.tick()
    assert engine.world.opening("fridge_door") > 0.9, "a lock does not slam the door"
    failed(run(engine, "close(fridge)"), FailureCode.BLOCKED)


def test_idle_time_between_skills_changes_nothing():
    """As under the ROS node: the world keeps stepping while no skill runs, and every next skill still works."""
    from planner_ros.paths import config_dir
    from planner_ros.sim.goals import evaluate
    from planner_ros.sim.scenario import load_scenarios

    scenario = load_scenarios(config_dir() / "tasks")["store_milk_and_close:clean"]
    engine = SimEngine(EpisodeConfig(scenario=scenario))
    for call in scenario.plan:
        outcome = finish(engine, engine.start(call))
        assert outcome.success, (call.text, outcome)
        for _ in range(100):
            engine.tick()
    assert evaluate(scenario.goal, engine.facts()).success
