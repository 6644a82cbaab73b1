"""The command line: simulate, models, demo."""

import numpy as np
import pytest

from jumpax.apps import cli


def test_simulate_ensemble_to_csv_and_plot(tmp_path, capsys):
    out, plot = tmp_path / "bd.csv", tmp_path / "bd.png"
    status = cli.main(
        ["simulate", "birth_death", "--t1", "20", "--n", "50", "--save-at", "11",
         "--out", str(out), "--plot", str(plot), "--quiet"]
    )
    assert status == 0
    text = capsys.readouterr().out
    assert "simulated 50 trajectories of birth_death" in text and "X: final mean" in text
    lines = out.read_text().splitlines()
    assert lines[0] == "trajectory,time,X" and len(lines) == 1 + 50 * 11
    assert plot.stat().st_size > 1000


def test_simulate_single_event_list_npz(tmp_path):
    out = tmp_path / "one.npz"
    assert cli.main(["simulate", "dimerisation", "--out", str(out), "--quiet"]) == 0
    with np.load(out) as data:
        assert "reactions" in data and data["x"].shape[-1] == 2


def test_simulate_ensemble_is_chunk_independent():
    import jax

    import jumpax as jx

    net = jx.models.birth_death()
    ts = np.linspace(0, 10, 3)
    chunked = cli.simulate_ensemble(jax.random.key(4), net, net.x0, 10.0, num_trajectories=45,
                                    save_at=ts, progress=False)
    whole = jx.simulate(jax.random.key(4), net, net.x0, 10.0, save_at=ts, num_trajectories=45)
    np.testing.assert_array_equal(chunked.x, whole.x)


DELAYED = "tests/data/sbml-semantic/00071/00071-sbml-l3v2.xml"  # an event with a delay
MOLES = "tests/data/sbml-semantic/00001/00001-sbml-l3v2.xml"  # S1 -> S2, amounts 1.5e-4


def test_simulate_an_sbml_file_with_the_ode(tmp_path, capsys):
    out = tmp_path / "ode.csv"
    assert cli.main(["simulate", DELAYED, "--method", "ode", "--out", str(out), "--quiet"]) == 0
    text = capsys.readouterr().out
    assert "solved the reaction-rate ODE" in text
    table = np.loadtxt(out, delimiter=",", skiprows=1)
    reference = np.loadtxt(DELAYED.replace("sbml-l3v2.xml", "results.csv"), delimiter=",",
                           skiprows=1)
    final = table[-1, 2:]  # trajectory, time, S1, S2
    np.testing.assert_allclose(final, reference[-1, 1:], rtol=1e-4)


def test_simulate_converts_amounts_to_molecules_when_asked(capsys):
    assert cli.main(["simulate", MOLES, "--molecules-per-amount", "1e6", "--n", "20",
                     "--quiet"]) == 0
    assert "S1: final mean" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ([DELAYED], "the exact simulation cannot simulate delayed"),
        ([MOLES], "x0 counts must be whole numbers"),
        ([DELAYED, "--method", "ode", "--n", "3"], "the reaction-rate ODE has one solution"),
        (["birth_death", "--molecules-per-amount", "5"], "only for SBML files"),
    ],
)
def test_sbml_models_the_exact_simulation_cannot_follow(arguments, message, capsys):
    with pytest.raises(SystemExit):
        cli.main(["simulate", *arguments, "--quiet"])
    assert message in capsys.readouterr().err


def test_bad_cli_input(capsys):
    for argv, message in [
        (["simulate", "nope"], "argument model: unknown model 'nope'"),
        (["simulate", "birth_death", "--n", "0"], "argument --n: expected a positive integer"),
        (["simulate", "birth_death", "--save-at", "x"], "argument --save-at: expected a number"),
    ]:
        with pytest.raises(SystemExit) as exit_info:
            cli.main(argv)
        assert exit_info.value.code == 2
        assert message in capsys.readouterr().err


def test_models_listing(capsys):
    assert cli.main(["models"]) == 0
    assert "telegraph" in capsys.readouterr().out


@pytest.mark.slow
def test_demo_runs(tmp_path, capsys):
    assert cli.main(["demo", "--out-dir", str(tmp_path)]) == 0
    text = capsys.readouterr().out
    assert "worst |Z|" in text and "Done." in text
    assert (tmp_path / "immigration_death.png").exists()
