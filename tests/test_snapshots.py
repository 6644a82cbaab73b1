"""Snapshot inference: data files, objectives, the unbiased gradient, recovery, the command."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.special import comb

import jumpax as jx
from jumpax import inference as ji
from jumpax.inference._snapshots import MIN_BIN_CELLS, _Experiment

KEY = jax.random.key(0)
TWO_STAGE_TRUTH = {"transcription": 2.0, "mRNA decay": 0.5, "translation": 2.0,
                   "protein decay": 0.2}
TIMES = (1.0, 2.0, 4.0, 8.0, 16.0)


def _two_stage(rates=TWO_STAGE_TRUTH):
    return jx.models.two_stage_gene_expression(
        k_m=rates["transcription"], g_m=rates["mRNA decay"], k_p=rates["translation"],
        g_p=rates["protein decay"],
    )


# ------------------------------------------------------------------------------- data files


def test_snapshots_round_trip_through_csv(tmp_path):
    net = _two_stage()
    data = ji.simulate_snapshots(KEY, net, (1.0, 3.0), (5, 7), observed=["P"])
    assert data.values.shape == (12, 1) and data.observed == ("P",)
    assert np.array_equal(np.bincount(data.time_index), [5, 7])
    ji.write_snapshots(data, tmp_path / "cells.csv")
    back = ji.read_snapshots(tmp_path / "cells.csv", net)
    assert back.observed == ("P",)
    assert np.array_equal(back.times, data.times)
    assert np.array_equal(back.values, data.values)
    assert np.array_equal(back.time_index, data.time_index)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("time,Q\n1,3\n", "not species of the network"),
        ("time\n1\n", "no observed species column"),
        ("time,M\n-1,3\n", "line 2: times start at 0"),
        ("time,M\n1,2.5\n", "line 2, column 'M': counts are whole numbers"),
        ("M\n3\n", "missing column(s) ['time']"),
    ],
)
def test_snapshot_data_errors_name_what_is_wrong(tmp_path, text, message):
    (tmp_path / "bad.csv").write_text(text)
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")
                       .replace("[", r"\[").replace("]", r"\]")):
        ji.read_snapshots(tmp_path / "bad.csv", _two_stage())


def test_simulate_snapshots_errors():
    net = _two_stage()
    with pytest.raises(ValueError, match="increasing"):
        ji.simulate_snapshots(KEY, net, (2.0, 1.0), 3)
    with pytest.raises(ValueError, match="one per time"):
        ji.simulate_snapshots(KEY, net, (1.0, 2.0), (3, 3, 3))
    with pytest.raises(ValueError, match="unknown species 'Q'"):
        ji.simulate_snapshots(KEY, net, (1.0,), 3, observed=["Q"])


# ------------------------------------------------------------------------------- objectives


def test_moment_targets_are_the_standardised_moments_of_each_time():
    data = ji.simulate_snapshots(KEY, _two_stage(), (1.0, 4.0), 400)
    objective = ji.snapshot_objective(data, "moments")
    # Per time: z, z^2, z^3 of M and P, then z_M z_P, standardised by that time's own cells.
    blocks = np.asarray(objective.target).reshape(2, 7)
    for i, block in enumerate(blocks):
        cells = data.at(i).astype(float)
        z = (cells - cells.mean(0)) / cells.std(0)
        expected = [*z.mean(0), *(z**2).mean(0), *(z**3).mean(0), (z[:, 0] * z[:, 1]).mean()]
        np.testing.assert_allclose(block, expected, atol=1e-4)


def test_histogram_targets_are_distributions_with_pooled_bins():
    data = ji.simulate_snapshots(KEY, _two_stage(), (1.0, 4.0), 400, observed=["P"])
    objective = ji.snapshot_objective(data, "distribution")
    start = 0
    for per_time in objective.edges:
        for e in per_time:
            p = np.asarray(objective.target[start:start + e.size])
            assert p.sum() == pytest.approx(1.0, abs=1e-5)
            assert np.all(p * 400 >= MIN_BIN_CELLS - 1e-3)  # every bin holds 20 cells
            start += e.size
    assert start == objective.target.size


def test_objectives_refuse_data_they_cannot_fit():
    net = jx.models.immigration_death()
    constant = ji.Snapshots(np.array([1.0]), np.full((50, 1), 3), np.zeros(50, int), ("X",))
    with pytest.raises(ValueError, match="at t = 1 have a singular covariance"):
        ji.snapshot_objective(constant, "moments")
    few = ji.simulate_snapshots(KEY, net, (5.0,), 30)
    with pytest.raises(ValueError, match="two histogram bins"):
        ji.snapshot_objective(few, "distribution")
    with pytest.raises(ValueError, match="method must be one of"):
        ji.snapshot_objective(few, "likelihood")
    data = ji.simulate_snapshots(KEY, net, (5.0,), 100)
    for bad, message in (({"cells": 7}, "even number"), ({"bootstrap": 1}, "at least 2"),
                         ({"iterations": 2}, "at least 4")):
        with pytest.raises(ValueError, match=message):
            ji.fit_snapshots(KEY, net, data, ["Immigration"], progress=False, **bad)


def _poisson_standardised_moments(m, center, scale):
    """E[z], E[z^2], E[z^3] of z = (X - c) / s for X ~ Poisson(m) (raw moments, expanded)."""
    raw = [1.0, m, m + m**2, m**3 + 3 * m**2 + m]
    out = []
    for p in (1, 2, 3):
        e = sum(comb(p, j) * raw[j] * (-center) ** (p - j) for j in range(p + 1))
        out.append(e / scale**p)
    return jnp.stack(out)


def test_score_function_gradient_is_unbiased_against_the_analytic_objective():
    # Immigration-death from 0: X(t) ~ Poisson(alpha / mu (1 - exp(-mu t))), so the moment
    # objective has a closed form in (log alpha, log mu) and its gradient an exact value.
    net = jx.models.immigration_death(alpha=10.0, mu=1.0)
    times = (0.5, 2.0)
    data = ji.simulate_snapshots(KEY, jx.models.immigration_death(8.0, 1.3), times, 300)
    objective = ji.snapshot_objective(data, "moments")
    parameters = ji.ParameterSet(net, ["Immigration", "Death"])
    s = jnp.log(jnp.array([10.0, 1.0]))

    def analytic(s):
        alpha, mu = jnp.exp(s)
        mus = [
            _poisson_standardised_moments(
                alpha / mu * (1 - jnp.exp(-mu * t)), objective.center[i, 0],
                objective.scale[i, 0],
            )
            for i, t in enumerate(times)
        ]
        return objective.loss(jnp.concatenate(mus))

    experiment = _Experiment(net, parameters, jnp.asarray(times), (0,), 2000, 200)
    estimate = jax.jit(lambda key: experiment.estimates(s, key, objective))
    grads = np.stack([np.asarray(estimate(k)[1]) for k in jax.random.split(KEY, 40)])
    mean, se = grads.mean(0), grads.std(0, ddof=1) / np.sqrt(len(grads))
    exact = np.asarray(jax.grad(analytic)(s))
    assert np.all(np.abs(exact) > 5 * se)  # the check has power
    np.testing.assert_array_less(np.abs(mean - exact), 4 * se)


# ------------------------------------------------------------------------------- recovery


@pytest.mark.slow
def test_two_stage_rates_recovered_from_five_snapshots_of_600_cells():
    data = ji.simulate_snapshots(jax.random.key(10_000), _two_stage(), TIMES, 600)
    start = _two_stage(dict.fromkeys(TWO_STAGE_TRUTH, 1.0))
    result = ji.fit_snapshots(KEY, start, data, list(TWO_STAGE_TRUTH), bootstrap=10,
                              progress=False)
    for name, value in TWO_STAGE_TRUTH.items():
        p = result["parameters"][name]
        assert abs(p["estimate"] / value - 1) < 0.15, (name, p)
        assert p["lower"] < p["estimate"] < p["upper"]
    assert result["replicates"].shape == (10, 4)


@pytest.mark.slow
def test_infer_command_fits_snapshots_and_writes_json(tmp_path):
    from jumpax.apps import cli

    net = jx.models.immigration_death(alpha=2.0, mu=0.2)
    ji.write_snapshots(ji.simulate_snapshots(KEY, net, (2.0, 5.0, 10.0), 300),
                       tmp_path / "cells.csv")
    out, plot = tmp_path / "fit.json", tmp_path / "fit.png"
    assert cli.main([
        "infer", "immigration_death", "--data", str(tmp_path / "cells.csv"), "--params",
        "Immigration,Death", "--method", "snapshots", "--match", "distribution",
        "--iterations", "30", "--cells", "1000", "--bootstrap", "4", "--out", str(out),
        "--plot", str(plot), "--quiet",
    ]) == 0
    result = json.loads(out.read_text())
    for name, value in (("Immigration", 2.0), ("Death", 0.2)):
        p = result["parameters"][name]
        assert p["lower"] < p["estimate"] < p["upper"]
        assert abs(p["estimate"] / value - 1) < 0.25
    assert result["method"] == "distribution" and "trace" not in result
    assert plot.stat().st_size > 0
