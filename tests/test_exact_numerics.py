"""The default float32 build is exact at scale: clock, counts, propensities and assignments.

Each test reproduces a failure of the float32 loop before the core was made exact (numbers in
the comments) and checks the exact result with a stated tolerance.
"""

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jumpax as jx

KEY = jax.random.key(3)


def constant(value):
    return lambda x: jnp.asarray(value, jnp.float32)


def _production(rate):
    return jx.ReactionNetwork([jx.Reaction("0 -> X", rate)])


@pytest.mark.parametrize("t0", [4096.0, 16384.0])
def test_the_clock_never_stalls(t0):
    # Before: waiting times of 1e-4 are below float32's resolution at t = 4096 (4.9e-4): the
    # clock stalled and 23,000 births happened in [4096, 4097] instead of 10,000 (890x too
    # many at t = 16384). The double-word clock keeps every waiting time.
    n = 8
    res = jx.simulate(KEY, _production(1e4), {"X": 0}, t0 + 1.0, t0=t0, save_at="final",
                      num_trajectories=n)
    births = np.asarray(res.x[:, 0], dtype=np.float64)
    assert abs(births.mean() - 1e4) < 4 * math.sqrt(1e4 / n)
    assert np.all(np.abs(births - 1e4) < 5 * 100)


def test_event_times_stay_exact_over_long_runs():
    # 10^6 events at rate 1e4 span [0, ~100]; the last event time must match the sum of
    # the waiting times to float32 resolution, not drift.
    res = jx.simulate(KEY, _production(1e4), {"X": 0}, 100.0, max_steps=1_100_000)
    n = int(res.n_steps)
    assert abs(n - 1e6) < 5 * 1e3
    t = np.asarray(res.t[: n + 1], dtype=np.float64)
    assert np.all(np.diff(t) >= 0) and t[-1] <= 100.0


def test_counts_are_exact_above_two_to_the_24():
    # Before: x0 = 20,000,001 was stored as 20,000,000 and every +1/-1 event above 2**24 was
    # lost. Counts are now integers, exact to 2**31 - 1.
    net = jx.ReactionNetwork([jx.Reaction("X -> 0", 1e-7), jx.Reaction("0 -> X", 1.0)])
    x0 = 20_000_001
    res = jx.simulate(KEY, net, {"X": x0}, 2.0, max_steps=200)
    assert res.x.dtype == jnp.int32
    n = int(res.n_steps)
    xs = np.asarray(res.x[: n + 1, 0], dtype=np.int64)
    assert xs[0] == x0
    steps = np.where(np.asarray(res.reactions[:n]) == 0, -1, 1)
    np.testing.assert_array_equal(xs[1:], x0 + np.cumsum(steps))
    final = jx.simulate(KEY, net, {"X": x0}, 2.0, save_at="final")
    assert int(final.x[0]) == xs[-1]


def test_counts_above_two_to_the_31_are_refused():
    with pytest.raises(ValueError, match=r"2\*\*31"):
        jx.simulate(KEY, _production(1.0), {"X": 2**31}, 1.0)


def test_high_order_propensity_is_finite():
    # Before: 150 A -> B at A = 150 has propensity k, but the falling factorial overflowed
    # float32 to inf and the reaction fired at t = 0. Its first firing time is Exp(k).
    k = 2.0
    net = jx.ReactionNetwork([jx.Reaction("150 A -> B", k)])
    assert float(net.propensities(jnp.array([150.0, 0.0]))[0]) == pytest.approx(k, rel=1e-5)
    n = 2000
    res = jx.simulate(KEY, net, {"A": 150}, 50.0, max_steps=2, num_trajectories=n)
    first = np.asarray(res.t[:, 1], dtype=np.float64)
    assert np.all(first > 0)
    assert abs(first.mean() - 1 / k) < 4 * (1 / k) / math.sqrt(n)
    np.testing.assert_array_equal(np.asarray(res.x[:, -1]), [[0, 1]] * n)


class Constant(eqx.Module):
    value: float = eqx.field(static=True)

    def __call__(self, x):
        return jnp.asarray(self.value, jnp.float32)


@pytest.mark.parametrize("value", [-1.0, 2.5, float("nan"), float("inf"), 2.0**31])
@pytest.mark.parametrize("kind", ["time", "state", "rule"])
def test_assignments_that_make_a_count_invalid_are_errors(kind, value):
    # Before: an event or rule that set a count negative, fractional or NaN was simulated
    # without a word.
    reactions = [jx.Reaction("0 -> X", 10.0)]
    if kind == "time":
        net = jx.ReactionNetwork(reactions, events=[jx.TimeEvent(0.5, [("X", Constant(value))])])
    elif kind == "state":
        net = jx.ReactionNetwork(
            reactions, events=[jx.StateEvent(lambda x: x[0] >= 3, [("X", Constant(value))])]
        )
    else:
        net = jx.ReactionNetwork(
            reactions, ("X", "Y"), rules=[jx.AssignmentRule("Y", Constant(value))]
        )
    for save_at in (None, jnp.linspace(0.0, 2.0, 3), "final"):
        with pytest.raises(ValueError, match="negative, non-integer or non-finite"):
            jx.simulate(KEY, net, {"X": 0}, 2.0, save_at=save_at)
    with pytest.raises(Exception, match="negative, non-integer or non-finite"):
        jax.block_until_ready(
            jax.jit(lambda key: jx.simulate(key, net, {"X": 0}, 2.0, save_at="final").x)(KEY)
        )


def test_valid_assignments_above_float_precision_stay_exact():
    # Only the assigned species go through floating point: a rule on Y leaves a huge X exact.
    net = jx.ReactionNetwork(
        [jx.Reaction("X -> 0", 1e-8)], ("X", "Y"), rules=[jx.AssignmentRule("Y", Constant(7.0))]
    )
    res = jx.simulate(KEY, net, {"X": 2**30 + 1}, 0.01, save_at="final")
    np.testing.assert_array_equal(np.asarray(res.x), [2**30 + 1 - (int(res.n_steps)), 7])
