"""Built-in models: each builds, simulates, and the analytically known ones match."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jumpax as jx


@pytest.mark.parametrize("name", sorted(jx.models.CATALOGUE))
def test_every_model_simulates(name):
    entry = jx.models.CATALOGUE[name]
    network = entry.build()
    res = jx.simulate(
        jax.random.key(0), network, network.x0, entry.t1,
        save_at=jnp.linspace(0.0, entry.t1, 5), num_trajectories=16,
    )
    assert not np.any(np.asarray(res.overflow))
    assert np.all(np.asarray(res.x) >= 0)
    assert np.all(np.isfinite(np.asarray(res.x)))


@pytest.mark.parametrize(
    ("make", "t1", "species", "expected_mean"),
    [
        (lambda: jx.models.birth_death(), 100.0, "X", 100.0 * (1 - np.exp(-10.0))),
        (lambda: jx.models.immigration_death(), 50.0, "X", 10.0 * (1 - np.exp(-5.0))),
        (lambda: jx.models.linear_birth_death(), 20.0, "X", 100.0 * np.exp(-0.01 * 20)),
        (lambda: jx.models.two_stage_gene_expression(), 400.0, "M", 10.0),
        (lambda: jx.models.two_stage_gene_expression(), 400.0, "P", 200.0),
        (lambda: jx.models.telegraph(), 30.0, "M", 20.0 / 3.0),
    ],
)
def test_analytic_means(make, t1, species, expected_mean):
    network = make()
    n = 4000
    res = jx.simulate(jax.random.key(1), network, network.x0, t1, save_at="final",
                      num_trajectories=n)
    x = np.asarray(res.species_counts(species))
    assert abs(x.mean() - expected_mean) < 3.5 * x.std() / np.sqrt(n)


def test_toggle_switch_is_bimodal():
    network = jx.models.toggle_switch()
    res = jx.simulate(jax.random.key(2), network, network.x0, 50.0, save_at="final",
                      num_trajectories=400)
    u, v = np.asarray(res.x).T
    u_high = np.mean(u > v)
    assert 0.3 < u_high < 0.7  # symmetric switch: either state, about equally often
    assert np.median(np.abs(u - v)) > 20  # and clearly committed
