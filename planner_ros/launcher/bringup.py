"""Bringup files: which nodes to start, with which parameters, remappings, namespace and sim time.

One YAML file is the single source of truth for the built-in launcher (`planner-ros bringup`) and for
`ros2 launch` (launch/*.launch.py read the same file). Format:

    name: demo
    use_sim_time: false          # sets the use_sim_time parameter of every node
    namespace: ""                # prefix for every node's namespace
    nodes:
      - name: skill_server       # node name (remaps __node)
        executable: skill_server # a module in planner_ros/nodes (= console script of the same name)
        namespace: ""            # joined under the bringup namespace
        parameters: [params/demo.yaml]     # files relative to config/, or inline mappings
        remappings: {/from: /to}
        arguments: []            # extra command-line arguments before --ros-args
        required: true           # if it exits, stop everything and fail naming it
        exit_with: false         # if it exits, stop everything and exit with its code (task clients)
"""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from planner_ros.paths import config_dir

NODES_PACKAGE = "planner_ros.nodes"
_NODE_KEYS = {"name", "executable", "namespace", "parameters", "remappings", "arguments", "required", "exit_with"}
_TOP_KEYS = {"name", "use_sim_time", "namespace", "nodes", "description"}


class BringupError(ValueError):
    """A bringup file is missing or malformed; the message names the file and the offending entry."""


@dataclass(frozen=True)
class NodeSpec:
    name: str
    executable: str
    namespace: str = ""
    parameter_files: tuple[Path, ...] = ()
    parameter_overrides: dict[str, Any] = field(default_factory=dict)
    remappings: tuple[tuple[str, str], ...] = ()
    arguments: tuple[str, ...] = ()
    required: bool = True
    exit_with: bool = False

    @property
    def module(self) -> str:
        return f"{NODES_PACKAGE}.{self.executable}"


@dataclass(frozen=True)
class Bringup:
    name: str
    path: Path
    nodes: tuple[NodeSpec, ...]
    use_sim_time: bool = False
    description: str = ""


def resolve_bringup_path(name_or_path: str, search_dir: Path | None = None) -> Path:
    """A path as given, or a name looked up as config/bringup/<name>.yaml."""
    candidate = Path(name_or_path)
    if candidate.suffix in (".yaml", ".yml") or candidate.exists():
        if not candidate.is_file():
            raise BringupError(f"bringup file not found: {candidate}")
        return candidate.resolve()
    folder = search_dir or config_dir() / "bringup"
    path = folder / f"{name_or_path}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in folder.glob("*.yaml"))
        raise BringupError(f"no bringup named '{name_or_path}' in {folder}; known: {', '.join(known) or 'none'}")
    return path


def _join_namespace(*parts: str) -> str:
    segments = [seg for part in parts for seg in part.strip("/").split("/") if seg]
    return "/" + "/".join(segments) if segments else ""


def _node_exists(executable: str) -> bool:
    try:
        return importlib.util.find_spec(f"{NODES_PACKAGE}.{executable}") is not None
    except ModuleNotFoundError:
        return False


