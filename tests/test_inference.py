import csv

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.linalg import expm
from scipy.stats import norm

import jumpax as jx
from jumpax import inference as ji

KEY = jax.random.key(0)
DSMTS_00001 = "tests/data/dsmts/00001-sbml-l3v2.xml"


# --------------------------------------------------------------------------- parameters


def test_parameter_names_resolve_to_reactions_parameters_and_sbml_ids():
    net = jx.models.toggle_switch()
    params = ji.ParameterSet(net, ["U decay", "U synthesis.K"])
    np.testing.assert_allclose(params.values(net), [1.0, 10.0])
    new = params.apply(net, jnp.log(jnp.array([2.0, 5.0])))
    assert float(new.reactions[2].kinetics.k) == pytest.approx(2.0)
    assert float(new.reactions[0].kinetics.K) == pytest.approx(5.0)
    with pytest.raises(ValueError, match="has parameters"):
        ji.ParameterSet(net, ["U synthesis"])  # Hill: vmax, K, n
    with pytest.raises(ValueError, match="unknown parameter 'growth'"):
        ji.ParameterSet(net, ["growth"])
    with pytest.raises(ValueError, match="no parameter 'q'"):
        ji.ParameterSet(net, ["U synthesis.q"])
    with pytest.raises(ValueError, match="at least one"):
        ji.ParameterSet(net, [])
    sbml = jx.load_sbml(DSMTS_00001)
    np.testing.assert_allclose(ji.ParameterSet(sbml, ["Lambda", "Mu"]).values(sbml), [0.1, 0.11])


# ------------------------------------------------------------------------------- paths


def test_paths_round_trip_through_csv_and_give_the_closed_form_mle(tmp_path):
    net = jx.models.birth_death(birth=10.0, death=0.1)
    paths = jx.simulate(KEY, net, net.x0, 30.0, num_trajectories=5, max_steps=1000)
    paths.save(tmp_path / "paths.csv")
    data = ji.read_paths(tmp_path / "paths.csv", net)
    np.testing.assert_array_equal(data.n_steps, paths.n_steps)
    np.testing.assert_allclose(jnp.sum(net.log_prob(data)), jnp.sum(net.log_prob(paths)), rtol=1e-5)
    start = jx.models.birth_death(birth=3.0, death=0.5)  # fitting does not depend on the start
    fit = ji.fit_paths(start, data, ["birth", "death"])["parameters"]
    # Closed form, computed here independently: births / T and deaths / integral of X dt.
    x, t, r = (np.asarray(a) for a in (paths.x, paths.t, paths.reactions))
    dt = np.diff(t, axis=1)
    births, deaths = np.sum(r == 0), np.sum(r == 1)
    exposure = np.sum(x[:, :-1, 0] * dt)
    assert fit["birth"]["estimate"] == pytest.approx(births / (5 * 30.0), rel=1e-4)
    assert fit["death"]["estimate"] == pytest.approx(deaths / exposure, rel=1e-4)
    # The Fisher information of a Poisson-process rate: se(log k) = 1 / sqrt(events).
    assert fit["birth"]["se_log"] == pytest.approx(1 / np.sqrt(births), rel=1e-3)
    assert fit["death"]["se_log"] == pytest.approx(1 / np.sqrt(deaths), rel=1e-3)


