"""Reaction selection by inversion: matches searchsorted, never picks a zero propensity."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jumpax._selection import TWO_LEVEL_FROM, select


@pytest.mark.parametrize("n", [1, 2, 5, TWO_LEVEL_FROM - 1, TWO_LEVEL_FROM, 30, 101, 400])
def test_select_matches_searchsorted(n):
    rng = np.random.default_rng(n)
    a = rng.exponential(size=n) * (rng.random(n) < 0.6)
    a[rng.integers(n)] = 1.0  # at least one positive
    a = a.astype(np.float32)
    u = rng.random(4000).astype(np.float32)
    u[:3] = [0.0, np.nextafter(np.float32(1), np.float32(0)), 0.5]
    total = np.float32(np.sum(a, dtype=np.float32))
    targets = u * total
    got = np.asarray(jax.vmap(lambda t: select(jnp.asarray(a), t))(jnp.asarray(targets)))
    assert np.all(a[got] > 0)
    cumulative = np.cumsum(a.astype(np.float64))
    expected = np.minimum(np.searchsorted(cumulative, targets, side="right"), n - 1)
    close = np.min(np.abs(cumulative[None, :] - targets[:, None]), axis=1) < 1e-4 * total
    assert np.all((got == expected) | close)


def test_select_frequencies():
    a = jnp.array([0.0, 1.0, 0.0, 2.0, 7.0] + [0.0] * 30)
    u = jax.random.uniform(jax.random.key(0), (100_000,))
    counts = np.bincount(np.asarray(jax.vmap(lambda t: select(a, t))(u * 10.0)), minlength=35)
    assert counts[[0, 2]].sum() == 0 and counts[5:].sum() == 0
    np.testing.assert_allclose(counts[[1, 3, 4]] / 100_000, [0.1, 0.2, 0.7], atol=0.005)
