"""Choosing the reaction that fires: inversion of the cumulative propensities.

``select(a, target)`` returns the first index ``r`` with ``cumsum(a)[r] > target``, the direct
method's choice for ``target = u * sum(a)``. If rounding leaves no such index (``u`` within one
ulp of 1), the last reaction with positive propensity is returned, so a zero-propensity reaction
can never be chosen. Large networks use a two-level search (blocks of about ``sqrt(n)``
reactions): XLA lowers ``cumsum`` to a quadratic-cost window reduction on CPU, so one
cumulative sum over hundreds of reactions would cost more than the rest of the event.
"""

from __future__ import annotations

import math

import jax.numpy as jnp
from jaxtyping import Array

TWO_LEVEL_FROM = 24
"""Networks with at least this many reactions use the two-level search."""


def _first_above(cumulative: Array, weights: Array, target: Array) -> Array:
    """First index with ``cumulative > target``, else the last index with positive weight.

    ``cumulative`` is non-decreasing, so the first index above the target is the number of
    entries at or below it: one sum instead of an arg-max, which vectorises better.
    """
    n = cumulative.shape[0]
    count = jnp.sum(cumulative <= target, dtype=jnp.int32)
    last_positive = jnp.max(jnp.where(weights > 0, jnp.arange(n, dtype=jnp.int32), 0))
    return jnp.where(count < n, count, last_positive)


def select(a: Array, target: Array) -> Array:
    """The index of the reaction that fires for ``target`` in ``[0, sum(a))``; int32."""
    n = a.shape[0]
    if n < TWO_LEVEL_FROM:
        return _first_above(jnp.cumsum(a), a, target).astype(jnp.int32)
    width = math.isqrt(n - 1) + 1
    blocks = jnp.pad(a, (0, width * width - n)).reshape(width, width)
    block_totals = blocks.sum(axis=1)
    block_cumulative = jnp.cumsum(block_totals)
    b = _first_above(block_cumulative, block_totals, target)
    inside = blocks[b]
    offset = block_cumulative[b] - block_totals[b]
    i = _first_above(offset + jnp.cumsum(inside), inside, target)
    return (b * width + i).astype(jnp.int32)
