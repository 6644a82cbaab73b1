"""Snapshots: each cell counted once, at one of several times (smFISH, flow cytometry).

Every cell starts from the network's initial state at ``t = 0`` and is observed once, so the
data are the distributions of the observed species at each time, not paths. The fit
generalises ``jumpax fit``'s telegraph method to any network: it minimises a function ``g`` of
expectations ``mu = E[phi(counts)]`` of simulated cells over the log-parameters. The
Jacobian ``d mu / d theta`` is estimated by the score function (the exact path likelihood of
each simulated cell) and cross-fitted (the residual of one half of each simulated batch
scores the other half), so the gradient is unbiased; each iteration takes a Gauss-Newton step
preconditioned by the running mean of the batches' Gauss-Newton matrices.

- *moment matching* (``"moments"``): ``phi`` holds, at each time, the first three powers of
  each observed species (standardised by the observed mean and sd) and the products of pairs;
  ``g`` is the generalised-method-of-moments distance weighted by the observed covariance of
  the sample moments.
- *distribution matching* (``"distribution"``): ``phi`` is the one-hot histogram bin of each
  observed species at each time (bins pooled to hold at least 20 observed cells); ``g`` is
  Neyman's chi-square between simulated and observed histograms.

The estimate averages the log-parameters of the second half of the iterations. Intervals come
from the nonparametric bootstrap: cells are resampled with replacement within each time, each
replicate is refitted from the estimate, and the interval is ``exp(s +- z se)`` with ``se``
the standard deviation of the replicates' log-estimates (it includes the Monte Carlo noise of
the fit itself).
"""

from __future__ import annotations

import dataclasses
import pathlib
import sys
import warnings
from collections.abc import Sequence
from typing import Any, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, PRNGKeyArray

from .._files import atomic_write
from .._network._network import ReactionNetwork
from .._simulate._arguments import OverflowWarning
from .._simulate._simulate import simulate
from ._data import _numbers, observed_species, read_table
from ._parameters import ParameterSet
from ._paths import log_scale_intervals, normal_quantile

__all__ = [
    "MIN_BIN_CELLS",
    "MOMENT_ORDER",
    "SnapshotObjective",
    "Snapshots",
    "fit_snapshots",
    "read_snapshots",
    "simulate_snapshots",
    "snapshot_objective",
    "write_snapshots",
]

MOMENT_ORDER = 3
"""Moment matching uses the powers 1 to 3 of each observed species (and pair products)."""

MIN_BIN_CELLS = 20
"""Distribution matching pools histogram bins to hold at least this many observed cells."""

METHODS = ("moments", "distribution")
"""The objectives :func:`fit_snapshots` minimises."""


class Snapshots(NamedTuple):
    """Cells counted once each, at known times after the start.

    Attributes:
        times: ``(n_times,)`` increasing observation times.
        values: ``(n_cells, n_observed)`` the counts of the observed species in each cell.
        time_index: ``(n_cells,)`` each cell's observation time (an index into ``times``).
        observed: the observed species.
    """

    times: np.ndarray
    values: np.ndarray
    time_index: np.ndarray
    observed: tuple[str, ...]

    def at(self, i: int) -> np.ndarray:
        """The counts ``(cells, n_observed)`` observed at ``times[i]``."""
        return self.values[self.time_index == i]

    def resample(self, rng: np.random.Generator) -> Snapshots:
        """A bootstrap replicate: cells drawn with replacement within each time."""
        rows = np.concatenate([
            rng.choice(np.flatnonzero(self.time_index == i), np.sum(self.time_index == i))
            for i in range(len(self.times))
        ])
        return self._replace(values=self.values[rows], time_index=self.time_index[rows])


