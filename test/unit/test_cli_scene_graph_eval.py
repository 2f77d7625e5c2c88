"""`planner-ros eval scene-graph` refuses unusable arguments at once, in one line, before building anything."""
import pytest

from planner_ros.cli import main


@pytest.mark.parametrize("argv, fragment", [
    (["--scenes", "0"], "must be at least 1"),
    (["--episodes", "-2"], "must be at least 1"),
    (["--first-seed", "10"], "evaluation seeds must lie in 20000..29999"),
    (["--first-seed", "29990"], "the first seed can be at most"),
])
def test_bad_counts_or_seeds_exit_with_one_clear_line(capsys, argv, fragment):
    assert main(["eval", "scene-graph", "--backend", "oracle", *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("planner-ros: error:") and fragment in err[0]


def test_unknown_backend_and_bad_values(capsys):
    assert main(["eval", "scene-graph", "--backend", "nope", "--scenes", "1", "--episodes", "1"]) == 2
    assert "unknown detector backend 'nope'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        main(["eval", "scene-graph", "--scenes", "many"])
    assert exit_.value.code == 2
    assert "invalid int value: 'many'" in capsys.readouterr().err
