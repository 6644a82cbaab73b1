import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from gymnasium.spaces import Box, Discrete

from jumpax import value_losses
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

OBS = Box(-np.inf, np.inf, shape=(3,))
ACT = Box(-1.0, 1.0, shape=(1,))
M = np.array([[0.9, 0.1, 0.0], [-0.2, 0.8, 0.1], [0.0, 0.3, 0.7]], np.float32)
B = np.array([0.5, 0.0, -0.5], np.float32)
SIGMA = np.array([0.5, 0.2, 0.3], np.float32)
METRICS = {
    "ModelUpdater/loss",
    "ModelUpdater/loss_bare",
    "ModelUpdater/grads_norm",
    "ModelUpdater/grads_max",
    "ModelUpdater/grads_finite",
}


def _mlp(n_in, n_out, seed=0):
    return ConcatInputs(eqx.nn.MLP(n_in, n_out, 32, 1, key=jax.random.key(seed)))


def _linear_system(seed, n, noise=0.0):
    """x' = M x + B a + noise * eps; returns the batch and the noise-free mean of x'."""
    rng = np.random.default_rng(seed)
    S = rng.normal(size=(n, 3)).astype(np.float32)
    A = rng.uniform(-1.0, 1.0, size=(n, 1)).astype(np.float32)
    mean = S @ M.T + A * B
    S_next = (mean + noise * rng.normal(size=(n, 3))).astype(np.float32)
    return TransitionBatch(S=S, A=A, S_next=S_next, Rn=S[:, 0] - 2 * A[:, 0]), mean


def _minibatches(batch, size):
    host = jax.tree.map(np.asarray, batch)
    return [jax.tree.map(lambda x, i=i: x[i : i + size], host) for i in range(0, len(batch), size)]


def _train(updater, batches, steps):
    for i in range(steps):
        metrics = updater.update(batches[i % len(batches)])
    return metrics


# ----------------------------------------------------------------------------- learning


def test_deterministic_model_learns_linear_system():
    model = TransitionModel(_mlp(4, 3), OBS, ACT)
    updater = ModelUpdater(model, optax.adam(1e-2))
    train, _ = _linear_system(1, 1024)
    metrics = _train(updater, [train], 800)
    assert metrics["ModelUpdater/loss"] < 1e-3
    test, mean = _linear_system(2, 1024)
    assert value_losses.huber(mean, model(test.S, test.A)) < 1e-3  # held-out data


@pytest.fixture(scope="module")
def gaussian_data():
    train, _ = _linear_system(1, 16384, noise=SIGMA)
    test = _linear_system(2, 1024, noise=SIGMA)
    return _minibatches(train, 512), test


def test_stochastic_model_learns_mean_map_and_noise_scale(gaussian_data):
    batches, (test, mean) = gaussian_data
    model = StochasticTransitionModel(_mlp(4, 6), OBS, ACT)
    _train(ModelUpdater(model, optax.adam(3e-3)), batches, 1500)
    params = model.dist_params(test.S, test.A)
    sigma = np.exp(0.5 * np.asarray(params["logvar"]))
    np.testing.assert_allclose(sigma.mean(axis=0), SIGMA, rtol=0.1)
    assert sigma.std(axis=0).max() < 0.05  # the noise is homoscedastic
    rmse = np.sqrt(np.mean(np.square(params["mu"] - mean), axis=0))
    assert np.all(rmse < 0.2 * SIGMA), rmse


def test_regressing_a_sample_collapses_the_variance(gaussian_data):
    # The peer's recipe: regress a reparameterised sample onto the target with Huber. The
    # variance only adds error, so it collapses to ~0 (what ModelUpdater avoids by default).
    batches, (test, _) = gaussian_data
    model = StochasticTransitionModel(_mlp(4, 6), OBS, ACT)
    optimizer = optax.adam(3e-3)

    @jax.jit
    def step(params, opt_state, batch, key):
        def loss(params):
            dist, _ = model.forward(params, {}, batch.S, batch.A, inference=False)
            sample = model.distribution.sample(dist, key)
            return value_losses.huber(batch.S_next, sample)

        updates, opt_state = optimizer.update(jax.grad(loss)(params), opt_state, params)
        return optax.apply_updates(params, updates), opt_state

    params, opt_state = model.params, optimizer.init(model.params)
    for i in range(1500):
        params, opt_state = step(params, opt_state, batches[i % len(batches)], jax.random.key(i))
    model.params = params
    sigma = np.exp(0.5 * np.asarray(model.dist_params(test.S, test.A)["logvar"]))
    assert np.all(sigma.mean(axis=0) < 0.3 * SIGMA)


