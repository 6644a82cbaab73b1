"""Tau-leaping (Cao-Gillespie-Petzold 2006): accuracy on DSMTS, safety at low counts, errors.

Tolerances. DSMTS: the guide's band for approximate simulators is [0.98, 1.02] for the ratios of
the ensemble mean and standard deviation to the analytic ones. The ratio of a standard deviation
estimated from n trajectories has sampling noise ``1 / sqrt(2 n)`` (0.7% at n = 10,000, 1.6% at
n = 2,000); the mean's is below 0.2% here. At n = 10,000 the largest of 50 correlated sd ratios
reaches 1.5-2.4% from noise alone (exact Direct simulation included), so the slow test uses the
band as is at n = 40,000 (noise 0.35%): it then checks the method's bias, not the seed. The
default run (n = 2,000) widens the band by 3.5 standard errors for the standard deviation.
Comparisons with exact simulation use two-sample z-scores below 4.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

import jumpax as jx
from jumpax import _random
from jumpax._solver._tau_leaping import TauLeaping, order_factor, poisson, remaining_firings

from dsmts_protocol import TIMES, reference

KEY = jax.random.key(0)

DSMTS_LARGE_COUNTS = {
    "00005": (
        [jx.Reaction("X -> 2 X", 0.1), jx.Reaction("X -> 0", 0.11)],
        {"X": 10_000},
        82_635,  # exact events per trajectory, 0.21 * 10,000 * (1 - e^-0.5) / 0.01
    ),
    "00023": (
        [jx.Reaction("0 -> X", 1000.0), jx.Reaction("X -> 0", 0.1)],
        {"X": 0},
        90_067,  # 1000 * 50 + 0.1 * integral of the mean
    ),
    "00031": (
        [jx.Reaction("2 P -> P2", 0.0002), jx.Reaction("P2 -> 2 P", 0.004)],
        {"P": 1000, "P2": 0},
        574,  # measured with Direct: the counts are too small for leaps to pay off
    ),
}


def ratios_to_reference(case, n):
    reactions, x0, _ = DSMTS_LARGE_COUNTS[case]
    network = jx.ReactionNetwork(reactions)
    results = jx.simulate(
        jax.random.key(int(case)),
        network,
        x0,
        50.0,
        solver=TauLeaping(),
        save_at=TIMES,
        num_trajectories=n,
    )
    x = np.asarray(results.x, dtype=np.float64)
    assert not np.any(np.asarray(results.overflow))
    assert np.all(x >= 0) and np.all(x == np.round(x))
    ratios = {}
    for i, species in enumerate(network.species):
        mean, sd = reference(case)[species]
        # t = 0 is deterministic (sd 0): the ratios start at t = 1.
        ratios[species] = (
            x[:, 1:, i].mean(axis=0) / mean[1:],
            x[:, 1:, i].std(axis=0, ddof=1) / sd[1:],
        )
    return ratios, np.asarray(results.n_steps)


@pytest.mark.parametrize("case", sorted(DSMTS_LARGE_COUNTS))
def test_dsmts_large_count_cases_n2000(case):
    n = 2000
    sd_band = 0.02 + 3.5 / math.sqrt(2 * n)
    ratios, n_steps = ratios_to_reference(case, n)
    for species, (mean_ratio, sd_ratio) in ratios.items():
        print(
            f"{case} {species}: mean [{mean_ratio.min():.4f}, {mean_ratio.max():.4f}] "
            f"sd [{sd_ratio.min():.4f}, {sd_ratio.max():.4f}]"
        )
        assert np.all(np.abs(mean_ratio - 1) <= 0.02), species
        assert np.all(np.abs(sd_ratio - 1) <= sd_band), species
    exact_events = DSMTS_LARGE_COUNTS[case][2]
    if exact_events > 10_000:
        # It does leap: fewer than 2% as many steps as exact events.
        assert n_steps.mean() < 0.02 * exact_events


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(DSMTS_LARGE_COUNTS))
def test_dsmts_large_count_cases_n40000_guide_band(case):
    ratios, _ = ratios_to_reference(case, 40_000)
    for species, (mean_ratio, sd_ratio) in ratios.items():
        print(
            f"{case} {species}: mean [{mean_ratio.min():.4f}, {mean_ratio.max():.4f}] "
            f"sd [{sd_ratio.min():.4f}, {sd_ratio.max():.4f}]"
        )
        assert np.all((mean_ratio >= 0.98) & (mean_ratio <= 1.02)), species
        assert np.all((sd_ratio >= 0.98) & (sd_ratio <= 1.02)), species


def immigration_death():
    return jx.ReactionNetwork([jx.Reaction("0 -> X", 1000.0), jx.Reaction("X -> 0", 0.1)])


def test_relaxation_bound_keeps_the_stationary_variance():
    # Started at stationarity (mean = variance = 10,000). Plain CGP's drift bound cancels and
    # allows a leap of 45 time units (4.5 relaxation times), inflating the variance ~4x.
    net, n = immigration_death(), 1000
    variance = {}
    for relaxation in (0.005, None):
        res = jx.simulate(
            KEY,
            net,
            {"X": 10_000},
            20.0,
            solver=TauLeaping(relaxation=relaxation),
            save_at="final",
            num_trajectories=n,
        )
        variance[relaxation] = np.asarray(res.x[:, 0], dtype=np.float64).var(ddof=1) / 10_000
    assert abs(variance[0.005] - 1) < 4 * math.sqrt(2 / n)
    assert variance[None] > 2.0


@pytest.mark.slow
def test_low_copy_species_consumed_by_a_fast_reaction():
    # A is produced slowly and consumed fast by A + B -> P (B ~ 10,000): A is 0 or 1 most of
    # the time. A leap sized for B alone would fire A + B -> P many times per copy of A.
    net = jx.ReactionNetwork(
        [
            jx.Reaction("0 -> A", 10.0),
            jx.Reaction("A + B -> P", 0.01),
            jx.Reaction("0 -> B", 1000.0),
            jx.Reaction("B -> 0", 0.1),
        ]
    )
    x0 = {"B": 10_000}
    b_only = jx.ReactionNetwork([jx.Reaction("0 -> B", 1000.0), jx.Reaction("B -> 0", 0.1)])
    tau_for_b, _ = TauLeaping().leap_size(b_only, jnp.array([10_000.0]))
    binding_rate = float(net.propensities(jnp.array([1.0, 10_000.0, 0.0]))[1])
    assert binding_rate * float(tau_for_b) > 3  # a naive leap would take A to -2 or below

    n, ts = 1500, jnp.array([0.125, 0.25, 0.375, 0.5])
    leaped = jx.simulate(KEY, net, x0, 0.5, solver=TauLeaping(), save_at=ts, num_trajectories=n)
    exact = jx.simulate(KEY, net, x0, 0.5, save_at=ts, num_trajectories=n)
    x_leap = np.asarray(leaped.x, dtype=np.float64)
    x_exact = np.asarray(exact.x, dtype=np.float64)
    assert np.all(x_leap >= 0) and not np.any(np.asarray(leaped.overflow))
    z_mean = (x_leap.mean(0) - x_exact.mean(0)) / np.sqrt((x_leap.var(0) + x_exact.var(0)) / n)
    assert np.all(np.abs(z_mean) < 4), z_mean
    # The standard error of log(sd) is sqrt((kurtosis - 1) / (4 n)); A (mostly 0 or 1) has a
    # kurtosis near 10.
    kurtosis = [stats.kurtosis(x, axis=0, fisher=False) for x in (x_leap, x_exact)]
    se_log_sd = np.sqrt((kurtosis[0] - 1) / (4 * n) + (kurtosis[1] - 1) / (4 * n))
    log_sd_ratio = np.log(x_leap.std(0) / x_exact.std(0))
    assert np.all(np.abs(log_sd_ratio) < 4 * se_log_sd), log_sd_ratio / se_log_sd
    a_final = [np.bincount(x[:, -1, 0].astype(int), minlength=4)[:4] for x in (x_leap, x_exact)]
    _, p_value, _, _ = stats.chi2_contingency(np.array(a_final) + 0.5)
    assert p_value > 1e-3


def test_rejected_leaps_keep_counts_non_negative():
    # With epsilon = 0.9 and no relaxation bound, leaps consume ~90% of A: two non-critical
    # reactions then often overshoot together, and the leap is rejected and halved.
    net = jx.ReactionNetwork([jx.Reaction("A -> B", 1.0), jx.Reaction("A -> C", 1.0)])
    lam = 0.9 * 15  # expected consumption of a leap at A = 15
    assert stats.poisson.sf(15, lam) > 0.2  # a naive leap goes negative that often
    solver = TauLeaping(epsilon=0.9, relaxation=None)
    res = jx.simulate(
        KEY,
        net,
        {"A": 200},
        3.0,
        solver=solver,
        save_at=jnp.linspace(0.3, 3.0, 10),
        num_trajectories=300,
    )
    x = np.asarray(res.x)
    assert np.all(x >= 0) and not np.any(np.asarray(res.overflow))
    np.testing.assert_array_equal(x.sum(axis=2), 200.0)  # A + B + C is conserved


def pure_production():
    return jx.ReactionNetwork([jx.Reaction("0 -> X", 1000.0)])


def test_last_leap_is_shortened_to_end_at_t1():
    # X is no reactant, so nothing limits the leap: one leap, cut at t1, not dropped.
    n, t1 = 4000, 0.37
    res = jx.simulate(
        KEY,
        pure_production(),
        {"X": 0},
        t1,
        solver=TauLeaping(),
        save_at="final",
        num_trajectories=n,
    )
    np.testing.assert_array_equal(res.n_steps, 1)
    np.testing.assert_array_equal(res.t, np.float32(t1))
    x = np.asarray(res.x[:, 0], dtype=np.float64)
    assert abs(x.mean() - 370) < 4 * math.sqrt(370 / n)
    assert abs(x.var(ddof=1) / 370 - 1) < 4 * math.sqrt(2 / n)


def test_leaps_stop_at_save_times():
    ts = jnp.array([0.0, 0.1, 0.25, 1.0])
    res = jx.simulate(
        KEY,
        pure_production(),
        {"X": 0},
        1.0,
        solver=TauLeaping(),
        save_at=ts,
        num_trajectories=2000,
    )
    # Pure production has no leap limit: one leap to each save time after t0.
    np.testing.assert_array_equal(res.n_steps, len(ts) - 1)
    x = np.asarray(res.x[:, :, 0], dtype=np.float64)
    np.testing.assert_array_equal(x[:, 0], 0.0)
    increments = np.diff(x, axis=1)
    expected = 1000 * np.diff(np.asarray(ts))
    assert np.all(np.abs(increments.mean(0) / expected - 1) < 4 / np.sqrt(2000 * expected))
    assert abs(np.corrcoef(increments[:, 0], increments[:, 2])[0, 1]) < 4 / math.sqrt(2000)


def test_small_counts_are_simulated_exactly():
    # Birth-death from 10 molecules: reactions are critical or leaps would be too short, so
    # every step is one exact event (plus the stop at t1), with the exact law.
    net = jx.ReactionNetwork([jx.Reaction("X -> 2 X", 0.1), jx.Reaction("X -> 0", 0.11)])
    n = 1000
    exact = jx.simulate(KEY, net, {"X": 10}, 20.0, save_at="final", num_trajectories=n)
    leaped = jx.simulate(
        KEY, net, {"X": 10}, 20.0, solver=TauLeaping(), save_at="final", num_trajectories=n
    )
    for a, b in [(leaped.n_steps - 1, exact.n_steps), (leaped.x[:, 0], exact.x[:, 0])]:
        a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
        assert abs(a.mean() - b.mean()) < 4 * math.sqrt((a.var() + b.var()) / n)


def test_trajectories_depend_only_on_their_key_and_index():
    net = immigration_death()
    ts = jnp.linspace(0.0, 5.0, 6)

    def run(first):
        return jx.simulate(
            KEY,
            net,
            {"X": 0},
            5.0,
            solver=TauLeaping(),
            save_at=ts,
            num_trajectories=6,
            first_trajectory=first,
        )

    batch = run(0)
    np.testing.assert_array_equal(batch.x, run(0).x)
    np.testing.assert_array_equal(run(2).x[:4], batch.x[2:])
    assert len(np.unique(np.asarray(batch.x[:, :, 0]), axis=0)) == 6  # distinct paths


def test_overflow_is_flagged_and_unreached_times_are_nan():
    net = immigration_death()
    ts = jnp.linspace(0.0, 50.0, 6)
    with pytest.warns(jx.OverflowWarning):
        res = jx.simulate(KEY, net, {"X": 0}, 50.0, solver=TauLeaping(), save_at=ts, max_steps=20)
    assert bool(res.overflow) and int(res.n_steps) == 20
    assert bool(res.reached[0, 0]) and int(res.x[-1, 0]) == jx.UNREACHED_COUNT


def test_leap_size_follows_cgp_for_birth_death():
    # mu = (0.1 - 0.11) x, sigma^2 = 0.21 x, g = 1: tau' = min(eps x / |mu|, (eps x)^2 / sigma^2)
    # and the relaxation bound relaxation / |0.1 - 0.11|.
    net = jx.ReactionNetwork([jx.Reaction("X -> 2 X", 0.1), jx.Reaction("X -> 0", 0.11)])
    for x, relaxation, expected in [
        (10_000.0, None, min(300 / 100, 300**2 / 2100)),
        (100.0, None, min(3 / 1, 3**2 / 21)),
        (10_000.0, 0.005, 0.005 / 0.01),
    ]:
        tau, critical = TauLeaping(relaxation=relaxation).leap_size(net, jnp.array([x]))
        np.testing.assert_allclose(float(tau), expected, rtol=1e-5)
        assert not np.any(np.asarray(critical))
    _, critical = TauLeaping().leap_size(net, jnp.array([9.0]))
    np.testing.assert_array_equal(critical, [False, True])  # only the death consumes X


def test_order_factor_matches_the_cgp_table():
    x = 7.0
    table = [  # (reaction, species, g as in CGP 2006)
        ("A -> 0", "A", 1.0),
        ("B + Y -> 0", "B", 2.0),
        ("2 C -> 0", "C", 2 + 1 / (x - 1)),
        ("3 D -> 0", "D", 3 + 1 / (x - 1) + 2 / (x - 2)),
        ("2 E + Z -> 0", "E", 1.5 * (2 + 1 / (x - 1))),
        ("F + W + V -> 0", "F", 3.0),
        ("G -> 0", "G", 2.0),  # G also takes part in G + U -> 0: the highest order wins
        ("G + U -> 0", "U", 2.0),
    ]
    net = jx.ReactionNetwork([jx.Reaction(string, 1.0) for string, _, _ in table])
    g = order_factor(jnp.full(net.n_species, x), net.reactant_matrix)
    for string, species, expected in table:
        np.testing.assert_allclose(
            g[net.species_index(species)], expected, rtol=1e-6, err_msg=string
        )


def test_remaining_firings():
    net = jx.ReactionNetwork([jx.Reaction("2 A + B -> C", 1.0), jx.Reaction("0 -> A", 1.0)])
    firings = remaining_firings(jnp.array([7.0, 5.0, 0.0]), net.stoichiometry)
    np.testing.assert_array_equal(firings, [3.0, np.inf])


@pytest.mark.parametrize("lam", [0.0, 0.3, 4.0, 9.99, 10.0, 37.5, 1000.0, 1e5])
def test_poisson_sampler_is_exact(lam):
    n = 100_000
    streams = jax.vmap(_random.seed, in_axes=(None, 0))(_random.key_words(KEY), jnp.arange(n))
    _, k = jax.jit(poisson)(streams, jnp.full((n,), lam))
    k = np.asarray(k, dtype=np.float64)
    assert np.all(k == np.round(k)) and np.all(k >= 0)
    if lam == 0:
        np.testing.assert_array_equal(k, 0)
        return
    lo, hi = stats.poisson.ppf(1e-5, lam), stats.poisson.ppf(1 - 1e-5, lam)
    inner = np.unique(np.round(np.linspace(lo, hi, 40)))[1:]
    observed = np.histogram(k, np.concatenate([[-np.inf], inner - 0.5, [np.inf]]))[0]
    cdf = np.concatenate([[0.0], stats.poisson.cdf(inner - 1, lam), [1.0]])
    _, p_value = stats.chisquare(observed, np.diff(cdf) * n)
    assert p_value > 1e-3


@pytest.mark.parametrize(
    "kwargs",
    [
        {"epsilon": 0.0},
        {"epsilon": -0.1},
        {"epsilon": 1.0},
        {"epsilon": float("nan")},
        {"epsilon": "0.03"},
        {"n_critical": -1},
        {"n_critical": 2.5},
        {"n_critical": True},
        {"ssa_threshold": -1.0},
        {"ssa_threshold": float("inf")},
        {"relaxation": 0.0},
        {"relaxation": 1.5},
    ],
)
def test_invalid_settings_raise(kwargs):
    name = next(iter(kwargs))
    with pytest.raises(ValueError, match=name):
        TauLeaping(**kwargs)


def test_event_list_mode_is_refused():
    with pytest.raises(ValueError, match="records no event list"):
        jx.simulate(KEY, immigration_death(), {"X": 0}, 1.0, solver=TauLeaping())


def test_wrong_initial_state_shape_raises():
    with pytest.raises(ValueError, match="x0 must have shape"):
        jx.simulate(
            KEY, immigration_death(), jnp.zeros(3), 1.0, solver=TauLeaping(), save_at="final"
        )
