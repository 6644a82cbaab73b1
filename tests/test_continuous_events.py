"""MeanFieldModel and LangevinModel honour assignment rules, time events and state events.

Reference semantics are those of the exact simulator (``jx.simulate``). Tolerances: the ODE runs
in float32 at rtol = atol = 1e-6, so analytic values must match to 1e-4 relative. Langevin means
(fixed seeds) must lie within 4 standard errors of the analytic mean, or of the exact simulator's
ensemble mean (4 standard errors of the difference of the two means). Gradients are checked in
float64 against central differences (relative step 1e-6, agreement to 1e-5 relative).
"""

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jumpax as jx
from jumpax import LangevinModel, MeanFieldModel

from rate_gradients import assert_rate_gradients_match


# Module-level expressions: the same functions each time, so rebuilt networks do not recompile.
def twice_x(x):
    return 2 * x[0]


def thousand(x):
    return 1000.0


def zero(x):
    return 0.0


def one(x):
    return 1.0


def half_x(x):
    return x[0] / 2


def x_minus_100(x):
    return x[0] - 100


def at_least_50(x):
    return x[0] >= 50


def immigration_death_with_event(k1=10.0, k2=0.1, assignment=thousand, time=5.0):
    """``0 -> X`` (k1), ``X -> 0`` (k2 X), the rule ``Y := 2 X``, a time event ``X := ...``."""
    return jx.ReactionNetwork(
        [jx.Reaction("0 -> X", k1), jx.Reaction("X -> 0", k2)],
        species=["X", "Y"],
        rules=[jx.AssignmentRule("Y", twice_x)],
        events=[jx.TimeEvent(time, [("X", assignment)])],
    )


def sawtooth():
    """A pure birth ``0 -> X`` at rate 10, reset to 0 whenever X reaches 50."""
    return jx.ReactionNetwork(
        [jx.Reaction("0 -> X", 10.0)], events=[jx.StateEvent(at_least_50, [("X", zero)])]
    )


EXAMPLE_X6 = 100 + 900 * math.exp(-0.1)  # X := 1000 at t = 5, then relaxation towards 100


@pytest.fixture
def x64():
    previous = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", True)
    yield
    jax.config.update("jax_enable_x64", previous)


@pytest.mark.slow
def test_ode_time_event_and_rule():
    ts = jnp.array([0.0, 1.0, 5.0, 6.0])
    results = MeanFieldModel(immigration_death_with_event())({"X": 0}, 6.0, save_at=ts)
    x = np.asarray(results.x, dtype=np.float64)
    expected = [0.0, 100 * (1 - math.exp(-0.1)), 1000.0, EXAMPLE_X6]
    np.testing.assert_allclose(x[:, 0], expected, rtol=1e-4)
    np.testing.assert_array_equal(x[:, 1], 2 * x[:, 0])
    assert not bool(results.overflow)
    batch = MeanFieldModel(immigration_death_with_event())(
        jnp.array([[0.0, 0.0], [100.0, 0.0]]), 6.0, save_at=ts
    )
    np.testing.assert_allclose(batch.x[0], results.x, rtol=1e-6)
    np.testing.assert_allclose(batch.x[1, -1, 0], EXAMPLE_X6, rtol=1e-4)


def test_cle_time_event_and_rule():
    n = 2000
    ts = jnp.array([0.0, 5.0, 6.0])
    results = LangevinModel(immigration_death_with_event())(
        jax.random.key(0), {"X": 0}, 6.0, save_at=ts, num_trajectories=n
    )
    x = np.asarray(results.x, dtype=np.float64)
    np.testing.assert_array_equal(x[:, 1, 0], 1000.0)  # the event's value, at its time
    np.testing.assert_array_equal(x[..., 1], 2 * x[..., 0])
    mean, se = x[:, -1, 0].mean(), x[:, -1, 0].std(ddof=1) / math.sqrt(n)
    print(f"CLE X(6) = {mean:.2f} +- {se:.2f} (analytic {EXAMPLE_X6:.2f})")
    assert abs(mean - EXAMPLE_X6) < 4 * se


def test_ode_state_event_resets_the_sawtooth():
    # X = 10 t until it reaches 50 at t = 5, then it restarts from 0: X(t) = 10 (t mod 5).
    ts = jnp.array([0.0, 2.5, 4.9, 5.1, 7.5, 9.9, 10.1, 12.5])
    results = MeanFieldModel(sawtooth())({"X": 0}, 12.5, save_at=ts)
    np.testing.assert_allclose(results.x[:, 0], 10 * np.fmod(ts, 5.0), rtol=1e-4, atol=1e-4)
    assert not bool(results.overflow)


def test_cle_state_event_matches_the_exact_simulator():
    n = 4000
    ts = jnp.array([2.5, 4.5, 5.5, 7.5, 10.0])
    exact = jx.simulate(
        jax.random.key(1), sawtooth(), {"X": 0}, 10.0, save_at=ts, num_trajectories=n
    )
    cle = LangevinModel(sawtooth())(
        jax.random.key(2), {"X": 0}, 10.0, save_at=ts, num_trajectories=n
    )
    means, variances = [], []
    for results in (exact, cle):
        x = np.asarray(results.x[:, :, 0], dtype=np.float64)
        means.append(x.mean(axis=0))
        variances.append(x.var(axis=0, ddof=1) / n)
    se = np.sqrt(variances[0] + variances[1])
    print(f"exact {means[0]}, CLE {means[1]}, difference / se {(means[1] - means[0]) / se}")
    assert np.all(np.abs(means[1] - means[0]) < 4 * se)


