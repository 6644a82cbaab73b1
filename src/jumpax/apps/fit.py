"""``jumpax fit``: recover the four rates of the telegraph promoter from single-cell snapshots.

**Model.** :func:`jumpax.models.telegraph`: a gene switches on (``k_on``) and off (``k_off``),
transcribes mRNA while on (``k_tx``), and each mRNA decays (``k_deg``).

**Experiment (synthetic).** Cells are induced at ``t = 0`` with the gene off and no mRNA, and
are fixed and counted (smFISH: one mRNA count per cell, each cell observed once) at known times
after induction: 2,000 cells at each of ``t = 0.5, 1, 2`` and 10,000 cells at ``t = 10``, by
which time the population is at steady state (the slowest relaxation rate is
``min(k_deg, k_on + k_off) = 1``).

**Why the time course.** A steady-state mRNA distribution is invariant under rescaling all four
rates by the same factor: it determines only ``k_on/k_deg``, ``k_off/k_deg`` and
``k_tx/k_deg``, never the time scale. The three early snapshots fix it, which makes all four
rates identifiable (the Fisher information of this design bounds the relative standard error of
each rate to about 2-3 %).

**Fitting.** Both methods minimise a function ``g`` of expectations ``mu = E[phi(path)]`` of
simulated cells over the log-rates, with Adam (:mod:`optax`). The gradient
``dg/dmu . dmu/dtheta`` uses the unbiased score-function estimator of ``dmu/dtheta``
(:func:`jumpax.optimization.reinforce_loss` with leave-one-out baselines) and cross-fitting:
``dg/dmu`` is evaluated on one half of each simulated batch and applied to the other, so the
two estimates are independent. The reported rates average the last quarter of the iterates.

- *moment matching*: ``phi`` holds the first three powers of ``M`` at each time (standardised);
  ``g`` is the generalised-method-of-moments distance, weighted by the observed covariance of
  the sample moments.
- *distribution matching*: ``phi`` is the one-hot histogram bin of ``M`` at each time (bins
  pooled to hold at least 20 observed cells, so that no observed frequency is tiny or zero);
  ``g`` is Neyman's chi-square between the simulated and observed histograms (asymptotically
  as efficient as maximum likelihood).
"""

from __future__ import annotations

import argparse
import csv
import pathlib
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jaxtyping import Array, ArrayLike, PRNGKeyArray

from jumpax import ReactionNetwork, SimulationResults, simulate
from jumpax.models import telegraph
from jumpax.optimization import reinforce_loss

from .._files import atomic_write
from ._arguments import UsageError, image_file, integer_at_least, output_file, seed
from .plotting import save_figure

__all__ = [
    "CELLS",
    "TIMES",
    "TRUE_RATES",
    "FitResult",
    "Snapshots",
    "add_fit_command",
    "check_snapshots",
    "fit_rates",
    "read_snapshots",
    "synthetic_snapshots",
    "telegraph_network",
]

TRUE_RATES: dict[str, float] = {"k_on": 0.5, "k_off": 1.0, "k_tx": 20.0, "k_deg": 1.0}
"""The rates that generate the synthetic data."""

TIMES: tuple[float, ...] = (0.5, 1.0, 2.0, 10.0)
"""Observation times after induction; the last one is at steady state."""

CELLS: tuple[int, ...] = (2000, 2000, 2000, 10_000)
"""Cells counted at each observation time."""

_TEMPLATE = telegraph()
X0 = tuple(float(v) for v in _TEMPLATE.x0)
"""Induction starts from the gene off (``G_off, G_on, M``) and no mRNA."""

MAX_STEPS = 1000
"""Event budget per simulated cell up to the last time (about 150 events at the truth)."""

METHODS: tuple[str, ...] = ("moments", "distribution")

MOMENT_ORDER = 3
"""Moment matching uses the first three moments of ``M`` at each time."""

MIN_BIN_CELLS = 20
"""Distribution matching pools histogram bins to hold at least this many observed cells."""