def test_reward_functions_train():
    train, _ = _linear_system(1, 1024)
    reward = RewardFunction(_mlp(4, 1), OBS, ACT)
    metrics = _train(ModelUpdater(reward, optax.adam(1e-2)), [train], 800)
    assert metrics["ModelUpdater/loss"] < 1e-3
    noisy = TransitionBatch(
        S=train.S, A=train.A, Rn=train.Rn + 0.3 * np.random.default_rng(3).normal(size=1024)
    )
    stochastic = StochasticRewardFunction(_mlp(4, 2), OBS, ACT)
    _train(ModelUpdater(stochastic, optax.adam(1e-2)), [noisy], 800)
    params = stochastic.dist_params(train.S, train.A)
    np.testing.assert_allclose(np.exp(0.5 * np.asarray(params["logvar"])).mean(), 0.3, rtol=0.1)
    assert np.sqrt(np.mean(np.square(params["mu"] - train.Rn))) < 0.5 * 0.3


def test_categorical_transition_model_learns_transition_probabilities():
    table = np.array(  # P(s' | s, a) for 3 states and 2 actions
        [
            [[0.8, 0.1, 0.1], [0.1, 0.8, 0.1]],
            [[0.3, 0.4, 0.3], [0.0, 0.5, 0.5]],
            [[0.2, 0.2, 0.6], [0.6, 0.2, 0.2]],
        ]
    )
    rng = np.random.default_rng(0)
    S, A = rng.integers(0, 3, size=6000), rng.integers(0, 2, size=6000)
    cumulative = np.cumsum(table[S, A], axis=1)
    S_next = np.minimum((rng.uniform(size=(6000, 1)) > cumulative).sum(axis=1), 2)
    batch = TransitionBatch(S=S, A=A, S_next=S_next)
    model = StochasticTransitionModel(_mlp(3 + 2, 3), Discrete(3), Discrete(2))
    _train(ModelUpdater(model, optax.adam(1e-2)), [batch], 600)
    grid_S, grid_A = np.repeat(np.arange(3), 2), np.tile(np.arange(2), 3)
    targets = np.tile(np.arange(3), 6)
    probs = np.exp(model.log_prob(np.repeat(grid_S, 3), np.repeat(grid_A, 3), targets))
    probs = probs.reshape(6, 3)
    # about 1000 samples per (s, a): standard errors <= 0.016
    np.testing.assert_allclose(probs, table.reshape(6, 3), atol=0.05)


def test_loss_function_on_stochastic_model_regresses_the_mean():
    train, _ = _linear_system(1, 1024)
    model = StochasticTransitionModel(_mlp(4, 6), OBS, ACT)
    updater = ModelUpdater(model, optax.adam(1e-2), loss_function="mse")
    assert updater.loss_function is value_losses.mse
    _, _, metrics = updater.grads_and_metrics(train)
    mu = model.dist_params(train.S, train.A)["mu"]
    np.testing.assert_allclose(
        metrics["ModelUpdater/loss"], value_losses.mse(train.S_next, mu), rtol=1e-6
    )
    metrics = _train(updater, [train], 500)
    assert metrics["ModelUpdater/loss"] < 1e-2


# ----------------------------------------------------------------------------- API


