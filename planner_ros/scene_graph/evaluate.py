"""`planner-ros eval scene-graph`: the scene graph against simulator ground truth, on held-out scenes.

The graph is fed only what the robot would have: perception's fused tracks (the same pipeline the node
runs, with the chosen detector) and the cameras' depth images with their poses. Ground truth (object poses,
containment, part openings, which objects a camera shows) is read here only to score, never given to it.

Static scenes (seeds from EVAL_SEEDS, as `eval perception` draws them): every view of the scene (fixed
cameras, robot cameras at `robot_poses` poses) goes through the pipeline; the views of one instant are fed
as one step (each frame's fused tracks to `update`, then all of them to `observe_views`). Scored:
- on/in relations: graph object nodes are matched to ground-truth objects (same kind, centres within
  MATCH_DISTANCE_M, one-to-one, nearest pairs first; missing nodes are not matched). Recall is over the
  true (object, on|in, receptacle) triples of the objects that at least one view shows with
  MIN_EVAL_PIXELS; precision over the graph's on/in relations from objects to receptacles: true when the
  node is matched and its object really is on/in that receptacle, false otherwise (unmatched nodes too).
- doors and drawers: a part counts as covered when the graph holds an open/closed state for it; that state
  is correct when (estimated open) == (true opening >= 0.5); the fraction error is |estimate - truth|.

Scripted episodes (seeds EPISODE_SEED_OFFSET above the static ones, also in EVAL_SEEDS): the fixed cameras
and the head camera render every `period_s` of simulated time while physics runs. After `warmup_s` an
object the graph holds (matched, on/in a receptacle, shown by some camera) is moved to a free spot on
another receptacle that a camera shows, as the simulator's MOVED fault does; after `moved_watch_s` the
move succeeded when exactly one node of its kind lies at the new place, it is the node that held the object
before, and no node of its kind is left (visible or remembered) at the old place. Then another object in
view is taken out of the house, as the MISSING fault does; success when its node is MISSING within
`missing_deadline_s`. Wall time per graph call (update and observe_views) is measured throughout.
"""
from __future__ import annotations

import json
import math
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

import planner_ros.sim  # noqa: F401  (headless GL backend before mujoco loads)
from planner_ros.names import normalise_name
from planner_ros.perception.detection import Detector
from planner_ros.perception.evaluation import MATCH_DISTANCE_M, MIN_EVAL_PIXELS
from planner_ros.perception.sim_views import EVAL_SEEDS, FIXED_CAMERAS, random_robot_pose, random_scene, scene_views
from planner_ros.scene_graph.feeder import GraphFeeder
from planner_ros.scene_graph.graph import SceneGraph
from planner_ros.scene_graph.model import NodeKind, NodeStatus, SceneNode
from planner_ros.sim.cameras import CameraFrame, CameraRig
from planner_ros.sim.faults import FaultError, FaultSchedule, FaultSpec, FaultType
from planner_ros.sim.skills import OPEN_ENOUGH, SimSkills
from planner_ros.sim.world import World

__all__ = ["EPISODE_CAMERAS", "EPISODE_SEED_OFFSET", "SceneGraphReport", "TARGETS", "check_seeds",
           "evaluate_scene_graph", "format_report"]

EPISODE_SEED_OFFSET = 5000
EPISODE_CAMERAS = FIXED_CAMERAS + ("head_rgbd",)
OPEN_AT = 0.5  # a part at least this open is open (ground truth and the graph's threshold)
TARGETS = {"relation_precision": 0.9, "relation_recall": 0.9, "articulation_accuracy": 0.95,
           "moved_success": 0.95, "missing_deadline_s": 3.0}

Progress = Callable[[str, int, int], None]


@dataclass
class SceneGraphReport:
    backend: str
    is_oracle: bool
    scene_seeds: tuple[int, int]
    scenes: int
    frames: int
    relations: dict[str, float]         # precision, recall and their counts (on/in only)
    objects: dict[str, float]           # node-level matching: recall of visible objects, precision of nodes
    articulation: dict[str, float]      # accuracy, coverage, mean_abs_error and counts
    episode_seeds: tuple[int, int]
    episodes: int
    moved: dict[str, float]             # runs, successes, success_rate
    removed: dict[str, float]           # runs, successes (within the deadline), success_rate, delays
    update_ms_median: float             # SceneGraph.update, per call
    observe_views_ms_median: float      # SceneGraph.observe_views, per call (all views of one instant)
    rejected_observations: dict[str, int]  # the graph's rejection reasons (numbers blanked) -> observations
    rejected_tracks: int                   # distinct perception tracks rejected at least once
    image_size: tuple[int, int] = (640, 480)
    notes: list[str] = field(default_factory=list)  # why an episode could not run or failed
    wall_s: float = 0.0

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1, default=float)


