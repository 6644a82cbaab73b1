import gymnasium
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from gymnasium.spaces import Box, Dict, Discrete

import jumpax as jx
from jumpax.transitions import TransitionBatch

TS = jnp.linspace(0.0, 10.0, 6)


@pytest.fixture(scope="module")
def network():
    return jx.models.two_stage_gene_expression()


@pytest.fixture(scope="module")
def ensemble(network):
    return jx.simulate(jax.random.key(0), network, network.x0, 10.0, save_at=TS, num_trajectories=3)


def test_keyword_construction_with_defaults():
    batch = TransitionBatch(S=jnp.zeros((4, 2)), A=jnp.array([0, 1, 0, 1]))
    np.testing.assert_array_equal(batch.W, 1.0)
    np.testing.assert_array_equal(batch.In, 1.0)
    np.testing.assert_array_equal(batch.Rn, 0.0)
    np.testing.assert_array_equal(batch.logP, 0.0)
    np.testing.assert_array_equal(batch.idx, np.arange(4))
    assert batch.S_next is None and batch.A_next is None and batch.logP_next is None
    assert len(batch) == 4


def test_batch_is_a_pytree():
    batch = TransitionBatch(S=jnp.zeros((3, 2)), A=jnp.zeros((3, 0)), S_next=jnp.ones((3, 2)))
    doubled = jax.jit(lambda b: jax.tree.map(lambda x: 2 * x, b))(batch)
    np.testing.assert_array_equal(doubled.S_next, 2.0)
    assert doubled.A_next is None


def test_mismatched_batch_sizes_are_refused():
    with pytest.raises(ValueError, match=r"Rn has shape \(3,\), but S has batch size 4"):
        TransitionBatch(S=jnp.zeros((4, 2)), A=jnp.zeros(4), Rn=jnp.zeros(3))
    with pytest.raises(ValueError, match="S_next has shape"):
        TransitionBatch(S=jnp.zeros((4, 2)), A=jnp.zeros(4), S_next=jnp.zeros((5, 2)))
    with pytest.raises(ValueError, match=r"W must have shape \(batch,\)"):
        TransitionBatch(S=jnp.zeros((4, 2)), A=jnp.zeros(4), W=jnp.ones((4, 1)))


def test_from_simulation_pairs_consecutive_grid_points(ensemble):
    batch = TransitionBatch.from_simulation(ensemble)
    assert len(batch) == 3 * 5
    assert batch.A.shape == (15, 0)
    x = np.asarray(ensemble.x)
    np.testing.assert_array_equal(batch.S, x[:, :-1].reshape(15, 2))
    np.testing.assert_array_equal(batch.S_next, x[:, 1:].reshape(15, 2))
    # within a trajectory, each transition starts where the previous one ended
    np.testing.assert_array_equal(batch.S[1:5], batch.S_next[0:4])
    np.testing.assert_array_equal(batch.W, 1.0)
    np.testing.assert_array_equal(batch.In, 1.0)


def test_from_simulation_single_trajectory(network):
    results = jx.simulate(jax.random.key(1), network, network.x0, 10.0, save_at=TS)
    batch = TransitionBatch.from_simulation(results, actions=jnp.arange(5.0)[:, None])
    assert batch.S.shape == (5, 2) and batch.A.shape == (5, 1)
    np.testing.assert_array_equal(batch.A[:, 0], np.arange(5.0))
    with pytest.raises(ValueError, match="expected one per grid interval"):
        TransitionBatch.from_simulation(results, actions=jnp.zeros((6, 1)))


def test_from_simulation_with_controls_and_rewards(ensemble):
    actions = jnp.arange(15.0).reshape(3, 5, 1)

    def reward(S, A, S_next):
        return S_next[:, 1] - S[:, 1] - A[:, 0]

    batch = TransitionBatch.from_simulation(ensemble, actions=actions, reward_fn=reward)
    np.testing.assert_array_equal(batch.A[:, 0], np.arange(15.0))
    np.testing.assert_allclose(batch.Rn, batch.S_next[:, 1] - batch.S[:, 1] - batch.A[:, 0])
    with pytest.raises(ValueError, match="expected one per grid interval"):
        TransitionBatch.from_simulation(ensemble, actions=jnp.zeros((5, 1)))
    with pytest.raises(ValueError, match="reward_fn returned shape"):
        TransitionBatch.from_simulation(ensemble, reward_fn=lambda S, A, S_next: S)


