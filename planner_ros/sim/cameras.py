"""RGB-D cameras of the MuJoCo world: exact intrinsics and extrinsics, rendered frames, depth faults.

MuJoCo cameras look down their -z axis with +y up; ROS optical frames look down +z with +y down, so
R_world_optical = cam_xmat @ diag(1, -1, -1). Intrinsics follow from the vertical field of view with the
principal point at the image centre ((W-1)/2, (H-1)/2 in pixel-centre coordinates), which is how MuJoCo
projects; back-projecting the rendered depth with these lands on the true surfaces (tested).
"""
from __future__ import annotations

import math
import os
from collections.abc import Iterable
from dataclasses import dataclass

import mujoco
import numpy as np

from planner_ros.geometry import CameraIntrinsics, Pose3D

_OPTICAL_FROM_MUJOCO = np.diag([1.0, -1.0, -1.0])


class CameraError(ValueError):
    """An unknown camera name or an unusable camera setting."""


class RenderingUnavailable(RuntimeError):
    """No OpenGL backend could be loaded; the message says how to get one."""


@dataclass(frozen=True)
class CameraFrame:
    """One rendered view. Arrays are copies owned by the frame, never views into the renderer."""

    name: str
    stamp_s: float
    rgb: np.ndarray                      # (H, W, 3) uint8
    depth_m: np.ndarray                  # (H, W) float32 metres along the optical axis; NaN: no return
    intrinsics: CameraIntrinsics
    world_from_optical: Pose3D
    segmentation: np.ndarray | None = None   # (H, W) int32 geom id per pixel, -1 for none


def optical_frame_id(camera: str) -> str:
    return f"{camera}_optical_frame"


class CameraRig:
    """Renders a set of named cameras of a model at one resolution."""

    def __init__(self, model: mujoco.MjModel, names: Iterable[str], *, width: int = 640, height: int = 480,
                 max_range_m: float = 10.0, shadows: bool = False) -> None:
        self.model = model
        self.names = tuple(names)
        known = {model.camera(i).name for i in range(model.ncam)}
        unknown = [n for n in self.names if n not in known]
        if unknown:
            raise CameraError(f"unknown cameras {unknown}; the world has {sorted(known)}")
        if width > model.vis.global_.offwidth or height > model.vis.global_.offheight:
            # The offscreen buffer must be at least the image size.
            model.vis.global_.offwidth = max(width, model.vis.global_.offwidth)
            model.vis.global_.offheight = max(height, model.vis.global_.offheight)
        self.width, self.height, self.max_range_m = width, height, max_range_m
        try:
            self._renderer = mujoco.Renderer(model, height, width)
        except mujoco.FatalError as err:
            raise RenderingUnavailable(
                f"cannot render with MUJOCO_GL={os.environ.get('MUJOCO_GL')}: {err}. Install OSMesa "
                "(apt-get install libosmesa6; make setup does this as root) or set MUJOCO_GL=egl where EGL works"
            ) from err
        # Shadows cost ~6x per RGB frame under OSMesa and add nothing the detector needs.
        self._renderer.scene.flags[mujoco.mjtRndFlag.mjRND_SHADOW] = int(shadows)
        self._renderer.scene.flags[mujoco.mjtRndFlag.mjRND_REFLECTION] = 0
        self._intrinsics = {n: self._make_intrinsics(n) for n in self.names}

    def _make_intrinsics(self, name: str) -> CameraIntrinsics:
        fovy_deg = float(self.model.cam(name).fovy[0])
        return CameraIntrinsics.from_vertical_fov(self.width, self.height, math.radians(fovy_deg),
                                                  frame_id=optical_frame_id(name))

    def intrinsics(self, name: str) -> CameraIntrinsics:
        try:
            return self._intrinsics[name]
        except KeyError:
            raise CameraError(f"camera '{name}' is not in this rig {list(self.names)}") from None

    def world_from_optical(self, data: mujoco.MjData, name: str) -> Pose3D:
        cam = data.cam(name)
        T = np.eye(4)
        T[:3, :3] = cam.xmat.reshape(3, 3) @ _OPTICAL_FROM_MUJOCO
        T[:3, 3] = cam.xpos
        return Pose3D.from_matrix(T)

    def render(self, data: mujoco.MjData, name: str, *, stamp_s: float | None = None,
               segmentation: bool = False) -> CameraFrame:
        intrinsics = self.intrinsics(name)
        r = self._renderer
        r.update_scene(data, camera=name)  # one scene serves the colour, depth and segmentation passes
        rgb = r.render().copy()
        r.enable_depth_rendering()
        depth = r.render().astype(np.float32, copy=True)
        r.disable_depth_rendering()
        depth[(depth <= 0) | (depth >= self.max_range_m)] = np.nan
        seg = None
        if segmentation:
            r.enable_segmentation_rendering()
            raw = r.render()
            r.disable_segmentation_rendering()
            # Channel 0 is the object id, channel 1 its type; keep geoms only.
            seg = np.where(raw[..., 1] == int(mujoco.mjtObj.mjOBJ_GEOM), raw[..., 0], -1).astype(np.int32)
        return CameraFrame(name, float(data.time if stamp_s is None else stamp_s), rgb, depth, intrinsics,
                           self.world_from_optical(data, name), seg)

    def close(self) -> None:
        # OSMesa contexts must be released explicitly or interpreter exit raises.
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None


def corrupt_depth(depth_m: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """A copy of depth with `fraction` of the pixels broken: half NaN (dropouts), half random spikes."""
    if not 0.0 <= fraction <= 1.0:
        raise CameraError(f"depth corruption fraction must be in [0, 1], got {fraction}")
    out = depth_m.copy()
    broken = rng.random(out.shape) < fraction
    spikes = broken & (rng.random(out.shape) < 0.5)
    out[broken & ~spikes] = np.nan
    out[spikes] = rng.uniform(0.05, 12.0, size=int(spikes.sum())).astype(out.dtype)
    return out