def check_seeds(scenes: int, episodes: int, first_seed: int | None = None) -> tuple[range, range]:
    """(static scene seeds, episode seeds); ValueError saying what is wrong when they are not usable."""
    if scenes < 1 or episodes < 1:
        raise ValueError(f"--scenes and --episodes must be at least 1, got {scenes} and {episodes}")
    start = EVAL_SEEDS.start if first_seed is None else first_seed
    static = range(start, start + scenes)
    scripted = range(start + EPISODE_SEED_OFFSET, start + EPISODE_SEED_OFFSET + episodes)
    for what, seeds in (("scene", static), ("episode", scripted)):
        if seeds.start < EVAL_SEEDS.start or seeds.stop > EVAL_SEEDS.stop:
            raise ValueError(f"evaluation seeds must lie in {EVAL_SEEDS.start}..{EVAL_SEEDS.stop - 1} (held out "
                             f"from training); {what} seeds would be {seeds.start}..{seeds.stop - 1} (episodes use "
                             f"first seed + {EPISODE_SEED_OFFSET}, so the first seed can be at most "
                             f"{EVAL_SEEDS.stop - EPISODE_SEED_OFFSET - episodes})")
    return static, scripted


# -- feeding the graph ----------------------------------------------------------------------------------

def _instants(views: Iterable) -> Iterable[list]:
    """Consecutive items grouped by their frame's stamp."""
    group: list = []
    for item in views:
        if group and item[1].frame.stamp_s != group[0][1].frame.stamp_s:
            yield group
            group = []
        group.append(item)
    if group:
        yield group


# -- matching and scoring -------------------------------------------------------------------------------

def _same_kind(node: SceneNode, kind: str) -> bool:
    return normalise_name(node.label) == normalise_name(kind)


def _match(graph: SceneGraph, world: World) -> dict[str, str]:
    """node id -> object id: same kind, centres within MATCH_DISTANCE_M, one-to-one, nearest pairs first.
    Missing nodes claim no object."""
    truth = {oid: (info.kind, np.asarray(world.object_pose(oid).position_m))
             for oid, info in world.index.objects.items()}
    pairs = sorted((float(np.linalg.norm(n.position_m - centre)), n.id, oid)
                   for n in graph.objects() if n.status != NodeStatus.MISSING
                   for oid, (kind, centre) in truth.items() if _same_kind(n, kind))
    matched: dict[str, str] = {}
    taken: set[str] = set()
    for d, nid, oid in pairs:
        if d <= MATCH_DISTANCE_M and nid not in matched and oid not in taken:
            matched[nid] = oid
            taken.add(oid)
    return matched


@dataclass
class _Tally:
    rel_tp: int = 0          # graph on/in relations that are true
    rel_graph: int = 0       # graph on/in relations (object -> receptacle)
    rel_found: int = 0       # true triples of visible objects the graph holds
    rel_truth: int = 0       # true on/in triples of visible objects
    visible: int = 0
    visible_matched: int = 0
    nodes: int = 0
    nodes_matched: int = 0
    parts: int = 0
    parts_covered: int = 0
    parts_correct: int = 0
    fraction_errors: list[float] = field(default_factory=list)

    def add_scene(self, graph: SceneGraph, world: World, visible: set[str]) -> None:
        matched = _match(graph, world)
        truth = {oid: world.containment(oid) for oid in world.index.objects}
        receptacles = set(graph.map.receptacles)
        held: dict[str, set[tuple[str, str]]] = {}
        for r in graph.relations():
            if r.predicate in ("on", "in") and r.object_id in receptacles \
                    and graph.nodes[r.subject_id].kind == NodeKind.OBJECT:
                self.rel_graph += 1
                oid = matched.get(r.subject_id)
                self.rel_tp += oid is not None and truth[oid] == (r.predicate, r.object_id)
                if oid is not None:
                    held.setdefault(oid, set()).add((r.predicate, r.object_id))
        for oid in visible:
            if truth[oid][0] in ("on", "in"):
                self.rel_truth += 1
                self.rel_found += truth[oid] in held.get(oid, set())
        live = [n for n in graph.objects() if n.status != NodeStatus.MISSING]
        self.nodes += len(live)
        self.nodes_matched += len(matched)
        self.visible += len(visible)
        self.visible_matched += len(visible & set(matched.values()))
        for pid in graph.map.parts:
            self.parts += 1
            state = graph.nodes[pid].states.get("open")
            if state is None:
                continue
            true_fraction = world.opening(pid)
            self.parts_covered += 1
            self.parts_correct += (state.value == "true") == (true_fraction >= OPEN_AT)
            self.fraction_errors.append(abs(state.amount - true_fraction))

    def relations(self) -> dict[str, float]:
        return {"precision": _ratio(self.rel_tp, self.rel_graph), "recall": _ratio(self.rel_found, self.rel_truth),
                "true_graph_relations": self.rel_tp, "graph_relations": self.rel_graph,
                "found_true_relations": self.rel_found, "true_relations": self.rel_truth}

    def objects(self) -> dict[str, float]:
        return {"recall": _ratio(self.visible_matched, self.visible),
                "precision": _ratio(self.nodes_matched, self.nodes),
                "visible_objects": self.visible, "nodes": self.nodes}

    def articulation(self) -> dict[str, float]:
        return {"accuracy": _ratio(self.parts_correct, self.parts_covered),
                "coverage": _ratio(self.parts_covered, self.parts),
                "mean_abs_error": float(np.mean(self.fraction_errors)) if self.fraction_errors else math.nan,
                "parts": self.parts, "with_state": self.parts_covered, "correct": self.parts_correct}


