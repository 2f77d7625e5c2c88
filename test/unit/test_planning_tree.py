"""The action tree: merging plans into a prefix tree (property-based), support, backtracking, pruning."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from planner_ros.planning.tree import ActionTree, NodeStatus
from planner_ros.skills import SkillCall


def call(skill: str, *args: str) -> SkillCall:
    names = {"navigate_to": ("target",), "pick": ("object",), "place": ("object", "target"),
             "open": ("target",), "close": ("target",)}[skill]
    return SkillCall(skill, tuple(zip(names, args)))


STEPS = [call("navigate_to", "fridge"), call("navigate_to", "table"), call("open", "fridge"), call("pick", "apple_1"),
         call("place", "apple_1", "fridge"), call("close", "fridge")]
plans_strategy = st.lists(st.lists(st.sampled_from(STEPS), max_size=8), min_size=1, max_size=12)


@settings(max_examples=200, deadline=None)
@given(plans_strategy)
def test_merging_keeps_every_plan_and_shares_common_prefixes(plans):
    tree = ActionTree(plans)
    # Every plan comes back out, in order.
    assert tree.plan_texts() == [[s.text for s in p] for p in plans]
    # Siblings are distinct steps: identical steps under the same prefix merged into one node.
    for node in tree.nodes:
        keys = [(tree.nodes[c].is_end, tree.nodes[c].call) for c in node.children]
        assert len(keys) == len(set(keys))
    # A node's support is exactly the plans whose prefix reaches it, and children partition it.
    for node in tree.nodes:
        prefix = [n.call for n in tree.path(node.id) if not n.is_end]
        expected = {i for i, p in enumerate(plans)
                    if list(p[: len(prefix)]) == prefix and (not node.is_end or len(p) == len(prefix))}
        assert node.support == expected
        if node.children:
            union = set().union(*(tree.nodes[c].support for c in node.children))
            assert union == node.support
    # Nodes: one per distinct prefix plus one end marker per distinct plan.
    prefixes = {tuple(p[:k]) for p in plans for k in range(1, len(p) + 1)}
    assert len(tree.nodes) == 1 + len(prefixes) + len({tuple(p) for p in plans})


def test_backtracking_finds_the_nearest_ancestor_with_an_untried_child():
    a, b = [STEPS[0], STEPS[2], STEPS[1]], [STEPS[0], STEPS[1], STEPS[3]]
    tree = ActionTree([a, b])
    first = tree.untried_children(0)
    assert [n.step for n in first] == ["navigate_to(fridge)"] and first[0].support == {0, 1}
    nav = first[0].id
    tree.mark(nav, NodeStatus.SUCCEEDED)
    open_node, nav_table = tree.untried_children(nav)
    tree.mark(open_node.id, NodeStatus.SUCCEEDED)
    leaf = tree.untried_children(open_node.id)[0]
    tree.mark(leaf.id, NodeStatus.FAILED, "blocked")
    assert tree.untried_children(open_node.id) == []
    assert tree.backtrack_target(open_node.id) == nav  # open(fridge) has no untried child left
    assert tree.untried_children(nav) == [nav_table]
    tree.prune_subtree(nav, "gone")
    assert tree.backtrack_target(open_node.id) is None
    assert tree.nodes[nav_table.id].status == NodeStatus.PRUNED and tree.nodes[nav_table.id].note == "gone"


def test_json_names_status_and_support():
    tree = ActionTree([[STEPS[0]], [STEPS[0], STEPS[2]]])
    rows = tree.to_json()
    assert rows[0]["parent"] == -1 and rows[0]["status"] == "succeeded"
    assert rows[1] == {"id": 1, "parent": 0, "step": "navigate_to(fridge)", "is_end": False, "status": "untried",
                       "support": [0, 1], "note": ""}
    assert sum(r["is_end"] for r in rows) == 2