def test_grads_and_metrics_then_apply_grads_equals_update():
    batches = _minibatches(_linear_system(1, 256, noise=SIGMA)[0], 64)
    local = StochasticTransitionModel(_mlp(4, 6), OBS, ACT)
    remote = StochasticTransitionModel(_mlp(4, 6), OBS, ACT)
    regularizer = EntropyRegularizer(local, beta=0.01)
    local_updater = ModelUpdater(local, regularizer=regularizer)
    remote_updater = ModelUpdater(remote, regularizer=regularizer)
    for batch in batches:
        metrics = local_updater.update(batch)
        grads, function_state, remote_metrics = remote_updater.grads_and_metrics(batch)
        remote_updater.apply_grads(grads, function_state)
        for key in metrics:
            np.testing.assert_array_equal(metrics[key], remote_metrics[key])
    for a, b in zip(jax.tree.leaves(local.params), jax.tree.leaves(remote.params), strict=True):
        np.testing.assert_array_equal(a, b)
    assert set(metrics) == METRICS | {"EntropyRegularizer/entropy", "EntropyRegularizer/loss"}
    assert metrics["ModelUpdater/loss"] == (
        metrics["ModelUpdater/loss_bare"] + metrics["EntropyRegularizer/loss"]
    )


def test_metrics_keys_and_values():
    batch, _ = _linear_system(1, 64)
    model = TransitionModel(_mlp(4, 3), OBS, ACT)
    updater = ModelUpdater(model)
    grads, _, metrics = updater.grads_and_metrics(batch)
    assert set(metrics) == METRICS
    leaves = jax.tree.leaves(grads)
    np.testing.assert_allclose(
        metrics["ModelUpdater/grads_norm"], np.sqrt(sum(np.sum(g**2) for g in leaves)), rtol=1e-5
    )
    np.testing.assert_allclose(
        metrics["ModelUpdater/grads_max"], max(np.abs(g).max() for g in leaves), rtol=1e-6
    )
    np.testing.assert_allclose(
        metrics["ModelUpdater/loss"], value_losses.huber(batch.S_next, model(batch.S, batch.A))
    )
    assert bool(metrics["ModelUpdater/grads_finite"])
    reg = KLDivRegularizer(StochasticTransitionModel(_mlp(4, 6), OBS, ACT))
    stochastic = StochasticTransitionModel(_mlp(4, 6), OBS, ACT)
    _, _, metrics = ModelUpdater(stochastic, regularizer=reg).grads_and_metrics(batch)
    assert set(metrics) == METRICS | {"KLDivRegularizer/kl_div", "KLDivRegularizer/loss"}


def test_default_optimizer_and_losses():
    model = TransitionModel(_mlp(4, 3), OBS, ACT)
    updater = ModelUpdater(model)
    assert updater.loss_function is value_losses.huber
    # adam(1e-3): the first step moves every parameter by lr * sign(grad)
    batch, _ = _linear_system(1, 64)
    before = model.params
    updater.update(batch)
    step = np.abs(model.params.module.layers[0].weight - before.module.layers[0].weight)
    np.testing.assert_allclose(step.max(), 1e-3, rtol=1e-3)
    stochastic = StochasticTransitionModel(_mlp(4, 6), OBS, ACT)
    assert ModelUpdater(stochastic).loss_function is None  # maximum likelihood


def test_negative_log_likelihood_is_the_default_loss():
    batch, _ = _linear_system(1, 64, noise=SIGMA)
    model = StochasticTransitionModel(_mlp(4, 6), OBS, ACT)
    _, _, metrics = ModelUpdater(model).grads_and_metrics(batch)
    nll = -np.mean(model.log_prob(batch.S, batch.A, batch.S_next))
    np.testing.assert_allclose(metrics["ModelUpdater/loss"], nll, rtol=1e-6)


# ----------------------------------------------------------------------------- masking


def _loss_and_grads(updater, batch):
    grads, _, metrics = updater.grads_and_metrics(batch)
    return metrics["ModelUpdater/loss"], grads


def _assert_same(a, b):
    np.testing.assert_allclose(a[0], b[0], rtol=1e-6)
    for x, y in zip(jax.tree.leaves(a[1]), jax.tree.leaves(b[1]), strict=True):
        np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("stochastic", [False, True])