def _ratio(a: int, b: int) -> float:
    return a / b if b else math.nan


# -- static scenes --------------------------------------------------------------------------------------

def _min_pixels(width: int, height: int) -> int:
    """MIN_EVAL_PIXELS (set for 640x480) at another resolution: the same share of the image."""
    return max(1, round(MIN_EVAL_PIXELS * width * height / (640 * 480)))


def _static_scene(detector: Detector, seed: int, robot_poses: int, width: int, height: int,
                  tally: _Tally) -> GraphFeeder:
    views = scene_views(seed, robot_poses=robot_poses, width=width, height=height)
    min_px = _min_pixels(width, height)
    feeder: GraphFeeder | None = None
    visible: set[str] = set()
    world: World | None = None
    try:
        for group in _instants(views):
            world = group[0][0]
            if feeder is None:
                feeder = GraphFeeder(detector, world)
            feeder.step([view.frame for _, view in group])
            visible |= {o.object_id for _, view in group for o in view.objects if o.visible_px >= min_px}
    finally:
        views.close()
    assert feeder is not None and world is not None
    tally.add_scene(feeder.graph, world, visible)
    return feeder


# -- scripted episodes ----------------------------------------------------------------------------------

@dataclass
class _EpisodeResult:
    moved: bool | None = None     # None: could not be run (no suitable object or destination)
    staged: int = 0               # objects moved into view before the episode began
    removed_delay_s: float | None = None
    removed_run: bool = False
    notes: list[str] = field(default_factory=list)