def telegraph_network(log_rates: ArrayLike) -> ReactionNetwork:
    """The telegraph network with rates ``exp(log_rates)`` in the order of :data:`TRUE_RATES`.

    The rates are set on a template network with :func:`equinox.tree_at`, so this works on
    traced values (inside ``jax.jit`` and ``jax.grad``).
    """
    return eqx.tree_at(
        lambda network: [reaction.kinetics.k for reaction in network.reactions],
        _TEMPLATE,
        list(jnp.exp(jnp.asarray(log_rates, dtype=jnp.result_type(float)))),
    )


class Snapshots(NamedTuple):
    """Single-cell mRNA counts, each cell observed once at a known time.

    Attributes:
        times: the observation times, ``(n_times,)``.
        counts: one mRNA count per cell, ``(n_cells,)``.
        time_index: the observation time of each cell (an index into ``times``).
    """

    times: np.ndarray
    counts: np.ndarray
    time_index: np.ndarray

    def at(self, i: int) -> np.ndarray:
        """The counts observed at ``times[i]``."""
        return self.counts[self.time_index == i]


def _mrna_at_times(
    key: PRNGKeyArray, log_rates: Array, times: Array, n: int, *, event_list: bool
) -> tuple[SimulationResults, Array]:
    """Simulates ``n`` induced cells to the last time.

    Returns:
        The results (an event list if ``event_list``, for scoring paths; else the grid of
        ``times``) and the mRNA counts at the observation times, ``(n, n_times)``.
    """
    network, x0 = telegraph_network(log_rates), jnp.asarray(X0)
    if event_list:
        results = simulate(key, network, x0, times[-1], max_steps=MAX_STEPS, num_trajectories=n)
        return results, results.at(times).species_counts("M")
    results = simulate(key, network, x0, times[-1], save_at=times, num_trajectories=n)
    return results, results.species_counts("M")


def synthetic_snapshots(
    key: PRNGKeyArray,
    rates: dict[str, float] = TRUE_RATES,
    times: Sequence[float] = TIMES,
    cells: Sequence[int] = CELLS,
) -> Snapshots:
    """Simulates the experiment: ``cells[i]`` independent cells counted at ``times[i]``.

    Args:
        key: the PRNG key.
        rates: the true rates (keys as in :data:`TRUE_RATES`).
        times: observation times after induction, increasing.
        cells: the number of cells counted at each time.

    Returns:
        The snapshots.

    Raises:
        ValueError: if ``times`` and ``cells`` differ in length.
    """
    if len(times) != len(cells):
        raise ValueError(f"got {len(times)} times but {len(cells)} cell counts")
    log_rates = jnp.log(jnp.array([rates[name] for name in TRUE_RATES]))
    _, counts = _mrna_at_times(key, log_rates, jnp.asarray(times), sum(cells), event_list=False)
    time_index = np.repeat(np.arange(len(times)), cells)
    counts = np.asarray(counts)[np.arange(time_index.size), time_index]
    return Snapshots(np.asarray(times, dtype=float), counts, time_index)


# --------------------------------------------------------------------------------- objectives
class Objective(NamedTuple):
    """``g(mu)`` of the expectations ``mu = E[features(M)]`` of simulated cells.

    Attributes:
        features: maps mRNA counts at the observation times ``(n, n_times)`` to ``(n, k)``.
        loss: maps the feature means ``(k,)`` to the scalar objective.
    """

    features: Callable[[Array], Array]
    loss: Callable[[Array], Array]


