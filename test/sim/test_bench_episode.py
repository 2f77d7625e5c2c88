"""`planner-ros bench` end to end on one short episode in the real simulator: the run folder's files, the
verifier audit beside ground truth, and resuming a finished run without re-running anything."""
from __future__ import annotations

import json

from planner_ros.cli import main


def test_one_episode_writes_the_report_and_a_finished_run_resumes_without_rerunning(tmp_path):
    out = tmp_path / "run"
    argv = ["bench", "--only", "fetch_apple_to_counter:clean", "--configurations", "full", "--no-stages",
            "--workers", "1", "--out", str(out)]
    assert main(argv) == 0
    rows = [json.loads(line) for line in (out / "episodes.jsonl").read_text().splitlines()]
    assert len(rows) == 1
    row = rows[0]
    assert row["key"] == "full|fetch_apple_to_counter:clean|0" and row["seed"] == 30_101
    assert row["success"], row["summary"]
    audit = row["verifier_audit"]
    assert [a["step"] for a in audit] == row["steps"]
    assert all(a["truth_success"] and a["verdict"] == "success" for a in audit), audit
    results = json.loads((out / "results.json").read_text())
    assert results["figures"]["full"]["clean"]["successes"] == 1
    assert "| full | clean | 1 | 1/1 (100%)" in (out / "report.md").read_text()
    assert (out / "success.png").stat().st_size > 1000
    # A second run of the same folder finds the episode done and only rewrites the report.
    assert main([*argv, "--compare", str(out)]) == 0
    assert len((out / "episodes.jsonl").read_text().splitlines()) == 1
    assert "1/1 episodes ended with the same success or failure" in (out / "report.md").read_text()
