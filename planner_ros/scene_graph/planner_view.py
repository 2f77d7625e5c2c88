"""The scene graph as the planner sees it: a WorldView (planner_ros.planning.world) of ids, places and
door states. The planner reads nothing else from the graph, so another graph can feed it the same way."""
from __future__ import annotations

from planner_ros.planning.world import ObjectStatus, ObjectView, ReceptacleView, WorldView
from planner_ros.scene_graph.graph import SceneGraph
from planner_ros.scene_graph.model import NodeStatus

__all__ = ["world_view"]

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
    openings = graph.openings()
    receptacles = {r.id: ReceptacleView(r.id, r.label, r.kind == "container", r.part or "",
                                        openings.get(r.part, 0.0) if r.part else 1.0, graph.map.look_from(r.id))
                   for r in graph.map.receptacles.values()}
    return WorldView(objects, receptacles, graph.held_id, None, graph.stamp_s, graph.revision)
