"""The loop's xoshiro128** stream: reference values, uniformity, seeding by key and index."""

import jax
import jax.numpy as jnp
import numpy as np

from jumpax import _random

MASK = 0xFFFFFFFF


def reference_xoshiro128ss(state, n):
    """Pure-Python xoshiro128** (Blackman and Vigna), the published algorithm."""
    s = list(state)
    out = []
    for _ in range(n):
        rotl = lambda x, k: ((x << k) | (x >> (32 - k))) & MASK  # noqa: E731
        out.append(rotl((s[1] * 5) & MASK, 7) * 9 & MASK)
        t = (s[1] << 9) & MASK
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = rotl(s[3], 11)
    return out


def test_matches_reference_bits():
    state0 = [0x12345678, 0x9ABCDEF0, 0x0F1E2D3C, 0x4B5A6978]
    expected = reference_xoshiro128ss(state0, 50)
    state = jnp.array(state0, dtype=jnp.uint32)
    got = []
    for _ in range(50):
        state, bits = _random._next(state)
        got.append(int(bits))
    assert got == expected


def test_uniforms_are_uniform_and_keyed():
    words = _random.key_words(jax.random.key(0))
    state = jax.vmap(_random.seed, in_axes=(None, 0))(words, jnp.arange(64))

    def step(s, _):
        return _random.uniforms(s, 2, jnp.float32)

    _, u = jax.lax.scan(step, state, None, length=2000)
    u = np.asarray(u).ravel()
    assert u.min() > 0.0 and u.max() < 1.0
    # the extreme words map strictly inside (0, 1) in float32
    edges = _random.to_unit(jnp.array([0, 0xFFFFFFFF], dtype=jnp.uint32), jnp.float32)
    assert 0.0 < float(edges[0]) and float(edges[1]) < 1.0
    n = u.size
    assert abs(u.mean() - 0.5) < 4 * np.sqrt(1 / 12 / n)
    counts, _ = np.histogram(u, bins=32, range=(0, 1))
    chi2 = np.sum((counts - n / 32) ** 2 / (n / 32))
    assert chi2 < 70  # 31 degrees of freedom: P(chi2 > 70) < 1e-4
    np.testing.assert_array_equal(_random.seed(words, 3), state[3])
    assert len({tuple(np.asarray(s)) for s in state}) == 64
    other = _random.seed(_random.key_words(jax.random.key(1)), 3)
    assert not np.array_equal(other, state[3])
