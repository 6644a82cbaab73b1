"""Gillespie's direct method."""

from __future__ import annotations

from .. import _random
from . import _selection as selection
from ._ssa import AbstractSSA, waiting_time


class Direct(AbstractSSA):
    """Gillespie's direct method: two random words per event and search level.

    The waiting time is ``Exp(a0)``, ``a0 = sum(a)``; the reaction is the first index whose
    cumulative propensity exceeds ``u * a0`` for a 41-bit ``u``, decided with relative errors
    only (:mod:`jumpax._solver._selection`: no cumulative sum for two reactions, compensated
    sums for more, a search by levels of 16 entries with a uniform per level from 25
    reactions), so propensity ratios down to about ``1e-12`` are resolved in float32. A
    reaction with propensity 0 never fires.

    In mass-action networks of 25 or more reactions it keeps the search's block totals up to
    date (:attr:`keeps_block_totals`): a step then costs about the logarithm of the network's
    size rather than its size.
    """

    def num_words(self, n_reactions):
        """Two per search level (the first also gives the waiting time)."""
        return selection.num_words(n_reactions)

    keeps_block_totals = True

    def sample(self, bits, propensities):
        """Draws ``(tau, r)`` by inversion."""
        u = _random.to_unit(bits[0], propensities.dtype)
        return waiting_time(u, selection.total(propensities)), selection.select(propensities, bits)

    def sample_batch(self, bits, propensities, totals=None):
        """:meth:`sample` for a batch, with :func:`~jumpax._solver._selection.select_batch`."""
        a0 = selection.total(propensities) if totals is None else selection.row_sums(totals)
        tau = waiting_time(_random.to_unit(bits[:, 0], propensities.dtype), a0)
        return tau, selection.select_batch(propensities, bits, totals)
