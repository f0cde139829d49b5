"""The `jobsite` command (`jobsite.run:cli`) and `python -m jobsite.run` take the same roles and slots."""

import pytest

from jobsite import run


@pytest.fixture
def served(monkeypatch):
    """What the command would run, instead of running it: (role, slots)."""
    calls = []
    monkeypatch.setattr(run, "serve", lambda role, slots=None: calls.append((role, slots)) or 0)
    return calls


@pytest.mark.parametrize(
    ("argv", "role", "slots"),
    [
        (["run"], "all", None),
        (["web"], "web", None),
        (["worker"], "worker", None),
        (["worker", "--slots", "4"], "worker", 4),
        (["run", "--slots", "256"], "all", 256),
    ],
)
def test_each_subcommand_runs_its_roles(served, argv, role, slots):
    assert run.cli(argv) == 0
    assert served == [(role, slots)]


def test_python_m_jobsite_run_keeps_its_role_flag(served):
    run.main(["--role", "worker", "--slots", "2"])
    run.main([])
    assert served == [("worker", 2), ("all", None)]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["worker", "--slots", "0"], "--slots: must be 1 to 256, not 0"),
        (["worker", "--slots", "257"], "--slots: must be 1 to 256, not 257"),
        (["worker", "--slots", "four"], "--slots: must be a whole number, not 'four'"),
        (["web", "--slots", "2"], "unrecognized arguments: --slots 2"),
        ([], "the following arguments are required"),
    ],
)
def test_bad_arguments_are_refused_with_a_message(served, capsys, argv, message):
    with pytest.raises(SystemExit) as exit_:
        run.cli(argv)
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err
    assert served == []
