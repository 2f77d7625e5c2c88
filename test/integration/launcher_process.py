"""Drive `planner-ros bringup` as a subprocess and read its prefixed output while it runs."""
from __future__ import annotations

import contextlib
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import rclpy
from rclpy.node import Node


class LauncherProcess:
    def __init__(self, *args: str, cwd: Path | None = None) -> None:
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "planner_ros.cli", "bringup", *args], cwd=cwd, env=dict(os.environ),
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_for_line(self, pattern: str, timeout_s: float) -> re.Match:
        """Block until an output line matches pattern; fail with the output so far on timeout."""
        regex = re.compile(pattern)
        for line in self.lines:
            if match := regex.search(line):
                return match
        deadline = time.monotonic() + timeout_s
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self._queue.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                break
            self.lines.append(line)
            if match := regex.search(line):
                return match
        raise AssertionError(f"no line matching {pattern!r} within {timeout_s} s; output:\n" + self.output)

    def wait(self, timeout_s: float) -> int:
        code = self.process.wait(timeout=timeout_s)
        while (line := self._queue.get(timeout=5)) is not None:
            self.lines.append(line)
        return code

    @property
    def output(self) -> str:
        """Everything printed so far (drains what the reader thread has queued)."""
        while True:
            try:
                line = self._queue.get_nowait()
            except queue.Empty:
                break
            if line is not None:
                self.lines.append(line)
        return "\n".join(self.lines)

    def child_pids(self) -> dict[str, int]:
        """Node name -> pid, from the launcher's 'started' lines."""
        return {m.group(1): int(m.group(2))
                for line in self.lines if (m := re.search(r"\[launcher\] started (\S+) \(pid (\d+)\)", line))}

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def wait_gone(pids, timeout_s: float) -> list[int]:
    """Pids still alive after timeout_s."""
    deadline = time.monotonic() + timeout_s
    left = list(pids)
    while left and time.monotonic() < deadline:
        left = [p for p in left if alive(p)]
        time.sleep(0.05)
    return [p for p in left if alive(p)]


class ProbeNode(Node):
    """An rclpy node that tests spin while they wait for what the nodes under test publish."""

    def spin_until(self, predicate, timeout_s: float, what: str) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and not predicate():
            rclpy.spin_once(self, timeout_sec=0.1)
        assert predicate(), f"timed out after {timeout_s} s waiting for {what}"


@contextlib.contextmanager
def bringup_with_probe(path: Path, yaml_text: str, make_probe):
    """Start the bringup written to `path`, and an rclpy probe node beside it; on exit stop both and check
    that the launcher exits cleanly and leaves no node behind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml_text)
    launcher = LauncherProcess(str(path))
    rclpy.init()
    probe = None
    try:
        probe = make_probe()  # inside the try: a probe that fails to build must not leave the nodes running
        yield probe, launcher
    finally:
        if probe is not None:
            probe.destroy_node()
        rclpy.shutdown()
        launcher.process.send_signal(signal.SIGINT)
        assert launcher.wait(15) == 0, launcher.output
        assert not wait_gone(launcher.child_pids().values(), 5)
