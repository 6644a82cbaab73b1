import equinox as eqx
import gymnasium
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from gymnasium.spaces import Box, Dict, Discrete
from scipy import stats

from jumpax.dynamics import (
    CategoricalDist,
    ConcatInputs,
    NormalDist,
    RewardFunction,
    StochasticRewardFunction,
    StochasticTransitionModel,
    TransitionModel,
    proba_dist,
)

OBS = Box(-np.inf, np.inf, shape=(3,))
ACT = Discrete(2)


def _mlp(n_in, n_out, seed=0):
    return ConcatInputs(eqx.nn.MLP(n_in, n_out, 16, 1, key=jax.random.key(seed)))


class Constant(eqx.Module):
    """Outputs fixed numbers whatever the input (still trainable)."""

    value: jax.Array

    def __call__(self, s, a):
        return self.value + 0.0 * (jnp.sum(s) + jnp.sum(a))


def _batch(n=5):
    S = jax.random.normal(jax.random.key(1), (n, 3))
    A = jnp.arange(n) % 2
    return S, A


def test_output_shapes_of_all_models():
    S, A = _batch()
    assert TransitionModel(_mlp(5, 3), OBS, ACT)(S, A).shape == (5, 3)
    assert RewardFunction(_mlp(5, 1), OBS, ACT)(S, A).shape == (5,)
    model = StochasticTransitionModel(_mlp(5, 6), OBS, ACT)
    params = model.dist_params(S, A)
    assert set(params) == {"mu", "logvar"} and params["mu"].shape == (5, 3)
    assert model.sample(S, A, jax.random.key(0)).shape == (5, 3)
    assert model.mode(S, A).shape == (5, 3)
    assert model.log_prob(S, A, S).shape == (5,)
    reward = StochasticRewardFunction(_mlp(5, 2), OBS, ACT)
    assert reward.dist_params(S, A)["logvar"].shape == (5,)
    assert reward.sample(S, A, jax.random.key(0)).shape == (5,)


def test_scalar_output_convention_for_reward():
    func = ConcatInputs(eqx.nn.MLP(5, "scalar", 8, 1, key=jax.random.key(0)))
    S, A = _batch()
    assert RewardFunction(func, OBS, ACT)(S, A).shape == (5,)


def test_discrete_observations_use_a_categorical():
    obs = Discrete(4, start=1)
    model = StochasticTransitionModel(_mlp(4 + 2, 4), obs, ACT)
    assert model.distribution == CategoricalDist(4, 1)
    S, A = jnp.array([1, 2, 3, 4]), jnp.array([0, 1, 0, 1])
    logits = model.dist_params(S, A)["logits"]
    assert logits.shape == (4, 4)
    np.testing.assert_array_equal(model.mode(S, A), jnp.argmax(logits, axis=1) + 1)
    sample = model.sample(S, A, jax.random.key(0))
    assert sample.shape == (4,) and jnp.all((sample >= 1) & (sample <= 4))
    np.testing.assert_allclose(
        model.log_prob(S, A, S), jax.nn.log_softmax(logits)[jnp.arange(4), S - 1], rtol=1e-6
    )


def test_deterministic_model_of_discrete_observations_is_refused():
    with pytest.raises(ValueError, match="use StochasticTransitionModel"):
        TransitionModel(_mlp(4 + 2, 4), Discrete(4), ACT)


def test_dict_spaces_are_flattened_with_gymnasium():
    obs = Dict({"counts": Box(0, 100, shape=(2,)), "phase": Discrete(3)})
    flat = gymnasium.spaces.flatten_space(obs)
    assert proba_dist(obs) == NormalDist(flat.shape)
    model = StochasticTransitionModel(_mlp(5 + 2, 10), obs, ACT)
    obs.seed(0)
    S = np.stack([gymnasium.spaces.flatten(obs, obs.sample()) for _ in range(4)])
    A = jnp.array([0, 1, 1, 0])
    assert model.sample(S, A, jax.random.key(0)).shape == (4, 5)
    assert TransitionModel(_mlp(7, 5), obs, ACT)(S, A).shape == (4, 5)


def test_gaussian_log_prob_is_exact_including_constant():
    value = jnp.array([0.5, -1.0, 2.0, 0.1, -0.3, -2.0])  # mu (3), logvar (3)
    model = StochasticTransitionModel(Constant(value), OBS, ACT)
    S, A = _batch(4)
    target = jax.random.normal(jax.random.key(2), (4, 3))
    expected = stats.norm.logpdf(
        np.asarray(target), loc=np.asarray(value[:3]), scale=np.exp(0.5 * np.asarray(value[3:]))
    ).sum(axis=1)
    np.testing.assert_allclose(model.log_prob(S, A, target), expected, rtol=1e-5)