class _Episode:
    def __init__(self, detector: Detector, seed: int, period_s: float, width: int, height: int) -> None:
        self.seed = seed
        self.world, self.rng = random_scene(seed)
        random_robot_pose(self.world, self.rng)
        self.period_s = period_s
        self.skills = SimSkills(self.world, FaultSchedule())
        self.rig = CameraRig(self.world.model, EPISODE_CAMERAS, width=width, height=height)
        self.feeder = GraphFeeder(detector, self.world)
        self.frames: list[CameraFrame] = []
        self.min_px = _min_pixels(width, height)

    def close(self) -> None:
        self.rig.close()

    def render(self) -> list[CameraFrame]:
        return [self.rig.render(self.world.data, name, segmentation=True) for name in EPISODE_CAMERAS]

    def observe(self, seconds: float, until: Callable[[], bool] | None = None) -> None:
        """Advance physics and feed the graph every period for `seconds` (or until `until()` holds)."""
        steps = max(1, round(self.period_s / self.world.timestep_s))
        for _ in range(max(1, round(seconds / self.period_s))):
            self.world.step(steps)
            self.frames = self.render()
            self.feeder.step(self.frames)
            if until is not None and until():
                return

    def visible_px(self, frames: Sequence[CameraFrame] | None = None) -> dict[str, int]:
        """Ground truth: each object's largest pixel count over the cameras' latest segmentation."""
        frames = self.frames if frames is None else frames
        return {oid: max(int(np.isin(f.segmentation, self.world.object_geom_ids(oid)).sum()) for f in frames)
                for oid in self.world.index.objects}

    def candidates(self, exclude: set[str]) -> list[tuple[str, str]]:
        """(node id, object id) of objects the graph holds, on/in a receptacle and in some camera's view."""
        matched = _match(self.feeder.graph, self.world)
        shown = self.visible_px()
        out = [(nid, oid) for nid, oid in sorted(matched.items(), key=lambda kv: kv[1])
               if oid not in exclude and shown[oid] >= self.min_px
               and self.feeder.graph.nodes[nid].status == NodeStatus.VISIBLE
               and self.world.containment(oid)[0] in ("on", "in")]
        order = self.rng.permutation(len(out))
        return [out[i] for i in order]

    def destinations(self, oid: str) -> list[str]:
        here = self.world.containment(oid)[1]
        out = []
        for rid, info in sorted(self.world.index.receptacles.items()):
            if rid == here or (info.part is not None and self.world.opening(info.part) < OPEN_ENOUGH):
                continue
            out.append(rid)
        order = self.rng.permutation(len(out))
        return [out[i] for i in order]

    def move(self, oid: str) -> tuple[str, np.ndarray] | None:
        """Move `oid` to a free spot on another receptacle that some camera shows it on: (receptacle, position)."""
        pose = self.world.object_pose(oid)
        old = np.asarray(pose.position_m)
        x, y, z, w = pose.orientation_xyzw
        yaw = math.atan2(2.0 * (w * z + x * y), 1.0 - 2.0 * (y * y + z * z))
        for dest in self.destinations(oid):
            try:
                self.skills.apply_fault(FaultSpec(FaultType.MOVED, oid, params={"destination": dest}, id="eval_move"))
            except FaultError:
                continue  # no free spot there
            if self.world.containment(oid)[1] == dest and self.visible_px(self.render())[oid] >= self.min_px:
                return dest, np.asarray(self.world.object_pose(oid).position_m)
            self.world.teleport_object(oid, tuple(old), yaw)  # not in view there: put it back, try another
        return None

    def stage(self, count: int) -> int:
        """Before the graph sees anything: move objects into the cameras' view (as the MOVED fault does)
        until at least `count` objects on or in receptacles are shown; returns how many were moved."""
        shown = self.visible_px(self.render())
        in_view = [o for o, px in shown.items() if px >= self.min_px and self.world.containment(o)[0] in ("on", "in")]
        hidden = sorted(o for o in shown if o not in in_view)
        staged = 0
        for i in self.rng.permutation(len(hidden)):
            if len(in_view) >= count:
                break
            if self.move(hidden[i]) is not None:
                in_view.append(hidden[i])
                staged += 1
        return staged

    def remove(self, oid: str) -> None:
        self.skills.apply_fault(FaultSpec(FaultType.MISSING, oid, id="eval_remove"))


def _run_episode(detector: Detector, seed: int, *, period_s: float, warmup_s: float, moved_watch_s: float,
                 missing_deadline_s: float, width: int, height: int) -> tuple[_EpisodeResult, GraphFeeder]:
    result = _EpisodeResult()
    ep = _Episode(detector, seed, period_s, width, height)
    try:
        graph, world = ep.feeder.graph, ep.world
        result.staged = ep.stage(2)  # one to move, one to remove
        ep.observe(warmup_s)
        # Moved: the node that held the object must follow it, and nothing may stay behind.
        moved_oid = None
        for nid, oid in ep.candidates(set()):
            kind = world.index.objects[oid].kind
            old = np.asarray(world.object_pose(oid).position_m)
            placed = ep.move(oid)
            if placed is None:
                continue
            dest, new = placed
            moved_oid = oid
            ep.observe(moved_watch_s)
            new = np.asarray(world.object_pose(oid).position_m)  # where it came to rest
            others = [np.asarray(world.object_pose(o).position_m) for o, info in world.index.objects.items()
                      if o != oid and info.kind == kind]
            same = [n for n in graph.objects() if _same_kind(n, kind) and n.status != NodeStatus.MISSING]
            # Nodes of another object of the same kind nearby (closer to it than to the place) do not count.
            def near(n: SceneNode, place: np.ndarray) -> bool:
                d = float(np.linalg.norm(n.position_m - place))
                return d <= MATCH_DISTANCE_M and all(d <= np.linalg.norm(n.position_m - o) for o in others)
            at_new = [n.id for n in same if near(n, new)]
            left = [n.id for n in same if near(n, old) and n.id not in at_new]
            result.moved = at_new == [nid] and not left
            if not result.moved:
                result.notes.append(f"seed {seed}: {oid} ({nid}) moved to {dest}: nodes at the new place {at_new}, "
                                    f"left at the old place {left}")
            break
        if moved_oid is None:
            result.notes.append(f"seed {seed}: no object in view could be moved to a receptacle in view; "
                                "moved not run")
        # Removed: the node of an object taken away in view must go missing within the deadline.
        candidates = ep.candidates({moved_oid} if moved_oid else set())
        if not candidates:
            result.notes.append(f"seed {seed}: no object in view left to remove; removed not run")
            return result, ep.feeder
        nid, oid = candidates[0]
        removed_at = world.time_s
        ep.remove(oid)
        result.removed_run = True
        node = graph.nodes[nid]
        ep.observe(missing_deadline_s + 1.0, until=lambda: node.status == NodeStatus.MISSING)
        if node.status == NodeStatus.MISSING:
            result.removed_delay_s = graph.stamp_s - removed_at
        if result.removed_delay_s is None or result.removed_delay_s > missing_deadline_s:
            late = "never" if result.removed_delay_s is None else f"after {result.removed_delay_s:.2f} s"
            result.notes.append(f"seed {seed}: {oid} ({nid}) removed in view: marked missing {late} "
                                f"(status {node.status.name})")
        return result, ep.feeder
    finally:
        ep.close()


