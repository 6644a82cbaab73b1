"""Events and assignment rules in the exact simulator, against the DSMTS references."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jumpax as jx
from jumpax import AssignmentRule, StateEvent, TimeEvent

from dsmts_protocol import TIMES, assert_passes, check

N = 10_000


def constant(value):
    return lambda x: jnp.asarray(value, x.dtype)


def immigration_death(event_time, value):
    return jx.ReactionNetwork(
        [("0 -> X", 1.0), ("X -> 0", 0.1)],
        x0={"X": 0},
        events=[TimeEvent(event_time, [("X", constant(value))])],
    )


def dimerisation(event):
    return jx.ReactionNetwork(
        [("2 P -> P2", 0.001), ("P2 -> 2 P", 0.01)], x0={"P": 100, "P2": 0}, events=[event]
    )


def reset_dimers():
    return [("P", constant(100.0)), ("P2", constant(0.0))]


def p2_above_30(x):
    return x[1] > 30


CASES = {
    "00028": lambda: immigration_death(25.0, 50.0),
    "00029": lambda: immigration_death(22.5, 20.0),
    "00032": lambda: dimerisation(TimeEvent(25.0, reset_dimers())),
    "00033": lambda: dimerisation(StateEvent(p2_above_30, reset_dimers(), initial_value=False)),
    "00019": lambda: jx.ReactionNetwork(
        [("X -> 2 X", 0.1), ("X -> 0", 0.11)],
        species=["X", "y"],
        x0={"X": 100},
        rules=[AssignmentRule("y", lambda x: 2 * x[0])],
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_dsmts_events_and_rules(case):
    network = CASES[case]()
    res = jx.simulate(
        jax.random.key(int(case)), network, network.x0, 50.0, save_at=TIMES, num_trajectories=N
    )
    x = np.asarray(res.x)
    samples = {name: x[:, :, i] for i, name in enumerate(network.species)}
    assert_passes(case, check(case, samples))


def test_event_rows_in_the_event_list_and_log_prob():
    network = immigration_death(25.0, 50.0)
    res = jx.simulate(jax.random.key(0), network, network.x0, 50.0, max_steps=500)
    codes = np.asarray(res.reactions)
    (event_rows,) = np.nonzero(codes == -2)
    assert event_rows.size == 1
    i = event_rows[0]
    assert float(res.t[i + 1]) == 25.0 and float(res.x[i + 1, 0]) == 50.0
    per_step = np.asarray(network.log_prob(res))
    a0 = 1.0 + 0.1 * float(res.x[i, 0])
    assert per_step[i] == pytest.approx(-a0 * (25.0 - float(res.t[i])), rel=1e-5)
    grid = jx.simulate(jax.random.key(0), network, network.x0, 50.0, save_at=jnp.array([25.0]))
    assert float(grid.x[0, 0]) == 50.0


def test_state_event_resets_every_time():
    network = CASES["00033"]()
    res = jx.simulate(jax.random.key(1), network, network.x0, 50.0, max_steps=5000)
    p2 = np.asarray(res.x[:, 1])
    assert p2.max() <= 30  # the reset happens in the same step that crossed the threshold
    n = int(res.n_steps)
    resets = np.sum((np.asarray(res.x[1 : n + 1, 0]) == 100) & (np.asarray(res.reactions[:n]) >= 0))
    assert resets >= 1


def test_rules_hold_along_the_path_and_block_conflicts():
    network = CASES["00019"]()
    res = jx.simulate(jax.random.key(2), network, network.x0, 20.0, max_steps=2000)
    np.testing.assert_array_equal(res.x[:, 1], 2 * res.x[:, 0])
    with pytest.raises(ValueError, match="also changed by reactions"):
        jx.ReactionNetwork([("X -> y", 1.0)], rules=[AssignmentRule("y", lambda x: x[0])])
    with pytest.raises(ValueError, match="unknown species"):
        jx.ReactionNetwork([("X -> 0", 1.0)], events=[TimeEvent(1.0, [("Q", constant(1))])])
    with pytest.raises(ValueError, match="at least one assignment"):
        TimeEvent(1.0, [])
    with pytest.raises(TypeError, match="callable"):
        StateEvent("P2 > 30", reset_dimers())
    with pytest.raises(ValueError, match="non-negative"):
        TimeEvent(-1.0, reset_dimers())
