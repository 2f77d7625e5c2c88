from pathlib import Path

import pytest

from planner_ros.launcher.bringup import BringupError, load_bringup, resolve_bringup_path, ros_arguments
from planner_ros.paths import config_dir


def write(tmp_path: Path, text: str, name: str = "b.yaml") -> Path:
    (tmp_path / "bringup").mkdir(exist_ok=True)
    path = tmp_path / "bringup" / name
    path.write_text(text)
    return path


def test_shipped_bringups_load():
    paths = sorted((config_dir() / "bringup").glob("*.yaml"))
    assert paths, "config/bringup has no bringup files"
    for path in paths:
        bringup = load_bringup(path)
        assert bringup.nodes
        for node in bringup.nodes:
            assert all(f.is_file() for f in node.parameter_files)


def test_node_fields_and_ros_arguments(tmp_path):
    (tmp_path / "params").mkdir()
    (tmp_path / "params" / "p.yaml").write_text("skill_server:\n  ros__parameters: {time_scale: 0.0}\n")
    path = write(tmp_path, """
name: t
namespace: robot1
use_sim_time: true
nodes:
  - name: skills
    executable: skill_server
    namespace: arm
    parameters: [params/p.yaml, {time_scale: 0.5, scene_file: "a b.yaml"}]
    remappings: {execute_skill: /robot1/skills/execute}
    arguments: [--verbose]
""")
    bringup = load_bringup(path)
    node = bringup.nodes[0]
    assert node.namespace == "/robot1/arm"
    assert node.required and not node.exit_with
    assert node.parameter_overrides == {"use_sim_time": True, "time_scale": 0.5, "scene_file": "a b.yaml"}
    args = ros_arguments(node)
    assert args[:3] == ["--ros-args", "-r", "__node:=skills"]
    assert ["-r", "__ns:=/robot1/arm"] == args[3:5]
    assert ["--params-file", str(tmp_path / "params" / "p.yaml")] == args[5:7]
    assert "use_sim_time:=true" in args and "time_scale:=0.5" in args and "scene_file:=a b.yaml" in args
    assert "execute_skill:=/robot1/skills/execute" in args


def test_use_sim_time_override(tmp_path):
    path = write(tmp_path, "nodes: [{name: a, executable: skill_server}]\n")
    assert load_bringup(path, use_sim_time=True).nodes[0].parameter_overrides["use_sim_time"] is True
    assert load_bringup(path).nodes[0].parameter_overrides["use_sim_time"] is False


@pytest.mark.parametrize("text, message", [
    ("nodes: []", "non-empty 'nodes'"),
    ("nodes: [{name: a, executable: no_such_node}]", "unknown executable 'no_such_node'"),
    ("nodes: [{name: a, executable: _common}]", "unknown executable '_common'"),
    ("nodes: [{name: a, executable: skill_server, colour: red}]", "unknown keys ['colour']"),
    ("nodes: [{name: a-b, executable: skill_server}]", "letters, digits and underscores"),
    ("nodes: [{name: a, executable: skill_server, parameters: [missing.yaml]}]", "parameter file not found"),
    ("nodes: [{name: a, executable: skill_server, required: maybe}]", "'required' must be true or false"),
    ("nodes: [{name: a, executable: skill_server}, {name: a, executable: skill_server}]", "duplicate node names"),
    ("nodes: [{name: a, executable: skill_server, remappings: [x]}]", "'remappings' must map"),
    ("nodes: {a: b}", "non-empty 'nodes' list"),
    ("nodes: [oops", "not valid YAML"),
])
def test_bad_bringups_name_the_problem(tmp_path, text, message):
    with pytest.raises(BringupError) as err:
        load_bringup(write(tmp_path, text))
    assert message in str(err.value)
    assert "b.yaml" in str(err.value)


def test_resolve_by_name_and_path(tmp_path):
    assert resolve_bringup_path("demo").name == "demo.yaml"
    path = write(tmp_path, "nodes: [{name: a, executable: skill_server}]\n")
    assert resolve_bringup_path(str(path)) == path.resolve()
    with pytest.raises(BringupError, match="no bringup named 'nope'.*known: .*demo"):
        resolve_bringup_path("nope")
    with pytest.raises(BringupError, match="not found"):
        resolve_bringup_path(str(tmp_path / "missing.yaml"))


def test_overrides_add_parameters_to_named_nodes():
    from planner_ros.launcher.bringup import with_overrides

    bringup = load_bringup(resolve_bringup_path("demo"))
    changed = with_overrides(bringup, {"sim": {"scenario": "fetch_mug_to_table:fault"}})
    sim = next(n for n in changed.nodes if n.name == "sim")
    assert sim.parameter_overrides["scenario"] == "fetch_mug_to_table:fault"
    assert "scenario:=fetch_mug_to_table:fault" in ros_arguments(sim)
    assert all("scenario" not in n.parameter_overrides for n in bringup.nodes), "the original is unchanged"
    with pytest.raises(BringupError, match="no nodes named \\['ghost'\\]"):
        with_overrides(bringup, {"ghost": {"x": 1}})
