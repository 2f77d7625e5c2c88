"""The detector training interpreter (.venv-train, `make train-env`), for tests that run code in it."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TRAIN_PYTHON = REPO / ".venv-train" / "bin" / "python"


def child_env(config_dir: Path | None = None) -> dict[str, str]:
    env = dict(os.environ)
    # The runtime venv's ROS bootstrap markers and library path would leak into the other interpreter.
    for name in ("_ROS_WHEELS_BOOTSTRAP_COMPLETE", "LD_LIBRARY_PATH"):
        env.pop(name, None)
    env.update(PYTHONPATH=str(REPO), YOLO_OFFLINE="1")  # offline: ultralytics neither downloads nor pip-installs
    if config_dir is not None:
        env["YOLO_CONFIG_DIR"] = str(config_dir)
    return env


def require_train_python(what_is_not_verified: str) -> Path:
    """TRAIN_PYTHON if it can import ultralytics, else skip saying what is not verified."""
    skip = f"ultralytics is not installed in .venv-train (make train-env); {what_is_not_verified} is not verified here"
    if not TRAIN_PYTHON.is_file():
        pytest.skip(f"{TRAIN_PYTHON} is missing: {skip}")
    probe = subprocess.run([str(TRAIN_PYTHON), "-c", "import ultralytics, torchvision"], env=child_env(),
                           capture_output=True, text=True, timeout=120)
    if probe.returncode != 0:
        why = (probe.stderr.strip().splitlines() or [f"exit status {probe.returncode}"])[-1]
        pytest.skip(f"{skip} ({why})")
    return TRAIN_PYTHON
