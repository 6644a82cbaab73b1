"""A cheap per-trajectory random stream for the simulation loop: xoshiro128**.

Drawing from ``jax.random`` (Threefry, 20 rounds per 64 bits) inside the event loop costs more
than the rest of an event. Instead each trajectory carries four ``uint32`` words of
xoshiro128** state (Blackman and Vigna 2018; passes BigCrush, period 2**128 - 1), seeded once
by hashing the ensemble's key with the trajectory's index, so a trajectory's stream depends
only on the key and its index: the same key gives the same path whatever the batch size,
chunking or sharding.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jaxtyping import Array, PRNGKeyArray

_TWO_POW_MINUS_23 = 1.0 / 8_388_608.0


_GOLDEN = 0x9E3779B9


def _fmix32(h: Array) -> Array:
    """MurmurHash3's 32-bit finaliser: a bijective mixer with full avalanche."""
    h = h ^ (h >> jnp.uint32(16))
    h = h * jnp.uint32(0x85EBCA6B)
    h = h ^ (h >> jnp.uint32(13))
    h = h * jnp.uint32(0xC2B2AE35)
    return h ^ (h >> jnp.uint32(16))


def key_words(key: PRNGKeyArray) -> Array:
    """The raw uint32 words of a JAX key (typed or legacy), flattened."""
    return jax.random.key_data(key).reshape(-1).astype(jnp.uint32)


def seed(words: Array, index: Array) -> Array:
    """The ``(4,)`` uint32 stream state of trajectory ``index`` of the ensemble of a key.

    Hashes the key's words with the trajectory index (no Threefry: cheap to compile and run),
    so trajectory ``i`` of an ensemble is the same whatever the batch size, chunking or sharding.

    Args:
        words: the key's raw words, from :func:`key_words`.
        index: the trajectory index (scalar integer).
    """
    index = jnp.asarray(index).astype(jnp.uint32)
    state = jnp.stack(
        [
            _fmix32(
                words[j % words.shape[0]] ^ _fmix32(index ^ jnp.uint32(_GOLDEN * (j + 1) % 2**32))
            )
            for j in range(4)
        ]
    )
    # The all-zero state is the generator's only fixed point; rule it out.
    return state.at[0].set(state[0] | jnp.uint32(1))


def _rotl(x: Array, k: int) -> Array:
    return (x << jnp.uint32(k)) | (x >> jnp.uint32(32 - k))


def _next(state: Array) -> tuple[Array, Array]:
    """One xoshiro128** step on ``(..., 4)`` states: ``(new state, 32 random bits)``."""
    s0, s1, s2, s3 = state[..., 0], state[..., 1], state[..., 2], state[..., 3]
    bits = _rotl(s1 * jnp.uint32(5), 7) * jnp.uint32(9)
    t = s1 << jnp.uint32(9)
    s2 = s2 ^ s0
    s3 = s3 ^ s1
    s1 = s1 ^ s2
    s0 = s0 ^ s3
    s2 = s2 ^ t
    s3 = _rotl(s3, 11)
    return jnp.stack([s0, s1, s2, s3], axis=-1), bits


def to_unit(bits: Array, dtype: jnp.dtype) -> Array:
    """Maps 32 random bits to the midpoint grid ``(k + 1/2) / 2**23``, inside (0, 1)."""
    return ((bits >> jnp.uint32(9)).astype(dtype) + 0.5) * _TWO_POW_MINUS_23


def words(state: Array, count: int) -> tuple[Array, Array]:
    """``count`` raw 32-bit words per stream: ``(new state, bits of shape (..., count))``."""
    draws = []
    for _ in range(count):
        state, bits = _next(state)
        draws.append(bits)
    return state, jnp.stack(draws, axis=-1)


def uniforms(state: Array, count: int, dtype: jnp.dtype) -> tuple[Array, Array]:
    """``count`` independent uniforms per stream, on the grid ``(k + 1/2) / 2**23``.

    The values lie strictly inside (0, 1) and are exact in float32 (with 24 bits, the largest
    midpoint ``1 - 2**-25`` would round to 1.0), so ``-log(u)`` and ``-log(1 - u)`` are finite.

    Args:
        state: ``(..., 4)`` stream states.
        count: how many numbers to draw per stream.
        dtype: the floating dtype of the result.

    Returns:
        ``(new state, u)`` with ``u`` of shape ``(..., count)``.
    """
    state, bits = words(state, count)
    return state, to_unit(bits, dtype)


def fine_unit(coarse: Array, extra: Array, dtype: jnp.dtype) -> tuple[Array, Array]:
    """A uniform with 41 bits, as a double word ``(hi, lo)`` (both exact in float32).

    ``hi = k / 2**23`` from the top 23 bits of ``coarse`` (so ``hi + 2**-24`` is the value
    :func:`to_unit` gives for the same word) and ``lo = (m + 1/2) / 2**41`` from the 9 low bits
    of ``coarse`` and the 9 low bits of ``extra`` (bits that :func:`to_unit` leaves unused, so
    no extra draw is needed). ``hi + lo`` lies strictly inside (0, 1) on a grid of ``2**-41``.
    """
    low = ((coarse & jnp.uint32(0x1FF)) << jnp.uint32(9)) | (extra & jnp.uint32(0x1FF))
    hi = (coarse >> jnp.uint32(9)).astype(dtype) * _TWO_POW_MINUS_23
    lo = (low.astype(dtype) + 0.5) * (_TWO_POW_MINUS_23 / 262_144.0)
    return hi, lo


def fine_exponentials(bits: Array, dtype: jnp.dtype) -> Array:
    """Standard exponentials from pairs of words, ``(..., 2 k)`` words to ``(..., k)`` values.

    Each uses a 41-bit uniform (:func:`fine_unit`), so values down to about ``2**-42`` occur
    with their right probability: exponential clocks resolve rate ratios down to ``1e-12``.
    All values are finite (at most about 29).
    """
    hi, lo = fine_unit(bits[..., 0::2], bits[..., 1::2], dtype)
    small = hi < 0.5
    return jnp.where(
        small, -jnp.log1p(-(hi + lo)), -jnp.log(jnp.where(small, 0.5, (1.0 - hi) - lo))
    )
