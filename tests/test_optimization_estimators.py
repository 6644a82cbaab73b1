"""Gradient estimators against analytic gradients of E[X(t1)] with respect to log-rates.

Pure birth ``0 -> X`` at ``b``: ``E[X(t)] = b t``. Birth-death (plus ``X -> 0`` at ``d X``)
from ``X(0) = 0``: ``E[X(t)] = (b/d)(1 - exp(-d t))``. Every check is a mean of independent
per-trajectory (or per-sample) estimates, compared with the analytic value within 3 standard
errors under a fixed seed.
"""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jumpax as jx
from jumpax.optimization import (
    discounted_returns,
    reinforce_loss,
    rewards_from_state_metric,
)
from jumpax.optimization.grad import gradfd, gradspsa

T1 = 10.0
MAX_STEPS = 400
N = 20_000


X0 = jnp.zeros(1)


def pure_birth(log_k):
    return jx.ReactionNetwork([jx.Reaction("0 -> X", jnp.exp(log_k[0]))])


def birth_death(log_k):
    rates = jnp.exp(log_k)
    return jx.ReactionNetwork([jx.Reaction("0 -> X", rates[0]), jx.Reaction("X -> 0", rates[1])])


def analytic_gradient(build, log_k):
    """d E[X(T1)] / d log k."""
    k = np.exp(np.asarray(log_k, dtype=float))
    if build is pure_birth:
        return np.array([k[0] * T1])
    b, d = k
    mean = b / d * (1 - np.exp(-d * T1))
    return np.array([mean, -mean + b * T1 * np.exp(-d * T1)])


PROBLEMS = {
    "pure_birth": (pure_birth, jnp.log(jnp.array([5.0]))),
    "birth_death": (birth_death, jnp.log(jnp.array([10.0, 0.1]))),
}


def assert_within_3_se(samples, expected):
    samples = np.asarray(samples)
    mean = samples.mean(axis=0)
    se = samples.std(axis=0, ddof=1) / np.sqrt(samples.shape[0])
    assert np.all(np.abs(mean - expected) < 3 * se), (mean, se, expected)
    return se


def final_counts(build, log_k, key, n=None):
    network = build(log_k)
    return jx.simulate(
        key, network, X0, T1, save_at="final", max_steps=MAX_STEPS, num_trajectories=n
    ).x[..., 0]


# ----------------------------------------------------------------------------- REINFORCE
def per_trajectory_reinforce(build, log_k, results, returns, baseline):
    """One REINFORCE gradient estimate of d E[return] / d log k per trajectory."""
    loss = reinforce_loss()

    def estimate(path, path_returns):
        return jax.grad(lambda lk: -loss(build(lk), path, path_returns, baseline))(log_k)

    return jax.vmap(estimate)(results, returns)


@pytest.mark.parametrize("name", PROBLEMS)
@pytest.mark.parametrize("variant", ["terminal", "baseline", "reward_to_go"])
def test_reinforce_is_unbiased(name, variant):
    build, log_k = PROBLEMS[name]
    network = build(log_k)
    results = jx.simulate(
        jax.random.key(0), network, X0, T1, max_steps=MAX_STEPS, num_trajectories=N
    )
    final = results.final_state[:, 0]
    baseline = 0.0
    if variant == "reward_to_go":  # G_i = X(t1) - X_i: each step credited with what follows
        rewards = rewards_from_state_metric(lambda r: r.species_counts("X"), "reward")(results)
        returns = discounted_returns(rewards, GAMMA=1.0)
    else:  # one terminal return per trajectory
        returns = final[:, None]
    if variant == "baseline":  # an independent simulation's mean: no bias
        baseline = final_counts(build, log_k, jax.random.key(1), 2000).mean()
    samples = per_trajectory_reinforce(build, log_k, results, returns, baseline)
    se = assert_within_3_se(samples, analytic_gradient(build, log_k))
    if variant == "baseline":
        plain = per_trajectory_reinforce(build, log_k, results, final[:, None], 0.0)
        assert np.all(se < 0.5 * np.asarray(plain).std(axis=0) / np.sqrt(N))


@pytest.mark.slow
def test_reinforce_loss_averages_trajectories_and_accepts_models():
    build, log_k = PROBLEMS["birth_death"]
    model = jx.StochasticModel(build(log_k), t1=T1, max_steps=MAX_STEPS)
    results = model(jax.random.key(2), X0, num_trajectories=8)
    returns = jnp.broadcast_to(results.final_state[:, :1], results.reactions.shape)
    loss = reinforce_loss()
    batched = loss(model, results, returns, 3.0)
    singles = [loss(model.network, results[i], returns[i], 3.0) for i in range(8)]
    np.testing.assert_allclose(batched, np.mean(singles), rtol=1e-5)
    grads = eqx.filter_grad(loss)(model, results, returns, 3.0)
    assert np.all(np.isfinite(grads.network.reactions[0].kinetics.k))


def test_reinforce_loss_stop_returns_grad():
    build, log_k = PROBLEMS["pure_birth"]
    results = jx.simulate(jax.random.key(3), build(log_k), X0, T1, max_steps=MAX_STEPS)

    def loss_value(scale, stop):
        return reinforce_loss(stop)(build(log_k), results, scale * jnp.ones(MAX_STEPS))

    assert jax.grad(loss_value)(1.0, True) == 0.0
    expected = -jnp.sum(build(log_k).log_prob(results))
    np.testing.assert_allclose(jax.grad(loss_value)(1.0, False), expected, rtol=1e-5)


def test_reinforce_loss_rejects_bad_models_and_shapes():
    build, log_k = PROBLEMS["pure_birth"]
    results = jx.simulate(
        jax.random.key(3), build(log_k), X0, T1, max_steps=MAX_STEPS, num_trajectories=3
    )
    loss = reinforce_loss()
    with pytest.raises(ValueError, match="log_prob"):
        loss(object(), results, jnp.ones((3, MAX_STEPS)))
    with pytest.raises(ValueError, match="does not broadcast"):
        loss(build(log_k), results, jnp.ones(3))  # per-trajectory returns need [:, None]
    with pytest.raises(ValueError, match="baseline of shape"):
        loss(build(log_k), results, jnp.ones((3, 1)), jnp.ones(5))


# ----------------------------------------------------------------------------- gradfd / SPSA
ENSEMBLE = 100  # trajectories per function evaluation
REPEATS = 40  # independent gradient estimates


def mean_final_count(log_k, key):
    return final_counts(birth_death, log_k, key, ENSEMBLE).mean()


def test_gradfd_with_common_random_numbers_estimates_the_birth_death_gradient():
    log_k = PROBLEMS["birth_death"][1]
    grad_fn = jax.jit(gradfd(mean_final_count, epsilon=0.05))  # one key: common random numbers
    keys = jax.random.split(jax.random.key(4), REPEATS)
    samples = [grad_fn(log_k, key) for key in keys]
    assert_within_3_se(samples, analytic_gradient(birth_death, log_k))


def test_gradspsa_is_unbiased_on_birth_death():
    log_k = PROBLEMS["birth_death"][1]
    grad_fn = jax.jit(gradspsa(mean_final_count, epsilon=0.05, num_samples=4))
    keys = jax.random.split(jax.random.key(5), (REPEATS, 2))
    samples = [grad_fn(log_k, sim_key, key=spsa_key) for sim_key, spsa_key in keys]
    assert_within_3_se(samples, analytic_gradient(birth_death, log_k))