def test_episode_ends_train_like_any_transition(stochastic):
    # coax's semantics: In is a discount factor, not a mask. A batch whose transitions all end
    # episodes (In = 0, as in coax's own test batch) trains exactly as with In = 0.99.
    batch, _ = _linear_system(1, 64, noise=SIGMA)
    ended = TransitionBatch(S=batch.S, A=batch.A, S_next=batch.S_next, In=np.zeros(64))
    cls, n_out = (StochasticTransitionModel, 6) if stochastic else (TransitionModel, 3)
    updater = ModelUpdater(cls(_mlp(4, n_out), OBS, ACT))
    loss, grads = _loss_and_grads(updater, ended)
    _assert_same((loss, grads), _loss_and_grads(updater, batch))
    assert max(float(jnp.max(jnp.abs(g))) for g in jax.tree.leaves(grads)) > 0
    assert np.all(np.asarray(updater.per_sample_loss(ended)) != 0)


def test_negative_weights_are_refused():
    batch, _ = _linear_system(1, 8)
    with pytest.raises(ValueError, match="sample weights W must be finite and non-negative"):
        TransitionBatch(S=batch.S, A=batch.A, S_next=batch.S_next, W=-np.ones(8))
    updater = ModelUpdater(TransitionModel(_mlp(4, 3), OBS, ACT))
    tampered = eqx.tree_at(lambda b: b.W, batch, -jnp.ones(len(batch)))
    with pytest.raises(ValueError, match="sample weights W"):
        updater.update(tampered)


@pytest.mark.parametrize("stochastic", [False, True])
def test_zero_weight_removes_a_sample(stochastic):
    batch, _ = _linear_system(1, 64, noise=SIGMA)
    drop = np.arange(64) % 3 == 0
    S = np.where(drop[:, None], np.nan, batch.S)  # even NaN in a removed sample is harmless
    W = np.where(drop, 0.0, np.linspace(0.5, 2.0, 64))
    weighted = TransitionBatch(S=S, A=batch.A, S_next=batch.S_next, W=W)
    keep = ~drop
    kept = TransitionBatch(S=batch.S[keep], A=batch.A[keep], S_next=batch.S_next[keep], W=W[keep])
    cls, n_out = (StochasticTransitionModel, 6) if stochastic else (TransitionModel, 3)
    updater = ModelUpdater(cls(_mlp(4, n_out), OBS, ACT))
    loss, grads = _loss_and_grads(updater, weighted)
    kept_loss, kept_grads = _loss_and_grads(updater, kept)
    # coax's mean runs over the whole batch: the kept samples' terms, divided by 64, not 43
    scale = keep.sum() / len(keep)
    _assert_same((loss, grads), (kept_loss * scale, jax.tree.map(lambda g: g * scale, kept_grads)))


def test_non_finite_gradients_raise_and_leave_the_model_unchanged():
    batch, _ = _linear_system(1, 64)
    S_next = np.array(batch.S_next)
    S_next[3, 0] = np.inf
    bad = TransitionBatch(S=batch.S, A=batch.A, S_next=S_next)
    model = StochasticTransitionModel(_mlp(4, 6), OBS, ACT)
    updater = ModelUpdater(model)
    _, _, metrics = updater.grads_and_metrics(bad)
    assert not bool(metrics["ModelUpdater/grads_finite"])
    before = model.params
    with pytest.raises(FloatingPointError, match="non-finite gradients"):
        updater.update(bad)
    assert model.params is before
    updater.update(batch)  # a good batch still trains
    assert model.params is not before


def test_per_sample_loss_for_prioritized_replay():
    batch, _ = _linear_system(1, 64, noise=SIGMA)
    W = np.linspace(0.1, 2.0, 64)
    weighted = TransitionBatch(S=batch.S, A=batch.A, S_next=batch.S_next, W=W)
    for cls, n_out in ((TransitionModel, 3), (StochasticTransitionModel, 6)):
        model = cls(_mlp(4, n_out), OBS, ACT)
        updater = ModelUpdater(model, regularizer=None)
        per_sample = updater.per_sample_loss(weighted)
        assert per_sample.shape == (64,)
        _, _, metrics = updater.grads_and_metrics(weighted)
        np.testing.assert_allclose(
            np.mean(W * per_sample), metrics["ModelUpdater/loss_bare"], rtol=1e-5
        )
    # a transition the model gets badly wrong has the largest priority
    S_next = np.array(batch.S_next)
    S_next[7] += 50.0
    outlier = TransitionBatch(S=batch.S, A=batch.A, S_next=S_next)
    assert int(np.argmax(updater.per_sample_loss(outlier))) == 7


