"""The scene graph as the planner sees it: a WorldView (planner_ros.planning.world) of ids, places and
door states. The planner reads nothing else from the graph, so another graph can feed it the same way."""
from __future__ import annotations

from collections.abc import Mapping

from planner_ros.planning.world import ObjectStatus, ObjectView, ReceptacleView, WorldView
from planner_ros.scene_graph.graph import SceneGraph
from planner_ros.scene_graph.model import NodeStatus
from planner_ros.scene_graph.semantic_map import SemanticMap

__all__ = ["receptacle_views", "world_view"]

_STATUS = {NodeStatus.VISIBLE: ObjectStatus.VISIBLE, NodeStatus.REMEMBERED: ObjectStatus.REMEMBERED,
           NodeStatus.MISSING: ObjectStatus.MISSING}


def world_view(graph: SceneGraph) -> WorldView:
    # Support by receptacles only: a cup stacked on a bowl in the sink is in the sink for the planner.
    placed = {r.subject_id: (r.predicate, r.object_id) for r in graph.relations()
              if r.predicate in ("on", "in") and r.object_id in graph.map.receptacles}
    objects = {}
    for node in graph.objects():
        relation, place = ("held", "") if node.id == graph.held_id else placed.get(node.id, ("none", ""))
        objects[node.id] = ObjectView(node.id, node.label, relation, place, _STATUS[node.status])
    return WorldView(objects, receptacle_views(graph.map, graph.openings()), graph.held_id, None, graph.stamp_s,
                     graph.revision)


def receptacle_views(semantic_map: SemanticMap, openings: Mapping[str, float]) -> dict[str, ReceptacleView]:
    """The map's receptacles with their parts' openings (0 where never estimated)."""
    return {r.id: ReceptacleView(r.id, r.label, r.kind == "container", r.part or "",
                                 openings.get(r.part, 0.0) if r.part else 1.0, semantic_map.look_from(r.id))
            for r in semantic_map.receptacles.values()}
