"""Reaction selection by inversion: matches exact arithmetic, resolves ratios down to 1e-12."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jumpax._random import fine_unit
from jumpax._solver._selection import TWO_LEVEL_FROM, select


def _words(k: np.ndarray, m: np.ndarray) -> tuple[jnp.ndarray, jnp.ndarray]:
    """The two words whose fine uniform is ``(k + (m + 1/2) / 2**18) / 2**23``."""
    coarse = (k.astype(np.uint64) << 9) | (m.astype(np.uint64) >> 9)
    extra = m.astype(np.uint64) & 0x1FF
    return jnp.asarray(coarse.astype(np.uint32)), jnp.asarray(extra.astype(np.uint32))


def _select_all(a, coarse, extra):
    hi, lo = fine_unit(coarse, extra, jnp.float32)
    return np.asarray(jax.vmap(select, in_axes=(None, 0, 0))(jnp.asarray(a), hi, lo))


@pytest.mark.parametrize("n", [1, 2, 5, TWO_LEVEL_FROM - 1, TWO_LEVEL_FROM, 30, 101, 400])
def test_select_matches_exact_arithmetic(n):
    rng = np.random.default_rng(n)
    a = rng.exponential(size=n) * (rng.random(n) < 0.6)
    a[rng.integers(n)] = 1.0  # at least one positive
    a = a.astype(np.float32)
    k = rng.integers(0, 2**23, 4000)
    m = rng.integers(0, 2**18, 4000)
    k[:2], m[:2] = [0, 2**23 - 1], [0, 2**18 - 1]  # the smallest and largest uniforms
    got = _select_all(a, *_words(k, m))
    assert np.all(a[got] > 0)
    u = (k + (m + 0.5) / 2**18) / 2**23  # float64: exact
    cumulative = np.cumsum(a.astype(np.float64))
    targets = u * cumulative[-1]
    expected = np.minimum(np.searchsorted(cumulative, targets, side="right"), n - 1)
    close = np.min(np.abs(cumulative[None, :] - targets[:, None]), axis=1) < 1e-12 * cumulative[-1]
    assert np.all((got == expected) | close)


def test_select_frequencies():
    a = jnp.array([0.0, 1.0, 0.0, 2.0, 7.0] + [0.0] * 30)
    bits = jax.random.bits(jax.random.key(0), (2, 100_000), jnp.uint32)
    counts = np.bincount(_select_all(a, bits[0], bits[1]), minlength=35)
    assert counts[[0, 2]].sum() == 0 and counts[5:].sum() == 0
    np.testing.assert_allclose(counts[[1, 3, 4]] / 100_000, [0.1, 0.2, 0.7], atol=0.005)


@pytest.mark.parametrize("ratio", [1e-9, 1e-12])
@pytest.mark.parametrize("place", ["first", "middle", "last", "two-level"])
def test_tiny_reactions_fire_with_their_probability_wherever_they_are_listed(ratio, place):
    # Every fine uniform in one cell of the coarse (23-bit) grid that contains the tiny
    # reaction's interval: the number selecting it is ratio / 2**-41 (the grid's resolution).
    # Before: float32 cumulative sums absorbed such a reaction (never chosen) or, with
    # 23-bit uniforms, gave it a whole cell (2**-23 >> ratio).
    if place == "first":
        a, tiny = [ratio, 1.0], 0
    elif place == "middle":
        a, tiny = [0.75, ratio, 0.25], 1
    elif place == "last":
        a, tiny = [1.0, ratio], 1
    else:
        a = [1.0 / 40] * 40
        a.insert(25, ratio)
        tiny = 25
    a = np.asarray(a, dtype=np.float32)
    total = np.sum(a.astype(np.float64))
    # The cells of the coarse grid that the tiny interval [c_before, c_after) / total meets.
    c_after = np.cumsum(a.astype(np.float64))[tiny]
    first, last = (min(int(c / total * 2**23), 2**23 - 1) for c in (c_after - a[tiny], c_after))
    cells = np.repeat(np.arange(first, last + 1), 2**18)
    m = np.tile(np.arange(2**18), last + 1 - first)
    got = _select_all(a, *_words(cells, m))
    expected = a[tiny].astype(np.float64) / total * 2**41
    assert abs(np.sum(got == tiny) - expected) <= 1.5, (np.sum(got == tiny), expected)
