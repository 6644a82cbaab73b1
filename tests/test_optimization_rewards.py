import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jumpax as jx
from jumpax.optimization import (
    discounted_returns,
    neg_final_state_distance,
    rewards_from_state_metric,
    steady_state_distance,
)


@pytest.fixture(scope="module")
def ensemble():
    network = jx.models.birth_death()
    return jx.simulate(
        jax.random.key(0), network, network.x0, 20.0, max_steps=600, num_trajectories=4
    )


@pytest.mark.parametrize("distance, fn", [("L1", np.abs), ("L2", np.square)])
def test_neg_final_state_distance_rewards_only_the_final_step(ensemble, distance, fn):
    rewards = neg_final_state_distance("X", distance)(ensemble, 50.0)
    assert rewards.shape == ensemble.reactions.shape
    final = np.asarray(ensemble.final_state[:, 0])
    np.testing.assert_allclose(rewards.sum(axis=1), -fn(final - 50.0))
    # The reward sits on the survival row after the last event: every event gets credit.
    steps = np.asarray(ensemble.n_steps)
    assert np.count_nonzero(np.asarray(rewards)[:, : steps.min()]) == 0
    returns = discounted_returns(rewards, GAMMA=1.0)
    np.testing.assert_allclose(returns[:, 0], -fn(final - 50.0))


def test_neg_final_state_distance_single_trajectory_index_and_per_trajectory_targets(ensemble):
    by_index = neg_final_state_distance(0)(ensemble[1], 10.0)
    by_name = neg_final_state_distance("X")(ensemble[1], 10.0)
    np.testing.assert_array_equal(by_index, by_name)
    assert by_index.shape == ensemble.reactions.shape[1:]
    targets = jnp.array([0.0, 10.0, 20.0, 30.0])
    rewards = neg_final_state_distance("X")(ensemble, targets)
    np.testing.assert_allclose(
        rewards.sum(axis=1), -np.abs(np.asarray(ensemble.final_state[:, 0]) - targets)
    )


def test_neg_final_state_distance_on_grid_results():
    network = jx.models.birth_death()
    grid = jx.simulate(jax.random.key(1), network, network.x0, 10.0, save_at=jnp.linspace(0, 10, 6))
    rewards = neg_final_state_distance()(grid, 5.0)
    np.testing.assert_allclose(rewards, [0, 0, 0, 0, -abs(float(grid.x[-1, 0]) - 5.0)])


def test_steady_state_distance_is_zero_before_from_t(ensemble):
    metric = steady_state_distance(from_t=5.0, species="X")(ensemble, 40.0)
    assert metric.shape == ensemble.t.shape
    t, x = np.asarray(ensemble.t), np.asarray(ensemble.x[..., 0])
    np.testing.assert_allclose(metric, np.where(t < 5.0, 0.0, np.abs(x - 40.0)))


def test_rewards_from_state_metric_differences(ensemble):
    def counts(results):
        return results.species_counts("X")

    gains = rewards_from_state_metric(counts, "reward")(ensemble)
    costs = rewards_from_state_metric(counts)(ensemble)  # default: cost
    assert gains.shape == ensemble.reactions.shape
    np.testing.assert_allclose(gains, -costs)
    np.testing.assert_allclose(gains.sum(axis=1), ensemble.final_state[:, 0] - ensemble.x[:, 0, 0])


def test_rewards_from_state_metric_passes_arguments_to_the_metric(ensemble):
    rewards_fn = rewards_from_state_metric(steady_state_distance(0.0, "X"), "cost")
    by_keyword = rewards_fn(ensemble, target_ss=30.0)
    np.testing.assert_array_equal(by_keyword, rewards_fn(ensemble, 30.0))
    distance = np.abs(np.asarray(ensemble.x[..., 0]) - 30.0)
    np.testing.assert_allclose(by_keyword.sum(axis=1), distance[:, 0] - distance[:, -1])


def test_unknown_metric_type_distance_and_species_are_rejected(ensemble):
    with pytest.raises(ValueError, match="metric_type must be 'cost' or 'reward'"):
        rewards_from_state_metric(lambda r: r.x[..., 0], "gain")
    with pytest.raises(ValueError, match="distance must be one of"):
        neg_final_state_distance(0, "L3")
    with pytest.raises(ValueError, match="unknown species 'Y'"):
        neg_final_state_distance("Y")(ensemble, 1.0)
    with pytest.raises(ValueError, match="unknown species 'Y'"):
        steady_state_distance(0.0, "Y")(ensemble, 1.0)
    with pytest.raises(TypeError, match="index .* or a name"):
        steady_state_distance(0.0, 1.5)
    with pytest.raises(TypeError, match="index .* or a name"):
        neg_final_state_distance(True)


def test_rewards_need_a_path():
    network = jx.models.birth_death()
    final = jx.simulate(jax.random.key(0), network, network.x0, 5.0, save_at="final")
    with pytest.raises(ValueError, match="need a path"):
        neg_final_state_distance()(final, 1.0)
