"""Graspable object kinds of the MuJoCo kitchen: shape from primitives, size, mass, colours, names.

Each kind's parts are expressed in the object frame, whose origin is the centre of the kind's bounding box
(the builder below re-centres them), so a kind resting on a surface at height h has its origin at
h + size_m[2] / 2. Every kind is narrow enough along one horizontal axis (`grasp_width_m`) for a parallel
gripper opening at most 0.12 m, with a centimetre to spare.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from planner_ros.geometry import quaternion_to_matrix
from planner_ros.names import normalise_name

__all__ = ["KINDS", "ObjectKind", "Primitive", "SHAPES", "UnknownKind", "resolve_kind"]

RGBA = tuple[float, float, float, float]
SHAPES = ("box", "cylinder", "sphere", "ellipsoid", "capsule")
# A capsule lying along x: rotate the primitive's z axis onto x (90 degrees about y).
_ALONG_X = (0.0, math.sin(math.pi / 4), 0.0, math.cos(math.pi / 4))


class UnknownKind(KeyError):
    """A name matches no object kind or synonym; the message names it."""


@dataclass(frozen=True)
class Primitive:
    """One MuJoCo primitive of an object's shape.

    `size` follows MuJoCo's convention: box half-extents (3), cylinder (radius, half-height), sphere
    (radius,), ellipsoid semi-axes (3), capsule (radius, half-length of the cylinder part). Cylinders and
    capsules run along the primitive's z axis. `tinted` parts take the object's sampled colour; the others
    take the kind's fixed `accent_rgba` (a bottle cap, a stem).
    """

    shape: str
    size: tuple[float, ...]
    pos: tuple[float, float, float] = (0.0, 0.0, 0.0)
    quat_xyzw: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 1.0)
    tinted: bool = True

    @property
    def volume_m3(self) -> float:
        s = self.size
        if self.shape == "box":
            return 8.0 * s[0] * s[1] * s[2]
        if self.shape == "cylinder":
            return math.pi * s[0] ** 2 * 2.0 * s[1]
        if self.shape == "sphere":
            return 4.0 / 3.0 * math.pi * s[0] ** 3
        if self.shape == "ellipsoid":
            return 4.0 / 3.0 * math.pi * s[0] * s[1] * s[2]
        return math.pi * s[0] ** 2 * 2.0 * s[1] + 4.0 / 3.0 * math.pi * s[0] ** 3  # capsule

    def half_extents_m(self) -> np.ndarray:
        """Half-extents of the part's axis-aligned bounding box in the object frame (exact for rotations
        by multiples of 90 degrees, conservative otherwise)."""
        s = self.size
        if self.shape in ("box", "ellipsoid"):
            local = (s[0], s[1], s[2])
        elif self.shape == "cylinder":
            local = (s[0], s[0], s[1])
        elif self.shape == "sphere":
            local = (s[0], s[0], s[0])
        else:  # capsule: the hemispherical caps add a radius at each end
            local = (s[0], s[0], s[1] + s[0])
        return np.abs(quaternion_to_matrix(self.quat_xyzw)) @ np.asarray(local)


@dataclass(frozen=True)
class ObjectKind:
    """A graspable object kind. `size_m` is the full bounding box (x, y, z) in the object frame."""

    name: str
    label: str
    size_m: tuple[float, float, float]
    mass_kg: float
    parts: tuple[Primitive, ...]
    palette: tuple[RGBA, ...]
    synonyms: tuple[str, ...]
    accent_rgba: RGBA = (0.9, 0.9, 0.9, 1.0)

    @property
    def grasp_width_m(self) -> float:
        """The narrower horizontal extent: what the gripper closes across in a top-down grasp."""
        return min(self.size_m[0], self.size_m[1])


def _kind(
    name: str,
    label: str,
    mass_kg: float,
    parts: list[Primitive],
    palette: list[RGBA],
    synonyms: list[str],
    accent_rgba: RGBA = (0.9, 0.9, 0.9, 1.0),
) -> ObjectKind:
    """An ObjectKind whose parts are shifted so their joint bounding box is centred on the origin."""
    lo = np.min([np.asarray(p.pos) - p.half_extents_m() for p in parts], axis=0)
    hi = np.max([np.asarray(p.pos) + p.half_extents_m() for p in parts], axis=0)
    centre = (lo + hi) / 2.0
    shifted = tuple(replace(p, pos=tuple((np.asarray(p.pos) - centre).round(6).tolist())) for p in parts)
    size = tuple((hi - lo).round(6).tolist())
    return ObjectKind(name, label, size, mass_kg, shifted, tuple(palette), tuple(synonyms), accent_rgba)


def _ring(radius: float, half_height: float, thickness: float, z: float, sides: int) -> list[Primitive]:
    """Thin box walls around a regular polygon: the open side of a bowl."""
    half_side = radius * math.tan(math.pi / sides) + thickness / 2.0
    walls = []
    for k in range(sides):
        angle = 2.0 * math.pi * k / sides
        quat = (0.0, 0.0, math.sin(angle / 2.0), math.cos(angle / 2.0))
        pos = (radius * math.cos(angle), radius * math.sin(angle), z)
        walls.append(Primitive("box", (thickness / 2.0, half_side, half_height), pos, quat))
    return walls


_STEM = (0.35, 0.22, 0.1, 1.0)

KINDS: dict[str, ObjectKind] = {
    k.name: k
    for k in (
        _kind("apple", "apple", 0.18,
              [Primitive("sphere", (0.04,)),
               Primitive("cylinder", (0.004, 0.008), (0.0, 0.0, 0.042), tinted=False)],
              [(0.75, 0.08, 0.08, 1.0), (0.45, 0.75, 0.2, 1.0), (0.9, 0.78, 0.2, 1.0),
               (0.55, 0.05, 0.1, 1.0)],
              ["apple", "apples", "fruit", "red apple", "green apple"], _STEM),
        _kind("orange", "orange", 0.17,
              [Primitive("sphere", (0.038,))],
              [(1.0, 0.55, 0.05, 1.0), (0.95, 0.45, 0.0, 1.0), (1.0, 0.62, 0.15, 1.0)],
              ["orange", "oranges", "mandarin", "citrus", "tangerine"]),
        _kind("lemon", "lemon", 0.1,
              [Primitive("ellipsoid", (0.035, 0.026, 0.026))],
              [(0.98, 0.9, 0.2, 1.0), (0.92, 0.85, 0.1, 1.0), (0.75, 0.85, 0.2, 1.0)],
              ["lemon", "lemons", "lime", "citrus fruit"]),
        _kind("banana", "banana", 0.12,
              [Primitive("capsule", (0.018, 0.07), quat_xyzw=_ALONG_X)],
              [(0.98, 0.85, 0.2, 1.0), (0.8, 0.85, 0.25, 1.0), (0.9, 0.75, 0.15, 1.0)],
              ["banana", "bananas", "plantain"]),
        _kind("tomato", "tomato", 0.12,
              [Primitive("ellipsoid", (0.034, 0.034, 0.028)),
               Primitive("cylinder", (0.006, 0.004), (0.0, 0.0, 0.029), tinted=False)],
              [(0.85, 0.1, 0.05, 1.0), (0.95, 0.25, 0.1, 1.0), (0.7, 0.05, 0.05, 1.0)],
              ["tomato", "tomatoes", "cherry tomato"], (0.2, 0.55, 0.15, 1.0)),
        _kind("mug", "mug", 0.32,
              [Primitive("cylinder", (0.04, 0.05)),
               Primitive("box", (0.012, 0.006, 0.032), (0.05, 0.0, 0.0))],
              [(0.95, 0.95, 0.93, 1.0), (0.15, 0.3, 0.7, 1.0), (0.75, 0.15, 0.15, 1.0), (0.2, 0.5, 0.3, 1.0),
               (0.15, 0.15, 0.15, 1.0)],
              ["mug", "coffee mug", "coffee cup", "tea mug"]),
        _kind("cup", "cup", 0.1,
              [Primitive("cylinder", (0.035, 0.055))],
              [(0.55, 0.75, 0.95, 1.0), (0.9, 0.3, 0.3, 1.0), (0.95, 0.95, 0.95, 1.0),
               (0.95, 0.75, 0.3, 1.0)],
              ["cup", "glass", "tumbler", "drinking glass", "plastic cup"]),
        _kind("bowl", "bowl", 0.25,
              [Primitive("cylinder", (0.045, 0.004), (0.0, 0.0, -0.021)),
               *_ring(0.049, 0.025, 0.006, 0.0, 8)],
              [(0.95, 0.95, 0.92, 1.0), (0.85, 0.8, 0.65, 1.0), (0.3, 0.45, 0.75, 1.0),
               (0.75, 0.4, 0.25, 1.0)],
              ["bowl", "small bowl", "cereal bowl", "soup bowl", "dish"]),
        _kind("plate", "plate", 0.2,
              [Primitive("cylinder", (0.055, 0.0075))],
              [(0.97, 0.97, 0.95, 1.0), (0.6, 0.75, 0.9, 1.0), (0.9, 0.85, 0.7, 1.0), (0.6, 0.6, 0.62, 1.0)],
              ["plate", "saucer", "side plate", "dish plate"]),
        _kind("soda_can", "soda can", 0.37,
              [Primitive("cylinder", (0.033, 0.059)),
               Primitive("cylinder", (0.03, 0.002), (0.0, 0.0, 0.061), tinted=False)],
              [(0.8, 0.05, 0.08, 1.0), (0.15, 0.3, 0.8, 1.0), (0.1, 0.6, 0.25, 1.0), (0.95, 0.5, 0.1, 1.0),
               (0.75, 0.75, 0.78, 1.0)],
              ["soda can", "can", "coke", "coke can", "soda", "pop", "soft drink", "drink can", "cola"],
              (0.78, 0.78, 0.8, 1.0)),
        _kind("water_bottle", "water bottle", 0.52,
              [Primitive("cylinder", (0.033, 0.1)),
               Primitive("cylinder", (0.015, 0.012), (0.0, 0.0, 0.112)),
               Primitive("cylinder", (0.016, 0.008), (0.0, 0.0, 0.13), tinted=False)],
              [(0.6, 0.8, 0.95, 1.0), (0.5, 0.7, 0.85, 1.0), (0.7, 0.9, 0.85, 1.0)],
              ["water bottle", "bottle", "water", "plastic bottle", "bottle of water"], (0.1, 0.3, 0.8, 1.0)),
        _kind("cereal_box", "cereal box", 0.45,
              [Primitive("box", (0.035, 0.095, 0.14))],
              [(0.85, 0.2, 0.15, 1.0), (0.95, 0.8, 0.2, 1.0), (0.2, 0.4, 0.8, 1.0), (0.95, 0.55, 0.15, 1.0)],
              ["cereal box", "cereal", "cornflakes", "box of cereal", "muesli"]),
        _kind("milk_carton", "milk carton", 1.0,
              [Primitive("box", (0.035, 0.035, 0.095)),
               Primitive("box", (0.035, 0.005, 0.012), (0.0, 0.0, 0.107), tinted=False)],
              [(0.95, 0.95, 0.95, 1.0), (0.85, 0.9, 1.0, 1.0), (1.0, 0.9, 0.9, 1.0)],
              ["milk carton", "milk", "carton", "milk box", "carton of milk"], (0.2, 0.45, 0.85, 1.0)),
        _kind("sponge", "sponge", 0.02,
              [Primitive("box", (0.045, 0.03, 0.012)),
               Primitive("box", (0.045, 0.03, 0.004), (0.0, 0.0, 0.016), tinted=False)],
              [(0.98, 0.85, 0.2, 1.0), (0.95, 0.55, 0.7, 1.0), (0.4, 0.7, 0.95, 1.0)],
              ["sponge", "kitchen sponge", "scrubber", "dish sponge"], (0.15, 0.55, 0.2, 1.0)),
        _kind("butter", "butter", 0.25,
              [Primitive("box", (0.05, 0.032, 0.018))],
              [(0.98, 0.92, 0.55, 1.0), (0.95, 0.85, 0.35, 1.0), (0.9, 0.9, 0.85, 1.0)],
              ["butter", "butter block", "stick of butter", "margarine"]),
        _kind("yogurt", "yogurt", 0.15,
              [Primitive("cylinder", (0.033, 0.033)),
               Primitive("cylinder", (0.034, 0.002), (0.0, 0.0, 0.035), tinted=False)],
              [(0.97, 0.97, 0.97, 1.0), (0.95, 0.7, 0.8, 1.0), (0.6, 0.75, 0.95, 1.0)],
              ["yogurt", "yoghurt", "yogurt cup", "yogurt pot"], (0.8, 0.8, 0.85, 1.0)),
        _kind("pear", "pear", 0.18,
              [Primitive("ellipsoid", (0.036, 0.036, 0.04)),
               Primitive("sphere", (0.025,), (0.0, 0.0, 0.04)),
               Primitive("cylinder", (0.003, 0.008), (0.0, 0.0, 0.07), tinted=False)],
              [(0.65, 0.8, 0.25, 1.0), (0.85, 0.8, 0.3, 1.0), (0.6, 0.45, 0.2, 1.0)],
              ["pear", "pears"], _STEM),
        _kind("juice_box", "juice box", 0.22,
              [Primitive("box", (0.03, 0.02, 0.05)),
               Primitive("cylinder", (0.003, 0.015), (0.015, 0.0, 0.06), tinted=False)],
              [(0.95, 0.6, 0.1, 1.0), (0.6, 0.2, 0.6, 1.0), (0.3, 0.7, 0.3, 1.0)],
              ["juice box", "juice", "juice carton", "drink box"]),
        _kind("jar", "jar", 0.4,
              [Primitive("cylinder", (0.04, 0.05)),
               Primitive("cylinder", (0.041, 0.008), (0.0, 0.0, 0.056), tinted=False)],
              [(0.7, 0.1, 0.15, 1.0), (0.85, 0.55, 0.1, 1.0), (0.4, 0.55, 0.2, 1.0)],
              ["jar", "jam", "jam jar", "honey", "pickles", "glass jar"], (0.8, 0.75, 0.2, 1.0)),
        _kind("potato", "potato", 0.2,
              [Primitive("ellipsoid", (0.045, 0.032, 0.028))],
              [(0.7, 0.55, 0.35, 1.0), (0.6, 0.45, 0.3, 1.0), (0.75, 0.45, 0.4, 1.0)],
              ["potato", "potatoes", "spud"]),
    )
}


def _name_index() -> dict[str, str]:
    index: dict[str, str] = {}
    for kind in KINDS.values():
        for alias in (kind.name, kind.label, *kind.synonyms):
            # First kind to claim a synonym keeps it, so a generic word maps to one predictable kind.
            index.setdefault(normalise_name(alias), kind.name)
    return index


_BY_NAME = _name_index()


def resolve_kind(name: str) -> str:
    """The kind name for a kind name, label or synonym ("Coke" -> "soda_can"), case and '_' insensitive."""
    try:
        return _BY_NAME[normalise_name(name)]
    except KeyError:
        raise UnknownKind(f"no object kind or synonym {name!r}; kinds: {sorted(KINDS)}") from None
