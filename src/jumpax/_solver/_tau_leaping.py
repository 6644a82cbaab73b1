"""Tau-leaping: approximate stochastic simulation for networks with large molecule counts.

A leap of length ``tau`` fires every reaction ``j`` a Poisson(``a_j(x) tau``) number of times at
once, instead of one event at a time. It is accurate when no propensity changes appreciably
during a leap (the *leap condition*) and fast when many events fit in one leap.

:class:`TauLeaping` follows Cao, Gillespie and Petzold, "Efficient step size selection for the
tau-leaping simulation method", J. Chem. Phys. 124, 044109 (2006):

1. A reaction is *critical* when it could run a species out within ``n_critical`` firings;
   critical reactions are simulated exactly (at most one of them fires per leap).
2. The leap ``tau'`` bounds the expected change and the standard deviation of the change of
   every reactant species ``i`` by ``max(epsilon x_i / g_i, 1)``, where ``g_i`` depends on the
   highest order of the reactions consuming ``i`` (CGP's table, extended to any order as
   ``g = n (1 + sum_{k<m} k / (m (x - k)))`` for a reaction of order ``n`` that needs ``m``
   molecules of ``i``; ``g_i`` is the largest such value, which equals CGP's choice).
3. When ``tau' < ssa_threshold / a0`` a leap would fire only a few events: an exact (Gillespie)
   step is taken instead. (CGP take a batch of 100 exact steps; here the choice is re-made
   after every exact step.)
4. A leap that would make a count negative is rejected and retried with ``tau'`` halved, so
   counts are never negative.

One addition, on by default (``relaxation``): every leap also spans at most a small fraction of
each species' relaxation time, ``|J_ii| tau <= relaxation`` with ``J`` the Jacobian of the drift
``S^T a(x)`` of all reactions (critical ones included: their propensities are frozen during a
leap). An explicit leap integrates the mean and variance of a species
that changes at rate ``J_ii`` with a first-order error of about ``|J_ii| tau`` (a stationary
variance, for instance, comes out inflated by ``1 / (1 - |J_ii| tau / 2)``). CGP's drift bound
does not control this near (partial) equilibrium, where the net drift cancels and ``tau'`` grows
far beyond the relaxation time: plain CGP (``relaxation=None``) makes the standard deviation of
DSMTS immigration-death (00023) 3-5% too large. The default 0.005 keeps the DSMTS large-count
cases within about 0.5% of the exact moments.

Leaps never cross a save time or ``t1``: the leap that would is shortened to end exactly there,
so grid values are the state at the save times.
"""

from __future__ import annotations

import math
from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from .. import _random
from .._network._network import ReactionNetwork
from .._numerics import Clock, select, where_positive
from ._base import LEAPED, REJECTED, STOPPED, AbstractSolver
from ._direct import Direct
from ._poisson import poisson


def remaining_firings(x: Array, stoichiometry: np.ndarray) -> Array:
    """How many times each reaction can fire before it would drive a species negative.

    Args:
        x: counts, ``(n_species,)``.
        stoichiometry: ``(n_reactions, n_species)`` net changes.

    Returns:
        ``(n_reactions,)``: ``min_i floor(x_i / |v_ji|)`` over the species reaction ``j``
        consumes, ``inf`` for a reaction that consumes nothing.
    """
    consumed = stoichiometry < 0
    per_species = jnp.floor(x / np.where(consumed, -stoichiometry, 1))
    return jnp.where(consumed, per_species, jnp.inf).min(axis=1)


