import argparse

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jumpax.apps import fit


@pytest.fixture(scope="module")
def data():
    return fit.synthetic_snapshots(jax.random.key(0))


def parse(*argv):
    parser = argparse.ArgumentParser(prog="jumpax")
    fit.add_fit_command(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(["fit", *argv])


def test_synthetic_snapshots_follow_the_design(data):
    assert [data.at(i).size for i in range(len(fit.TIMES))] == list(fit.CELLS)
    assert np.all(data.counts >= 0) and np.all(data.counts == np.round(data.counts))
    # Steady state: mean k_tx k_on / (k_deg (k_on + k_off)), within 3 standard errors.
    r = fit.TRUE_RATES
    mean = r["k_tx"] * r["k_on"] / (r["k_deg"] * (r["k_on"] + r["k_off"]))
    steady = data.at(len(fit.TIMES) - 1)
    assert abs(steady.mean() - mean) < 3 * steady.std() / np.sqrt(steady.size)
    # The induction transient: fewer mRNA early on.
    assert data.at(0).mean() < data.at(1).mean() < data.at(2).mean() < steady.mean()


def test_telegraph_network_sets_rates_under_jit():
    log_rates = jnp.log(jnp.array([1.0, 2.0, 3.0, 4.0]))
    rates = jax.jit(lambda lr: jnp.stack(
        [r.kinetics.k for r in fit.telegraph_network(lr).reactions]
    ))(log_rates)
    np.testing.assert_allclose(rates, [1, 2, 3, 4], rtol=1e-6)


def test_fit_rates_runs_and_validates(data):
    result = fit.fit_rates(jax.random.key(2), data, "moments", iterations=4, cells=100,
                           progress=False)
    assert result.trace.shape == (5, 4) and result.losses.shape == (4,)
    assert set(result.rates) == set(fit.TRUE_RATES)
    assert all(np.isfinite(v) and v > 0 for v in result.rates.values())
    with pytest.raises(ValueError, match="method must be one of"):
        fit.fit_rates(jax.random.key(2), data, "likelihood")
    with pytest.raises(ValueError, match="even number"):
        fit.fit_rates(jax.random.key(2), data, cells=101)
    with pytest.raises(ValueError, match="at least 4"):
        fit.fit_rates(jax.random.key(2), data, iterations=2)


@pytest.mark.slow
def test_fit_command_prints_a_table_writes_data_and_plot(tmp_path, capsys):
    csv, png = tmp_path / "cells.csv", tmp_path / "fit.png"
    args = parse("--method", "distribution", "--iterations", "4", "--cells", "100", "--quiet",
                 "--save-data", str(csv), "--plot", str(png))
    assert args.handler(args) == 0
    out = capsys.readouterr().out
    for name in fit.TRUE_RATES:
        assert name in out
    assert "distribution" in out and "true" in out and "error" in out
    assert png.stat().st_size > 0
    data = fit.read_snapshots(csv)
    assert data.counts.size == sum(fit.CELLS)
    np.testing.assert_allclose(data.times, fit.TIMES)
    args = parse("--data", str(csv), "--method", "moments", "--iterations", "4", "--cells", "100",
                 "--quiet")
    assert args.handler(args) == 0
    assert "true" not in capsys.readouterr().out  # no ground truth for user data


def test_bad_input_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="2 times but 1 cell counts"):
        fit.synthetic_snapshots(jax.random.key(0), times=(1.0, 2.0), cells=(10,))
    bad = tmp_path / "bad.csv"
    bad.write_text("t,n\n1,2\n")
    with pytest.raises(ValueError, match="columns 'time' and 'count'"):
        fit.read_snapshots(bad)
    bad.write_text("time,count\n1,2\n1,-1\n")
    with pytest.raises(ValueError, match="non-negative whole numbers"):
        fit.read_snapshots(bad)
    with pytest.raises(SystemExit):
        parse("--cells", "7")
    with pytest.raises(SystemExit):
        parse("--method", "likelihood")


@pytest.mark.slow
def test_fit_recovers_all_four_rates_within_10_percent(data):
    for i, method in enumerate(fit.METHODS):
        result = fit.fit_rates(jax.random.fold_in(jax.random.key(1), i), data, method,
                               progress=False)
        for name, true in fit.TRUE_RATES.items():
            assert abs(result.rates[name] / true - 1) < 0.10, (method, name, result.rates)