def test_paths_data_errors_name_the_line(tmp_path):
    net = jx.ReactionNetwork([jx.Reaction("0 -> X", 1.0, "a"), jx.Reaction("0 -> X", 2.0, "b")])
    path = tmp_path / "p.csv"
    path.write_text("trajectory,time,X\n0,0,0\n0,0.5,1\n0,1,1\n")
    with pytest.raises(ValueError, match="line 3.*several reactions \\(a, b\\)"):
        ji.read_paths(path, net)
    path.write_text("trajectory,time,X,reaction\n0,0,0,\n0,0.5,1,b\n0,1,1,\n")
    assert int(ji.read_paths(path, net).reactions[0, 0]) == 1
    path.write_text("trajectory,time,X\n0,0,0\n0,0.5,3\n")
    with pytest.raises(ValueError, match="line 3.*matches no reaction"):
        ji.read_paths(path, jx.models.birth_death())
    path.write_text("trajectory,time,X\n0,1,0\n0,0.5,1\n")
    with pytest.raises(ValueError, match="line 3: time decreases"):
        ji.read_paths(path, jx.models.birth_death())
    path.write_text("trajectory,time,Y\n0,1,0\n")
    with pytest.raises(ValueError, match="missing column"):
        ji.read_paths(path, jx.models.birth_death())
    path.write_text("trajectory,time,X\n0,0,1.5\n")
    with pytest.raises(ValueError, match="whole numbers"):
        ji.read_paths(path, jx.models.birth_death())


def test_a_reaction_that_never_fires_is_reported():
    net = jx.models.birth_death(birth=10.0, death=1e-9)
    paths = jx.simulate(KEY, net, net.x0, 1.0, num_trajectories=2, max_steps=200)
    with pytest.raises(ValueError, match="'death' never fires"):
        ji.fit_paths(net, paths, ["death"])


@pytest.mark.slow
def test_dsmts_sbml_rates_recovered_from_paths_with_calibrated_intervals():
    # DSMTS 00001 (birth 0.1 X, death 0.11 X from 100 molecules) loaded from SBML, its SBML
    # parameter ids fitted. 20 data sets of 10 paths to t = 50: every estimate within 15%, and
    # the 95% intervals cover the truth in at least 34 of 40 cases (binomial(40, 0.95) puts
    # 0.5% below that).
    net = jx.load_sbml(DSMTS_00001)
    truth = {"Lambda": 0.1, "Mu": 0.11}
    covered = 0
    for rep in range(20):
        paths = jx.simulate(
            jax.random.key(rep), net, net.x0, 50.0, num_trajectories=10, max_steps=1500
        )
        assert not np.any(np.asarray(paths.overflow))
        fit = ji.fit_paths(net, paths, list(truth))["parameters"]
        for name, value in truth.items():
            assert abs(fit[name]["estimate"] / value - 1) < 0.15
            covered += fit[name]["lower"] <= value <= fit[name]["upper"]
    assert covered >= 34


# -------------------------------------------------------------------------- time series


def _immigration_death_series(tmp_path, key, n_series=3, n_times=11, noise_sd=2.0):
    net = jx.models.immigration_death(alpha=2.0, mu=0.2)
    t1 = float(n_times - 1)
    ts = jnp.linspace(0.0, t1, n_times)
    res = jx.simulate(key, net, net.x0, t1, save_at=ts, num_trajectories=n_series)
    rng = np.random.default_rng(1)
    path = tmp_path / "series.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["trajectory", "time", "X"])
        for i in range(n_series):
            for k in range(len(ts)):
                writer.writerow([i, float(ts[k]), float(res.x[i, k, 0]) + rng.normal(0, noise_sd)])
    return net, ji.read_timeseries(path, net)


def _exact_log_likelihood(alpha, mu, data, noise_sd, size=80):
    """The forward algorithm on the truncated immigration-death chain (exact to ~1e-12)."""
    q = np.zeros((size, size))
    for n in range(size):
        if n + 1 < size:
            q[n, n + 1] = alpha
        if n > 0:
            q[n, n - 1] = mu * n
        q[n, n] = -q[n].sum()
    total = 0.0
    transitions = {}  # one matrix exponential per distinct interval
    for times, values in zip(data.times, data.values, strict=True):
        belief = np.zeros(size)
        belief[0] = 1.0
        previous = times[0]
        for t, y in zip(times, values[:, 0], strict=True):
            dt = float(t - previous)
            if dt not in transitions:
                transitions[dt] = expm(q * dt)
            belief = belief @ transitions[dt]
            belief = belief * norm.pdf(y, np.arange(size), noise_sd)
            total += np.log(belief.sum())
            belief /= belief.sum()
            previous = t
    return total