def order_factor(x: Array, reactant_matrix: np.ndarray) -> Array:
    """CGP's ``g_i``: how much faster than ``x_i`` itself the propensities consuming ``i`` change.

    For a reaction of order ``n`` needing ``m`` molecules of species ``i`` the relative change
    of its propensity is about ``g = n (1 + sum_{k=1}^{m-1} k / (m (x_i - k)))`` times the
    relative change of ``x_i``: ``1`` for ``X -> ...``, ``2`` for ``X + Y -> ...``,
    ``2 + 1 / (x - 1)`` for ``2 X -> ...``, as in CGP's table. ``g_i`` is the largest value
    over the reactions consuming ``i``.

    Args:
        x: counts, ``(n_species,)``.
        reactant_matrix: ``(n_reactions, n_species)`` reactant coefficients.

    Returns:
        ``(n_species,)`` factors, at least 1 (1 for species that are no reactant).
    """
    m = reactant_matrix
    order = m.sum(axis=1, keepdims=True)
    k = np.arange(1, max(int(m.max()), 1))
    # Denominators below 1 only occur where x < m: the reaction cannot fire, and the bound
    # max(epsilon x / g, 1) is 1 whatever the (clamped) value of g.
    terms = jnp.where(k < m[..., None], k, 0) / jnp.maximum(x[None, :, None] - k, 1.0)
    g = jnp.where(m > 0, order, 0) * (1.0 + terms.sum(axis=-1) / np.maximum(m, 1))
    return jnp.maximum(g.max(axis=0), 1.0)


