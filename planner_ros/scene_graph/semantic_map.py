"""The fixed structure of a place: receptacles, articulated parts and viewpoints, known before the run.

A robot's semantic map (made once, at installation, or from CAD), not its observations: where the
furniture stands, which receptacles it offers, how each door or drawer moves (hinge or slide, axis, range,
the panel that moves with it) and where the robot can stand to look. The scene graph adds what changes:
objects, part openings (estimated from depth, see articulation.py), relations. Loaded from JSON; for the
embedded kitchen, planner_ros.sim.semantic_map builds it from the layout's geometry (never its state).
"""
from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["Box", "MapError", "PartModel", "ReceptacleModel", "SemanticMap", "Viewpoint"]

Vec3 = tuple[float, float, float]


class MapError(ValueError):
    """A semantic map is malformed; the message names the entry and what is wrong."""


@dataclass(frozen=True)
class Box:
    """Axis-aligned box (min corner, max corner), metres."""

    lo: Vec3
    hi: Vec3

    def __post_init__(self) -> None:
        lo, hi = tuple(float(v) for v in self.lo), tuple(float(v) for v in self.hi)
        if len(lo) != 3 or len(hi) != 3 or not all(math.isfinite(v) for v in lo + hi):
            raise MapError(f"box needs two finite 3-vectors, got {self.lo!r}, {self.hi!r}")
        if any(a > b for a, b in zip(lo, hi)):
            raise MapError(f"box min {lo} exceeds max {hi}")
        object.__setattr__(self, "lo", lo)
        object.__setattr__(self, "hi", hi)

    @property
    def centre(self) -> np.ndarray:
        return (np.asarray(self.lo) + np.asarray(self.hi)) / 2.0

    @property
    def size(self) -> np.ndarray:
        return np.asarray(self.hi) - np.asarray(self.lo)

    def contains(self, point: np.ndarray, margin_m: float = 0.0) -> bool:
        p = np.asarray(point, dtype=float)
        return bool(np.all(p >= np.asarray(self.lo) - margin_m) and np.all(p <= np.asarray(self.hi) + margin_m))

    def shifted(self, offset: np.ndarray) -> Box:
        return Box(tuple(np.asarray(self.lo) + offset), tuple(np.asarray(self.hi) + offset))

    def to_json(self) -> list[list[float]]:
        return [list(self.lo), list(self.hi)]

    @classmethod
    def from_json(cls, value: Any, where: str) -> Box:
        try:
            lo, hi = value
            return cls(tuple(lo), tuple(hi))
        except (TypeError, ValueError) as err:
            raise MapError(f"{where}: expected [[x, y, z], [x, y, z]], got {value!r} ({err})") from None


@dataclass(frozen=True)
class ReceptacleModel:
    """Furniture or a container objects can be on ("surface") or in ("container").

    `volume` (world, with its part closed) is where an object's centre must be to count as on/in it.
    `part` closes it (fridge_door) or, when `moves_with_part`, is it (a drawer slides out with its contents).
    """

    id: str
    label: str
    kind: str
    volume: Box
    furniture: Box  # the physical body, for markers and occlusion reasoning
    part: str | None = None
    moves_with_part: bool = False


@dataclass(frozen=True)
class PartModel:
    """A door, drawer or lid. Closed is q = 0, fully open q = open_q (rad for hinges, m for slides).

    The panel is an axis-aligned world box when closed; opening moves it by a rotation of q about the axis
    through `anchor` (hinge) or a translation of q along the axis (slide).
    """

    id: str
    label: str
    parent: str        # receptacle it is mounted on (the drawer's is the cabinet)
    closes: str        # receptacle it closes (the drawer closes itself: it is a part and a container)
    joint_type: str    # "hinge" or "slide"
    axis: Vec3         # unit, world; positive q opens
    anchor: Vec3       # a point on a hinge axis (world); unused for slides
    open_q: float
    panel: Box         # closed panel, world

    def transform(self, fraction: float) -> np.ndarray:
        """4x4 world transform of the panel at an opening fraction (0 closed, 1 fully open)."""
        q = float(np.clip(fraction, 0.0, 1.0)) * self.open_q
        axis = np.asarray(self.axis, dtype=float)
        T = np.eye(4)
        if self.joint_type == "slide":
            T[:3, 3] = axis * q
            return T
        K = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
        R = np.eye(3) + math.sin(q) * K + (1 - math.cos(q)) * K @ K
        anchor = np.asarray(self.anchor, dtype=float)
        T[:3, :3] = R
        T[:3, 3] = anchor - R @ anchor
        return T


@dataclass(frozen=True)
class Viewpoint:
    """A place the robot can stand (x, y, yaw in the map frame) to use or look at `target`."""

    name: str
    x: float
    y: float
    yaw: float
    target: str
    look_inside: bool = False   # from here the cameras see inside target once it is open, but cannot reach it