def test_from_simulation_refuses_event_lists(network):
    results = jx.simulate(jax.random.key(0), network, network.x0, 1.0, max_steps=1000)
    with pytest.raises(ValueError, match="grid-mode results"):
        TransitionBatch.from_simulation(results)


def test_overflowed_trajectories_get_zero_weight(network):
    with pytest.warns(jx.OverflowWarning):
        results = jx.simulate(
            jax.random.key(0),
            network,
            network.x0,
            10.0,
            save_at=TS,
            num_trajectories=2,
            max_steps=5,
        )
    assert bool(results.overflow.all())
    batch = TransitionBatch.from_simulation(results)
    np.testing.assert_array_equal(batch.W, 0.0)


class _DictWalk(gymnasium.Env):
    """A walk on {0, ..., 4} with a Dict observation; terminates at 4, truncates after 6 steps."""

    observation_space = Dict({"position": Discrete(5), "noise": Box(-1.0, 1.0, shape=(1,))})
    action_space = Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.position, self.steps = 0, 0
        return self._observation(), {}

    def _observation(self):
        noise = self.np_random.uniform(-1, 1, size=(1,)).astype(np.float32)
        return {"position": self.position, "noise": noise}

    def step(self, action):
        self.position = max(self.position + (1 if action == 1 else -1), 0)
        self.steps += 1
        terminated = self.position == 4
        return self._observation(), float(self.position), terminated, self.steps >= 6, {}


def test_from_gymnasium_flattens_dict_spaces_and_marks_terminal_transitions():
    env = _DictWalk()
    batch = TransitionBatch.from_gymnasium(env, 200, policy=lambda obs: 1, seed=0)
    flat_dim = gymnasium.spaces.flatdim(env.observation_space)
    assert batch.S.shape == (200, flat_dim) and batch.S_next.shape == (200, flat_dim)
    np.testing.assert_array_equal(batch.A, 1)
    # always stepping right: position 4 is reached at the 4th step of each episode
    np.testing.assert_array_equal(batch.In, np.tile([1.0, 1.0, 1.0, 0.0], 50))
    np.testing.assert_array_equal(batch.Rn, np.tile([1.0, 2.0, 3.0, 4.0], 50))
    np.testing.assert_array_equal(batch.S[1:4], batch.S_next[0:3])


def test_from_gymnasium_truncation_keeps_in_equal_to_one():
    env = _DictWalk()
    batch = TransitionBatch.from_gymnasium(env, 12, policy=lambda obs: 0, seed=0)
    np.testing.assert_array_equal(batch.In, 1.0)  # never terminates, truncated every 6 steps


def test_from_gymnasium_random_policy_on_cartpole():
    env = gymnasium.make("CartPole-v1")
    batch = TransitionBatch.from_gymnasium(env, 300, seed=0)
    assert batch.S.shape == (300, 4) and batch.A.shape == (300,)
    assert set(np.unique(batch.A)) == {0, 1}
    ends = np.flatnonzero(np.asarray(batch.In) == 0)
    assert len(ends) > 0  # random play falls within 300 steps
    continuing = np.flatnonzero(np.asarray(batch.In[:-1]) == 1)
    np.testing.assert_array_equal(batch.S[continuing + 1], batch.S_next[continuing])
    again = TransitionBatch.from_gymnasium(gymnasium.make("CartPole-v1"), 300, seed=0)
    np.testing.assert_array_equal(again.S, batch.S)
    with pytest.raises(ValueError, match="num_steps must be positive"):
        TransitionBatch.from_gymnasium(env, 0)
