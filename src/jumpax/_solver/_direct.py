"""Gillespie's direct method."""

from __future__ import annotations

import jax.numpy as jnp

from .. import _random
from ._selection import select
from ._ssa import AbstractSSA, waiting_time


class Direct(AbstractSSA):
    """Gillespie's direct method: two random words per event.

    The waiting time is ``Exp(a0)``, ``a0 = sum(a)``; the reaction is the first index whose
    cumulative propensity exceeds ``u * a0``, computed in double words with a 41-bit ``u``
    (:mod:`jumpax._solver._selection`), so propensity ratios down to about ``1e-12`` are
    resolved in float32. A reaction with propensity 0 can never fire.
    """

    def num_words(self, n_reactions):
        """Two: the waiting time's and the reaction's."""
        return 2

    def sample(self, bits, propensities):
        """Draws ``(tau, r)`` by inversion."""
        dtype = propensities.dtype
        u_hi, u_lo = _random.fine_unit(bits[1], bits[0], dtype)
        tau = waiting_time(_random.to_unit(bits[0], dtype), jnp.sum(propensities))
        return tau, select(propensities, u_hi, u_lo)