def test_sample_statistics_match_parameters():
    value = jnp.array([1.0, -2.0, 0.0, np.log(0.25), np.log(4.0), 0.0])
    model = StochasticTransitionModel(Constant(value), OBS, ACT)
    n = 20_000
    S, A = jnp.zeros((n, 3)), jnp.zeros(n, int)
    x = model.sample(S, A, jax.random.key(3))
    # standard errors of the mean are sigma / sqrt(n) <= 0.015
    np.testing.assert_allclose(x.mean(axis=0), [1.0, -2.0, 0.0], atol=0.05)
    np.testing.assert_allclose(x.std(axis=0), [0.5, 2.0, 1.0], rtol=0.03)
    np.testing.assert_array_equal(model.mode(S[:2], A[:2]), jnp.tile(value[:3], (2, 1)))


def test_no_hidden_squashing_to_box_bounds():
    obs = Box(0.0, 1.0, shape=(2,))
    model = TransitionModel(Constant(jnp.array([5.0, -3.0])), obs, ACT)
    np.testing.assert_array_equal(model(jnp.zeros((1, 2)), jnp.zeros(1, int)), [[5.0, -3.0]])
    stochastic = StochasticTransitionModel(Constant(jnp.array([5.0, -3.0, 0.0, 0.0])), obs, ACT)
    np.testing.assert_array_equal(stochastic.mode(jnp.zeros((1, 2)), jnp.zeros(1, int)), [[5, -3]])


def test_func_output_size_is_checked_at_construction():
    with pytest.raises(ValueError, match="func returned 3 numbers per example, expected 6"):
        StochasticTransitionModel(_mlp(5, 3), OBS, ACT)
    with pytest.raises(ValueError, match="expected 1"):
        RewardFunction(_mlp(5, 2), OBS, ACT)


def test_bad_batches_are_refused():
    model = TransitionModel(_mlp(5, 3), OBS, ACT)
    S, A = _batch(5)
    with pytest.raises(ValueError, match="different batch sizes: 5 != 4"):
        model(S, A[:4])
    with pytest.raises(ValueError, match=r"S has shape \(5, 2\), expected \(batch, \*\(3,\)\)"):
        model(S[:, :2], A)
    with pytest.raises(ValueError, match="S has shape"):
        model(S[0], A[:1])  # a single example without batch axis
    with pytest.raises(ValueError, match="A has shape"):
        model(S, A[:, None])
    stochastic = StochasticTransitionModel(_mlp(5, 6), OBS, ACT)
    with pytest.raises(ValueError, match="target has shape"):
        stochastic.log_prob(S, A, S[:, :2])


def test_params_replacement_checks_structure():
    model = TransitionModel(_mlp(5, 3), OBS, ACT)
    S, A = _batch()
    before = model(S, A)
    model.params = jax.tree.map(jnp.zeros_like, model.params)
    assert not np.allclose(model(S, A), before)  # predictions use the new parameters
    np.testing.assert_array_equal(model(S, A), 0.0)
    other = TransitionModel(ConcatInputs(eqx.nn.Linear(5, 3, key=jax.random.key(0))), OBS, ACT)
    with pytest.raises(ValueError, match="tree structure"):
        model.params = other.params
    with pytest.raises(ValueError, match="array shapes"):
        model.params = jax.tree.map(lambda x: x[..., :1], model.params)
    with pytest.raises(ValueError, match="function_state"):
        model.function_state = {"a": jnp.zeros(1)}


def test_function_state_is_empty_dict_without_state():
    model = TransitionModel(_mlp(5, 3), OBS, ACT)
    assert model.function_state == {}
    assert isinstance(model.func, ConcatInputs)


def test_forward_is_pure_and_jittable():
    model = StochasticTransitionModel(_mlp(5, 6), OBS, ACT)
    S, A = _batch()
    outputs, state = jax.jit(model.forward)(model.params, model.function_state, S, A)
    np.testing.assert_allclose(outputs["mu"], model.dist_params(S, A)["mu"], rtol=1e-6)
    assert state == {}


def test_autonomous_system_with_empty_action_space():
    none = Box(-np.inf, np.inf, shape=(0,))
    model = StochasticTransitionModel(_mlp(3, 6), OBS, none)
    assert model.sample(jnp.ones((2, 3)), jnp.zeros((2, 0)), jax.random.key(0)).shape == (2, 3)
