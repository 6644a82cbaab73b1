import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jumpax as jx
from jumpax import GumbelSoftmaxDirect

T1 = 10.0
X0 = jnp.zeros(1)


def birth_death(log_k):
    rates = jnp.exp(log_k)
    return jx.ReactionNetwork([jx.Reaction("0 -> X", rates[0]), jx.Reaction("X -> 0", rates[1])])


LOG_K = jnp.log(jnp.array([10.0, 0.1]))


def test_forward_pass_is_exact():
    # From X(0) = 0, X(t) is Poisson with mean (b/d)(1 - exp(-d t)) = 63.2 at t = 10.
    results = jx.simulate(
        jax.random.key(0), birth_death(LOG_K), X0, T1, solver=GumbelSoftmaxDirect(0.5),
        save_at="final", max_steps=400, num_trajectories=4000,
    )
    x = np.asarray(results.x[:, 0])
    mean = 100 * (1 - np.exp(-1.0))
    assert np.all(x == np.round(x))  # straight-through keeps the counts integers
    assert abs(x.mean() - mean) < 3 * np.sqrt(mean / x.size)
    # Variance of the sample variance of a Poisson(m): (m + 2 m^2 / (n-1)) / n.
    assert abs(x.var(ddof=1) - mean) < 3 * np.sqrt((mean + 2 * mean**2) / x.size)


def test_sample_never_fires_a_zero_propensity_reaction():
    solver = GumbelSoftmaxDirect(1.0)
    propensities = jnp.array([0.0, 1e-30, 0.0, 0.0])
    bits = jax.random.bits(jax.random.key(1), (10_000, solver.num_words(4)), jnp.uint32)
    taus, reactions = jax.vmap(solver.sample, in_axes=(0, None))(bits, propensities)
    assert np.all(np.asarray(reactions) == 1)
    tau, _ = solver.sample(bits[0, : solver.num_words(3)], jnp.zeros(3))
    assert tau == jnp.inf


@pytest.mark.slow
def test_paths_respect_zero_propensities_and_gradients_are_finite():
    # Telegraph from the off state: transcription (reaction 2) has propensity 0 while off.
    network = jx.models.telegraph()
    model = jx.StochasticModel(network, GumbelSoftmaxDirect(0.3), t1=3.0, max_steps=150)
    results = model(jax.random.key(3), network.x0, num_trajectories=200)
    x, reactions = np.asarray(results.x), np.asarray(results.reactions)
    assert x.min() >= 0
    on = x[:, :-1, network.species.index("G_on")]
    assert np.all(on[reactions == 2] == 1)
    assert np.all(np.isfinite(np.asarray(network.log_prob(results))))

    def mean_mrna(model):
        final = model(jax.random.key(4), network.x0, save_at="final", num_trajectories=200)
        return final.species_counts("M").mean()

    grads = eqx.filter_grad(mean_mrna)(model)
    k = np.array([np.asarray(r.kinetics.k) for r in grads.network.reactions])
    assert np.all(np.isfinite(k))
    assert k[2] > 0 and k[3] < 0  # more transcription, more mRNA; more decay, less


@pytest.mark.parametrize("temperature", [0.0, -1.0, float("inf"), "1"])
def test_temperature_must_be_positive(temperature):
    with pytest.raises(ValueError, match="temperature must be a positive number"):
        GumbelSoftmaxDirect(temperature)