@dataclass(frozen=True)
class SemanticMap:
    frame_id: str
    receptacles: Mapping[str, ReceptacleModel]
    parts: Mapping[str, PartModel]
    viewpoints: Mapping[str, Viewpoint]

    def look_from(self, receptacle_id: str) -> str:
        """The viewpoint to look into a receptacle from, where standing at it to use it shows nothing inside;
        "" when there is none."""
        return next((v.name for v in self.viewpoints.values() if v.look_inside and v.target == receptacle_id), "")

    def receptacle_volume(self, receptacle_id: str, opening: float = 0.0) -> Box:
        """The receptacle's volume with its part open by `opening` (a drawer's moves out with it)."""
        rec = self.receptacles[receptacle_id]
        if not rec.moves_with_part or rec.part is None:
            return rec.volume
        return rec.volume.shifted(self.parts[rec.part].transform(opening)[:3, 3])

    # -- JSON ---------------------------------------------------------------------------------------
    def to_json(self) -> dict:
        return {
            "frame_id": self.frame_id,
            "receptacles": {r.id: {"label": r.label, "kind": r.kind, "volume": r.volume.to_json(),
                                   "furniture": r.furniture.to_json(), "part": r.part,
                                   "moves_with_part": r.moves_with_part} for r in self.receptacles.values()},
            "parts": {p.id: {"label": p.label, "parent": p.parent, "closes": p.closes, "joint_type": p.joint_type,
                             "axis": list(p.axis),
                             "anchor": list(p.anchor), "open_q": p.open_q, "panel": p.panel.to_json()}
                      for p in self.parts.values()},
            "viewpoints": {v.name: {"x": v.x, "y": v.y, "yaw": v.yaw, "target": v.target,
                                    "look_inside": v.look_inside} for v in self.viewpoints.values()},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SemanticMap:
        if not isinstance(data, Mapping):
            raise MapError(f"a semantic map is a JSON object, got {type(data).__name__}")
        try:
            receptacles = {}
            for rid, r in dict(data.get("receptacles") or {}).items():
                if r.get("kind") not in ("surface", "container"):
                    raise MapError(f"receptacle {rid!r}: kind must be 'surface' or 'container', got {r.get('kind')!r}")
                receptacles[rid] = ReceptacleModel(
                    rid, str(r.get("label", rid)), r["kind"], Box.from_json(r["volume"], f"receptacle {rid!r} volume"),
                    Box.from_json(r.get("furniture", r["volume"]), f"receptacle {rid!r} furniture"),
                    r.get("part"), bool(r.get("moves_with_part", False)))
            parts = {}
            for pid, p in dict(data.get("parts") or {}).items():
                if p.get("joint_type") not in ("hinge", "slide"):
                    raise MapError(f"part {pid!r}: joint_type must be 'hinge' or 'slide', got {p.get('joint_type')!r}")
                axis = np.asarray(p["axis"], dtype=float)
                if axis.shape != (3,) or not np.isfinite(axis).all() or np.linalg.norm(axis) < 1e-9:
                    raise MapError(f"part {pid!r}: axis must be a non-zero 3-vector, got {p['axis']!r}")
                for key in ("parent", "closes"):
                    if p[key] not in receptacles:
                        raise MapError(f"part {pid!r}: {key} {p[key]!r} is not a receptacle of this map")
                parts[pid] = PartModel(pid, str(p.get("label", pid)), p["parent"], p["closes"], p["joint_type"],
                                       tuple((axis / np.linalg.norm(axis)).tolist()),
                                       tuple(float(v) for v in p.get("anchor", (0.0, 0.0, 0.0))),
                                       float(p["open_q"]), Box.from_json(p["panel"], f"part {pid!r} panel"))
            viewpoints = {name: Viewpoint(name, float(v["x"]), float(v["y"]), float(v["yaw"]), str(v["target"]),
                                          bool(v.get("look_inside", False)))
                          for name, v in dict(data.get("viewpoints") or {}).items()}
        except KeyError as err:
            raise MapError(f"semantic map entry is missing the key {err}") from None
        for rid, r in receptacles.items():
            if r.part is not None and r.part not in parts:
                raise MapError(f"receptacle {rid!r}: part {r.part!r} is not a part of this map")
        return cls(str(data.get("frame_id", "map")), receptacles, parts, viewpoints)

    @classmethod
    def load(cls, path: str | Path) -> SemanticMap:
        path = Path(path)
        try:
            return cls.from_json(json.loads(path.read_text()))
        except OSError as err:
            raise MapError(f"cannot read semantic map {path}: {err}") from None
        except json.JSONDecodeError as err:
            raise MapError(f"{path} is not JSON: {err}") from None