def flag_when_at_least_50(initial_value):
    return jx.ReactionNetwork(
        [jx.Reaction("X -> 0", 0.1)],
        species=["X", "Y"],
        events=[jx.StateEvent(at_least_50, [("Y", one)], initial_value=initial_value)],
    )


SOLVES = {
    "exact": lambda net, x0, t1, **kw: jx.simulate(jax.random.key(0), net, x0, t1, **kw),
    "ode": lambda net, x0, t1, **kw: MeanFieldModel(net)(x0, t1, **kw),
    "cle": lambda net, x0, t1, **kw: LangevinModel(net, num_steps=100)(
        jax.random.key(0), x0, t1, **kw
    ),
}


@pytest.mark.parametrize("solve", sorted(SOLVES))
@pytest.mark.parametrize("initial_value", [False, True])
def test_initial_value_decides_whether_a_true_trigger_fires_at_t0(solve, initial_value):
    results = SOLVES[solve](
        flag_when_at_least_50(initial_value), {"X": 60}, 1.0, save_at=jnp.array([0.0, 1.0])
    )
    np.testing.assert_array_equal(results.x[:, 1], 0.0 if initial_value else 1.0)


@pytest.mark.parametrize("solve", ["ode", "cle"])
def test_time_events_at_or_before_t0_never_fire(solve):
    network = jx.ReactionNetwork(
        [jx.Reaction("X -> 0", 0.1)],
        species=["X", "Y"],
        events=[jx.TimeEvent(t, [("Y", lambda x, t=t: t)]) for t in (1.0, 2.0, 3.0)],
    )
    results = SOLVES[solve](network, {"X": 10}, 4.0, t0=2.0, save_at=jnp.array([2.0, 2.5, 4.0]))
    np.testing.assert_array_equal(results.x[:, 1], [0.0, 0.0, 3.0])


@pytest.mark.parametrize("solve", ["ode", "cle"])
def test_a_save_at_an_event_time_records_the_post_event_state(solve):
    ts = jnp.array([4.0, 5.0])
    results = SOLVES[solve](immigration_death_with_event(), {"X": 0}, 5.0, save_at=ts)
    np.testing.assert_array_equal(results.x[1], [1000.0, 2000.0])
    final = SOLVES[solve](immigration_death_with_event(), {"X": 0}, 5.0, save_at="final")
    np.testing.assert_array_equal(final.x, [1000.0, 2000.0])


@pytest.mark.parametrize("solve", ["ode", "cle"])
def test_a_negative_assignment_raises(solve):
    network = immigration_death_with_event(assignment=x_minus_100, time=1.0)
    with pytest.raises(eqx.EquinoxRuntimeError, match=r"time event 0 assigning \['X'\]"):
        SOLVES[solve](network, {"X": 0}, 2.0, save_at="final")


def test_a_negative_rule_raises():
    network = jx.ReactionNetwork(
        [jx.Reaction("X -> 0", 0.1)],
        species=["X", "Y"],
        rules=[jx.AssignmentRule("Y", x_minus_100)],
    )
    with pytest.raises(eqx.EquinoxRuntimeError, match="the assignment rule for 'Y'"):
        MeanFieldModel(network)({"X": 10}, 1.0)


def test_a_state_event_triggered_by_another_event_fires_at_once():
    # Event 1 sets Z := 1, which turns event 0's trigger true while it is armed: the exact
    # simulator fires event 0 at the next reaction, the ODE at once (at X = 10, t = 1).
    network = jx.ReactionNetwork(
        [jx.Reaction("0 -> X", 10.0)],
        species=["X", "Z", "W"],
        events=[
            jx.StateEvent(lambda x: x[1] >= 1, [("W", lambda x: x[2] + 1)]),
            jx.StateEvent(lambda x: x[0] >= 10, [("Z", one)]),
        ],
    )
    exact = SOLVES["exact"](network, {"X": 0}, 3.0, save_at="final")
    np.testing.assert_array_equal(exact.x[1:], [1.0, 1.0])
    ode = MeanFieldModel(network)({"X": 0}, 3.0, save_at=jnp.array([0.999, 1.001, 3.0]))
    np.testing.assert_array_equal(ode.x[:, 1:], [[0.0, 0.0], [1.0, 1.0], [1.0, 1.0]])


def test_the_state_event_budget_flags_overflow():
    model = MeanFieldModel(sawtooth(), max_events=1)
    with pytest.warns(jx.OverflowWarning):
        results = model({"X": 0}, 12.5, save_at=jnp.array([2.5, 7.5, 12.5]))
    assert bool(results.overflow)
    np.testing.assert_allclose(results.x[:2, 0], [25.0, 25.0], rtol=1e-4)
    assert np.isnan(results.x[2, 0])


@pytest.mark.slow
@pytest.mark.parametrize("model", ["ode", "cle"])
def test_gradients_through_a_time_event_match_finite_differences(x64, model):
    ts = jnp.linspace(0.0, 10.0, 11)

    def network(k1, k2):
        return immigration_death_with_event(k1, k2, assignment=half_x)

    if model == "ode":

        def build(k1, k2):
            return MeanFieldModel(network(k1, k2), rtol=1e-10, atol=1e-10)

        def loss(model):
            return jnp.sum(model({"X": 0}, 10.0, save_at=ts).x ** 2) / 1e4

    else:

        def build(k1, k2):
            return LangevinModel(network(k1, k2), num_steps=200)

        def loss(model):
            x = model(jax.random.key(0), {"X": 0}, 10.0, save_at=ts, num_trajectories=8).x
            return jnp.mean(x**2) / 1e4

    assert_rate_gradients_match(loss, build, [10.0, 0.1])
