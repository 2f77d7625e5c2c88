"""The built-in launcher with real nodes in separate processes, talking over DDS."""
from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest
from launcher_process import LauncherProcess, alive, wait_gone

TWO_SERVERS = """
name: two_servers
nodes:
  - name: server_a
    executable: skill_server
    parameters: [{time_scale: 0.0}]
  - name: server_b
    executable: skill_server
    parameters: [{time_scale: 0.0}]
    remappings: {execute_skill: execute_skill_b, list_skills: list_skills_b}
"""


@pytest.fixture
def two_servers(tmp_path: Path):
    path = tmp_path / "bringup" / "two_servers.yaml"
    path.parent.mkdir()
    path.write_text(TWO_SERVERS)
    launcher = LauncherProcess(str(path))
    yield launcher
    launcher.kill()
    wait_gone(launcher.child_pids().values(), 5)


def started(launcher: LauncherProcess) -> dict[str, int]:
    for name in ("server_a", "server_b"):
        launcher.wait_for_line(rf"^\[{name}\] .*serving \d+ skills", timeout_s=30)
    pids = launcher.child_pids()
    assert set(pids) == {"server_a", "server_b"}
    return pids


def test_demo_action_round_trip_goal_feedback_result_cancel(tmp_path):
    """skill_server and skill_sequence_runner: goals, feedback, results, refusals and a cancel, over DDS."""
    launcher = LauncherProcess("symbolic_demo", "--localhost", cwd=tmp_path)
    try:
        code = launcher.wait(timeout_s=120)
    finally:
        launcher.kill()
    assert code == 0, launcher.output
    out = launcher.output
    assert "[skill_server] " in out and "[skill_sequence_runner] " in out  # prefixed per node
    runs = list((tmp_path / "runs").glob("*/record.jsonl"))
    assert len(runs) == 1, out
    records = [json.loads(line) for line in runs[0].read_text().splitlines()]
    assert len(records) == 19 and all(r["as_expected"] for r in records)
    by_step = {(r["index"]): r for r in records}
    assert by_step[2]["outcome"] == "success" and by_step[2]["feedback_messages"] > 0
    assert by_step[2]["phases"] == ["approach", "grasp", "lift"]
    assert by_step[4]["outcome"] == "CONTAINER_CLOSED" and "open it first" in by_step[4]["reason"]
    canceled = by_step[17]
    assert canceled["outcome"] == "CANCELED" and canceled["feedback_messages"] > 0
    assert by_step[18]["outcome"] == "success"  # the canceled navigation left the robot at the fridge
    assert by_step[19]["outcome"] == "UNKNOWN_SKILL"
    summary = json.loads((runs[0].parent / "summary.json").read_text())
    assert summary["as_expected"] == summary["steps"] == 19
    assert "skill_sequence_runner exited with code 0" in out


def test_killed_required_node_fails_the_launcher_naming_it(two_servers):
    pids = started(two_servers)
    os.kill(pids["server_b"], signal.SIGKILL)
    code = two_servers.wait(timeout_s=15)
    assert code != 0
    assert "ERROR: required node 'server_b' was killed by SIGKILL" in two_servers.output
    assert not wait_gone(pids.values(), 5), "the launcher left a node running"


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_stops_every_child_within_5_s(two_servers, sig):
    pids = started(two_servers)
    t0 = time.monotonic()
    two_servers.process.send_signal(sig)
    code = two_servers.wait(timeout_s=10)
    assert not wait_gone(pids.values(), max(0.0, 5 - (time.monotonic() - t0))), two_servers.output
    assert time.monotonic() - t0 < 5.5
    assert code == 0, two_servers.output
    assert "stop requested" in two_servers.output


def test_children_die_with_a_killed_launcher(two_servers):
    pids = started(two_servers)
    two_servers.kill()  # SIGKILL: no chance to clean up, the kernel's parent-death signal must do it
    assert not wait_gone(pids.values(), 5)
    assert all(not alive(p) for p in pids.values())
