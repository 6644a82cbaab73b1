"""Gillespie's first-reaction method."""

from __future__ import annotations

import jax.numpy as jnp

from .. import _random
from .._numerics import where_positive
from ._ssa import AbstractSSA


class FirstReaction(AbstractSSA):
    """Gillespie's first-reaction method: one exponential clock per reaction.

    Each reaction with positive propensity draws ``tau_r = E_r / a_r`` with ``E_r`` a standard
    exponential of 41-bit resolution (two words per reaction); the earliest fires. Equivalent
    in distribution to :class:`~jumpax.Direct`, at a cost growing with the number of reactions.
    """

    def num_words(self, n_reactions):
        """Two per reaction."""
        return 2 * n_reactions

    def sample(self, bits, propensities):
        """Draws ``(tau, r)`` as the minimum of independent exponential clocks."""
        exponentials = _random.fine_exponentials(bits, propensities.dtype)
        clocks = where_positive(propensities, lambda a: exponentials / a, jnp.inf)
        r = jnp.argmin(clocks)
        return clocks[r], r.astype(jnp.int32)
