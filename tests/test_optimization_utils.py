import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jumpax.optimization import dataloader, discounted_returns


def test_discounted_returns_matches_the_recursion():
    rewards = jnp.array([1.0, 0.0, 2.0, -1.0])
    expected = [1 + 0.9 * (0 + 0.9 * (2 + 0.9 * -1)), 0.9 * (2 + 0.9 * -1), 2 - 0.9, -1.0]
    np.testing.assert_allclose(discounted_returns(rewards), expected, rtol=1e-6)


def test_discounted_returns_undiscounted_is_reward_to_go():
    rewards = jnp.arange(5.0)
    np.testing.assert_allclose(discounted_returns(rewards, GAMMA=1.0), [10, 10, 9, 7, 4])


def test_discounted_returns_batches_along_the_last_axis():
    rewards = jax.random.normal(jax.random.key(0), (3, 7))
    batched = discounted_returns(rewards, GAMMA=0.5)
    assert batched.shape == (3, 7)
    for row, returns in zip(rewards, batched, strict=True):
        np.testing.assert_allclose(returns, discounted_returns(row, GAMMA=0.5), rtol=1e-6)


def test_discounted_returns_rejects_bad_input():
    with pytest.raises(ValueError, match="GAMMA"):
        discounted_returns(jnp.ones(3), GAMMA=1.5)
    with pytest.raises(ValueError, match="at least one axis"):
        discounted_returns(1.0)


def test_dataloader_yields_full_shuffled_batches_covering_each_epoch():
    x = jnp.arange(10)
    y = 2 * jnp.arange(10)
    loader = dataloader(jax.random.key(0), [x, y], batch_size=3)
    epoch = list(itertools.islice(loader, 3))
    for bx, by in epoch:
        assert bx.shape == (3,)
        np.testing.assert_array_equal(by, 2 * bx)  # rows stay aligned across arrays
    seen = np.concatenate([np.asarray(bx) for bx, _ in epoch])
    assert len(set(seen.tolist())) == 9  # one epoch: 3 batches without repetition
    assert not np.array_equal(seen, np.arange(9))  # shuffled
    next_epoch = np.concatenate([np.asarray(next(loader)[0]) for _ in range(3)])
    assert not np.array_equal(seen, next_epoch)  # reshuffled each epoch


def test_dataloader_is_reproducible():
    data = [jnp.arange(20.0)]
    first = [b[0] for b in itertools.islice(dataloader(jax.random.key(1), data, 4), 10)]
    second = [b[0] for b in itertools.islice(dataloader(jax.random.key(1), data, 4), 10)]
    np.testing.assert_array_equal(np.stack(first), np.stack(second))


def test_dataloader_whole_dataset_batch():
    (batch,) = next(dataloader(jax.random.key(0), [jnp.arange(5)], batch_size=5))
    assert sorted(batch.tolist()) == [0, 1, 2, 3, 4]


def test_dataloader_rejects_arrays_of_different_lengths_at_call_time():
    with pytest.raises(ValueError, match="same size in the first dimension"):
        dataloader(jax.random.key(0), [jnp.arange(5), jnp.arange(6)], batch_size=2)


def test_dataloader_rejects_a_batch_larger_than_the_dataset_instead_of_hanging():
    with pytest.raises(ValueError, match="between 1 and the dataset size 5"):
        dataloader(jax.random.key(0), [jnp.arange(5)], batch_size=6)
    with pytest.raises(ValueError, match="batch_size must be an integer >= 1"):
        dataloader(jax.random.key(0), [jnp.arange(5)], batch_size=0)


def test_dataloader_rejects_empty_and_scalar_input():
    with pytest.raises(ValueError, match="at least one array"):
        dataloader(jax.random.key(0), [], batch_size=1)
    with pytest.raises(ValueError, match="scalar"):
        dataloader(jax.random.key(0), [jnp.float32(1.0)], batch_size=1)
    with pytest.raises(TypeError, match="integer"):
        dataloader(jax.random.key(0), [jnp.arange(4)], batch_size=2.0)
