"""Relations computed from geometry: on, in (an object's centre inside a receptacle's volume), on another
object, next_to, held_by and part_of.

The on/in definition is the semantic map's: an object is on a surface or in a container when its box
centre lies inside the receptacle's volume (a few centimetres of slack below, for an object sunk slightly
into its support, and at the sides). Containers are tested first: a drawer lies inside the cabinet's
footprint, and "in" is the stronger claim. An open drawer's volume moves out with it.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

from planner_ros.scene_graph.model import NodeKind, NodeStatus, Relation, SceneNode
from planner_ros.scene_graph.semantic_map import SemanticMap

__all__ = ["ROBOT_ID", "compute_relations", "support_of"]

ROBOT_ID = "robot"
SIDE_SLACK_M = 0.01
BELOW_SLACK_M = 0.03
NEXT_TO_GAP_M = 0.10     # horizontal gap between two boxes on the same support
STACK_GAP_M = 0.03       # an object resting on another: its bottom this close to the other's top


def _volumes(semantic_map: SemanticMap, openings: Mapping[str, float]) -> tuple[list, np.ndarray, np.ndarray]:
    """Receptacles in test order (containers first), with their volumes' min and max corners (R, 3)."""
    order = sorted(semantic_map.receptacles.values(), key=lambda r: (r.kind != "container", r.id))
    boxes = [semantic_map.receptacle_volume(r.id, openings.get(r.part, 0.0) if r.part else 0.0) for r in order]
    return order, np.array([b.lo for b in boxes]), np.array([b.hi for b in boxes])


def _supports(positions: np.ndarray, semantic_map: SemanticMap, openings: Mapping[str, float]) -> list[tuple[str, str] | None]:
    order, lo, hi = _volumes(semantic_map, openings)
    p = positions[:, None, :]
    inside = (np.all(p[..., :2] >= lo[None, :, :2] - SIDE_SLACK_M, axis=2)
              & np.all(p[..., :2] <= hi[None, :, :2] + SIDE_SLACK_M, axis=2)
              & (p[..., 2] >= lo[None, :, 2] - BELOW_SLACK_M) & (p[..., 2] <= hi[None, :, 2]))
    out: list[tuple[str, str] | None] = []
    for row in inside:
        hit = np.flatnonzero(row)
        rec = order[hit[0]] if hit.size else None
        out.append(None if rec is None else ("in" if rec.kind == "container" else "on", rec.id))
    return out


def support_of(position_m: np.ndarray, semantic_map: SemanticMap, openings: Mapping[str, float]) -> tuple[str, str] | None:
    """("in" | "on", receptacle id) for a box centre, or None."""
    return _supports(np.asarray(position_m, dtype=float)[None, :], semantic_map, openings)[0]


def compute_relations(nodes: Iterable[SceneNode], semantic_map: SemanticMap, openings: Mapping[str, float],
                      held_id: str | None) -> list[Relation]:
    """Every relation among the nodes, sorted (subject, predicate, object); missing objects have none.
    Pairwise tests run on arrays: a graph of hundreds of objects is recomputed in milliseconds."""
    objects = [n for n in nodes if n.kind == NodeKind.OBJECT and n.status != NodeStatus.MISSING]
    relations: list[Relation] = [Relation(part.id, "part_of", part.parent, 1.0) for part in semantic_map.parts.values()]
    if held_id is not None and any(n.id == held_id for n in objects):
        relations.append(Relation(held_id, "held_by", ROBOT_ID, 1.0))
    placed = [n for n in objects if n.id != held_id]
    if placed:
        ids = [n.id for n in placed]
        pos = np.array([n.position_m for n in placed], dtype=float)
        size = np.array([n.size_m for n in placed], dtype=float)
        conf = np.array([n.confidence for n in placed], dtype=float)
        supports = _supports(pos, semantic_map, openings)
        for i, found in enumerate(supports):
            if found is not None:
                relations.append(Relation(ids[i], found[0], found[1], float(conf[i])))
        # a on b: a's centre over b's footprint, a's bottom at b's top.
        offset = np.abs(pos[:, None, :2] - pos[None, :, :2])
        gap_z = (pos[:, None, 2] - size[:, None, 2] / 2) - (pos[None, :, 2] + size[None, :, 2] / 2)
        stacked = np.all(offset <= size[None, :, :2] / 2, axis=2) & (np.abs(gap_z) <= STACK_GAP_M)
        np.fill_diagonal(stacked, False)
        # next_to: same support, boxes within NEXT_TO_GAP_M horizontally, and not stacked either way.
        support_ids = np.array([f[1] if f else "" for f in supports], dtype=object)
        same_support = (support_ids[:, None] == support_ids[None, :]) & (support_ids[:, None] != "")
        gap = np.maximum(offset - (size[:, None, :2] + size[None, :, :2]) / 2, 0.0)
        near = same_support & (np.linalg.norm(gap, axis=2) <= NEXT_TO_GAP_M) & ~stacked & ~stacked.T
        np.fill_diagonal(near, False)
        pair_conf = np.minimum(conf[:, None], conf[None, :])
        for predicate, mask in (("on", stacked), ("next_to", near)):
            for a, b in zip(*np.nonzero(mask)):
                relations.append(Relation(ids[a], predicate, ids[b], float(pair_conf[a, b])))
    return sorted(relations, key=lambda r: (r.subject_id, r.predicate, r.object_id))