# -- the whole evaluation -------------------------------------------------------------------------------

def evaluate_scene_graph(detector: Detector, *, scenes: int = 10, episodes: int = 10, first_seed: int | None = None,
                         robot_poses: int = 2, period_s: float = 0.25, warmup_s: float = 2.0,
                         moved_watch_s: float = 4.0, missing_deadline_s: float = TARGETS["missing_deadline_s"],
                         width: int = 640, height: int = 480, progress: Progress | None = None) -> SceneGraphReport:
    """Score the graph on `scenes` static scenes and `episodes` scripted episodes (see the module text).

    `width`/`height` change the rendered resolution; the graph's own visibility thresholds are in pixels
    and set for 640x480, so other resolutions measure a differently tuned graph."""
    started = time.perf_counter()
    static_seeds, episode_seeds = check_seeds(scenes, episodes, first_seed)
    tally = _Tally()
    update_s: list[float] = []
    views_s: list[float] = []
    frames = 0
    rejected: Counter[str] = Counter()
    rejected_tracks = 0
    for i, seed in enumerate(static_seeds):
        feeder = _static_scene(detector, seed, robot_poses, width, height, tally)
        update_s += feeder.update_s
        views_s += feeder.views_s
        frames += feeder.frames
        rejected += feeder.rejected
        rejected_tracks += len(feeder.rejected_tracks)
        if progress is not None:
            progress("scene", i + 1, len(static_seeds))
    moved: list[bool] = []
    delays: list[float | None] = []
    notes: list[str] = []
    staged = 0
    for i, seed in enumerate(episode_seeds):
        result, feeder = _run_episode(detector, seed, period_s=period_s, warmup_s=warmup_s,
                                      moved_watch_s=moved_watch_s, missing_deadline_s=missing_deadline_s,
                                      width=width, height=height)
        update_s += feeder.update_s
        views_s += feeder.views_s
        rejected += feeder.rejected
        rejected_tracks += len(feeder.rejected_tracks)
        if result.moved is not None:
            moved.append(result.moved)
        if result.removed_run:
            delays.append(result.removed_delay_s)
        notes += result.notes
        staged += result.staged
        if progress is not None:
            progress("episode", i + 1, len(episode_seeds))
    marked = [d for d in delays if d is not None]
    in_time = sum(d <= missing_deadline_s for d in marked)
    return SceneGraphReport(
        backend=detector.describe(), is_oracle=detector.is_oracle,
        scene_seeds=(static_seeds.start, static_seeds.stop - 1), scenes=len(static_seeds), frames=frames,
        relations=tally.relations(), objects=tally.objects(), articulation=tally.articulation(),
        episode_seeds=(episode_seeds.start, episode_seeds.stop - 1), episodes=len(episode_seeds),
        moved={"runs": len(moved), "successes": sum(moved), "success_rate": _ratio(sum(moved), len(moved)),
               "objects_staged_into_view": staged},
        removed={"runs": len(delays), "successes": in_time, "success_rate": _ratio(in_time, len(delays)),
                 "never_marked": len(delays) - len(marked), "deadline_s": missing_deadline_s,
                 "delay_median_s": float(np.median(marked)) if marked else math.nan,
                 "delay_max_s": float(np.max(marked)) if marked else math.nan},
        update_ms_median=float(np.median(update_s) * 1e3) if update_s else math.nan,
        observe_views_ms_median=float(np.median(views_s) * 1e3) if views_s else math.nan,
        rejected_observations=dict(rejected.most_common()), rejected_tracks=rejected_tracks, image_size=(width, height), notes=notes, wall_s=time.perf_counter() - started)