def read_snapshots(path: str | pathlib.Path, network: ReactionNetwork) -> Snapshots:
    """Snapshots from a CSV file: a ``time`` column and one column per observed species.

    Each row is one cell: its observation time (``t >= 0``, cells start from the network's
    initial state at 0) and its counts.

    Raises:
        ValueError: naming the file (and line) for no species column, an unknown species, a
            negative time, or a count that is not a whole number ``>= 0``.
    """
    columns = read_table(path, ["time"])
    observed = observed_species(path, columns, network, ("time",))
    time = _numbers(path, "time", columns["time"])
    if np.any(time < 0):
        line = int(np.argmax(time < 0)) + 2
        raise ValueError(f"{path}, line {line}: times start at 0 (cells start at t = 0)")
    values = np.stack([_numbers(path, c, columns[c], integer=True) for c in observed], axis=1)
    times, time_index = np.unique(time, return_inverse=True)
    return Snapshots(times, values, time_index, observed)


def simulate_snapshots(
    key: PRNGKeyArray,
    network: ReactionNetwork,
    times: Sequence[float],
    cells: int | Sequence[int],
    observed: Sequence[str] | None = None,
) -> Snapshots:
    """Synthetic snapshots: independent cells from ``network.x0`` at 0, each counted once.

    Args:
        key: the PRNG key.
        network: the network that generates the data.
        times: increasing observation times (``> 0`` for the last).
        cells: cells counted at each time (one number for all, or one per time).
        observed: the observed species (default: all).

    Raises:
        ValueError: for times that do not increase, a cell count per time that does not
            match, or an unknown species.
    """
    times = np.asarray(times, np.float64)
    if times.ndim != 1 or not times.size or np.any(np.diff(times) <= 0) or times[0] < 0:
        raise ValueError(f"times must be non-negative and increasing, got {times}")
    per_time = np.broadcast_to(np.asarray(cells), times.shape) if np.ndim(cells) == 0 else (
        np.asarray(cells)
    )
    if per_time.shape != times.shape or np.any(per_time < 1):
        raise ValueError(f"cells must be one positive count or one per time, got {cells}")
    observed = tuple(network.species if observed is None else observed)
    columns = [network.species_index(name) for name in observed]
    time_index = np.repeat(np.arange(times.size), per_time)
    results = simulate(
        key, network, network.x0, float(times[-1]), save_at=jnp.asarray(times),
        num_trajectories=int(time_index.size),
    )
    x = np.asarray(results.x)[np.arange(time_index.size), time_index]
    return Snapshots(times, x[:, columns], time_index, observed)


def write_snapshots(data: Snapshots, path: str | pathlib.Path) -> None:
    """Writes snapshots as the CSV that :func:`read_snapshots` reads (whole or not at all)."""
    table = np.column_stack([data.times[data.time_index], data.values])
    with atomic_write(path) as temporary:
        np.savetxt(
            temporary, table, delimiter=",", header=",".join(("time", *data.observed)),
            comments="", fmt=["%.17g"] + ["%d"] * len(data.observed),
        )


def pooled_edges(counts: np.ndarray, min_count: int = MIN_BIN_CELLS) -> np.ndarray:
    """Lower edges of bins of consecutive counts holding ``min_count`` cells each.

    Bins start at 0 and the last is open-ended, so no bin is empty or nearly so.
    """
    edges, filled = [0], 0
    for value, count in enumerate(np.bincount(np.asarray(counts, dtype=int))):
        if filled >= min_count:
            edges.append(value)
            filled = 0
        filled += count
    if filled < min_count and len(edges) > 1:
        edges.pop()  # merge an under-filled last bin into the one before
    return np.asarray(edges, np.float32)


class SnapshotObjective(eqx.Module):
    """``g(mu)`` of feature means of simulated cells, against observed snapshots.

    Built by :func:`snapshot_objective`. The feature definition (standardisation, bins) comes
    from a reference data set and the targets from the data, so bootstrap replicates share the
    features and one compiled fit serves them all.

    Attributes:
        method: ``"moments"`` or ``"distribution"``.
        center: ``(n_times, n_observed)`` reference means (moments).
        scale: ``(n_times, n_observed)`` reference standard deviations (moments).
        edges: per time and species, the bins' lower edges (distribution).
        target: the observed feature means.
        weight: the quadratic form of ``g``: a whitening matrix (moments) or the chi-square
            weights (distribution).
    """

    method: str = eqx.field(static=True)
    center: Array
    scale: Array
    edges: tuple[tuple[Array, ...], ...]
    target: Array
    weight: Array

    def features(self, counts: Array) -> Array:
        """The features ``(..., k)`` of counts ``(..., n_times, n_observed)``, time-major."""
        if self.method == "moments":
            z = (counts - self.center) / self.scale
            powers = [z**p for p in range(1, MOMENT_ORDER + 1)]
            n = z.shape[-1]
            pairs = [z[..., i] * z[..., j] for i in range(n) for j in range(i + 1, n)]
            parts = powers + ([jnp.stack(pairs, axis=-1)] if pairs else [])
            return jnp.concatenate(parts, axis=-1).reshape(*counts.shape[:-2], -1)
        return jnp.concatenate([
            self.histogram(counts[..., i, j], i, j)
            for i, per_species in enumerate(self.edges) for j in range(len(per_species))
        ], axis=-1)

    def histogram(self, counts: Array, i: int, j: int) -> Array:
        """One-hot bins ``(..., n_bins)`` of counts of observed species ``j`` at time ``i``."""
        e = self.edges[i][j]
        return jax.nn.one_hot(jnp.searchsorted(e, counts, side="right") - 1, e.size,
                              dtype=jnp.result_type(float))

    def residual(self, mu: Array) -> Array:
        """``W (mu - target)``: ``g(mu)`` is its squared norm."""
        if self.method == "moments":
            return self.weight @ (mu - self.target)
        return jnp.sqrt(self.weight) * (mu - self.target)

    def loss(self, mu: Array) -> Array:
        """``g(mu)``: 0 when the feature means match the data's."""
        return jnp.sum(self.residual(mu) ** 2)


def snapshot_objective(
    data: Snapshots, method: str = "moments", reference: Snapshots | None = None
) -> SnapshotObjective:
    """The objective of ``method`` for ``data``, with features defined by ``reference``.

    Args:
        data: the observed snapshots (the targets).
        method: ``"moments"`` or ``"distribution"``.
        reference: the data that define the features (standardisation and bins); ``data``
            itself by default.

    Raises:
        ValueError: for an unknown method, a time with too few distinct counts for moment
            matching (the moments' covariance is singular), or too few cells for two
            histogram bins anywhere.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {list(METHODS)}, got {method!r}")
    reference = data if reference is None else reference
    n_times, n_observed = len(data.times), len(data.observed)
    center = np.array([reference.at(i).mean(axis=0) for i in range(n_times)], np.float64)
    scale = np.array([reference.at(i).std(axis=0) for i in range(n_times)], np.float64)
    scale = np.where(scale > 0, scale, 1.0)
    if method == "moments":
        empty = SnapshotObjective(
            method, jnp.asarray(center, jnp.float32), jnp.asarray(scale, jnp.float32), (),
            jnp.zeros(0), jnp.zeros(0),
        )
        targets, blocks = [], []
        for i in range(n_times):
            phi = np.asarray(
                empty.features(jnp.asarray(data.at(i)[:, None, :], jnp.float32)), np.float64
            )
            phi = phi.reshape(phi.shape[0], n_times, -1)[:, i]
            targets.append(phi.mean(axis=0))
            covariance = np.atleast_2d(np.cov(phi, rowvar=False)) / phi.shape[0]
            try:
                blocks.append(np.linalg.inv(np.linalg.cholesky(covariance)))
            except np.linalg.LinAlgError:
                raise ValueError(
                    f"moment matching needs cells with varied counts at every time: the moments "
                    f"of the {phi.shape[0]} cell(s) at t = {data.times[i]:g} have a singular "
                    "covariance; use method 'distribution' or more cells"
                ) from None
        # Features are time-major, so each time's block is contiguous.
        target = np.concatenate(targets)
        whitening = jax.scipy.linalg.block_diag(*blocks)
        return eqx.tree_at(
            lambda o: (o.target, o.weight), empty,
            (jnp.asarray(target, jnp.float32), jnp.asarray(whitening, jnp.float32)),
        )
    edges = tuple(
        tuple(jnp.asarray(pooled_edges(reference.at(i)[:, j])) for j in range(n_observed))
        for i in range(n_times)
    )
    if all(e.size < 2 for per_time in edges for e in per_time):
        raise ValueError(
            f"distribution matching needs at least {2 * MIN_BIN_CELLS} cells with different "
            "counts at some time (two histogram bins); use method 'moments' or more cells"
        )
    objective = SnapshotObjective(
        method, jnp.asarray(center), jnp.asarray(scale), edges, jnp.zeros(0), jnp.zeros(0)
    )
    observed, weight = [], []
    for i in range(n_times):
        cells = jnp.asarray(data.at(i), jnp.float32)
        for j in range(n_observed):
            p = np.asarray(objective.histogram(cells[:, j], i, j).mean(axis=0), np.float64)
            observed.append(p)
            weight.append(cells.shape[0] / np.maximum(p, 1.0 / cells.shape[0]))
    return eqx.tree_at(
        lambda o: (o.target, o.weight), objective,
        (jnp.asarray(np.concatenate(observed), jnp.float32),
         jnp.asarray(np.concatenate(weight), jnp.float32)),
    )


class _Experiment(eqx.Module):
    """Simulated cells of ``network`` observed like the data; the fit's compiled step."""

    network: ReactionNetwork
    parameters: ParameterSet
    times: Array
    observed: tuple[int, ...] = eqx.field(static=True)
    cells: int = eqx.field(static=True)
    max_steps: int = eqx.field(static=True)

    def estimates(self, s: Array, key: PRNGKeyArray, objective: SnapshotObjective):
        """One simulated batch at log-parameters ``s``.

        Returns:
            ``(g, gradient, curvature, overflowed)``: the objective at the batch's feature
            means; its cross-fitted score-function gradient ``2 J_a^T W^T r_b`` averaged over
            the two halves (``J`` the score-function estimate of ``d mu / d s`` from one half,
            ``r`` the residual of the other: independent, so the gradient is unbiased); the
            Gauss-Newton matrix ``J^T W^T W J`` of the whole batch; whether a cell ran out of
            events.
        """
        network = self.parameters.apply(self.network, s)
        results = simulate(
            key, network, network.x0, self.times[-1], max_steps=self.max_steps,
            num_trajectories=self.cells,
        )
        counts = results.at(self.times).x[..., np.asarray(self.observed)].astype(jnp.float32)
        phi = objective.features(counts)
        scores = jax.jacfwd(
            lambda s: jnp.sum(self.parameters.apply(self.network, s).log_prob(results), -1)
        )(s)
        whitening = jax.jacfwd(objective.residual)(phi.mean(axis=0))

        def jacobian(phi: Array, scores: Array) -> Array:
            centered = phi - phi.mean(axis=0)
            return whitening @ (centered.T @ scores) / (phi.shape[0] - 1)

        halves = list(zip(jnp.split(phi, 2), jnp.split(scores, 2), strict=True))
        residuals = [objective.residual(p.mean(axis=0)) for p, _ in halves]
        gradient = sum(
            2 * jacobian(*halves[a]).T @ residuals[1 - a] for a in range(2)
        ) / 2
        full = jacobian(phi, scores)
        return (
            objective.loss(phi.mean(axis=0)), gradient, full.T @ full,
            jnp.any(results.overflow),
        )


@eqx.filter_jit
def _estimates(experiment, s, key, objective):
    return experiment.estimates(s, key, objective)


def _budget(key: PRNGKeyArray, experiment: _Experiment, s: Array) -> int:
    """An event budget per cell: twice the most events of a pilot batch at ``s``, plus 64."""
    network = experiment.parameters.apply(experiment.network, s)
    pilot = simulate(
        key, network, network.x0, experiment.times[-1], save_at="final",
        num_trajectories=experiment.cells,
    )
    return int(2 * np.max(np.asarray(pilot.n_steps))) + 64


MAX_STEP = 1.0
"""The largest change of a log-parameter in one iteration."""


def _descend(
    key: PRNGKeyArray,
    experiment: _Experiment,
    objective: SnapshotObjective,
    start: np.ndarray,
    iterations: int,
    bar: Any,
    curvature: np.ndarray | None = None,
) -> tuple[_Experiment, np.ndarray, np.ndarray, np.ndarray]:
    """Stochastic Gauss-Newton on the log-parameters.

    Each iteration moves by ``-gamma_t (H + lambda)^-1 gradient / 2`` with the unbiased
    gradient of the batch and ``H`` the running mean of the Gauss-Newton matrices (a
    preconditioner, so the iterates' fixed point is the objective's stationary point). The
    step size is 1 for the first half of the iterations, then decays as ``1 / (1 + j / 4)``
    so that the average of the second half converges.

    Args:
        key: the PRNG key of the batches.
        experiment: the simulated experiment.
        objective: the objective.
        start: the starting log-parameters.
        iterations: how many batches.
        bar: the progress bar to advance.
        curvature: a Gauss-Newton matrix to start the running mean from (a bootstrap
            replicate starts from the fit's), counted as ten batches.

    Returns:
        The experiment (its event budget may have grown), the log-parameters of every
        iteration, the objective of every batch and the final Gauss-Newton matrix.
    """
    s = np.asarray(start, np.float64)
    seen = 0 if curvature is None else 10
    trace, losses = [s], []
    for t, step_key in enumerate(jax.random.split(key, iterations)):
        while True:
            with warnings.catch_warnings():  # handled here: the budget grows
                warnings.simplefilter("ignore", OverflowWarning)
                value, gradient, batch_curvature, overflowed = _estimates(
                    experiment, jnp.asarray(s, jnp.float32), step_key, objective
                )
                overflowed = bool(overflowed)
            if not overflowed:
                break
            # A cell ran out of events: double the budget (recompiles) and redo the batch.
            experiment = dataclasses.replace(experiment, max_steps=2 * experiment.max_steps)
            bar.write(
                f"event budget raised to {experiment.max_steps} per cell", file=sys.stderr
            )
        gradient = np.asarray(gradient, np.float64)
        batch_curvature = np.asarray(batch_curvature, np.float64)
        seen += 1
        curvature = batch_curvature if curvature is None else (
            curvature + (batch_curvature - curvature) / min(seen, 10)
        )
        damping = 1e-3 * np.trace(curvature) / len(s) + 1e-12
        direction = -np.linalg.solve(curvature + damping * np.eye(len(s)), gradient / 2)
        half = iterations // 2
        gamma = 1.0 if t < half else 1.0 / (1.0 + (t - half) / 4)
        step = gamma * direction
        largest = np.max(np.abs(step))
        if largest > MAX_STEP:
            step *= MAX_STEP / largest
        s = s + step
        if not (np.all(np.isfinite(s)) and np.isfinite(float(value))):
            raise ValueError(
                "the fit diverged (non-finite parameters or objective); start nearer the data "
                "or simulate more cells"
            )
        trace.append(s)
        losses.append(float(value))
        bar.update()
        bar.set_postfix(loss=f"{losses[-1]:.3g}")
    return experiment, np.stack(trace), np.asarray(losses), curvature


def fit_snapshots(
    key: PRNGKeyArray,
    network: ReactionNetwork,
    data: Snapshots,
    names: Sequence[str],
    *,
    method: str = "moments",
    iterations: int = 60,
    cells: int = 2000,
    bootstrap: int = 20,
    bootstrap_iterations: int | None = None,
    level: float = 0.95,
    progress: bool = True,
) -> dict[str, Any]:
    """Fits rate parameters to snapshots by simulation, score-function gradients and Adam.

    Cells start from ``network.x0`` at ``t = 0``; the search starts from the network's
    current values of the named parameters (the others stay fixed).

    Args:
        key: the PRNG key of the simulations.
        network: the network.
        data: the snapshots (:func:`read_snapshots`).
        names: the parameters to fit (see :class:`~jumpax.inference.ParameterSet`).
        method: ``"moments"`` or ``"distribution"``.
        iterations: Gauss-Newton iterations of the fit (one simulated batch each).
        cells: simulated cells per iteration (even, at least 4).
        bootstrap: bootstrap replicates for the intervals (0: no intervals; at least 2).
        bootstrap_iterations: iterations per replicate (from the estimate); default
            8 (a replicate starts from the estimate and the fit's Gauss-Newton matrix).
        level: the intervals' confidence level.
        progress: whether to show a progress bar.

    Returns:
        ``{"parameters": {name: {"estimate", "lower", "upper", "se_log"}}, "method",
        "iterations", "cells", "bootstrap", "level", "trace", "losses", "replicates"}``;
        ``trace`` holds the log-parameters of every iteration of the fit, ``replicates`` the
        bootstrap log-estimates. Without bootstrap the bounds and ``se_log`` are NaN.

    Raises:
        ValueError: for bad settings, species of the data that the network lacks, data the
            method cannot fit, or a diverging fit.
    """
    from tqdm.auto import tqdm

    if cells < 4 or cells % 2:
        raise ValueError(f"cells must be an even number of at least 4, got {cells}")
    if iterations < 4 or (bootstrap_iterations is not None and bootstrap_iterations < 4):
        raise ValueError(
            f"iterations must be at least 4, got {iterations} (bootstrap: {bootstrap_iterations})"
        )
    if bootstrap == 1 or bootstrap < 0:
        raise ValueError(f"bootstrap must be 0 (no intervals) or at least 2, got {bootstrap}")
    if not data.times.size or data.times[-1] <= 0:
        raise ValueError("the last observation time must be positive (cells start at t = 0)")
    z = normal_quantile(level)
    parameters = ParameterSet(network, names)
    objective = snapshot_objective(data, method)
    experiment = _Experiment(
        network, parameters, jnp.asarray(data.times, jnp.float32),
        tuple(network.species_index(s) for s in data.observed), cells, 0,
    )
    start = np.asarray(parameters.log_values(network), np.float64)
    fit_key, boot_key, pilot_key = jax.random.split(key, 3)
    experiment = dataclasses.replace(
        experiment, max_steps=_budget(pilot_key, experiment, jnp.asarray(start))
    )
    rounds = bootstrap_iterations or 8
    total = iterations + bootstrap * rounds
    with tqdm(total=total, desc=f"snapshots ({method})", disable=not progress,
              file=sys.stderr) as bar:
        experiment, trace, losses, curvature = _descend(
            fit_key, experiment, objective, start, iterations, bar
        )
        estimate = trace[-(iterations // 2):].mean(axis=0)
        replicates = []
        rng = np.random.default_rng(np.asarray(jax.random.key_data(boot_key)).ravel())
        for b in range(bootstrap):
            replicate = snapshot_objective(data.resample(rng), method, reference=data)
            experiment, boot_trace, _, _ = _descend(
                jax.random.fold_in(boot_key, b), experiment, replicate, estimate, rounds, bar,
                curvature,
            )
            replicates.append(boot_trace[-(rounds // 2):].mean(axis=0))
    replicates = np.asarray(replicates).reshape(bootstrap, len(estimate))
    se = replicates.std(axis=0, ddof=1) if bootstrap else np.full(len(estimate), np.nan)
    return {
        "parameters": log_scale_intervals(parameters.names, estimate, se, z),
        "method": method,
        "iterations": iterations,
        "cells": cells,
        "bootstrap": bootstrap,
        "level": level,
        "trace": trace,
        "losses": losses,
        "replicates": replicates,
    }
