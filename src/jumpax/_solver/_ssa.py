"""Exact event-by-event simulation (stochastic simulation algorithms): the shared machinery.

Every exact method draws the next reaction and its time from the propensities of the current
state. :class:`AbstractSSA` keeps the propensities of the current state and the *drawn* next
event, drawn as soon as the state changes: when the drawn event lies beyond the stop time, the
trajectory moves to the stop time and keeps the draw (exponential waiting times are memoryless,
so the draw stays valid while the state is unchanged). Saving at a grid time therefore consumes
no randomness, and event-list, grid and final-state runs with the same key follow the same
path. Drawing ahead also keeps a step cheap: it only compares the drawn time with the stop.

A subclass says how many random words one draw needs (:meth:`AbstractSSA.num_words`) and how
it turns them into a waiting time and a reaction (:meth:`AbstractSSA.sample`); a pathwise
method also overrides :meth:`AbstractSSA.update`.
"""

from __future__ import annotations

import abc
from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from .. import _random
from .._network._network import SPARSE_FROM, ReactionNetwork
from .._numerics import Clock, select, where_positive
from . import _selection as selection
from ._base import STOPPED, AbstractSolver

SPARSE_UPDATES_FROM = 24
"""Mass-action networks with at least this many reactions update propensities sparsely."""


def waiting_time(u: Array, a0: Array) -> Array:
    """``Exp(a0)`` by inversion of a uniform ``u`` in (0, 1); ``inf`` when ``a0 == 0``.

    ``-log(u)`` rather than ``-log1p(-u)``: ``u`` and ``1 - u`` have the same distribution on
    the symmetric midpoint grid of :func:`jumpax._random.to_unit` (every ``1 - u`` is exact),
    and XLA's ``log1p`` evaluates two approximations and a division where ``log`` needs one.
    """
    return where_positive(a0, lambda rate: -jnp.log(u) / rate, jnp.inf)


def sparse_dependents(network: ReactionNetwork) -> np.ndarray | None:
    """The network's propensity dependents, if sparse updates pay off for it, else ``None``.

    They pay off when a firing changes at most a quarter of the propensities of a network
    with at least ``SPARSE_UPDATES_FROM`` reactions.
    """
    if network.n_reactions < SPARSE_UPDATES_FROM:
        return None
    dependents = network.propensity_dependents()
    if dependents is None or 4 * dependents.shape[1] > network.n_reactions:
        return None
    return dependents


