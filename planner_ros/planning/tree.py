"""The action tree (Tree-Planner): candidate plans merged into a prefix tree.

Each plan ends in an end marker; identical steps under the same prefix share one node, which remembers
the plans through it (its support). Deciding walks it top-down; a failed child is marked and a sibling
tried; when a node has no untried child left the walk backtracks to the nearest ancestor that has one.
"""
from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from planner_ros.skills import SkillCall

__all__ = ["ActionTree", "NodeStatus", "TreeNode"]


class NodeStatus(enum.IntEnum):
    """Mirrors ActionTreeNode.STATUS_*."""

    UNTRIED = 0
    RUNNING = 1
    SUCCEEDED = 2
    FAILED = 3
    PRUNED = 4


@dataclass
class TreeNode:
    id: int
    parent: int                      # -1 for the root
    call: SkillCall | None           # None for the root and end markers
    is_end: bool = False
    support: set[int] = field(default_factory=set)
    status: NodeStatus = NodeStatus.UNTRIED
    note: str = ""
    children: list[int] = field(default_factory=list)

    @property
    def step(self) -> str:
        return "<end>" if self.is_end else (self.call.text if self.call else "")


class ActionTree:
    """A prefix tree over plans. Node 0 is the root (status SUCCEEDED: nothing to do to be there)."""

    def __init__(self, plans: Sequence[Sequence[SkillCall]] = ()) -> None:
        self.nodes: list[TreeNode] = [TreeNode(0, -1, None, status=NodeStatus.SUCCEEDED)]
        self.plans: list[tuple[SkillCall, ...]] = []
        for plan in plans:
            self.add_plan(plan)

    def add_plan(self, plan: Iterable[SkillCall]) -> int:
        """Merge one plan (with its end marker); returns the plan's index."""
        plan = tuple(plan)
        index = len(self.plans)
        self.plans.append(plan)
        node = self.nodes[0]
        node.support.add(index)
        for call in plan:
            node = self._child(node, call, is_end=False)
            node.support.add(index)
        self._child(node, None, is_end=True).support.add(index)
        return index

    def _child(self, node: TreeNode, call: SkillCall | None, *, is_end: bool) -> TreeNode:
        for cid in node.children:
            child = self.nodes[cid]
            if child.is_end == is_end and child.call == call:
                return child
        child = TreeNode(len(self.nodes), node.id, call, is_end=is_end)
        self.nodes.append(child)
        node.children.append(child.id)
        return child

    @property
    def num_plans(self) -> int:
        return len(self.plans)

    # -- walking ------------------------------------------------------------------------------------
    def untried_children(self, node_id: int) -> list[TreeNode]:
        return [self.nodes[c] for c in self.nodes[node_id].children if self.nodes[c].status == NodeStatus.UNTRIED]

    def path(self, node_id: int) -> list[TreeNode]:
        """Root (excluded) to node (included)."""
        out = []
        while node_id > 0:
            out.append(self.nodes[node_id])
            node_id = self.nodes[node_id].parent
        return out[::-1]

    def suffixes(self, node_id: int) -> list[tuple[SkillCall, ...]]:
        """For each plan through node: its steps from node (included) to its end."""
        depth = len(self.path(node_id))
        return [self.plans[i][depth - 1:] for i in sorted(self.nodes[node_id].support)]

    def backtrack_target(self, node_id: int) -> int | None:
        """The nearest ancestor of node (node itself included) that still has an untried child."""
        while node_id >= 0:
            if self.untried_children(node_id):
                return node_id
            node_id = self.nodes[node_id].parent
        return None

    def mark(self, node_id: int, status: NodeStatus, note: str = "") -> None:
        node = self.nodes[node_id]
        node.status = status
        if note:
            node.note = note

    def prune_subtree(self, node_id: int, note: str) -> None:
        """Mark every untried node under node pruned (e.g. steps that name an object now known missing)."""
        stack = list(self.nodes[node_id].children)
        while stack:
            node = self.nodes[stack.pop()]
            if node.status == NodeStatus.UNTRIED:
                node.status, node.note = NodeStatus.PRUNED, note
            stack.extend(node.children)

    def plan_texts(self) -> list[list[str]]:
        """The merged plans back as step texts (for records and tests)."""
        plans: dict[int, list[str]] = {i: [] for i in range(self.num_plans)}

        def walk(node_id: int, prefix: list[str]) -> None:
            node = self.nodes[node_id]
            here = prefix + ([node.step] if node_id else [])
            if node.is_end:
                for i in node.support:
                    plans[i] = here[:-1]
            for cid in node.children:
                walk(cid, here)

        walk(0, [])
        return [plans[i] for i in range(self.num_plans)]

    def to_json(self) -> list[dict]:
        return [{"id": n.id, "parent": n.parent, "step": n.step, "is_end": n.is_end, "status": n.status.name.lower(),
                 "support": sorted(n.support), "note": n.note} for n in self.nodes]
