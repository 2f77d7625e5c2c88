"""Questions the planner asks the scene graph: find objects by name, describe the scene for a prompt,
propose where to look for an object the graph does not hold (TaPA: search before declaring it missing)."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from planner_ros.names import normalise_name
from planner_ros.perception.vocabulary import DEFAULT_SIMILARITY_THRESHOLD, TextEmbedder
from planner_ros.scene_graph.graph import SceneGraph
from planner_ros.scene_graph.model import NodeKind, NodeStatus, SceneNode
from planner_ros.scene_graph.relations import support_of

__all__ = ["ObjectMatch", "ViewpointProposal", "describe_scene", "find_objects", "propose_viewpoints"]

RECENTLY_SEEN_S = 30.0


@dataclass(frozen=True)
class ObjectMatch:
    node: SceneNode
    score: float
    how: str  # "exact", "synonym" or "embedding"


@dataclass(frozen=True)
class ViewpointProposal:
    name: str
    x: float
    y: float
    yaw: float
    score: float
    reason: str


def find_objects(graph: SceneGraph, query: str, *, synonyms: Mapping[str, Sequence[str]] | None = None,
                 embedder: TextEmbedder | None = None, min_score: float = DEFAULT_SIMILARITY_THRESHOLD,
                 max_results: int = 0) -> list[ObjectMatch]:
    """Nodes whose id or label is the query, whose label has it as a synonym, or (with an embedder) whose
    label means nearly the same; best first, then by id. Missing objects are included (their status says so)."""
    key = normalise_name(query)
    if not key:
        return []
    aliases = {normalise_name(label): {normalise_name(a) for a in names} for label, names in (synonyms or {}).items()}
    matches: dict[str, ObjectMatch] = {}
    unmatched: list[SceneNode] = []
    for node in graph.nodes.values():
        label = normalise_name(node.label)
        if key in (normalise_name(node.id), label):
            matches[node.id] = ObjectMatch(node, 1.0, "exact")
        elif key in aliases.get(label, ()):
            matches[node.id] = ObjectMatch(node, 1.0, "synonym")
        else:
            unmatched.append(node)
    if embedder is not None and unmatched and not matches:
        labels = sorted({normalise_name(n.label) for n in unmatched})
        vectors = embedder.embed([*labels, key])
        scores = dict(zip(labels, (vectors[:-1] @ vectors[-1]).tolist()))
        for node in unmatched:
            score = scores[normalise_name(node.label)]
            if score >= min_score:
                matches[node.id] = ObjectMatch(node, round(float(score), 4), "embedding")
    ranked = sorted(matches.values(), key=lambda m: (-m.score, m.node.status == NodeStatus.MISSING, m.node.id))
    return ranked[:max_results] if max_results else ranked


def _where(graph: SceneGraph, node_id: str) -> str:
    parts = [f"{r.predicate} {r.object_id}" for r in graph.relations() if r.subject_id == node_id
             and r.predicate != "part_of"]
    return "; ".join(parts) if parts else "on nothing known"


def _part_text(node: SceneNode) -> str:
    state = node.states.get("open")
    if state is None:
        return f"{node.id}: state unknown (not observed yet)"
    return f"{node.id}: {'open' if state.value == 'true' else 'closed'} ({state.amount:.2f} open, conf {state.confidence:.2f})"


def _object_text(graph: SceneGraph, node: SceneNode) -> str:
    p = ", ".join(f"{v:.2f}" for v in node.position_m)
    if node.status == NodeStatus.MISSING:
        return f"- {node.id} ({node.label}): MISSING, last seen at ({p}) at t={node.last_seen_s:.1f} s"
    status = "visible" if node.status == NodeStatus.VISIBLE else f"remembered, last seen t={node.last_seen_s:.1f} s"
    return f"- {node.id} ({node.label}): {_where(graph, node.id)}; {status}; conf {node.confidence:.2f}"


def describe_scene(graph: SceneGraph, focus_names: Sequence[str] = (), *, max_objects: int = 0,
                   synonyms: Mapping[str, Sequence[str]] | None = None, embedder: TextEmbedder | None = None) -> str:
    """Compact, deterministic text for a prompt. With focus names: only the objects they match, the
    receptacles and parts those objects or names involve, and which names the graph does not hold."""
    objects = sorted(graph.objects(), key=lambda n: n.id)
    absent: list[str] = []
    if focus_names:
        chosen: dict[str, SceneNode] = {}
        named_fixed: set[str] = set()
        for name in focus_names:
            found = find_objects(graph, name, synonyms=synonyms, embedder=embedder)
            for m in found:
                (chosen.__setitem__(m.node.id, m.node) if m.node.kind == NodeKind.OBJECT else named_fixed.add(m.node.id))
            if not found:
                absent.append(name)
        objects = sorted(chosen.values(), key=lambda n: n.id)
        related = {r.object_id for r in graph.relations() if r.subject_id in chosen} | named_fixed
    else:
        related = set(graph.map.receptacles) | set(graph.map.parts)
    if max_objects:
        objects = objects[:max_objects]
    held = graph.held_id or "nothing"
    lines = [f"Scene graph revision {graph.revision} at t={graph.stamp_s:.1f} s (frame {graph.map.frame_id}). "
             f"The robot holds {held}."]
    recs = sorted(r for r in graph.map.receptacles if r in related or any(
        p.closes == r and p.id in related for p in graph.map.parts.values()))
    if recs:
        lines.append("Receptacles: " + ", ".join(
            f"{r} ({graph.map.receptacles[r].kind})" for r in recs) + ".")
    parts = sorted(p.id for p in graph.map.parts.values() if p.closes in recs or p.id in related)
    if parts:
        lines.append("Doors and drawers: " + "; ".join(_part_text(graph.nodes[p]) for p in parts) + ".")
    lines.append("Objects:" if objects else "Objects: none known" + (" that match the task." if focus_names else "."))
    lines += [_object_text(graph, n) for n in objects]
    if absent:
        lines.append("Not in the scene graph: " + ", ".join(absent) + " (not seen yet: search before assuming absent).")
    return "\n".join(lines)


def propose_viewpoints(graph: SceneGraph, object_name: str, *, max_viewpoints: int = 3,
                       synonyms: Mapping[str, Sequence[str]] | None = None) -> list[ViewpointProposal]:
    """Where to look for an object: the place it was last seen if it is missing, then receptacles no camera
    has looked into recently (closed containers need their door opened first), best first."""
    now = graph.stamp_s
    openings = graph.openings()
    matches = find_objects(graph, object_name, synonyms=synonyms)
    last_places = {r.object_id for m in matches for r in graph.relations() if r.subject_id == m.node.id}
    missing_at = {}
    for m in matches:
        if m.node.status == NodeStatus.MISSING:
            found = support_of(m.node.position_m, graph.map, openings)
            if found:
                missing_at[found[1]] = m.node.id
    proposals = []
    for vp in graph.map.viewpoints.values():
        rec = graph.map.receptacles.get(vp.target)
        if rec is None or vp.look_inside:
            # Viewpoints of doors and drawers are for using them; a look-inside viewpoint is where searching
            # the receptacle ends up once it is open (ReceptacleView.look_from), not a place of its own.
            continue
        seen = graph.receptacle_seen_s.get(rec.id)
        if seen is None:
            score, why = 1.0, "no camera has looked into it yet"
        elif now - seen > RECENTLY_SEEN_S:
            score, why = 0.6, f"last looked into {now - seen:.0f} s ago"
        else:
            score, why = 0.1, f"looked into {now - seen:.0f} s ago without finding it"
        if rec.id in missing_at:
            score, why = 1.5, f"{missing_at[rec.id]} was last seen here"
        elif rec.id in last_places:
            score, why = 1.2, "it was last seen here"
        if rec.part and openings.get(rec.part, 0.0) < graph.settings.open_threshold:
            score *= 0.8
            why += f"; closed: open {rec.part} to look inside"
        proposals.append(ViewpointProposal(vp.name, vp.x, vp.y, vp.yaw, round(score, 3), why))
    proposals.sort(key=lambda p: (-p.score, p.name))
    return proposals[:max_viewpoints] if max_viewpoints else proposals
