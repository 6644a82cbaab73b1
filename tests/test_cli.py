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