class TauLeaping(AbstractSolver):
    """Tau-leaping with Cao-Gillespie-Petzold (2006) step-size selection.

    Approximate: use it for networks whose counts are large (hundreds and more), where exact
    simulation spends most of its time on events that change the state by a tiny fraction.
    Small counts are handled exactly (critical reactions, exact steps when a leap would be
    short), so counts are never negative. Works with :func:`jumpax.simulate` in grid mode
    (``save_at=ts``) and final-state mode (``save_at="final"``), for single trajectories and
    ensembles; there is no event list. The module docstring describes the algorithm.

    It honours the network's time events and assignment rules through the shared loop: leaps
    stop exactly at time events, save times and ``t1``, and rules are applied after every
    step. Networks with state events are refused (a leap cannot tell when within it a trigger
    became true; checking at leap ends gave a silently wrong answer).

    ``results.n_steps`` counts accepted steps (leaps and exact steps); ``max_steps`` bounds it.

    Example:
        >>> net = jx.ReactionNetwork([jx.Reaction("0 -> X", 1000.0), jx.Reaction("X -> 0", 0.1)])
        >>> results = jx.simulate(key, net, {"X": 0}, 50.0, solver=jx.TauLeaping(),
        ...                       save_at=jnp.arange(51.0), num_trajectories=1000)

    Attributes:
        epsilon: the leap condition: the largest relative change of a propensity in one leap.
        n_critical: a reaction that could exhaust a reactant in fewer firings is critical.
        ssa_threshold: an exact step is taken when a leap would be shorter than
            ``ssa_threshold / a0`` (i.e. would fire fewer than about that many events).
        relaxation: the largest fraction of a species' relaxation time one leap may span,
            or ``None`` for plain CGP (see the module docstring).
    """

    epsilon: float = eqx.field(static=True)
    records_events: ClassVar[bool] = False
    n_critical: int = eqx.field(static=True)
    ssa_threshold: float = eqx.field(static=True)
    relaxation: float | None = eqx.field(static=True)

    def __init__(
        self,
        epsilon: float = 0.03,
        n_critical: int = 10,
        ssa_threshold: float = 10.0,
        relaxation: float | None = 0.005,
    ):
        """Validates and stores the settings.

        Args:
            epsilon: error control parameter in (0, 1); smaller is more accurate and slower.
                CGP recommend 0.03.
            n_critical: critical-reaction threshold, a non-negative integer (CGP: 10).
            ssa_threshold: exact-step threshold, non-negative (CGP: 10; 0 never replaces a
                leap by an exact step).
            relaxation: bound on ``|J_ii| tau`` in (0, 1), or ``None`` for plain CGP.

        Raises:
            ValueError: for a setting outside its range.
        """
        if not (isinstance(epsilon, int | float) and 0.0 < epsilon < 1.0):
            raise ValueError(f"TauLeaping epsilon must be a number in (0, 1), got {epsilon!r}")
        if isinstance(n_critical, bool) or not isinstance(n_critical, int) or n_critical < 0:
            raise ValueError(
                f"TauLeaping n_critical must be a non-negative integer, got {n_critical!r}"
            )
        if not (isinstance(ssa_threshold, int | float) and 0.0 <= ssa_threshold < math.inf):
            raise ValueError(
                f"TauLeaping ssa_threshold must be a finite non-negative number, "
                f"got {ssa_threshold!r}"
            )
        self.epsilon = float(epsilon)
        self.n_critical = n_critical
        self.ssa_threshold = float(ssa_threshold)
        if relaxation is not None and not (
            isinstance(relaxation, int | float) and 0.0 < relaxation < 1.0
        ):
            raise ValueError(
                f"TauLeaping relaxation must be None or a number in (0, 1), got {relaxation!r}"
            )
        self.relaxation = None if relaxation is None else float(relaxation)

    def leap_size(self, network: ReactionNetwork, x: Array) -> tuple[Array, Array]:
        """The leap ``tau'`` allowed by the leap condition in state ``x``, and the critical set.

        Args:
            network: the reaction network.
            x: counts, ``(n_species,)``.

        Returns:
            ``(tau, critical)``: the largest leap for the non-critical reactions (``inf`` when
            none of them can change a reactant species) and a ``(n_reactions,)`` boolean mask
            of the critical reactions.
        """
        return self._leap_size(network, x, network.propensities(x))

    def _leap_size(
        self, network: ReactionNetwork, x: Array, propensities: Array
    ) -> tuple[Array, Array]:
        """:meth:`leap_size` given the propensities at ``x``."""
        stoichiometry = network.stoichiometry
        critical = (propensities > 0) & (remaining_firings(x, stoichiometry) < self.n_critical)
        noncritical = jnp.where(critical, 0.0, propensities)
        drift = noncritical @ stoichiometry.astype(x.dtype)
        variance = noncritical @ (stoichiometry**2).astype(x.dtype)
        reactant_matrix = network.reactant_matrix
        change = jnp.maximum(self.epsilon * x / order_factor(x, reactant_matrix), 1.0)
        tau_species = jnp.minimum(
            where_positive(jnp.abs(drift), lambda d: change / d, jnp.inf),
            where_positive(variance, lambda v: change**2 / v, jnp.inf),
        )
        is_reactant = reactant_matrix.any(axis=0)
        tau = jnp.where(is_reactant, tau_species, jnp.inf).min()
        if self.relaxation is not None:
            tau = jnp.minimum(tau, self._relaxation_limit(network, x))
        return tau, critical

    def _relaxation_limit(self, network: ReactionNetwork, x: Array) -> Array:
        """``relaxation / max_i |J_ii|`` for the Jacobian ``J`` of the drift of all reactions.

        Critical and dormant (zero-propensity) reactions count too: their propensities stay
        frozen during a leap while the non-critical firings change their reactants, so a leap
        must be short if they would respond fast (e.g. ``A + B -> ...`` with ``B`` abundant and
        ``A`` produced by a non-critical reaction).
        """
        sensitivities = jax.jacfwd(network.propensities)(x)
        rates = jnp.abs(jnp.einsum("ji,ji->i", network.stoichiometry, sensitivities))
        return where_positive(rates.max(), lambda rate: self.relaxation / rate, jnp.inf)

    def _propose(
        self,
        network: ReactionNetwork,
        bits: Array,
        x: Array,
        tau_target: Array,
        halvings: Array,
    ) -> tuple[Array, Array, Array, Array, Array]:
        """Plans one step of one trajectory: a leap, or an exact step when a leap would be short.

        Args:
            network: the reaction network.
            bits: the random words of the critical (or exact) event of this attempt.
            x: counts, ``(n_species,)``, as floats.
            tau_target: time left until the stop time.
            halvings: how many times the leap at this state has been rejected.

        Returns:
            ``(means, fires, r, tau, reaches)``: the Poisson means of the non-critical firings,
            whether critical reaction ``r`` fires once, the step length, and whether the step
            ends exactly at the stop time.
        """
        propensities = network.propensities(x)
        tau_leap, critical = self._leap_size(network, x, propensities)
        tau_leap = tau_leap * 0.5**halvings
        a0 = propensities.sum()
        # Without any firing reaction the exact step goes straight to the stop time.
        exact = (a0 == 0) | (tau_leap * a0 < self.ssa_threshold)
        critical = jnp.where(exact, propensities > 0, critical)
        tau_leap = jnp.where(exact, jnp.inf, tau_leap)
        tau_event, r = Direct().sample(bits, jnp.where(critical, propensities, 0.0))
        tau = jnp.minimum(jnp.minimum(tau_leap, tau_event), tau_target)
        fires = tau_event <= jnp.minimum(tau_leap, tau_target)
        reaches = tau_target <= jnp.minimum(tau_leap, tau_event)
        means = jnp.where(critical, 0.0, propensities * tau)
        return means, fires, r, tau, reaches

    def check(self, network):
        """State events are refused: a leap cannot tell when within it a trigger became true.

        Raises:
            ValueError: for a network with state events, or what no jump solver simulates.
        """
        super().check(network)
        if network.state_events:
            raise ValueError(
                "TauLeaping cannot locate state events (a trigger may become true and false "
                "again within one leap): simulate this network with Direct()"
            )

    def init(self, network, x, t, rng):
        """No rejected leap yet; per trajectory one stream per reaction for the leaps.

        The leap streams are seeded from the trajectory's own stream, so a trajectory's path
        depends only on the key and its index.
        """
        batch = x.shape[0]
        seeds = jnp.arange(1, network.n_reactions + 1)
        leaps = jax.vmap(lambda words: jax.vmap(_random.seed, in_axes=(None, 0))(words, seeds))(rng)
        return TauLeapingState(jnp.zeros(batch, jnp.int32), leaps), rng

    def step(self, network, x, t, t_stop, state, rng, allowed):
        """A leap, an exact step, or a stop; a leap that would make a count negative is rejected.

        The Poisson draws are skipped in iterations where no trajectory leaps.
        """
        dtype = jnp.result_type(float)
        rng, bits = _random.words(rng, Direct().num_words(network.n_reactions))
        means, fires, r, tau, reaches = jax.vmap(lambda *args: self._propose(network, *args))(
            bits, x.astype(dtype), t.until(t_stop), state.halvings
        )
        leaps, leaped = jax.lax.cond(
            jnp.any(means > 0),
            poisson,
            lambda streams, means: (streams, jnp.zeros_like(means)),
            state.leaps,
            means,
        )
        firings = leaped + fires[:, None] * jax.nn.one_hot(r, network.n_reactions, dtype=dtype)
        x_new = x + (firings @ jnp.asarray(network.stoichiometry, dtype)).astype(x.dtype)
        accept = jnp.all(x_new >= 0, axis=1)
        nothing = reaches & ~jnp.any(firings > 0, axis=1)
        code = jnp.where(accept, jnp.where(nothing, STOPPED, LEAPED), REJECTED)
        x = jnp.where((accept & allowed)[:, None], x_new, x)
        t = select(accept, select(reaches, Clock.at(t_stop), t.advance(tau)), t)
        halvings = jnp.where(accept, 0, state.halvings + 1)
        return x, t, code, TauLeapingState(halvings, leaps), rng

    def observe(self, network, x, t, code, changed, state, rng):
        """Nothing to update: every step starts from the propensities of its own state."""
        return state, rng


class TauLeapingState(eqx.Module):
    """What tau-leaping carries between steps.

    Attributes:
        halvings: ``(batch,)`` how many times the leap from the current state was rejected.
        leaps: ``(batch, n_reactions, 4)`` the random streams of the Poisson firings.
    """

    halvings: Array
    leaps: Array