def _parse_node(entry: Any, index: int, path: Path, root_namespace: str, use_sim_time: bool,
                param_root: Path) -> NodeSpec:
    where = f"{path}: nodes[{index}]"
    if not isinstance(entry, dict):
        raise BringupError(f"{where} must be a mapping, got {type(entry).__name__}")
    unknown = set(entry) - _NODE_KEYS
    if unknown:
        raise BringupError(f"{where}: unknown keys {sorted(unknown)}; allowed: {sorted(_NODE_KEYS)}")
    for key in ("name", "executable"):
        if not isinstance(entry.get(key), str) or not entry[key]:
            raise BringupError(f"{where}: '{key}' must be a non-empty string")
    name, executable = entry["name"], entry["executable"]
    where = f"{path}: node '{name}'"
    if not name.replace("_", "").isalnum():
        raise BringupError(f"{where}: node names may hold only letters, digits and underscores")
    if executable.startswith("_") or not executable.replace("_", "").isalnum() or not _node_exists(executable):
        raise BringupError(f"{where}: unknown executable '{executable}' (no module {NODES_PACKAGE}.{executable})")

    files: list[Path] = []
    overrides: dict[str, Any] = {"use_sim_time": use_sim_time}
    parameters = entry.get("parameters", [])
    if not isinstance(parameters, list):
        raise BringupError(f"{where}: 'parameters' must be a list of files or mappings")
    for item in parameters:
        if isinstance(item, str):
            file = (param_root / item).resolve()
            if not file.is_file():
                raise BringupError(f"{where}: parameter file not found: {file}")
            files.append(file)
        elif isinstance(item, dict):
            overrides.update(item)
        else:
            raise BringupError(f"{where}: parameter entry {item!r} is neither a file nor a mapping")

    remappings = entry.get("remappings", {}) or {}
    if not isinstance(remappings, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                   for k, v in remappings.items()):
        raise BringupError(f"{where}: 'remappings' must map topic names to topic names")
    arguments = entry.get("arguments", []) or []
    if not isinstance(arguments, list) or not all(isinstance(a, str) for a in arguments):
        raise BringupError(f"{where}: 'arguments' must be a list of strings")
    flags = {key: entry.get(key, default) for key, default in (("required", True), ("exit_with", False))}
    for key, value in flags.items():
        if not isinstance(value, bool):
            raise BringupError(f"{where}: '{key}' must be true or false, got {value!r}")
    return NodeSpec(
        name=name,
        executable=executable,
        namespace=_join_namespace(root_namespace, entry.get("namespace", "") or ""),
        parameter_files=tuple(files),
        parameter_overrides=overrides,
        remappings=tuple(sorted(remappings.items())),
        arguments=tuple(arguments),
        required=flags["required"],
        exit_with=flags["exit_with"],
    )


def load_bringup(path: Path, *, param_root: Path | None = None, use_sim_time: bool | None = None) -> Bringup:
    """Parse and validate a bringup file. Parameter files are relative to param_root (default config/)."""
    try:
        data = yaml.safe_load(Path(path).read_text())
    except OSError as err:
        raise BringupError(f"cannot read bringup file {path}: {err}") from err
    except yaml.YAMLError as err:
        raise BringupError(f"{path} is not valid YAML: {err}") from err
    if not isinstance(data, dict) or not isinstance(data.get("nodes"), list) or not data["nodes"]:
        raise BringupError(f"{path}: expected a mapping with a non-empty 'nodes' list")
    unknown = set(data) - _TOP_KEYS
    if unknown:
        raise BringupError(f"{path}: unknown keys {sorted(unknown)}; allowed: {sorted(_TOP_KEYS)}")
    sim_time = data.get("use_sim_time", False) if use_sim_time is None else use_sim_time
    if not isinstance(sim_time, bool):
        raise BringupError(f"{path}: 'use_sim_time' must be true or false")
    root = param_root or Path(path).resolve().parent.parent
    nodes = tuple(
        _parse_node(entry, i, Path(path), data.get("namespace", "") or "", sim_time, root)
        for i, entry in enumerate(data["nodes"])
    )
    names = [_join_namespace(n.namespace, n.name) for n in nodes]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise BringupError(f"{path}: duplicate node names {duplicates}")
    return Bringup(name=str(data.get("name") or Path(path).stem), path=Path(path).resolve(), nodes=nodes,
                   use_sim_time=sim_time, description=str(data.get("description", "")))


def with_overrides(bringup: Bringup, overrides: dict[str, dict[str, Any]]) -> Bringup:
    """The bringup with extra parameter values for some nodes ({node name: {parameter: value}})."""
    unknown = sorted(set(overrides) - {n.name for n in bringup.nodes})
    if unknown:
        raise BringupError(f"{bringup.path}: no nodes named {unknown} to override")
    nodes = tuple(replace(n, parameter_overrides={**n.parameter_overrides, **overrides.get(n.name, {})})
                  for n in bringup.nodes)
    return replace(bringup, nodes=nodes)


def _ros_value(value: Any) -> str:
    """A parameter value as `-p name:=value` expects it (YAML syntax)."""
    return yaml.safe_dump(value, default_flow_style=True).strip().removesuffix("...").strip()


def ros_arguments(node: NodeSpec) -> list[str]:
    """The --ros-args part of a node's command line."""
    args = ["--ros-args", "-r", f"__node:={node.name}"]
    if node.namespace:
        args += ["-r", f"__ns:={node.namespace}"]
    for file in node.parameter_files:
        args += ["--params-file", str(file)]
    for key, value in node.parameter_overrides.items():
        args += ["-p", f"{key}:={_ros_value(value)}"]
    for source, target in node.remappings:
        args += ["-r", f"{source}:={target}"]
    return args
