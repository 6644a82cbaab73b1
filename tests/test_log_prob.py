"""network.log_prob against an independent NumPy computation of the path log-likelihood."""

import math

import jax
import numpy as np
import pytest

import jumpax as jx

NETWORKS = {
    "birth_death": (lambda: jx.models.birth_death(), 50.0),
    "dimerisation": (lambda: jx.models.dimerisation(k1=0.01, k2=0.1, p0=40), 20.0),
    "lotka_volterra": (lambda: jx.models.lotka_volterra(), 3.0),
    "third_order": (
        lambda: jx.ReactionNetwork(
            [("3 A -> B", 0.002), ("A + B -> 2 C", 0.05), ("C -> A", 0.7), ("0 -> A", 5.0)],
            volume=2.0,
            x0={"A": 30},
        ),
        10.0,
    ),
    "schlogl": (lambda: jx.models.schlogl(), 0.5),
}


def numpy_path_log_likelihood(network, x, t, reactions, t1):
    """Sum over events of log a_r - a0 dt, plus the survival term, in float64 with math.comb."""
    specs = []
    for reaction in network.reactions:
        k = float(reaction.kinetics.k)
        order = sum(s for _, s in reaction.reactants)
        specs.append((k * float(network.volume) ** (1 - order), reaction.reactants))
    index = network.index

    def propensities(state):
        return np.array(
            [
                scale * math.prod(math.comb(int(state[index[name]]), s) for name, s in reactants)
                for scale, reactants in specs
            ]
        )

    total = 0.0
    n = int(np.sum(reactions >= 0))
    for i in range(n):
        a = propensities(x[i])
        total += math.log(a[reactions[i]]) - a.sum() * (float(t[i + 1]) - float(t[i]))
    total -= propensities(x[n]).sum() * (t1 - float(t[n]))
    return total


@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_log_prob_matches_numpy(name):
    make, t1 = NETWORKS[name]
    network = make()
    results = jx.simulate(jax.random.key(3), network, network.x0, t1, max_steps=5000,
                          num_trajectories=4)
    per_step = network.log_prob(results)
    assert per_step.shape == (4, 5000)
    for i in range(4):
        r = results[i]
        assert int(r.n_steps) > 5
        expected = numpy_path_log_likelihood(
            network, np.asarray(r.x, np.float64), np.asarray(r.t, np.float64),
            np.asarray(r.reactions), t1,
        )
        got = float(np.sum(np.asarray(per_step[i], np.float64)))
        assert got == pytest.approx(expected, rel=2e-4, abs=1e-2)
        # rows after the survival row are exactly zero
        n = int(r.n_steps)
        assert np.all(np.asarray(per_step[i, n + 1 :]) == 0.0)
        assert float(per_step[i, n]) <= 0.0


def test_log_prob_gradient_matches_sufficient_statistics():
    """d/dk of the birth-death log-likelihood: births/k_b - t1 and deaths/k_d - integral of X."""
    network = jx.models.birth_death()
    t1 = 30.0
    res = jx.simulate(jax.random.key(5), network, network.x0, t1, max_steps=2000)
    grads = jax.grad(lambda net: net.log_prob(res).sum())(network)
    n = int(res.n_steps)
    r = np.asarray(res.reactions[:n])
    x = np.asarray(res.x[: n + 1, 0], np.float64)
    t = np.asarray(res.t[: n + 2], np.float64)
    births, deaths = np.sum(r == 0), np.sum(r == 1)
    area = np.sum(x * np.diff(t))
    assert float(grads.reactions[0].kinetics.k) == pytest.approx(births / 10.0 - t1, abs=2e-3)
    assert float(grads.reactions[1].kinetics.k) == pytest.approx(deaths / 0.1 - area, rel=1e-4)


def test_log_prob_rejects_grid_results_and_other_networks():
    network = jx.models.birth_death()
    grid = jx.simulate(jax.random.key(0), network, network.x0, 5.0, save_at=np.array([1.0, 5.0]))
    with pytest.raises(ValueError, match="event-list"):
        network.log_prob(grid)
    events = jx.simulate(jax.random.key(0), network, network.x0, 5.0, max_steps=200)
    with pytest.raises(ValueError, match="species"):
        jx.models.dimerisation().log_prob(events)