def moment_objective(data: Snapshots, order: int = MOMENT_ORDER) -> Objective:
    """Efficient method of moments: the first ``order`` moments of ``M`` at each time.

    The features are the powers ``z, z^2, ..., z^order`` of ``z = (M - m_t) / s_t``, with the
    observed mean ``m_t`` and standard deviation ``s_t`` at time ``t`` (the same span as the
    raw moments, better conditioned). ``g`` is the generalised-method-of-moments distance
    ``sum_t (mu_t - mu_hat_t)^T C_t^-1 (mu_t - mu_hat_t)`` with ``C_t`` the observed covariance
    of the sample moments, which weights each moment by its precision. Means and variances
    alone (``order=2``) leave ``k_off`` and ``k_deg`` poorly determined; the third moment
    (the skewness of the bursts) fixes them.
    """
    center = np.array([data.at(i).mean() for i in range(len(data.times))])
    scale = np.array([data.at(i).std() for i in range(len(data.times))])
    powers = np.arange(1, order + 1)

    def features(m: Array) -> Array:
        z = (m - center) / scale
        return (z[..., None] ** powers).reshape(*m.shape[:-1], -1)

    observed, whitening = [], []
    for i in range(len(data.times)):
        phi = np.asarray(data.at(i), dtype=float)[:, None]
        phi = ((phi - center[i]) / scale[i]) ** powers
        observed.append(phi.mean(axis=0))
        covariance = np.cov(phi, rowvar=False) / phi.shape[0]
        whitening.append(np.linalg.inv(np.linalg.cholesky(covariance)))
    observed = jnp.asarray(np.concatenate(observed))
    whitening = jnp.asarray(_block_diagonal(whitening))

    def loss(mu: Array) -> Array:
        return jnp.sum((whitening @ (mu - observed)) ** 2)

    return Objective(features, loss)


def _block_diagonal(blocks: list[np.ndarray]) -> np.ndarray:
    size = sum(b.shape[0] for b in blocks)
    matrix, start = np.zeros((size, size)), 0
    for block in blocks:
        stop = start + block.shape[0]
        matrix[start:stop, start:stop] = block
        start = stop
    return matrix


def pooled_bins(counts: np.ndarray, min_count: int = MIN_BIN_CELLS) -> np.ndarray:
    """Lower edges of histogram bins of consecutive counts, each with ``min_count`` observations.

    Bins start at 0; the last one is open-ended (``M >= edge``), so no bin is empty and the
    observed frequencies in the chi-square denominators are never small.
    """
    edges, filled = [0], 0
    for value, count in enumerate(np.bincount(np.asarray(counts, dtype=int))):
        if filled >= min_count:
            edges.append(value)
            filled = 0
        filled += count
    if filled < min_count and len(edges) > 1:
        edges.pop()  # merge an under-filled last bin into the one before
    return np.asarray(edges)


def distribution_objective(data: Snapshots) -> Objective:
    """Neyman's chi-square between simulated and observed histograms at each time.

    Each time has its own bins (:func:`pooled_bins`, at least 20 observed cells per bin, as
    chi-square statistics require), and contributes ``n_t sum_b (p_b - p_hat_b)^2 / p_hat_b``.
    """
    edges = [jnp.asarray(pooled_bins(data.at(i))) for i in range(len(data.times))]

    def bin_one_hot(e: Array, m: Array) -> Array:
        return jax.nn.one_hot(jnp.searchsorted(e, m, side="right") - 1, e.size, dtype=m.dtype)

    def features(m: Array) -> Array:
        return jnp.concatenate([bin_one_hot(e, m[..., i]) for i, e in enumerate(edges)], axis=-1)

    observed = [
        bin_one_hot(e, jnp.asarray(data.at(i), dtype=jnp.result_type(float))).mean(axis=0)
        for i, e in enumerate(edges)
    ]
    weight = jnp.concatenate([data.at(i).size / p for i, p in enumerate(observed)])
    observed = jnp.concatenate(observed)

    def loss(mu: Array) -> Array:
        return jnp.sum(weight * (mu - observed) ** 2)

    return Objective(features, loss)


OBJECTIVES: dict[str, Callable[[Snapshots], Objective]] = {
    "moments": moment_objective,
    "distribution": distribution_objective,
}


# --------------------------------------------------------------------------------- gradient
def _leave_one_out(values: Array) -> Array:
    return (values.sum() - values) / (values.shape[0] - 1)