def format_report(report: SceneGraphReport) -> str:
    def verdict(value: float, target: float, higher: bool = True) -> str:
        if math.isnan(value):
            return "n/a"
        return "ok" if (value >= target if higher else value <= target) else "BELOW" if higher else "ABOVE"

    rel, art, mv, rm, ob = report.relations, report.articulation, report.moved, report.removed, report.objects
    oracle = "  [ORACLE: simulator segmentation, not a detector]" if report.is_oracle else ""
    perfect = " (perfect detector)" if report.is_oracle else ""
    removed_ok = rm["success_rate"]
    rows = [
        (f"on/in relation precision{perfect}", f"{rel['precision']:.3f}", f">= {TARGETS['relation_precision']}",
         verdict(rel["precision"], TARGETS["relation_precision"]),
         f"{rel['true_graph_relations']}/{rel['graph_relations']} graph relations true"),
        (f"on/in relation recall{perfect}", f"{rel['recall']:.3f}", f">= {TARGETS['relation_recall']}",
         verdict(rel["recall"], TARGETS["relation_recall"]),
         f"{rel['found_true_relations']}/{rel['true_relations']} true relations of visible objects"),
        ("articulated open/closed correct", f"{art['accuracy']:.3f}", f">= {TARGETS['articulation_accuracy']}",
         verdict(art["accuracy"], TARGETS["articulation_accuracy"]),
         f"{art['correct']}/{art['with_state']}; coverage {art['coverage']:.2f} of {art['parts']} parts, "
         f"mean |fraction error| {art['mean_abs_error']:.3f}"),
        ("moved object updated, not duplicated", f"{mv['success_rate']:.3f}", f">= {TARGETS['moved_success']}",
         verdict(mv["success_rate"], TARGETS["moved_success"]), f"{mv['successes']}/{mv['runs']} episodes"),
        (f"removed in view: missing <= {rm['deadline_s']:.1f} s", f"{removed_ok:.3f}", "= 1.0",
         verdict(removed_ok, 1.0),
         f"{rm['successes']}/{rm['runs']}; delay median {rm['delay_median_s']:.2f} s, max {rm['delay_max_s']:.2f} s, "
         f"never {rm['never_marked']}"),
        ("graph update (median)", f"{report.update_ms_median:.2f} ms", "", "", "SceneGraph.update per message"),
        ("observe_views (median)", f"{report.observe_views_ms_median:.1f} ms", "", "",
         "visibility + door/drawer estimation, all views of one instant"),
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = [f"scene graph evaluation: {report.backend}{oracle}",
             f"held-out static scenes: seeds {report.scene_seeds[0]}..{report.scene_seeds[1]} ({report.scenes} scenes, "
             f"{report.frames} frames of {report.image_size[0]}x{report.image_size[1]}); scripted episodes: seeds "
             f"{report.episode_seeds[0]}..{report.episode_seeds[1]} ({report.episodes}, "
             f"{report.moved['objects_staged_into_view']} objects staged into view first)",
             ""]
    header = ("metric", "value", "target", "")
    lines.append("  ".join(h.ljust(w) for h, w in zip(header, widths)).rstrip())
    for r in rows:
        lines.append(("  ".join(c.ljust(w) for c, w in zip(r[:4], widths)) + "  " + r[4]).rstrip())
    lines += ["",
              f"object nodes: recall {ob['recall']:.3f} of {ob['visible_objects']} visible objects, precision "
              f"{ob['precision']:.3f} of {ob['nodes']} nodes; wall time {report.wall_s:.0f} s",
              f"observations the graph rejected: {sum(report.rejected_observations.values())} from "
              f"{report.rejected_tracks} tracks" + "".join(f"\n  {n:5d} x {reason}" for reason, n
                                                          in report.rejected_observations.items())]
    lines += [f"note: {n}" for n in report.notes]
    return "\n".join(lines)