def test_particle_filter_is_unbiased_against_the_exact_likelihood(tmp_path):
    # E[exp(estimate)] is the likelihood: the mean ratio to the exact value (forward algorithm)
    # over 300 independent filters must be 1 within 4 standard errors.
    net, data = _immigration_death_series(tmp_path, KEY)
    exact = _exact_log_likelihood(2.0, 0.2, data, 2.0)
    estimates = np.array([
        float(ji.particle_log_likelihood(jax.random.key(i), net, data, 2.0, num_particles=64))
        for i in range(300)
    ])
    ratios = np.exp(estimates - exact)
    assert abs(ratios.mean() - 1) < 4 * ratios.std(ddof=1) / np.sqrt(len(ratios))
    assert abs(np.median(estimates) - exact) < 2.0


def test_timeseries_data_errors(tmp_path):
    net = jx.models.lotka_volterra()
    path = tmp_path / "s.csv"
    path.write_text("trajectory,time,Z\n0,0,1\n")
    with pytest.raises(ValueError, match="not species"):
        ji.read_timeseries(path, net)
    path.write_text("trajectory,time\n0,0\n")
    with pytest.raises(ValueError, match="no observed species"):
        ji.read_timeseries(path, net)
    path.write_text("trajectory,time,X\n0,0,abc\n")
    with pytest.raises(ValueError, match="line 2.*not a number"):
        ji.read_timeseries(path, net)


def test_pmmh_warns_when_its_chain_is_too_short_for_intervals(tmp_path):
    net, data = _immigration_death_series(tmp_path, KEY)
    with pytest.warns(ji.MixingWarning, match=r"only Immigration \d+, Death \d+ effective"):
        result = ji.pmmh(jax.random.key(1), net, data, ["Immigration", "Death"], 2.0,
                         num_particles=16, iterations=60)
    assert min(result["ess"]) < ji._timeseries.MIN_ESS


def _exact_posterior_medians(data, noise_sd):
    """Marginal medians of the exact posterior (flat prior on the log rates), on a grid."""
    log_alpha = np.linspace(np.log(1.0), np.log(12.0), 40)
    log_mu = np.linspace(np.log(0.08), np.log(1.2), 40)
    log_post = np.array([
        [_exact_log_likelihood(np.exp(a), np.exp(m), data, noise_sd, size=120) for m in log_mu]
        for a in log_alpha
    ])
    weights = np.exp(log_post - log_post.max())
    # The grid must hold the posterior: negligible mass on its edges.
    assert max(weights[0].max(), weights[-1].max(), weights[:, 0].max(),
               weights[:, -1].max()) < 1e-4
    medians = []
    for grid, marginal in ((log_alpha, weights.sum(axis=1)), (log_mu, weights.sum(axis=0))):
        cdf = np.cumsum(marginal) / marginal.sum()
        medians.append(float(np.exp(np.interp(0.5, cdf, grid))))
    return medians


@pytest.mark.slow
def test_pmmh_samples_the_exact_immigration_death_posterior(tmp_path):
    # 8 noisy series of 31 points (sd 2); flat prior on the log rates. PMMH's posterior medians
    # match those of the exact posterior (forward algorithm on a grid) within 10% (the Monte
    # Carlo error of a median from 50+ effective samples is about 2-3% here), and the 95%
    # posterior intervals cover the true rates. (A data set's posterior need not centre on
    # the truth: this one peaks near 2.5 and 0.25, 25% above it.)
    net, data = _immigration_death_series(tmp_path, jax.random.key(3), n_series=8, n_times=31)
    start = jx.models.immigration_death(alpha=1.0, mu=0.1)
    result = ji.pmmh(
        jax.random.key(4), start, data, ["Immigration", "Death"], 2.0,
        num_particles=250, iterations=3000,
    )
    exact = _exact_posterior_medians(data, 2.0)
    for (name, value), median in zip((("Immigration", 2.0), ("Death", 0.2)), exact, strict=True):
        p = result["parameters"][name]
        assert p["lower"] <= value <= p["upper"]
        assert abs(p["estimate"] / median - 1) < 0.10, (name, p["estimate"], median)
    assert 0.05 < result["acceptance"] < 0.6
    assert min(result["ess"]) > 50