# ----------------------------------------------------------------------------- errors


def test_regularizer_on_deterministic_model_is_refused_at_construction():
    regularizer = EntropyRegularizer(StochasticTransitionModel(_mlp(4, 6), OBS, ACT))
    with pytest.raises(ValueError, match="regularizer needs a stochastic model"):
        ModelUpdater(TransitionModel(_mlp(4, 3), OBS, ACT), regularizer=regularizer)
    with pytest.raises(ValueError, match="built for"):
        ModelUpdater(StochasticRewardFunction(_mlp(4, 2), OBS, ACT), regularizer=regularizer)


def test_unknown_loss_name_is_refused():
    with pytest.raises(ValueError, match="unknown loss function 'l3'"):
        ModelUpdater(TransitionModel(_mlp(4, 3), OBS, ACT), loss_function="l3")


def test_model_without_parameters_is_refused():
    mlp = _mlp(4, 3)
    with pytest.raises(ValueError, match="no trainable parameters"):
        ModelUpdater(TransitionModel(lambda s, a: mlp(s, a), OBS, ACT))


def test_missing_target_is_refused():
    batch = TransitionBatch(S=np.zeros((4, 3)), A=np.zeros((4, 1)))
    with pytest.raises(ValueError, match="no S_next"):
        ModelUpdater(TransitionModel(_mlp(4, 3), OBS, ACT)).update(batch)


def test_optimizer_swap_needs_matching_structure():
    model = TransitionModel(_mlp(4, 3), OBS, ACT)
    updater = ModelUpdater(model)
    batch, _ = _linear_system(1, 64)
    updater.update(batch)
    state = updater.optimizer_state
    updater.optimizer = optax.adam(1e-4)  # same structure: allowed, the moments are kept
    assert updater.optimizer_state is state
    updater.update(batch)
    with pytest.raises(ValueError, match="cannot swap optimizer"):
        updater.optimizer = optax.sgd(1e-3)
    with pytest.raises(ValueError, match="cannot swap optimizer_state"):
        updater.optimizer_state = optax.sgd(1e-3).init(model.params)
    updater.optimizer_state = optax.adam(1e-3).init(model.params)


# ----------------------------------------------------------------------------- compilation


def test_updates_do_not_retrace():
    traces = []

    class Counting(eqx.Module):
        linear: eqx.nn.Linear

        def __call__(self, s, a):
            traces.append(None)  # runs once per trace, not per call
            return self.linear(jnp.concatenate([s, a]))

    model = TransitionModel(Counting(eqx.nn.Linear(4, 3, key=jax.random.key(0))), OBS, ACT)
    updater = ModelUpdater(model)
    updater.update(_linear_system(0, 32)[0])
    count = len(traces)
    for i in range(1, 6):
        updater.update(_linear_system(i, 32)[0])
    assert len(traces) == count


class _Normalised(eqx.Module):
    norm: eqx.nn.BatchNorm
    linear: eqx.nn.Linear

    def __init__(self, key):
        self.norm = eqx.nn.BatchNorm(4, axis_name="batch", mode="ema")
        self.linear = eqx.nn.Linear(4, 3, key=key)

    def __call__(self, s, a, state):
        x, state = self.norm(jnp.concatenate([s, a]), state)
        return self.linear(x), state


