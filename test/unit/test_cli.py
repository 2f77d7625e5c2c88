import pytest

from planner_ros.cli import main


def test_help_lists_subcommands(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert "bringup" in out and "demo" in out and "sim" in out


@pytest.mark.parametrize("argv, fragment", [
    (["fly"], "invalid choice: 'fly'"),
    (["bringup", "--domain-id", "x"], "invalid int value: 'x'"),
    (["demo", "--bogus"], "unrecognized arguments: --bogus"),
    (["sim", "--layout", "kitchen_z"], "invalid choice: 'kitchen_z'"),
    (["sim", "--real-time-factor", "fast"], "invalid float value: 'fast'"),
])
def test_bad_arguments_give_one_line_and_nonzero(capsys, argv, fragment):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert fragment in err and len(err.strip().splitlines()) == 1


def test_bringup_errors_are_one_line(capsys):
    assert main(["bringup", "no_such_bringup"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no bringup named 'no_such_bringup'" in err[0]
    assert main(["bringup"]) == 2
    assert main(["demo", "--domain-id", "500"]) == 2
    assert "outside" in capsys.readouterr().err


def test_bringup_list(capsys):
    assert main(["bringup", "--list"]) == 0
    assert "demo" in capsys.readouterr().out.split()
