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

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, PRNGKeyArray

from . import _random
from .network import ReactionNetwork
from .results import SimulationResults
from .solvers import AbstractApproximateSolver, Direct

_KNUTH_BELOW = 10.0
"""Poisson means below this are sampled by Knuth's product of uniforms, the others by PTRS."""


def _ratio_or_inf(numerator: Array, denominator: Array) -> Array:
    """``numerator / denominator`` where the denominator is positive, else ``inf``."""
    positive = denominator > 0
    return jnp.where(positive, numerator / jnp.where(positive, denominator, 1.0), jnp.inf)


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


class TauLeaping(AbstractApproximateSolver):
    """Tau-leaping with Cao-Gillespie-Petzold (2006) step-size selection.

    Approximate: use it for networks whose counts are large (hundreds and more), where exact
    simulation spends most of its time on events that change the state by a tiny fraction.
    Small counts are handled exactly (critical reactions, exact steps when a leap would be
    short), so counts are never negative. Works with :func:`jumpax.simulate` in grid mode
    (``save_at=ts``) and final-state mode (``save_at="final"``), for single trajectories and
    ensembles; there is no event list. The module docstring describes the algorithm.

    ``results.n_steps`` counts accepted steps (leaps, exact steps and the stops at save times);
    ``max_steps`` bounds it.

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
            _ratio_or_inf(change, jnp.abs(drift)), _ratio_or_inf(change**2, variance)
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
        return _ratio_or_inf(jnp.asarray(self.relaxation, x.dtype), rates.max())

    def _propose(
        self,
        network: ReactionNetwork,
        u: Array,
        x: Array,
        tau_target: Array,
        halvings: Array,
    ) -> tuple[Array, Array, Array, Array, Array]:
        """Plans one step of one trajectory: a leap, or an exact step when a leap would be short.

        Args:
            network: the reaction network.
            u: two uniforms for the critical (or exact) event of this attempt.
            x: counts, ``(n_species,)``.
            tau_target: time left until the next save time (or ``t1``).
            halvings: how many times the leap at this state has been rejected.

        Returns:
            ``(means, fires, r, tau, reaches)``: the Poisson means of the non-critical firings,
            whether critical reaction ``r`` fires once, the step length, and whether the step
            ends exactly at the target time.
        """
        propensities = network.propensities(x)
        tau_leap, critical = self._leap_size(network, x, propensities)
        tau_leap = tau_leap * 0.5**halvings
        a0 = propensities.sum()
        # Without any firing reaction the exact step goes straight to the target time.
        exact = (a0 == 0) | (tau_leap * a0 < self.ssa_threshold)
        critical = jnp.where(exact, propensities > 0, critical)
        tau_leap = jnp.where(exact, jnp.inf, tau_leap)
        tau_event, r = Direct().sample(u, jnp.where(critical, propensities, 0.0))
        tau = jnp.minimum(jnp.minimum(tau_leap, tau_event), tau_target)
        fires = tau_event <= jnp.minimum(tau_leap, tau_target)
        reaches = tau_target <= jnp.minimum(tau_leap, tau_event)
        means = jnp.where(critical, 0.0, propensities * tau)
        return means, fires, r, tau, reaches

    def simulate_batch(
        self,
        keys: PRNGKeyArray,
        network: ReactionNetwork,
        x0: Array,
        t0: Array,
        t1: Array,
        ts: Array | None,
        max_steps: int,
    ) -> SimulationResults:
        """Simulates a batch of trajectories by tau-leaping (see the class docstring).

        Every iteration advances each unfinished trajectory by one step (or retries a rejected
        leap); the Poisson draws are skipped in iterations where no trajectory leaps. Each
        trajectory draws from its own xoshiro streams (one for events, one per reaction for
        the leaps) seeded from its key, so its path does not depend on the rest of the batch.

        Args:
            keys: one PRNG key per trajectory, ``(batch,)``.
            network: the reaction network.
            x0: initial counts, ``(batch, n_species)``.
            t0: start time.
            t1: end time.
            ts: save times for grid mode, or ``None`` for the final state.
            max_steps: the per-trajectory budget of accepted steps.

        Returns:
            Batched grid-mode or final-state results; times not reached before the budget ran
            out hold NaN and ``overflow`` is True there.
        """
        batch, n_species = x0.shape
        n_reactions = network.n_reactions
        dtype = x0.dtype
        targets = t1[None] if ts is None else ts
        n_targets = targets.shape[0]
        stoichiometry = jnp.asarray(network.stoichiometry, dtype=dtype)
        propose = jax.vmap(lambda *args: self._propose(network, *args))
        rows = jnp.arange(batch)

        def body(state: dict) -> dict:
            x, t, j, steps, halvings = (state[k] for k in ("x", "t", "j", "steps", "halvings"))
            active = (j < n_targets) & (steps < max_steps)
            target = targets[jnp.minimum(j, n_targets - 1)]
            events, u = _draw(state["events"], active, 2, dtype)
            means, fires, r, tau, reaches = propose(u, x, target - t, halvings)
            means = jnp.where(active[:, None], means, 0.0)
            leaps, leaped = jax.lax.cond(
                jnp.any(means > 0),
                poisson,
                lambda streams, means: (streams, jnp.zeros_like(means)),
                state["leaps"],
                means,
            )
            firings = leaped + fires[:, None] * jax.nn.one_hot(r, n_reactions, dtype=dtype)
            x_new = x + firings @ stoichiometry
            accept = active & jnp.all(x_new >= 0, axis=1)
            record = accept & reaches
            write_at = jnp.where(record, j, n_targets)
            return {
                "x": jnp.where(accept[:, None], x_new, x),
                "t": jnp.where(accept, jnp.where(reaches, target, t + tau), t),
                "j": j + record,
                "steps": steps + accept,
                "halvings": jnp.where(accept | ~active, 0, halvings + 1),
                "grid": state["grid"].at[rows, write_at].set(x_new, mode="drop"),
                "events": events,
                "leaps": leaps,
            }

        def unfinished(state: dict) -> Array:
            return jnp.any((state["j"] < n_targets) & (state["steps"] < max_steps))

        # Per trajectory: stream 0 draws the events, stream 1 + j the leaps of reaction j.
        streams = jax.vmap(
            lambda key: jax.vmap(_random.seed, in_axes=(None, 0))(
                _random.key_words(key), jnp.arange(n_reactions + 1)
            )
        )(keys)
        zeros = jnp.zeros(batch, jnp.int32)
        state = {
            "x": x0,
            "t": jnp.broadcast_to(t0, (batch,)),
            "j": zeros,
            "steps": zeros,
            "halvings": zeros,
            "grid": jnp.full((batch, n_targets, n_species), jnp.nan, dtype),
            "events": streams[:, 0],
            "leaps": streams[:, 1:],
        }
        state = jax.lax.while_loop(unfinished, body, state)
        t1_batch = jnp.broadcast_to(t1, (batch,))
        if ts is None:
            x, t = state["grid"][:, 0], t1_batch
        else:
            x, t = state["grid"], jnp.broadcast_to(ts, (batch, n_targets))
        return SimulationResults(
            x=x,
            t=t,
            reactions=None,
            overflow=state["j"] < n_targets,
            n_steps=state["steps"],
            t1=t1_batch,
            species=network.species,
        )
