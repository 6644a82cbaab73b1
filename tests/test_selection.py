"""Reaction selection by inversion: matches exact arithmetic, resolves ratios down to 1e-12."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jumpax as jx
from jumpax._solver._selection import (
    TOP_WIDTH,
    TWO_LEVEL_FROM,
    UNSURE_ROWS,
    WIDTH,
    _plain_batch,
    block_layout,
    block_totals,
    levels,
    padded,
    select,
    select_batch,
)


def _words(k: np.ndarray, m: np.ndarray) -> tuple[jnp.ndarray, jnp.ndarray]:
    """The two words whose fine uniform is ``(k + (m + 1/2) / 2**18) / 2**23``."""
    coarse = (k.astype(np.uint64) << 9) | (m.astype(np.uint64) >> 9)
    extra = m.astype(np.uint64) & 0x1FF
    return jnp.asarray(coarse.astype(np.uint32)), jnp.asarray(extra.astype(np.uint32))


def _select_all(a, coarse, extra, inner=None):
    """Selections for the words of a fine uniform at every level (``inner``'s at the last).

    Every call also checks that the batched selection (plain sums, compensated ones only near
    a boundary) chooses exactly what the per-trajectory compensated selection chooses.
    """
    if inner is None:
        inner = (coarse, extra)
    upper = [extra, coarse] * (levels(np.size(a)) - 1)
    bits = jnp.stack(upper + [inner[1], inner[0]], axis=-1)
    a = jnp.asarray(a)
    single = np.asarray(jax.vmap(select, in_axes=(None, 0))(a, bits))
    rows = jnp.broadcast_to(a, (bits.shape[0], a.size))
    batched = np.asarray(jax.jit(select_batch)(rows, bits))
    np.testing.assert_array_equal(batched, single)
    if a.size >= TWO_LEVEL_FROM:
        # With the block totals kept by the caller (and the propensities padded).
        kept = np.asarray(jax.jit(select_batch)(padded(rows), bits, block_totals(rows)))
        np.testing.assert_array_equal(kept, single)
    return single


def _row_sums(x: np.ndarray) -> np.ndarray:
    """float32 pairwise halving, the order of ``jumpax._solver._selection.row_sums``."""
    while x.shape[-1] > 1:
        half = x.shape[-1] // 2
        x = x[..., :half] + x[..., half:]
    return x[..., 0]


LEVELS = {1: 1, 2: 1, 5: 1, WIDTH: 1, TOP_WIDTH: 1, TWO_LEVEL_FROM: 2, 101: 2, 400: 3, 5000: 3}


@pytest.mark.parametrize("n", list(LEVELS))
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

    def inverse(weights, u):
        """Exact inversion: the first index whose cumulative weight exceeds u * total."""
        cumulative = np.cumsum(weights.astype(np.float64))
        targets = u * cumulative[-1]
        index = np.minimum(np.searchsorted(cumulative, targets, side="right"), len(weights) - 1)
        gap = np.min(np.abs(cumulative[None, :] - targets[:, None]), axis=1)
        return index, gap < 1e-12 * cumulative[-1]

    def search(values, u):
        """A block by its total (searched the same way), then an entry inside it; here every
        level has the same words, so the same uniform."""
        if values.size <= TOP_WIDTH:
            return inverse(values, u)
        count, width = block_layout(values.size)
        assert width == WIDTH and count * width >= values.size
        blocks = np.pad(values, (0, count * width - values.size)).reshape(count, width)
        block, close = search(_row_sums(blocks), u)
        inside = [inverse(blocks[b], u[j : j + 1]) for j, b in enumerate(block)]
        expected = block * width + np.asarray([i[0][0] for i in inside])
        return expected, close | np.asarray([i[1][0] for i in inside])

    assert levels(n) == LEVELS[n]
    expected, close = search(a, u)
    assert np.all((got == expected) | close)


def test_select_frequencies():
    a = jnp.array([0.0, 1.0, 0.0, 2.0, 7.0] + [0.0] * 30)
    bits = jax.random.bits(jax.random.key(0), (2, 100_000), jnp.uint32)
    counts = np.bincount(_select_all(a, bits[0], bits[1]), minlength=35)
    assert counts[[0, 2]].sum() == 0 and counts[5:].sum() == 0
    np.testing.assert_allclose(counts[[1, 3, 4]] / 100_000, [0.1, 0.2, 0.7], atol=0.005)


@pytest.mark.parametrize("n", [4, 16, 64])
def test_a_few_unsure_rows_get_the_compensated_selection(n):
    # Equal propensities put cumulative sums exactly on u = 1/2: the rows whose uniform lies
    # within rounding error of 1/2 are unsure (a few of them, so they are gathered); the rest
    # are far from every boundary.
    a = np.ones(n, np.float32)
    rng = np.random.default_rng(0)
    k = rng.integers(0, 2**23, 200)
    m = rng.integers(0, 2**18, 200)
    k[:5], m[:5] = [2**22 - 1, 2**22 - 1, 2**22, 2**22, 2**22], [2**18 - 1, 2**18 - 2, 0, 1, 2]
    coarse, extra = _words(k, m)
    u = (k + (m + 0.5) / 2**18) / 2**23
    rows = jnp.broadcast_to(jnp.asarray(a), (200, n))
    if n < TWO_LEVEL_FROM:
        unsure = np.asarray(_plain_batch(rows, jnp.asarray(u, jnp.float32))[1])
        assert 1 <= unsure.sum() <= UNSURE_ROWS
    got = _select_all(a, coarse, extra)
    assert np.all(got[:2] < n // 2) and np.all(got[2:5] >= n // 2)


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
    outer = None
    if len(a) >= TWO_LEVEL_FROM:
        # Two levels: the first uniform picks the tiny reaction's block (its middle), the
        # second, enumerated below, picks inside the block.
        count, width = block_layout(len(a))
        blocks = np.pad(a, (0, count * width - len(a))).reshape(count, width)
        totals = np.cumsum(blocks.sum(axis=1).astype(np.float64))
        b = tiny // width
        middle = (totals[b] - blocks[b].sum() / 2) / totals[-1]
        outer = (int(middle * 2**23), 0)
        a, tiny = blocks[b], tiny % width
    total = np.sum(a.astype(np.float64))
    # The cells of the coarse grid that the tiny interval [c_before, c_after) / total meets.
    c_after = np.cumsum(a.astype(np.float64))[tiny]
    first, last = (min(int(c / total * 2**23), 2**23 - 1) for c in (c_after - a[tiny], c_after))
    cells = np.repeat(np.arange(first, last + 1), 2**18)
    m = np.tile(np.arange(2**18), last + 1 - first)
    if outer is None:
        got = _select_all(a, *_words(cells, m))
    else:
        first_words = _words(np.full_like(cells, outer[0]), np.full_like(m, outer[1]))
        got = _select_all(np.asarray(blocks).reshape(-1), *first_words, inner=_words(cells, m))
        got = got - b * width
    expected = a[tiny].astype(np.float64) / total * 2**41
    assert abs(np.sum(got == tiny) - expected) <= 1.5, (np.sum(got == tiny), expected)


class _SummingDirect(jx.Direct):
    """Direct, summing every block total at every step instead of keeping them."""

    keeps_block_totals = False


@pytest.mark.parametrize("num_trajectories", [1, 64])
def test_kept_block_totals_give_the_same_paths_as_summing_them(num_trajectories):
    # 40 reactions over 20 species, mass action: sparse updates, two-level selection.
    reactions = [jx.Reaction(f"X{i} -> X{(i + 1) % 20}", 1.0 + 0.1 * i) for i in range(20)]
    reactions += [jx.Reaction(f"X{i} + X{(i + 3) % 20} -> 0", 1e-3) for i in range(10)]
    reactions += [jx.Reaction(f"0 -> X{i}", 0.5) for i in range(10)]
    net = jx.ReactionNetwork(reactions)
    assert net.n_reactions >= TWO_LEVEL_FROM and net.propensity_dependents() is not None
    x0 = jnp.full(net.n_species, 5)

    def run(solver):
        return jx.simulate(jax.random.key(3), net, x0, 4.0, solver=solver,
                           num_trajectories=num_trajectories, max_steps=2000)

    kept, summed = run(jx.Direct()), run(_SummingDirect())
    assert int(np.min(kept.n_steps)) > 100
    np.testing.assert_array_equal(kept.reactions, summed.reactions)
    np.testing.assert_array_equal(kept.t, summed.t)
    np.testing.assert_array_equal(kept.x, summed.x)
