"""Partially observed, noisy time series: particle marginal Metropolis-Hastings.

The likelihood of the observations is estimated without bias by a bootstrap particle filter
that simulates each particle **exactly** between observation times (:func:`jumpax.simulate`,
one batched call per time for all particles) and weights it by the Gaussian density of the
observed species; systematic resampling follows each weighting. Particle marginal
Metropolis-Hastings (Andrieu, Doucet and Holenstein 2010) then samples the posterior of the
log-parameters with a Gaussian random walk whose covariance adapts to the chain during
burn-in (flat prior on the log scale); its stationary distribution is the exact posterior
whatever the number of particles, which only sets the mixing.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Sequence
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, PRNGKeyArray

from .._network._network import ReactionNetwork
from .._simulate._simulate import simulate
from ._data import TimeSeries
from ._parameters import ParameterSet

__all__ = ["MixingWarning", "effective_sample_size", "particle_log_likelihood", "pmmh"]

MIN_ESS = 100
"""Fewer effective samples than this for any parameter make :func:`pmmh` warn."""


class MixingWarning(UserWarning):
    """A Markov chain too short for its intervals: too few effective samples.

    A chain that stuck (a particle filter that overestimated the likelihood) or moved in
    small steps explores only a neighbourhood of where it stayed; its quantiles then give
    intervals that are too narrow, and two such chains can disagree.
    """


def _systematic(key: PRNGKeyArray, log_weights: Array) -> Array:
    """Systematic resampling: ``n`` indices drawn with probabilities ``softmax(log_weights)``."""
    n = log_weights.shape[0]
    cumulative = jnp.cumsum(jax.nn.softmax(log_weights))
    positions = (jax.random.uniform(key) + jnp.arange(n)) / n
    return jnp.minimum(jnp.searchsorted(cumulative, positions), n - 1)


def _filter(
    network: ReactionNetwork,
    key: PRNGKeyArray,
    times: Array,
    values: Array,
    mask: Array,
    observed: tuple[int, ...],
    noise_sd: float,
    num_particles: int,
) -> Array:
    """The bootstrap filter's log-likelihood estimate of series sharing observation times.

    ``times`` is ``(n_times,)``, ``values`` ``(n_series, n_times, n_observed)`` and ``mask``
    ``(n_series, n_times)``. All particles of all series are simulated by one batched call per
    observation time; each series weighs and resamples its own particles.
    """
    n = values.shape[0]
    x = jnp.broadcast_to(
        jnp.asarray(network.x0).astype(jnp.int32), (n * num_particles, network.n_species)
    )
    index = np.asarray(observed)
    log_norm = len(observed) * jnp.log(noise_sd * jnp.sqrt(2 * jnp.pi))

    def one(carry, inputs):
        x, t_prev, total = carry
        key, t, y, real = inputs
        sim_key, resample_key = jax.random.split(key)
        x = simulate(
            sim_key, network, x, t, t0=t_prev, save_at="final",
            num_trajectories=n * num_particles,
        ).x.reshape(n, num_particles, -1)
        error = (x[..., index].astype(jnp.float32) - y[:, None]) / noise_sd
        log_w = -0.5 * jnp.sum(error**2, axis=-1) - log_norm
        increment = jax.scipy.special.logsumexp(log_w, axis=1) - jnp.log(num_particles)
        picks = jax.vmap(_systematic)(jax.random.split(resample_key, n), log_w)
        resampled = jnp.take_along_axis(x, picks[..., None], axis=1)
        x = jnp.where(real[:, None, None], resampled, x).reshape(n * num_particles, -1)
        return (x, t, total + jnp.where(real, increment, 0.0)), None

    keys = jax.random.split(key, times.shape[0])
    init = (x, times[0], jnp.zeros(n, jnp.float32))
    inputs = (keys, times, jnp.swapaxes(values, 0, 1), jnp.swapaxes(mask, 0, 1))
    (_, _, total), _ = jax.lax.scan(one, init, inputs)
    return jnp.sum(total)


def particle_log_likelihood(
    key: PRNGKeyArray,
    network: ReactionNetwork,
    data: TimeSeries,
    noise_sd: float,
    num_particles: int = 200,
) -> Array:
    """An unbiased estimate (of the likelihood; its log is returned) of time-series data.

    Every series starts from ``network.x0`` at its first time. Series are filtered
    independently and their log-likelihoods added; series observed at the same times share
    each batched simulation. Compiled; traceable in ``key`` and ``network``.

    Args:
        key: A JAX random key.
        network: The network (its current parameters).
        data: The observations (:func:`read_timeseries`).
        noise_sd: The standard deviation of the Gaussian measurement noise (known).
        num_particles: Particles per series.

    Returns:
        The log-likelihood estimate, a scalar.
    """
    times = np.asarray(data.times)
    shared = bool(np.all(times == times[:1]))
    observed = tuple(network.species.index(s) for s in data.observed)
    return _log_likelihood(
        key, network, jnp.asarray(times, jnp.float32), jnp.asarray(data.values, jnp.float32),
        jnp.asarray(data.mask), observed, float(noise_sd), int(num_particles), shared,
    )


@eqx.filter_jit
def _log_likelihood(key, network, times, values, mask, observed, noise_sd, num_particles, shared):
    if shared:
        return _filter(network, key, times[0], values, mask, observed, noise_sd, num_particles)
    keys = jax.random.split(key, times.shape[0])
    per_series = jax.vmap(
        lambda k, t, y, m: _filter(network, k, t, y[None], m[None], observed, noise_sd,
                                   num_particles)
    )(keys, times, values, mask)
    return jnp.sum(per_series)


def effective_sample_size(chain: np.ndarray) -> np.ndarray:
    """Effective sample size of each column of a chain (Geyer's initial positive sequence)."""
    chain = np.asarray(chain, np.float64)
    n = chain.shape[0]
    out = []
    for column in chain.T:
        centred = column - column.mean()
        variance = centred.var()
        if variance == 0:
            out.append(float(n))
            continue
        spectrum = np.fft.rfft(centred, 2 * n)
        acf = np.fft.irfft(spectrum * np.conj(spectrum))[:n] / (n * variance)
        total, lag = 0.0, 1
        while lag + 1 < n:
            pair = acf[lag] + acf[lag + 1]
            if pair <= 0:
                break
            total += pair
            lag += 2
        out.append(n / (1 + 2 * total))
    return np.array(out)


def pmmh(
    key: PRNGKeyArray,
    network: ReactionNetwork,
    data: TimeSeries,
    names: Sequence[str],
    noise_sd: float,
    *,
    num_particles: int = 200,
    iterations: int = 4000,
    burn_in: int | None = None,
    initial_step: float = 0.1,
    level: float = 0.95,
    progress: bool = False,
) -> dict[str, Any]:
    """Posterior of rate parameters from noisy, partially observed time series (PMMH).

    Args:
        key: A JAX random key.
        network: The network; its current parameter values start the chain.
        data: The observations.
        names: The parameters to fit (see :class:`ParameterSet`); the rest stay fixed.
        noise_sd: The known measurement noise standard deviation, positive.
        num_particles: Particles per series in the filter.
        iterations: Metropolis-Hastings iterations (burn-in included).
        burn_in: Iterations discarded (default: a quarter); the random walk's covariance is
            adapted from the chain during burn-in and fixed afterwards.
        initial_step: The initial random-walk standard deviation on the log scale.
        level: The posterior interval's probability.
        progress: Whether to show a progress bar (on stderr).

    Returns:
        ``{"parameters": {name: {"estimate" (posterior median), "lower", "upper",
        "mean"}}, "acceptance", "ess", "chain" (log-parameters after burn-in)}``.

    Raises:
        ValueError: for a non-positive ``noise_sd``, too few iterations, or a starting point
            whose likelihood estimate is zero (all particles incompatible with the data).

    Warns:
        MixingWarning: when any parameter has fewer than :data:`MIN_ESS` effective samples
            after burn-in: the intervals are then not to be trusted.
    """
    from tqdm.auto import tqdm

    if not noise_sd > 0:
        raise ValueError(f"noise_sd must be positive, got {noise_sd}")
    burn_in = iterations // 4 if burn_in is None else burn_in
    if not 0 <= burn_in < iterations - 10:
        raise ValueError(f"need more iterations ({iterations}) than burn-in ({burn_in}) + 10")
    parameters = ParameterSet(network, names)
    d = len(parameters.names)

    def log_likelihood(key, s):
        return particle_log_likelihood(key, parameters.apply(network, s), data, noise_sd,
                                       num_particles)

    log_likelihood = eqx.filter_jit(log_likelihood)
    s = np.asarray(parameters.log_values(network), np.float64)
    key, first = jax.random.split(key)
    current = float(log_likelihood(first, jnp.asarray(s, jnp.float32)))
    if not np.isfinite(current):
        raise ValueError("the likelihood estimate at the starting parameters is zero: start "
                         "closer to the data (set the network's rates) or check noise_sd")
    rng = np.random.default_rng(np.asarray(jax.random.key_data(key)).ravel())
    covariance = np.eye(d) * initial_step**2
    chain = np.empty((iterations, d))
    accepted = 0
    for i in tqdm(range(iterations), desc="PMMH", disable=not progress, file=sys.stderr):
        if burn_in >= 100 and i >= 100 and i < burn_in and i % 50 == 0:
            # Adaptive random walk (Haario et al.): 2.38^2 / d times the chain's covariance.
            empirical = np.atleast_2d(np.cov(chain[i // 2 : i].T))
            covariance = 2.38**2 / d * empirical + 1e-6 * np.eye(d)
        proposal = rng.multivariate_normal(s, covariance)
        key, sub = jax.random.split(key)
        candidate = float(log_likelihood(sub, jnp.asarray(proposal, jnp.float32)))
        if np.isfinite(candidate) and np.log(rng.random()) < candidate - current:
            s, current = proposal, candidate
            if i >= burn_in:
                accepted += 1
        chain[i] = s
    kept = chain[burn_in:]
    tail = (1 - level) / 2
    ess = effective_sample_size(kept)
    acceptance = accepted / len(kept)
    if np.min(ess) < MIN_ESS:
        sizes = ", ".join(f"{n} {e:.0f}" for n, e in zip(parameters.names, ess, strict=True))
        warnings.warn(
            f"PMMH kept {len(kept)} iterations but only {sizes} effective samples (fewer "
            f"than {MIN_ESS}; acceptance {acceptance:.2f}): the chain may have explored only "
            "part of the posterior, and its intervals may be too narrow. Run more iterations "
            "(or more particles per series), and compare chains from two seeds.",
            MixingWarning, stacklevel=2,
        )
    return {
        "parameters": {
            name: {
                "estimate": float(np.exp(np.median(kept[:, j]))),
                "lower": float(np.exp(np.quantile(kept[:, j], tail))),
                "upper": float(np.exp(np.quantile(kept[:, j], 1 - tail))),
                "mean": float(np.mean(np.exp(kept[:, j]))),
            }
            for j, name in enumerate(parameters.names)
        },
        "acceptance": acceptance,
        "ess": ess.tolist(),
        "chain": kept,
        "level": level,
    }