def touched_blocks(dependents: np.ndarray, width: int) -> np.ndarray:
    """Per reaction, the blocks of ``width`` propensities its firing changes.

    Returns:
        ``(n_reactions, k)`` int32 block indices of each row of ``dependents``, without
        repeats (padded by repeating an entry).
    """
    rows = [np.unique(row // width) for row in dependents]
    k = max(row.size for row in rows)
    return np.stack([np.pad(row, (0, k - row.size), mode="edge") for row in rows]).astype(
        np.int32
    )


def batch_propensities(network: ReactionNetwork, x: Array) -> Array:
    """Propensities of a batch of states, ``(batch, n_reactions)``.

    The barrier keeps XLA from fusing the propensities into the cumulative sums of the
    selection, which would recompute them once per reaction (quadratic cost).
    """
    return jax.lax.optimization_barrier(jax.vmap(network.propensities)(x))


class SSAState(eqx.Module):
    """What an exact solver carries between steps.

    Attributes:
        a: ``(batch, n_reactions)`` propensities of the current state (``(batch, 0)`` when
            neither the steps nor sparse updates read them; zero-padded to whole blocks
            with block totals, see :func:`~jumpax._solver._selection.block_layout`).
        totals: ``(batch, blocks)`` block totals of the search, kept up to date with
            sparse updates for solvers with :attr:`AbstractSSA.keeps_block_totals`
            (``(batch, 0)`` otherwise).
        t_next: the drawn next event's time (``inf`` if nothing can fire).
        r_next: the drawn next event's reaction.
        bits: the random words of the draw, kept for solvers that reuse them in
            :meth:`AbstractSSA.update` (empty otherwise).
    """

    a: Array
    totals: Array
    t_next: Clock
    r_next: Array
    bits: Array


class AbstractSSA(AbstractSolver):
    """Base class of exact solvers: one reaction per step, drawn from the current propensities.

    Subclasses implement :meth:`num_words` and :meth:`sample`.

    Attributes:
        reuses_bits: whether :meth:`update` reads the draw's random words (pathwise solvers).
        keeps_block_totals: whether :meth:`sample_batch` takes the search's block totals
            (``totals=``). Then, in networks with sparse updates and at least
            :data:`~jumpax._solver._selection.TWO_LEVEL_FROM` reactions, the solver keeps them
            up to date block by block instead of summing every propensity per step: the
            cost of a step grows with the logarithm of the network's size.
    """

    reuses_bits: ClassVar[bool] = False
    keeps_block_totals: ClassVar[bool] = False

    @abc.abstractmethod
    def num_words(self, n_reactions: int) -> int:
        """How many random 32-bit words one draw needs for a network of this size."""

    @abc.abstractmethod
    def sample(self, bits: Array, propensities: Array) -> tuple[Array, Array]:
        """Draws the next event of one trajectory.

        Args:
            bits: ``(num_words,)`` random words, used for this draw only.
            propensities: ``(n_reactions,)`` non-negative propensities.

        Returns:
            ``(tau, r)``: the waiting time (``inf`` when every propensity is 0) and the index
            of the reaction that fires (int32; meaningless when ``tau`` is ``inf``).
        """

    def sample_batch(
        self, bits: Array, propensities: Array, totals: Array | None = None
    ) -> tuple[Array, Array]:
        """:meth:`sample` for a batch: ``bits (batch, num_words)``, ``propensities (batch, n)``.

        The same draws as mapping :meth:`sample`; a subclass overrides it where the batch can
        be drawn more cheaply as a whole. ``totals`` (block totals, with ``propensities``
        zero-padded) is given only to solvers with :attr:`keeps_block_totals`.
        """
        return jax.vmap(self.sample)(bits, propensities)

    def update(
        self, bits: Array, x: Array, propensities: Array, r: Array, stoichiometry: Array
    ) -> Array:
        """The counts of one trajectory after reaction ``r`` fires: ``x + stoichiometry[r]``.

        Pathwise solvers (:attr:`reuses_bits`) override it to let gradients through (the value
        must stay the same). Exact solvers in networks of ``SPARSE_FROM`` or more
        species add the reaction's net changes (:attr:`ReactionNetwork.net_changes`) instead.
        """
        return x + stoichiometry[r]

    def _blocked(self, network: ReactionNetwork, dependents: np.ndarray | None) -> bool:
        """Whether this solver keeps block totals for ``network`` (see the class docs).

        ``dependents`` is :func:`sparse_dependents` of ``network`` (computed once by the
        caller: it walks every reaction).
        """
        return (
            self.keeps_block_totals
            and network.n_reactions >= selection.TWO_LEVEL_FROM
            and dependents is not None
        )

    def _draw(self, network, a, totals, t, rng):
        """A fresh draw from propensities ``a`` at times ``t``: ``(t_next, r, bits, rng)``.

        ``totals`` are the kept block totals, or ``(batch, 0)`` where none are kept.
        """
        rng, bits = _random.words(rng, self.num_words(network.n_reactions))
        if totals.shape[-1]:
            tau, r = self.sample_batch(bits, a, totals)
        else:
            tau, r = self.sample_batch(bits, a)
        kept = bits if self.reuses_bits else bits[:, :0]
        return t.advance(tau), r, kept, rng

    def _kept_propensities(
        self, network: ReactionNetwork, a: Array, dependents: np.ndarray | None
    ) -> Array:
        """What the state keeps of the propensities.

        All of them where steps or sparse updates read them (zero-padded where block totals
        are kept), else nothing (carrying them would cost a copy per iteration).
        """
        if self._blocked(network, dependents):
            return selection.padded(a)
        if self.reuses_bits or dependents is not None:
            return a
        return a[:, :0]

    def init(self, network, x, t, rng):
        """Propensities of the initial states and the first draw."""
        a = batch_propensities(network, x)
        dependents = sparse_dependents(network)
        kept = self._kept_propensities(network, a, dependents)
        blocked = self._blocked(network, dependents)
        totals = selection.block_totals(a) if blocked else a[:, :0]
        t_next, r, bits, rng = self._draw(network, kept if blocked else a, totals, t, rng)
        return SSAState(kept, totals, t_next, r, bits), rng

    def step(self, network, x, t, t_stop, state, rng, allowed):
        """Fires the drawn reaction, or stops at ``t_stop`` if it lies beyond."""
        fire = state.t_next.not_after(t_stop)
        changes = fire & allowed
        if self.reuses_bits or network.n_species < SPARSE_FROM:
            stoichiometry = jnp.asarray(network.stoichiometry, x.dtype)
            fired = jax.vmap(self.update, in_axes=(0, 0, 0, 0, None))(
                state.bits, x, state.a, state.r_next, stoichiometry
            )
            x = jnp.where(changes[:, None], fired, x)
        else:
            # The fired reaction's net changes only: no pass over every species, and no
            # dense stoichiometry matrix in the program.
            species, delta = network.net_changes
            rows = jnp.arange(x.shape[0])[:, None]
            change = jnp.where(changes[:, None], jnp.asarray(delta, x.dtype)[state.r_next], 0)
            x = x.at[rows, jnp.asarray(species)[state.r_next]].add(change)
        # A stop is a given time (nothing to compensate); not reading the loop's clock lets
        # XLA drop it from the loop state when nothing else reads it.
        t = select(fire, state.t_next, Clock.at(t_stop))
        return x, t, jnp.where(fire, state.r_next, STOPPED), state, rng

    def observe(self, network, x, t, code, changed, state, rng):
        """New propensities and a new draw where the state changed (sparse when that pays).

        Where it did not change, the drawn event stays valid: waiting times are memoryless.
        """
        moved = (code >= 0) | changed
        dependents = sparse_dependents(network)
        totals = state.totals
        if dependents is None:
            fresh = batch_propensities(network, x)
            kept = select(moved, self._kept_propensities(network, fresh, None), state.a)
        else:
            # Only the propensities the fired reaction changes; the same arithmetic as the
            # full evaluation, so the same values. (No rules or events: nothing else moves x.)
            # Rows that did not move evaluate some of theirs again from the same counts, so
            # they write the values they hold: the update is in place, with no pass over the
            # whole array and no gather of the old values to keep them.
            fired = jnp.maximum(code, 0)
            which = jnp.asarray(dependents)[fired]
            rows = jnp.arange(x.shape[0])[:, None]
            values = jax.vmap(network.propensities_of)(x, which)
            fresh = kept = jax.lax.optimization_barrier(state.a.at[rows, which].set(values))
            if totals.shape[-1]:
                # The totals of the blocks holding those propensities, summed again in the
                # same order as from scratch (so the same values).
                count, width = selection.block_layout(fresh.shape[-1])
                blocks = jnp.asarray(touched_blocks(dependents, width))[fired]
                rows_of_blocks = jnp.take_along_axis(
                    fresh.reshape(-1, count, width), blocks[:, :, None], axis=1,
                    mode="promise_in_bounds",
                )
                totals = totals.at[rows, blocks].set(selection.row_sums(rows_of_blocks))
        t_next, r, bits, drawn_rng = self._draw(network, fresh, totals, t, rng)
        drawn = select(moved, (t_next, r, bits), (state.t_next, state.r_next, state.bits))
        return SSAState(kept, totals, *drawn), jnp.where(moved[:, None], drawn_rng, rng)