# ----------------------------------------------------------------------- command line


@pytest.mark.slow
def test_infer_command_fits_paths_and_writes_json(tmp_path, capsys):
    import json

    from jumpax.apps import cli

    net = jx.load_sbml(DSMTS_00001)
    paths = jx.simulate(KEY, net, net.x0, 50.0, num_trajectories=10, max_steps=1500)
    paths.save(tmp_path / "paths.csv")
    out, plot = tmp_path / "fit.json", tmp_path / "fit.png"
    argv = ["infer", DSMTS_00001, "--data", str(tmp_path / "paths.csv"), "--params", "Lambda,Mu",
            "--method", "paths", "--out", str(out), "--plot", str(plot)]
    assert cli.main(argv) == 0
    result = json.loads(out.read_text())
    for name, value in (("Lambda", 0.1), ("Mu", 0.11)):
        p = result["parameters"][name]
        assert p["lower"] < p["estimate"] < p["upper"]
        assert abs(p["estimate"] / value - 1) < 0.15
    assert plot.stat().st_size > 0
    # Data the model cannot produce, and a missing noise sd, are one-line usage errors.
    birth_death = jx.models.birth_death()
    jx.simulate(KEY, birth_death, birth_death.x0, 5.0, num_trajectories=2).save(tmp_path / "bd.csv")
    argv[3] = str(tmp_path / "bd.csv")
    with pytest.raises(SystemExit) as error:
        cli.main(argv)
    assert error.value.code == 2
    assert "impossible under the model" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["infer", "birth_death", "--data", str(tmp_path / "bd.csv"), "--params",
                  "birth", "--method", "timeseries", "--out", str(out)])
    assert "--noise-sd" in capsys.readouterr().err


@pytest.mark.slow
def test_infer_command_runs_pmmh_on_time_series(tmp_path, capsys):
    import json

    from jumpax.apps import cli

    _immigration_death_series(tmp_path, jax.random.key(3), n_series=4, n_times=21)
    out = tmp_path / "post.json"
    assert cli.main([
        "infer", "immigration_death", "--data", str(tmp_path / "series.csv"), "--params",
        "Immigration,Death", "--method", "timeseries", "--noise-sd", "2", "--particles", "50",
        "--iterations", "400", "--out", str(out), "--quiet",
    ]) == 0
    result = json.loads(out.read_text())
    assert set(result["parameters"]) == {"Immigration", "Death"}
    assert 0 < result["acceptance"] < 1 and len(result["ess"]) == 2
    # 400 iterations leave fewer than 100 effective samples: said on stderr and in the file.
    assert "warning: PMMH kept 300 iterations but only" in capsys.readouterr().err
    assert len(result["warnings"]) == 1 and "effective samples" in result["warnings"][0]


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::jumpax.inference.MixingWarning")  # a short PMMH example
def test_docs_inference_examples_run(tmp_path, monkeypatch):
    import pathlib
    import re

    root = pathlib.Path(__file__).parents[1]
    (tmp_path / "tests").symlink_to(root / "tests")
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    text = (root / "docs" / "inference.md").read_text()
    for block in re.findall(r"```python\n(.*?)```", text, flags=re.S):
        exec(compile(block, "docs/inference.md", "exec"), namespace)  # noqa: S102 (our docs)
    assert set(namespace["fit"]["parameters"]) == {"Lambda", "Mu"}
    assert len(namespace["snap"]["parameters"]) == 4
    assert np.isfinite(float(namespace["loglik"]))