def objective_gradient(
    log_rates: Array, key: PRNGKeyArray, objective: Objective, times: Array, n: int
) -> tuple[Array, Array]:
    """Value and cross-fitted score-function gradient of ``g(E[features])``.

    Args:
        log_rates: the log-rates ``(4,)``.
        key: the PRNG key of this batch.
        objective: the objective.
        times: the observation times.
        n: simulated cells, even; each half estimates ``dg/dmu`` for the other.

    Returns:
        ``(g, dg/dlog_rates)``, ``g`` evaluated at the whole batch's feature means.
    """
    results, counts = _mrna_at_times(key, log_rates, times, n, event_list=True)
    phi = objective.features(counts)
    halves = jnp.split(phi, 2)
    slopes = [jax.grad(objective.loss)(half.mean(axis=0)) for half in halves]
    # Half a is scored with the slope from half b and vice versa: independent factors.
    returns = jnp.concatenate([halves[0] @ slopes[1], halves[1] @ slopes[0]])
    baseline = jnp.concatenate([_leave_one_out(r) for r in jnp.split(returns, 2)])
    loss = reinforce_loss()

    def surrogate(lr: Array) -> Array:
        return -loss(telegraph_network(lr), results, returns[:, None], baseline[:, None])

    return objective.loss(phi.mean(axis=0)), jax.grad(surrogate)(log_rates)


class FitResult(NamedTuple):
    """The outcome of :func:`fit_rates`.

    Attributes:
        rates: the recovered rates by name.
        trace: the log-rates at every iteration, ``(iterations + 1, 4)``.
        losses: the objective at every iteration (noisy: simulated).
        seconds: wall-clock time of the fit, compilation included.
    """

    rates: dict[str, float]
    trace: np.ndarray
    losses: np.ndarray
    seconds: float


def initial_log_rates(data: Snapshots) -> np.ndarray:
    """A data-driven start: unit switching and decay rates, ``k_tx`` from the last mean.

    With ``k_on = k_off`` the gene is on half the time, so ``k_tx = 2 k_deg E[M]``.
    """
    last = data.at(len(data.times) - 1)
    return np.log([1.0, 1.0, 2.0 * last.mean(), 1.0])


def fit_rates(
    key: PRNGKeyArray,
    data: Snapshots,
    method: str = "moments",
    *,
    iterations: int = 400,
    cells: int = 4000,
    learning_rate: float = 0.05,
    progress: bool = True,
) -> FitResult:
    """Fits the telegraph rates to snapshots by simulation, score-function gradients and Adam.

    Args:
        key: the PRNG key of the simulations.
        data: the observed snapshots.
        method: ``"moments"`` (means and variances) or ``"distribution"`` (histograms).
        iterations: Adam steps.
        cells: simulated cells per step (even).
        learning_rate: Adam's initial step on the log-rates; it decays to 1 % by the end.
        progress: whether to show a progress bar.

    Returns:
        The :class:`FitResult`; the rates average the log-rates of the last quarter of steps.

    Raises:
        ValueError: for an unknown method, an odd or too small ``cells``, too few iterations,
            or data the method cannot fit (see :func:`check_snapshots`).
    """
    from tqdm.auto import tqdm

    if method not in OBJECTIVES:
        raise ValueError(f"method must be one of {list(OBJECTIVES)}, got {method!r}")
    if cells < 4 or cells % 2:
        raise ValueError(f"cells must be an even number of at least 4, got {cells}")
    if iterations < 4:
        raise ValueError(f"iterations must be at least 4, got {iterations}")
    check_snapshots(data, method)
    objective = OBJECTIVES[method](data)
    times = jnp.asarray(data.times)
    schedule = optax.exponential_decay(learning_rate, iterations, 0.01)
    optimizer = optax.adam(schedule)

    @jax.jit
    def step(log_rates, opt_state, step_key):
        value, grad = objective_gradient(log_rates, step_key, objective, times, cells)
        updates, opt_state = optimizer.update(grad, opt_state)
        return optax.apply_updates(log_rates, updates), opt_state, value

    started = time.perf_counter()
    log_rates = jnp.asarray(initial_log_rates(data), dtype=jnp.result_type(float))
    opt_state = optimizer.init(log_rates)
    trace, losses = [np.asarray(log_rates)], []
    with tqdm(jax.random.split(key, iterations), desc=f"fit ({method})", disable=not progress,
              file=sys.stderr) as bar:
        for step_key in bar:
            log_rates, opt_state, value = step(log_rates, opt_state, step_key)
            trace.append(np.asarray(log_rates))
            losses.append(float(value))
            bar.set_postfix(loss=f"{losses[-1]:.3g}")
    trace = np.stack(trace)
    estimate = np.exp(trace[-(iterations // 4) :].mean(axis=0))
    rates = dict(zip(TRUE_RATES, estimate.tolist(), strict=True))
    return FitResult(rates, trace, np.asarray(losses), time.perf_counter() - started)


# --------------------------------------------------------------------------------- reporting
def read_snapshots(path: str | pathlib.Path) -> Snapshots:
    """Reads snapshots from a CSV file with a header and columns ``time,count``.

    Other columns are ignored, and so are blank lines. Each row is one cell: its observation
    time (after induction) and its mRNA count.

    Raises:
        ValueError: naming the file, and the line and column where there is one: for a file
            that cannot be read, a missing column, a time that is not a finite non-negative
            number, a count that is not a non-negative whole number, or no rows at all.
    """
    path = pathlib.Path(path)
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            header = next((row for row in reader if any(v.strip() for v in row)), [])
            names = [name.strip() for name in header]
            if not {"time", "count"} <= set(names):
                raise ValueError(
                    f"{path}: expected a header with columns 'time' and 'count', got {header}"
                )
            columns = {name: names.index(name) for name in ("time", "count")}
            times, counts = [], []
            for row in reader:
                if not any(v.strip() for v in row):
                    continue
                where = f"{path}, line {reader.line_num}"
                values = {}
                for name, column in columns.items():
                    text = row[column].strip() if column < len(row) else ""
                    if not text:
                        raise ValueError(f"{where}, column {name!r}: missing value")
                    values[name] = _number(text, f"{where}, column {name!r}")
                if values["time"] < 0:
                    raise ValueError(
                        f"{where}, column 'time': times after induction must be non-negative, "
                        f"got {values['time']:g}"
                    )
                if values["count"] < 0 or values["count"] != round(values["count"]):
                    raise ValueError(
                        f"{where}, column 'count': counts must be non-negative whole numbers, "
                        f"got {values['count']:g}"
                    )
                times.append(values["time"])
                counts.append(values["count"])
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise ValueError(f"{path}: cannot read the file: {error}") from error
    if not counts:
        raise ValueError(f"{path}: no cells (no rows after the header)")
    times, time_index = np.unique(np.asarray(times), return_inverse=True)
    return Snapshots(times, np.asarray(counts), time_index)


def _number(text: str, where: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{where}: {text!r} is not a number") from None
    if not np.isfinite(value):
        raise ValueError(f"{where}: {text!r} is not a finite number")
    return value


def check_snapshots(data: Snapshots, method: str) -> None:
    """Checks that ``method`` can fit ``data``; what :func:`fit_rates` needs of its data.

    Both methods simulate from induction at ``t = 0`` to the last time, which must therefore be
    positive, and start ``k_tx`` from the mean count at the last time, which must be positive.
    Moment matching standardises the counts at each time and weights their first
    :data:`MOMENT_ORDER` powers by their covariance, which is invertible only with at least
    ``MOMENT_ORDER + 1`` different counts at each time. Distribution matching compares
    histograms whose bins hold at least :data:`MIN_BIN_CELLS` cells each: a time with fewer
    cells contributes nothing, and at least one time needs two bins.

    Args:
        data: the snapshots.
        method: one of :data:`METHODS`.

    Raises:
        ValueError: saying what is wrong, and at which time.
    """
    times, counts = np.asarray(data.times), np.asarray(data.counts)
    if not (np.all(np.isfinite(times)) and np.all(times >= 0) and np.all(np.diff(times) > 0)):
        raise ValueError(f"times must be finite, non-negative and increasing, got {times}")
    if not (np.all(np.isfinite(counts)) and np.all(counts >= 0)
            and np.all(counts == np.round(counts))):
        raise ValueError("counts must be non-negative whole numbers")
    if times.size == 0 or times[-1] <= 0:
        raise ValueError("the last observation time must be positive (cells are induced at t=0)")
    for i, t in enumerate(times):
        if data.at(i).size == 0:
            raise ValueError(f"no cells observed at t = {t:g}")
    if data.at(times.size - 1).mean() == 0:
        raise ValueError(
            f"every cell observed at the last time t = {times[-1]:g} has 0 mRNA; the fit starts "
            "k_tx from the mean count at the last time, which must be positive"
        )
    if method == "moments":
        for i, t in enumerate(times):
            cells = data.at(i)
            distinct = np.unique(cells).size
            if distinct <= MOMENT_ORDER:
                raise ValueError(
                    f"moment matching needs at least {MOMENT_ORDER + 1} different counts at each "
                    f"time, but the {cells.size} cell(s) at t = {t:g} have {distinct}; use "
                    "--method distribution or more cells"
                )
    elif method == "distribution":
        if all(pooled_bins(data.at(i)).size < 2 for i in range(times.size)):
            raise ValueError(
                f"distribution matching needs at least {2 * MIN_BIN_CELLS} cells with different "
                f"counts at some time (two histogram bins of {MIN_BIN_CELLS}); at most "
                f"{max(data.at(i).size for i in range(times.size))} cells are observed at one "
                "time; use --method moments or more cells"
            )
    else:
        raise ValueError(f"method must be one of {list(METHODS)}, got {method!r}")


def write_snapshots(data: Snapshots, path: str | pathlib.Path) -> None:
    """Writes snapshots as CSV with columns ``time,count`` (what :func:`read_snapshots` reads).

    The file is written whole or not at all (:func:`~jumpax.apps._files.atomic_write`).
    """
    table = np.column_stack([data.times[data.time_index], data.counts])
    with atomic_write(path) as temporary:
        np.savetxt(
            temporary, table, delimiter=",", header="time,count", comments="", fmt=["%g", "%d"]
        )


def format_table(fits: dict[str, FitResult], truth: dict[str, float] | None) -> str:
    """A text table of the recovered rates per method (and the relative errors, given truth)."""
    header = f"{'rate':8s}" + ("" if truth is None else f"{'true':>9s}")
    for method in fits:
        header += f"{method:>14s}" + ("" if truth is None else f"{'error':>9s}")
    lines = [header, "-" * len(header)]
    for name in TRUE_RATES:
        line = f"{name:8s}" + ("" if truth is None else f"{truth[name]:9.4g}")
        for fit in fits.values():
            line += f"{fit.rates[name]:14.4g}"
            if truth is not None:
                line += f"{100 * (fit.rates[name] / truth[name] - 1):+8.1f}%"
        lines.append(line)
    lines.append(f"{'seconds':8s}" + ("" if truth is None else " " * 9) + "".join(
        f"{fit.seconds:14.1f}" + ("" if truth is None else " " * 9) for fit in fits.values()
    ))
    return "\n".join(lines)


def plot_fit(
    key: PRNGKeyArray, data: Snapshots, fits: dict[str, FitResult], path: str | pathlib.Path,
    cells: int = 20_000,
) -> pathlib.Path:
    """Plots the observed histograms at each time with the fitted models' distributions.

    Args:
        key: the PRNG key for simulating the fitted models.
        data: the observed snapshots.
        fits: the fits by method.
        path: the image file to write.
        cells: simulated cells per fitted model.

    Returns:
        The path written.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    times = jnp.asarray(data.times)
    fitted = {
        method: np.asarray(_mrna_at_times(
            key, jnp.log(jnp.array(list(fit.rates.values()))), times, cells, event_list=False
        )[1])
        for method, fit in fits.items()
    }
    top = int(max(data.counts.max(), *(m.max() for m in fitted.values()))) + 1
    bins = np.arange(top + 1) - 0.5
    fig, axes = plt.subplots(1, len(data.times), figsize=(4 * len(data.times), 3.4))
    for i, ax in enumerate(np.atleast_1d(axes)):
        observed = data.at(i)
        ax.hist(observed, bins, density=True, color="0.75", label=f"observed ({observed.size})")
        for j, (method, counts) in enumerate(fitted.items()):
            pmf, _ = np.histogram(counts[:, i], bins=bins, density=True)
            ax.step(np.arange(top), pmf, where="mid", color=f"C{j}", label=f"fit: {method}")
        ax.set_title(f"t = {data.times[i]:g}")
        ax.set_xlabel("mRNA per cell")
    np.atleast_1d(axes)[0].set_ylabel("fraction of cells")
    np.atleast_1d(axes)[0].legend(fontsize=8)
    fig.suptitle("telegraph promoter: observed vs fitted mRNA distributions")
    fig.tight_layout()
    return save_figure(fig, path)


# --------------------------------------------------------------------------------- command line
def run_fit(args: argparse.Namespace) -> int:
    """The ``jumpax fit`` handler: simulate (or read) the data, fit, print, plot.

    The data file is read and checked first, before any simulation.

    Args:
        args: the parsed arguments of :func:`add_fit_command`'s parser.

    Returns:
        The exit status: 0, or 1 if a fit diverged (non-finite rates).

    Raises:
        UsageError: for a data file that cannot be read or fitted.
    """
    methods = METHODS if args.method == "both" else (args.method,)
    if args.data is not None:
        try:
            data = read_snapshots(args.data)
        except ValueError as error:
            raise UsageError(f"argument --data: {error}") from error
        try:
            for method in methods:
                check_snapshots(data, method)
        except ValueError as error:
            raise UsageError(f"argument --data: {args.data}: {error}") from error
    key_data, key_fit, key_plot = jax.random.split(jax.random.key(args.seed), 3)
    if args.data is None:
        if not args.quiet:
            print("simulating the synthetic data ...", file=sys.stderr)
        data, truth = synthetic_snapshots(key_data), TRUE_RATES
        print(f"synthetic data: {len(data.counts):,} cells induced at t=0 and counted at "
              f"t = {', '.join(f'{t:g}' for t in data.times)} "
              f"({', '.join(str(data.at(i).size) for i in range(len(data.times)))} cells)")
    else:
        truth = None
        print(f"read {len(data.counts):,} cells at {len(data.times)} times from {args.data}")
    if args.save_data is not None:
        write_snapshots(data, args.save_data)
        print(f"wrote {args.save_data}")
    fits = {
        method: fit_rates(
            jax.random.fold_in(key_fit, i), data, method, iterations=args.iterations,
            cells=args.cells, progress=not args.quiet,
        )
        for i, method in enumerate(methods)
    }
    print(format_table(fits, truth))
    diverged = [m for m, fit in fits.items() if not np.all(np.isfinite(list(fit.rates.values())))]
    if diverged:
        print(f"jumpax fit: the {' and '.join(diverged)} fit diverged (non-finite rates); try "
              "a smaller learning rate, more cells or more iterations", file=sys.stderr)
        return 1
    if args.plot is not None:
        if not args.quiet:
            print("simulating the fitted models for the plot ...", file=sys.stderr)
        print(f"wrote {plot_fit(key_plot, data, fits, args.plot)}")
    return 0


def add_fit_command(subcommands: Any) -> argparse.ArgumentParser:
    """Registers ``jumpax fit`` on an ``argparse`` sub-parsers object.

    Args:
        subcommands: the object returned by ``ArgumentParser.add_subparsers``.

    Returns:
        The ``fit`` sub-parser (its handler is :func:`run_fit`).
    """
    parser = subcommands.add_parser(
        "fit",
        help="recover the telegraph promoter's four rates from single-cell snapshots",
        description="Fit the telegraph promoter (k_on, k_off, k_tx, k_deg) to mRNA counts of "
        "cells observed at known times after induction, by moment matching and by distribution "
        "matching (simulation, score-function gradients, Adam); see jumpax.apps.fit.",
    )
    parser.add_argument(
        "--method", choices=(*METHODS, "both"), default="both",
        help="moment matching, distribution matching, or both (default)",
    )
    parser.add_argument("--seed", type=seed, default=0, help="PRNG seed (data and fit)")
    parser.add_argument("--iterations", type=integer_at_least(4), default=200, help="Adam steps")
    parser.add_argument(
        "--cells",
        type=integer_at_least(4, even=True),
        default=2000,
        help="simulated cells per step (even)",
    )
    parser.add_argument(
        "--data", type=pathlib.Path, default=None,
        help="fit FILE.csv (columns time,count, cells induced from the off state at t=0) "
        "instead of synthetic data",
    )
    parser.add_argument(
        "--save-data", type=output_file(".csv"), help="write the data to FILE.csv"
    )
    parser.add_argument(
        "--plot", type=image_file, help="write the fitted vs observed plot to FILE.png"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(handler=run_fit, command_parser=parser)
    return parser