def test_stateful_function_state_is_updated():
    func, state = eqx.nn.make_with_state(_Normalised)(jax.random.key(0))
    model = TransitionModel(func, OBS, ACT, state=state)
    assert isinstance(model.function_state, eqx.nn.State)
    batch, _ = _linear_system(1, 64)
    shifted = TransitionBatch(S=batch.S + 5.0, A=batch.A, S_next=batch.S_next)
    before = model.function_state
    ModelUpdater(model).update(shifted)
    changed = [
        not np.allclose(a, b)
        for a, b in zip(jax.tree.leaves(before), jax.tree.leaves(model.function_state), strict=True)
    ]
    assert any(changed)  # the running statistics moved towards the data
    # predictions run in inference mode: a sample's prediction does not depend on its batch
    np.testing.assert_allclose(
        model(batch.S[:1], batch.A[:1]), model(batch.S, batch.A)[:1], rtol=1e-5
    )


# ----------------------------------------------------------------------------- coax's func forms


class _NamedNormal(eqx.Module):
    """A coax-style function returning distribution parameters by name."""

    mlp: eqx.nn.MLP

    def __call__(self, s, a):
        out = self.mlp(jnp.concatenate([s, a]))
        return {"mu": out[:3], "logvar": out[3:]}


def test_func_may_return_named_distribution_parameters():
    mlp = eqx.nn.MLP(4, 6, 32, 1, key=jax.random.key(0))
    named = StochasticTransitionModel(_NamedNormal(mlp), OBS, ACT)
    flat = StochasticTransitionModel(ConcatInputs(mlp), OBS, ACT)
    batch, _ = _linear_system(3, 16, noise=SIGMA)
    for key in ("mu", "logvar"):
        np.testing.assert_array_equal(
            named.dist_params(batch.S, batch.A)[key], flat.dist_params(batch.S, batch.A)[key]
        )
    before = named.params
    ModelUpdater(named, optax.sgd(1e-2)).update(batch)
    assert not eqx.tree_equal(before, named.params)


def test_categorical_func_may_return_logits_by_name():
    class Logits(eqx.Module):
        linear: eqx.nn.Linear

        def __call__(self, s, a):
            return {"logits": self.linear(jnp.concatenate([s, a]))}

    model = StochasticTransitionModel(
        Logits(eqx.nn.Linear(4, 3, key=jax.random.key(0))), Discrete(3), Discrete(1)
    )
    assert model.dist_params(jnp.array([0, 1]), jnp.array([0, 0]))["logits"].shape == (2, 3)


def test_named_parameters_must_match_the_distribution():
    class Wrong(eqx.Module):
        linear: eqx.nn.Linear

        def __call__(self, s, a):
            out = self.linear(jnp.concatenate([s, a]))
            return {"mean": out[:3], "logvar": out[3:]}

    with pytest.raises(ValueError, match=r"keys \['logvar', 'mean'\], expected a dict with keys"):
        StochasticTransitionModel(Wrong(eqx.nn.Linear(4, 6, key=jax.random.key(0))), OBS, ACT)


class _Dropout(eqx.Module):
    """A func that needs randomness: dropout on its hidden layer (Equinox's ``key`` convention)."""

    first: eqx.nn.Linear
    dropout: eqx.nn.Dropout
    last: eqx.nn.Linear

    def __call__(self, s, a, *, key=None):
        hidden = jax.nn.relu(self.first(jnp.concatenate([s, a])))
        return self.last(self.dropout(hidden, key=key))


def test_func_with_a_key_gets_fresh_randomness_in_training_only():
    keys = jax.random.split(jax.random.key(0), 2)
    func = _Dropout(
        eqx.nn.Linear(4, 64, key=keys[0]), eqx.nn.Dropout(0.5), eqx.nn.Linear(64, 3, key=keys[1])
    )
    model = TransitionModel(func, OBS, ACT)
    batch, _ = _linear_system(4, 32)
    updater = ModelUpdater(model, optax.sgd(1e-2), key=jax.random.key(7))
    losses = [float(updater.grads_and_metrics(batch)[2]["ModelUpdater/loss"]) for _ in range(2)]
    assert losses[0] != losses[1]  # a fresh dropout mask per call
    again = ModelUpdater(model, optax.sgd(1e-2), key=jax.random.key(7))
    assert float(again.grads_and_metrics(batch)[2]["ModelUpdater/loss"]) == losses[0]
    np.testing.assert_array_equal(model(batch.S, batch.A), model(batch.S, batch.A))  # no dropout
    updater.update(batch)
