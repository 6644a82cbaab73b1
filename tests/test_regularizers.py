import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from gymnasium.spaces import Box, Discrete
from scipy import stats

from jumpax.dynamics import (
    ConcatInputs,
    RewardFunction,
    StochasticRewardFunction,
    StochasticTransitionModel,
    TransitionModel,
)
from jumpax.model_updaters import ModelUpdater
from jumpax.regularizers import EntropyRegularizer, KLDivRegularizer
from jumpax.transitions import TransitionBatch

OBS = Box(-np.inf, np.inf, shape=(2,))
NONE = Box(-np.inf, np.inf, shape=(0,))


def _func(n_out, n_in=2):
    return ConcatInputs(eqx.nn.MLP(n_in, n_out, 16, 1, key=jax.random.key(0)))


def _normal_params():
    mu = jnp.array([[0.0, 1.0], [2.0, -1.0], [0.5, 0.5]])
    logvar = jnp.array([[0.0, -1.0], [1.0, 0.5], [-2.0, 0.0]])
    return {"mu": mu, "logvar": logvar}


W = jnp.array([1.0, 3.0, 0.0])


def test_entropy_regularizer_normal_matches_scipy():
    regularizer = EntropyRegularizer(StochasticTransitionModel(_func(4), OBS, NONE), beta=0.1)
    params = _normal_params()
    sigma = np.exp(0.5 * np.asarray(params["logvar"]))
    entropy = stats.norm(scale=sigma).entropy().sum(axis=1)
    expected = np.mean(W * entropy)  # coax: mean(W * penalty)
    loss, metrics = regularizer(params, W)
    np.testing.assert_allclose(metrics["EntropyRegularizer/entropy"], expected, rtol=1e-5)
    np.testing.assert_allclose(loss, -0.1 * expected, rtol=1e-5)
    assert set(metrics) == {"EntropyRegularizer/entropy", "EntropyRegularizer/loss"}


def test_kl_regularizer_normal_matches_closed_form():
    model = StochasticTransitionModel(_func(4), OBS, NONE)
    priors = {"mu": jnp.array([0.5, 0.0]), "logvar": jnp.array([0.0, 1.0])}
    regularizer = KLDivRegularizer(model, beta=2.0, priors=priors)
    params = _normal_params()
    s1, s2 = np.exp(0.5 * np.asarray(params["logvar"])), np.exp(0.5 * np.asarray(priors["logvar"]))
    m1, m2 = np.asarray(params["mu"]), np.asarray(priors["mu"])
    kl = (np.log(s2 / s1) + (s1**2 + (m1 - m2) ** 2) / (2 * s2**2) - 0.5).sum(axis=1)
    loss, metrics = regularizer(params, W)
    np.testing.assert_allclose(metrics["KLDivRegularizer/kl_div"], np.mean(W * kl), rtol=1e-5)
    np.testing.assert_allclose(loss, 2.0 * np.mean(W * kl), rtol=1e-5)


def test_categorical_entropy_and_kl():
    model = StochasticTransitionModel(_func(3, n_in=3 + 0), Discrete(3), NONE)
    logits = jnp.array([[0.0, 1.0, 2.0], [1.0, 1.0, 1.0]])
    p = np.asarray(jax.nn.softmax(logits))
    _, metrics = EntropyRegularizer(model)({"logits": logits})
    np.testing.assert_allclose(
        metrics["EntropyRegularizer/entropy"], np.mean(stats.entropy(p, axis=1)), rtol=1e-5
    )
    _, metrics = KLDivRegularizer(model)({"logits": logits})
    np.testing.assert_allclose(
        metrics["KLDivRegularizer/kl_div"],
        np.mean(stats.entropy(p, np.ones(3) / 3, axis=1)),
        rtol=1e-5,
    )


def test_deterministic_models_are_refused():
    for model in (TransitionModel(_func(2), OBS, NONE), RewardFunction(_func(1), OBS, NONE)):
        with pytest.raises(ValueError, match="deterministic"):
            EntropyRegularizer(model)
        with pytest.raises(ValueError, match="deterministic"):
            KLDivRegularizer(model)


def test_bad_priors_are_refused():
    model = StochasticTransitionModel(_func(4), OBS, NONE)
    with pytest.raises(ValueError, match="priors have keys"):
        KLDivRegularizer(model, priors={"logits": jnp.zeros(2)})
    with pytest.raises(ValueError, match="does not broadcast"):
        KLDivRegularizer(model, priors={"mu": jnp.zeros(3), "logvar": jnp.zeros(2)})


def _fitted_sigma(regularizer_cls, beta):
    """Fit N(mu, sigma) to rewards with true sigma 0.1, optionally regularized."""
    model = StochasticRewardFunction(_func(2), OBS, NONE)
    regularizer = None if regularizer_cls is None else regularizer_cls(model, beta=beta)
    updater = ModelUpdater(model, optax.adam(1e-2), regularizer=regularizer)
    S = jax.random.normal(jax.random.key(1), (256, 2))
    Rn = S[:, 0] + 0.1 * jax.random.normal(jax.random.key(2), (256,))
    batch = TransitionBatch(S=S, A=jnp.zeros((256, 0)), Rn=Rn)
    for _ in range(400):
        metrics = updater.update(batch)
    return float(jnp.mean(jnp.exp(0.5 * model.dist_params(S, batch.A)["logvar"]))), metrics


def test_regularizers_widen_the_fitted_distribution():
    plain, metrics = _fitted_sigma(None, 0.0)
    assert plain < 0.2
    entropy, metrics = _fitted_sigma(EntropyRegularizer, 0.5)
    assert "EntropyRegularizer/entropy" in metrics
    # E[-log p] - beta * H is minimal at variance s**2 / (1 - beta): twice the variance here
    np.testing.assert_allclose(entropy, np.sqrt(2) * plain, rtol=0.1)
    kl, metrics = _fitted_sigma(KLDivRegularizer, 1.0)
    assert "KLDivRegularizer/kl_div" in metrics
    assert kl > 1.25 * plain
