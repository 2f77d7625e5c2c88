"""camera_recorder: saves RGB-D camera views of a run as PNG files (colour, and depth as a colour map).

Parameters:
  cameras (string[], ["kitchen_overview", "head_rgbd"]): camera names; topics /<cam>/color/image_raw and
      /<cam>/depth/image_raw.
  output_dir (str, "runs/views"): where PNGs go (created).
  period_s (float, 2.0): at most one saved frame per camera and stream per period (wall clock).
  max_frames (int, 50): frames kept per camera and stream; older saves are not deleted, newer are skipped.
  detections (bool, false): also save perception's annotated images (/perception/debug/<cam>).
On shutdown it writes contact_sheet.png with the latest view of every camera and stream, one camera a row.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from PIL import Image as PILImage
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import Image

from planner_ros import conversions as cs
from planner_ros.nodes._common import declare, spin_node


def depth_to_rgb(depth_m: np.ndarray, near_m: float = 0.3, far_m: float = 6.0) -> np.ndarray:
    """Depth as a blue (near) to yellow (far) image; pixels without depth are black."""
    t = np.clip((np.nan_to_num(depth_m, nan=far_m) - near_m) / (far_m - near_m), 0.0, 1.0)
    rgb = np.stack([t, 0.3 + 0.5 * t, 1.0 - t], axis=-1)
    rgb[~np.isfinite(depth_m)] = 0.0
    return (rgb * 255).astype(np.uint8)


class CameraRecorder(Node):
    def __init__(self) -> None:
        super().__init__("camera_recorder")
        self.cameras = list(declare(self, "cameras", ["kitchen_overview", "head_rgbd"], "camera names"))
        self.output_dir = Path(declare(self, "output_dir", "runs/views", "where PNGs are written"))
        self.period_s = float(declare(self, "period_s", 2.0, "minimum wall time between saves per stream"))
        self.max_frames = int(declare(self, "max_frames", 50, "frames kept per camera and stream"))
        self.streams = ["color", "depth"] + (["detections"] if declare(self, "detections", False, "annotated") else [])
        self.output_dir.mkdir(parents=True, exist_ok=True)
        self.latest: dict[tuple[str, str], np.ndarray] = {}
        self._last_save: dict[tuple[str, str], float] = {}
        self._count: dict[tuple[str, str], int] = {}
        for cam in self.cameras:
            for stream in self.streams:
                topic = f"/perception/debug/{cam}" if stream == "detections" else f"/{cam}/{stream}/image_raw"
                self.create_subscription(Image, topic,
                                         lambda msg, c=cam, s=stream: self._on_image(c, s, msg),
                                         qos_profile_sensor_data)
        self.get_logger().info(f"recording {self.cameras} into {self.output_dir}")

    def _on_image(self, camera: str, stream: str, msg: Image) -> None:
        key = (camera, stream)
        try:
            rgb = depth_to_rgb(cs.depth_to_metres(msg)) if stream == "depth" else cs.image_to_numpy(msg)
        except cs.ImageConversionError as err:
            self.get_logger().warning(f"{camera}/{stream}: {err}", throttle_duration_sec=5.0)
            return
        self.latest[key] = rgb
        now = time.monotonic()
        if now - self._last_save.get(key, -1e9) < self.period_s or self._count.get(key, 0) >= self.max_frames:
            return
        self._last_save[key] = now
        self._count[key] = self._count.get(key, 0) + 1
        stamp = cs.time_to_seconds(msg.header.stamp)
        PILImage.fromarray(rgb).save(self.output_dir / f"{camera}_{stream}_{stamp:08.2f}s.png")

    def write_contact_sheet(self) -> Path | None:
        if not self.latest:
            return None
        h, w = 240, 320
        blank = np.zeros((h, w, 3), np.uint8)
        rows = [np.hstack([np.asarray(PILImage.fromarray(self.latest[(c, s)]).resize((w, h)))
                           if (c, s) in self.latest else blank for s in self.streams])
                for c in self.cameras if any((c, s) in self.latest for s in self.streams)]
        path = self.output_dir / "contact_sheet.png"
        PILImage.fromarray(np.vstack(rows)).save(path)
        return path

    def destroy_node(self) -> None:
        path = self.write_contact_sheet()
        if path:
            print(f"[camera_recorder] saved {sum(self._count.values())} frames and {path}", flush=True)
        super().destroy_node()


def main(args: list[str] | None = None) -> int:
    return spin_node(CameraRecorder, threads=1, args=args)


if __name__ == "__main__":
    raise SystemExit(main())
