"""Run a bringup's nodes as supervised child processes.

Each node is its own process (and process group), its output is prefixed with its name, and the
launcher's fate follows the nodes': a required node that dies stops everything and fails naming it; an
`exit_with` node (a task client) ends the bringup with its exit code; Ctrl-C or SIGTERM stops every
child within stop_timeout_s, escalating SIGINT -> SIGTERM -> SIGKILL. Children also get SIGTERM from the
kernel if the launcher itself is killed (PR_SET_PDEATHSIG), so none is left orphaned.
"""
from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from typing import BinaryIO

from planner_ros.launcher.bringup import Bringup, NodeSpec, ros_arguments

_PR_SET_PDEATHSIG = 1
_POLL_S = 0.05

try:
    _LIBC = ctypes.CDLL(None, use_errno=True)
except OSError:  # pragma: no cover - not Linux
    _LIBC = None


def node_command(node: NodeSpec, python: str = sys.executable) -> list[str]:
    return [python, "-m", node.module, *node.arguments, *ros_arguments(node)]


def _die_with_parent(parent_pid: int) -> None:
    """Runs in the child between fork and exec: ask for SIGTERM when the launcher dies."""
    if _LIBC is not None:
        _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent_pid:  # the launcher died before prctl took effect
        os._exit(1)


def describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with code {code}"


@dataclass
class _Child:
    node: NodeSpec
    process: subprocess.Popen
    reader: threading.Thread

    @property
    def label(self) -> str:
        return f"{self.node.namespace}/{self.node.name}".lstrip("/")


class Supervisor:
    """Starts the nodes of a bringup and supervises them until it ends; `run()` returns the exit code."""

    def __init__(self, bringup: Bringup, *, env: dict[str, str], python: str = sys.executable,
                 out: BinaryIO | None = None, stop_timeout_s: float = 4.5) -> None:
        self.bringup = bringup
        self.env = env
        self.python = python
        self.out = out or sys.stdout.buffer
        self.stop_timeout_s = stop_timeout_s
        self._children: list[_Child] = []
        self._out_lock = threading.Lock()
        self._stop_requested = threading.Event()
        self._signals_seen = 0

    # -- output -------------------------------------------------------------------------------------
    def say(self, message: str) -> None:
        self._write(b"[launcher] " + message.encode() + b"\n")

    def _write(self, data: bytes) -> None:
        with self._out_lock:
            self.out.write(data)
            self.out.flush()

    def _pump(self, label: str, stream: BinaryIO) -> None:
        prefix = f"[{label}] ".encode()
        for line in iter(stream.readline, b""):
            self._write(prefix + line if line.endswith(b"\n") else prefix + line + b"\n")
        stream.close()

    # -- lifecycle ----------------------------------------------------------------------------------
    def _on_signal(self, signum: int, _frame: object) -> None:
        self._signals_seen += 1
        self._stop_requested.set()

    def start(self) -> None:
        # Unbuffered so prefixed lines appear as they are written; no colour codes inside the prefixes.
        env = {"RCUTILS_COLORIZED_OUTPUT": "0", **self.env, "PYTHONUNBUFFERED": "1"}
        parent = os.getpid()
        for node in self.bringup.nodes:
            cmd = node_command(node, self.python)
            process = subprocess.Popen(
                cmd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                start_new_session=True, preexec_fn=lambda: _die_with_parent(parent),
            )
            child = _Child(node, process, threading.Thread(target=lambda: None))
            child.reader = threading.Thread(target=self._pump, args=(child.label, process.stdout), daemon=True)
            child.reader.start()
            self._children.append(child)
            self.say(f"started {child.label} (pid {process.pid}): {' '.join(cmd[1:])}")

    def run(self) -> int:
        previous = {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            self.start()
            return self._supervise()
        finally:
            self.stop()
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _supervise(self) -> int:
        reported: set[int] = set()
        while not self._stop_requested.wait(_POLL_S):
            for child in self._children:
                code = child.process.poll()
                if code is None or child.process.pid in reported:
                    continue
                reported.add(child.process.pid)
                child.reader.join(timeout=1.0)  # print its last lines before the verdict
                if child.node.exit_with:
                    self.say(f"{child.label} {describe_exit(code)}; stopping the other nodes")
                    return code if code >= 0 else 1
                if child.node.required:
                    self.say(f"ERROR: required node '{child.label}' {describe_exit(code)}; stopping the other nodes")
                    return 1
                self.say(f"node '{child.label}' {describe_exit(code)} (not required; the others keep running)")
            if len(reported) == len(self._children):
                self.say("all nodes have exited")
                return 0
        self.say("stop requested; stopping all nodes")
        return 0

    def stop(self) -> None:
        """Stop every child: SIGINT, then SIGTERM, then SIGKILL, within stop_timeout_s in all."""
        alive = [c for c in self._children if c.process.poll() is None]
        deadline = time.monotonic() + self.stop_timeout_s
        escalation = ((signal.SIGINT, 0.65), (signal.SIGTERM, 0.9), (signal.SIGKILL, 1.0))
        for sig, share in escalation:
            if not alive:
                break
            if sig != signal.SIGKILL and self._signals_seen > 1:
                continue  # a second Ctrl-C means: now
            for child in alive:
                self._signal_group(child, sig)
            until = time.monotonic() + share * max(0.0, deadline - time.monotonic())
            while alive and time.monotonic() < until:
                time.sleep(_POLL_S)
                alive = [c for c in alive if c.process.poll() is None]
            if alive and sig != signal.SIGKILL:
                self.say(f"{', '.join(c.label for c in alive)} ignored {sig.name}; escalating")
        for child in self._children:
            child.process.wait()
            self._signal_group(child, signal.SIGKILL)  # grandchildren a node left behind
            child.reader.join(timeout=1.0)

    @staticmethod
    def _signal_group(child: _Child, sig: signal.Signals) -> None:
        try:
            os.killpg(child.process.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass
