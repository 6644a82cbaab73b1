"""Choosing the reaction that fires, exactly, in any float precision.

The direct method fires the first reaction ``r`` whose cumulative propensity exceeds
``u * a0``. In float32 a plain cumulative sum and a plain product have 24 bits: a reaction below
``2**-24`` of the total would never fire, or fire far too often, depending on where it is listed.
Here the cumulative sums are compensated (double-word, about 48 bits), the target ``u * a0`` is an
exact double-word product of a 41-bit uniform (:func:`jumpax._random.fine_unit`) with the
double-word total, and the comparisons are made on double words, so propensity ratios down to
about ``1e-12`` are resolved. The target lies strictly below the total, and a zero
propensity's interval is empty, so a zero-propensity reaction can never be chosen.

Two reactions need no cumulative sum: reaction 0 fires iff ``u a1 < (1 - u) a0``, with
relative errors only. Networks of more than :data:`TOP_WIDTH` reactions are searched by levels:
the reactions in blocks of :data:`WIDTH`, the blocks by their totals (themselves in blocks of
``WIDTH`` while there are more than ``TOP_WIDTH``, and so on), a block chosen by its total with
one uniform, then an entry of the chosen block with the next; so a search scans at most
``WIDTH`` entries per level (``TOP_WIDTH`` at the top), about ``log_WIDTH(n)`` levels.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jaxtyping import Array

from .._numerics import two_sum
from .._random import fine_unit

WIDTH = 16
"""Entries a search scans at once: longer vectors are searched in blocks of ``WIDTH``.

A scan of ``m`` entries for a batch (:func:`_plain_batch`) is a chain of additions, which
XLA's CPU fusion makes about quadratic in ``m``: on a CPU core, at 500 rows, 0.8 us for 3
entries, 6 us for 16, 35 us for 48 (a product with a triangular matrix: 9, 9 and 36 us).
(Blocks of 8 make more levels and ran slower.)"""

TOP_WIDTH = 24
"""Entries the top level of a search scans: up to 24, one level more costs more than the
longer scan (a level is a gather of a block and a scan of it)."""

TWO_LEVEL_FROM = TOP_WIDTH + 1
"""Networks with at least this many reactions are searched by levels (:func:`levels`)."""

PLAIN_SUMS_FROM = 32
"""Batches of at least this many trajectories select with plain sums first
(:func:`select_batch`); smaller ones pay less for the compensated sums than for the branch."""

UNSURE_ROWS = 8
"""Up to how many unsure rows of a batch :func:`select_batch` gathers to select again."""

_SPLIT = 4097.0
"""Veltkamp's splitter ``2**12 + 1`` for float32 (it is exact, just not optimal, in float64)."""


def _two_product(a: Array, b: Array) -> tuple[Array, Array]:
    """``(p, e)`` with ``p = fl(a b)`` and ``a b = p + e`` exactly (Dekker, no fused multiply)."""
    p = a * b
    a_big = _SPLIT * a
    a_hi = a_big - (a_big - a)
    a_lo = a - a_hi
    b_big = _SPLIT * b
    b_hi = b_big - (b_big - b)
    b_lo = b - b_hi
    return p, ((a_hi * b_hi - p) + a_hi * b_lo + a_lo * b_hi) + a_lo * b_lo


def cumulative(a: Array) -> tuple[Array, Array]:
    """Compensated cumulative sums along the last axis: ``(hi, lo)``, ``hi + lo`` to ~46 bits.

    A parallel prefix (Hillis and Steele) on double words: ``log2(n)`` rounds, each adding to
    every entry the entry ``d`` places before it with a TwoSum and summing the low parts. The
    high and low parts travel stacked in one array, so a round is one vector operation (one
    kernel: XLA's CPU backend would otherwise write each part with its own, which dominates
    single-trajectory runs). (A sequential chain of TwoSums has the same accuracy, but XLA's
    CPU fusion recomputes the chain's prefix in the fusion of every entry it outputs, a
    quadratic cost; XLA's own cumulative sum is a quadratic window reduction.) The low parts
    carry relative errors of ``2**-24`` of terms of size ``2**-24`` of the sums, per round.
    """
    parts = jnp.stack([a, jnp.zeros_like(a)], axis=-2)  # (..., 2, n): high and low parts
    n, shift = a.shape[-1], 1
    while shift < n:
        before = jnp.pad(parts[..., :-shift], [(0, 0)] * a.ndim + [(shift, 0)])
        hi, error = two_sum(before[..., 0, :], parts[..., 0, :])
        lo = parts[..., 1, :] + before[..., 1, :] + error
        parts = jnp.stack([hi, lo], axis=-2)
        shift *= 2
    return parts[..., 0, :], parts[..., 1, :]


