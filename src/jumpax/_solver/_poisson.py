"""Exact Poisson samples on the per-trajectory xoshiro streams (used by tau-leaping).

``jax.random.poisson`` in float32 is biased at large means and draws from Threefry keys; these
samplers draw from the trajectory's own streams, so a trajectory's leaps never depend on the
rest of the batch: Knuth's product of uniforms for means below 10, Hörmann's PTRS above.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from jaxtyping import Array

from .. import _random

_KNUTH_BELOW = 10.0
"""Poisson means below this are sampled by Knuth's product of uniforms, the others by PTRS."""


def _draw(streams: Array, active: Array, count: int, dtype: jnp.dtype) -> tuple[Array, Array]:
    """``count`` uniforms in (0, 1) per lane; only the streams of active lanes advance."""
    advanced, u = _random.uniforms(streams, count, dtype)
    return jnp.where(active[..., None], advanced, streams), u


def _poisson_knuth(streams: Array, lam: Array) -> tuple[Array, Array]:
    """Knuth's method: the number of uniforms whose running product stays above ``e^-lam``."""

    def body(carry):
        streams, count, log_product, active = carry
        streams, u = _draw(streams, active, 1, lam.dtype)
        log_product = log_product + jnp.log(u[..., 0])
        above = active & (log_product > -lam)
        return streams, count + above, log_product, above

    start = (streams, jnp.zeros_like(lam), jnp.zeros_like(lam), lam > 0)
    streams, count, _, _ = jax.lax.while_loop(lambda c: jnp.any(c[3]), body, start)
    return streams, count


def _log_factorial_correction(k: Array) -> Array:
    """``c(k) = log k! - k log k + k`` for integer ``k >= 0``.

    Exact values below 10, Stirling's series to its third term above (error below 1e-8).
    """
    k_large = jnp.maximum(k, 10.0)
    c = 0.5 * jnp.log(2 * math.pi * k_large) + 1 / (12 * k_large) - 1 / (360 * k_large**3)
    for small in range(10):
        exact = math.lgamma(small + 1) - (small * math.log(small) if small else 0.0) + small
        c = jnp.where(k == small, exact, c)
    return c


def _log_poisson_pmf(k: Array, lam: Array) -> Array:
    """``log(lam^k e^-lam / k!)`` for integer ``k >= 0``, accurate for large ``k`` and ``lam``.

    Written as ``k log(lam / k) + k - lam - c(k)``, which avoids the cancellation of
    ``k log(lam) - log(k!)`` in float32 (and the cost of ``lgamma``).
    """
    log_ratio = jnp.log1p((lam - k) / jnp.maximum(k, 1.0))
    return jnp.where(k > 0, k * log_ratio, 0.0) + k - lam - _log_factorial_correction(k)


def _poisson_ptrs(streams: Array, lam: Array) -> tuple[Array, Array]:
    """Hörmann's transformed rejection with squeeze (PTRS), for means of at least 10.

    W. Hörmann, "The transformed rejection method for generating Poisson random variables",
    Insurance: Mathematics and Economics 12 (1993) 39-45. Lanes with ``lam == 0`` draw nothing.
    """
    active = lam > 0
    lam = jnp.where(active, lam, _KNUTH_BELOW)
    b = 0.931 + 2.53 * jnp.sqrt(lam)
    a = -0.059 + 0.02483 * b
    log_inv_alpha = jnp.log(1.1239 + 1.1328 / (b - 3.4))
    v_r = 0.9277 - 3.6224 / (b - 2)

    def body(carry):
        streams, result, active = carry
        streams, uv = _draw(streams, active, 2, lam.dtype)
        u, v = uv[..., 0] - 0.5, uv[..., 1]
        us = 0.5 - jnp.abs(u)
        k = jnp.floor((2 * a / us + b) * u + lam + 0.43)
        squeeze = (us >= 0.07) & (v <= v_r)
        hopeless = (k < 0) | ((us < 0.013) & (v > us))
        log_ratio = jnp.log(v) + log_inv_alpha - jnp.log(a / (us * us) + b)
        log_pmf = _log_poisson_pmf(jnp.maximum(k, 0.0), lam)
        accept = squeeze | (~hopeless & (log_ratio <= log_pmf))
        return streams, jnp.where(active & accept, k, result), active & ~accept

    start = (streams, jnp.zeros_like(lam), active)
    streams, result, _ = jax.lax.while_loop(lambda c: jnp.any(c[2]), body, start)
    return streams, result


def poisson(streams: Array, lam: Array) -> tuple[Array, Array]:
    """Exact Poisson samples, one per lane, each lane drawing from its own xoshiro stream.

    A lane's stream advances only by the uniforms that lane consumes, so its samples depend on
    its own stream and means only, never on the other lanes of the batch.

    Args:
        streams: ``(..., 4)`` stream states, one per lane.
        lam: ``(...)`` non-negative means.

    Returns:
        ``(new streams, counts)``, counts in the dtype of ``lam`` (exactly 0 where ``lam == 0``).
    """
    small = lam < _KNUTH_BELOW
    streams, knuth = _poisson_knuth(streams, jnp.where(small, lam, 0.0))
    streams, ptrs = _poisson_ptrs(streams, jnp.where(small, 0.0, lam))
    return streams, jnp.where(small, knuth, ptrs)
