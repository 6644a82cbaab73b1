"""Training utilities: discounted returns and a shuffling mini-batch loader."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, PRNGKeyArray

from .._checks import check_int, is_concrete

__all__ = ["dataloader", "discounted_returns"]


def discounted_returns(rewards: ArrayLike, GAMMA: float = 0.9) -> Array:  # noqa: N803 (seed API)
    """Calculate the discounted returns for a sequence of rewards.

    ``G[i] = rewards[i] + GAMMA * G[i + 1]``: the cumulative discounted reward from step ``i``
    onwards. Batches are supported: the discounting runs along the last axis, so rewards of
    shape ``(n_trajectories, max_steps)`` (what the reward functions return for an ensemble)
    give returns of the same shape.

    Args:
        rewards: rewards, shape ``(..., n_steps)``.
        GAMMA: the discount factor in ``[0, 1]``; ``1.0`` gives the undiscounted
            reward-to-go.

    Returns:
        The discounted returns, same shape as ``rewards``.

    Raises:
        ValueError: for scalar rewards or a discount factor outside ``[0, 1]``.
    """
    rewards = jnp.asarray(rewards)
    if rewards.ndim == 0:
        raise ValueError("rewards must have at least one axis (the steps), got a scalar")
    if is_concrete(GAMMA) and not 0.0 <= float(GAMMA) <= 1.0:
        raise ValueError(f"GAMMA must lie in [0, 1], got {GAMMA}")
    if not jnp.issubdtype(rewards.dtype, jnp.floating):
        rewards = rewards.astype(jnp.result_type(float))

    def step(following: Array, reward: Array) -> tuple[Array, Array]:
        current = reward + GAMMA * following
        return current, current

    zeros = jnp.zeros(rewards.shape[:-1], rewards.dtype)
    _, returns = jax.lax.scan(step, zeros, jnp.moveaxis(rewards, -1, 0), reverse=True)
    return jnp.moveaxis(returns, 0, -1)


def dataloader(
    key: PRNGKeyArray, arrays: Sequence[ArrayLike], batch_size: int
) -> Iterator[tuple[Array, ...]]:
    """Create a generator that yields shuffled mini-batches forever.

    Each pass over the data (epoch) draws a fresh permutation from ``key`` and yields
    ``len(data) // batch_size`` full batches; the remainder of the permutation is skipped, so
    every batch has the same shape (no recompilation) and every sample is used equally often
    in expectation. The arguments are checked when ``dataloader`` is called, not at the first
    ``next()``.

    Example:
        >>> loader = dataloader(jax.random.key(0), [inputs, targets], batch_size=32)
        >>> x, y = next(loader)

    Args:
        key: a JAX random key for shuffling the data.
        arrays: arrays with the same size in the first dimension.
        batch_size: the size of each batch, between 1 and the number of samples.

    Returns:
        An infinite iterator of tuples of batched arrays, one per input array.

    Raises:
        ValueError: if ``arrays`` is empty, contains a scalar, the arrays differ in their first
            dimension, or ``batch_size`` is not between 1 and the number of samples.
    """
    arrays = [jnp.asarray(array) for array in arrays]
    if not arrays:
        raise ValueError("dataloader needs at least one array")
    if any(array.ndim == 0 for array in arrays):
        raise ValueError("every array needs a first (sample) dimension; got a scalar")
    sizes = [array.shape[0] for array in arrays]
    if len(set(sizes)) != 1:
        raise ValueError(f"arrays must have the same size in the first dimension, got {sizes}")
    n = sizes[0]
    check_int("batch_size", batch_size, minimum=1)
    if not 1 <= batch_size <= n:
        raise ValueError(f"batch_size must be between 1 and the dataset size {n}, got {batch_size}")
    return _batches(key, arrays, int(batch_size))


def _batches(
    key: PRNGKeyArray, arrays: list[Array], batch_size: int
) -> Iterator[tuple[Array, ...]]:
    n = arrays[0].shape[0]
    while True:
        key, epoch_key = jax.random.split(key)
        order = jax.random.permutation(epoch_key, n)
        for start in range(0, n - batch_size + 1, batch_size):
            index = order[start : start + batch_size]
            yield tuple(array[index] for array in arrays)