def _first_above(hi: Array, lo: Array, target_hi: Array, target_lo: Array) -> Array:
    """First index whose double-word cumulative exceeds the target.

    The difference ``hi - target_hi`` is exact when the two are close (Sterbenz), so the sign
    of ``(hi - target_hi) + (lo - target_lo)`` is right to about ``2**-48`` of the total. The
    target lies strictly below the total (``u <= 1 - 2**-42``), so the last entry never needs
    comparing, and an empty interval (a zero propensity) is always stepped over.
    """
    below = (hi[..., :-1] - target_hi[..., None]) + (lo[..., :-1] - target_lo[..., None]) <= 0
    return jnp.sum(below, axis=-1, dtype=jnp.int32)


def _target(u_hi: Array, u_lo: Array, total_hi: Array, total_lo: Array) -> tuple[Array, Array]:
    """``u * total`` as a double word."""
    p, e = _two_product(u_hi, total_hi)
    return p, e + (u_hi * total_lo + u_lo * total_hi)


def levels(n: int) -> int:
    """How many levels the search of ``n`` entries has.

    One up to :data:`TOP_WIDTH` entries, and one more for the totals of each level's blocks of
    :data:`WIDTH` while there are more than ``TOP_WIDTH`` of them.
    """
    count = 1
    while n > TOP_WIDTH:
        n = -(-n // WIDTH)
        count += 1
    return count


def block_layout(n: int) -> tuple[int, int]:
    """The blocks of ``n`` entries: ``(number of blocks, width)``, ``(ceil(n / WIDTH), WIDTH)``.

    ``WIDTH`` is a power of two, so a block's pairwise sum (:func:`row_sums`) halves evenly to
    the end. A padded length has the same layout, so the layout of :func:`padded`
    propensities is theirs.
    """
    return -(-n // WIDTH), WIDTH


def padded(a: Array) -> Array:
    """``a`` zero-padded along its last axis to a whole number of blocks (:func:`block_layout`)."""
    n = a.shape[-1]
    count, width = block_layout(n)
    return jnp.pad(a, [(0, 0)] * (a.ndim - 1) + [(0, count * width - n)])


def _blocks(a: Array) -> Array:
    """The blocks of a search level: ``(..., blocks, width)`` for ``a`` of shape ``(..., n)``.

    The last axis is zero-padded to whole blocks (:func:`padded`) and cut into blocks.
    """
    return padded(a).reshape(a.shape[:-1] + block_layout(a.shape[-1]))


def row_sums(x: Array) -> Array:
    """Sums along the last axis in one fixed pairwise order: the same bits in any program.

    A reduction's order is XLA's to choose and may differ between two programs (a whole
    array, or some rows gathered from it); halving by elementwise additions fixes it, so block
    totals kept up to date row by row equal those summed from scratch.
    """
    while x.shape[-1] > 1:
        if x.shape[-1] % 2:
            x = jnp.pad(x, [(0, 0)] * (x.ndim - 1) + [(0, 1)])
        half = x.shape[-1] // 2
        x = x[..., :half] + x[..., half:]
    return x[..., 0]


def block_totals(a: Array) -> Array:
    """The totals of the lowest level's blocks, ``(..., blocks)``, by :func:`row_sums`."""
    return row_sums(_blocks(a))


def total(a: Array) -> Array:
    """The total propensity ``a0`` of ``(..., n)`` propensities.

    Networks large enough to be searched by levels sum their block totals
    (:func:`block_totals`), so a total kept from block totals updated in place is the same.
    """
    if a.shape[-1] < TWO_LEVEL_FROM:
        return jnp.sum(a, axis=-1)
    return row_sums(block_totals(a))


def num_words(n: int) -> int:
    """Random words :func:`select` needs for ``n`` reactions: two per level's 41-bit uniform."""
    return 2 * levels(n)


def _uniforms(bits: Array, n: int, dtype) -> list[tuple[Array, Array]]:
    """The fine uniforms of each search level, top level first, from words ``(..., words)``.

    Level ``k`` reads words ``2 k`` (its 9 low bits) and ``2 k + 1``.
    """
    return [fine_unit(bits[..., 2 * k + 1], bits[..., 2 * k], dtype) for k in range(levels(n))]


def _among(a: Array, u_hi: Array, u_lo: Array) -> Array:
    """The entry of ``a`` (at most :data:`TOP_WIDTH`) that the uniform ``u`` selects."""
    n = a.shape[0]
    if n == 1:
        return jnp.zeros((), jnp.int32)
    if n == 2:
        # Entry 0 iff u (a0 + a1) < a0, i.e. u a1 < (1 - u) a0: each side is a product of
        # two floats with a relative error, so both probabilities are exact to ~2**-22
        # relative, however small (no cumulative sum to absorb them).
        u = u_hi + u_lo
        v = (1.0 - u_hi) - u_lo
        return jnp.where(u * a[1] < v * a[0], 0, 1).astype(jnp.int32)
    hi, lo = cumulative(a)
    return _first_above(hi, lo, *_target(u_hi, u_lo, hi[-1], lo[-1]))


def select(a: Array, bits: Array, totals: Array | None = None) -> Array:
    """The reaction that fires, drawn from the random words ``bits``: int32.

    Args:
        a: ``(n,)`` non-negative propensities, not all zero.
        bits: ``(num_words(n),)`` random words; the first word's 9 low bits and the second
            word make the first (top level's) 41-bit uniform (the first word's top bits are
            left for the caller, e.g. a waiting time), each next pair the next level's.
        totals: the block totals (:func:`block_totals`) where the caller keeps them up to
            date (then ``a`` is already :func:`padded`); else they are summed here.
    """
    return _search(a, _uniforms(bits, a.shape[0], a.dtype), totals)


def _search(values: Array, uniforms: list, totals: Array | None = None) -> Array:
    """The entry of ``values`` that the uniforms (one per level, top first) select.

    A block by its total (searched the same way), then an entry inside it with the last
    uniform. The block totals are plain sums (relative errors only, so each block's
    probability is right relative to its size); inside the chosen block the compensated
    cumulative sums and the target share the same total, so every entry's probability is exact
    to a relative ~2**-20, however small, wherever it is listed.
    """
    if len(uniforms) == 1:
        return _among(values, *uniforms[0])
    blocks = _blocks(values)
    b = _search(row_sums(blocks) if totals is None else totals, uniforms[:-1])
    return (b * WIDTH + _among(blocks[b], *uniforms[-1])).astype(jnp.int32)


def _plain_batch(a: Array, u: Array) -> tuple[Array, Array]:
    """The entry of each row of ``a`` that plain float sums select, and whether that is unsure.

    With plain float32 cumulative sums ``C`` and target ``t = u C_m``, every decision
    ``C_j <= t`` agrees with the exact one (``S_j <= u S_m``) unless ``|C_j - t|`` is within the
    sums' error bound, ``2 m 2**-24 C_m`` for non-negative terms summed in any order; such a
    row (about ``2 m**2 2**-23`` of them) is flagged for the compensated selection.
    """
    m = a.shape[-1]
    # Column by column (contiguous across rows once transposed): each cumulative sum is
    # compared as it is formed, and none is stacked (XLA would fuse the stack and recompute
    # the chain for every entry). (XLA's cumulative sum is a window reduction, slower still.)
    columns = a.T
    cuts, total = [], columns[0]
    for column in columns[1:]:
        cuts.append(total)
        total = total + column
    target = u * total
    margin = (m + 4) * float(jnp.finfo(a.dtype).eps) * total
    index = jnp.zeros(a.shape[0], jnp.int32)
    unsure = jnp.zeros(a.shape[0], bool)
    for cut in cuts:
        index = index + (cut <= target).astype(jnp.int32)
        unsure = unsure | (jnp.abs(cut - target) <= margin)
    return index, unsure


def select_batch(a: Array, bits: Array, totals: Array | None = None) -> Array:
    """:func:`select` for a batch: ``(batch,)`` reactions from ``(batch, n)`` propensities.

    The same reaction as ``jax.vmap(select)`` for the same words, at a fraction of the cost
    for batches of at least :data:`PLAIN_SUMS_FROM`: plain cumulative sums decide (at every
    level of the search), and the compensated :func:`select` only for the rows
    where a target lies within rounding error of a boundary (:func:`_plain_batch`), gathered
    when there are few. So every reaction, however small its propensity, keeps its
    exact probability.

    Args:
        a: ``(batch, n)`` propensities.
        bits: ``(batch, num_words(n))`` random words.
        totals: the block totals (:func:`block_totals`) where the caller keeps them up to
            date (then ``a`` is already :func:`padded`); else they are summed here.
    """
    n = a.shape[-1]
    if a.shape[0] < PLAIN_SUMS_FROM or n <= 2:
        return jax.vmap(select)(a, bits, totals)
    uniforms = [hi + lo for hi, lo in _uniforms(bits, n, a.dtype)]
    r, unsure = _search_batch(a, uniforms, totals)
    return _settle_unsure(a, bits, totals, r.astype(jnp.int32), unsure)


def _search_batch(
    values: Array, uniforms: list[Array], totals: Array | None = None
) -> tuple[Array, Array]:
    """:func:`_search` of each row with plain sums: the entries, and whether each is unsure."""
    if len(uniforms) == 1:
        return _plain_batch(values, uniforms[0])
    blocks = _blocks(values)
    b, unsure_block = _search_batch(
        row_sums(blocks) if totals is None else totals, uniforms[:-1]
    )
    # b < the number of blocks: the count of cumulative sums at or below a target under the
    # total.
    inner = jnp.take_along_axis(blocks, b[:, None, None], axis=1, mode="promise_in_bounds")
    i, unsure_inner = _plain_batch(inner[:, 0], uniforms[-1])
    return b * WIDTH + i, unsure_block | unsure_inner


def _settle_unsure(
    a: Array, bits: Array, totals: Array | None, r: Array, unsure: Array
) -> Array:
    """``r`` with the compensated :func:`select` in the unsure rows.

    Unsure rows are rare (about 7e-5 per level at blocks of 16): a single one is selected
    again alone (found by an argmax, the common case), up to ``UNSURE_ROWS`` are gathered
    (found by a top-k, which sorts the batch), more than that (a batch built near a
    boundary, as in tests) reselects every row; none, nothing runs.
    """
    k = min(UNSURE_ROWS, a.shape[0])
    rank = a.shape[0] - jnp.arange(a.shape[0])  # positive: unsure rows outrank the others

    def every_row():
        return jnp.where(unsure, jax.vmap(select)(a, bits, totals), r)

    def one_row():
        row = jnp.argmax(unsure)
        return r.at[row].set(select(a[row], bits[row], None if totals is None else totals[row]))

    def a_few_rows():
        score, rows = jax.lax.top_k(jnp.where(unsure, rank, 0), k)  # k distinct rows
        chosen = jax.vmap(select)(a[rows], bits[rows], None if totals is None else totals[rows])
        return r.at[rows].set(jnp.where(score > 0, chosen, r[rows]), unique_indices=True)

    count = jnp.sum(unsure, dtype=jnp.int32)
    branch = jnp.where(count <= 1, count, jnp.where(count <= k, 2, 3))
    return jax.lax.switch(branch, [lambda: r, one_row, a_few_rows, every_row])
