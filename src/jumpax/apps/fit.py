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

**Fitting.** This is a preset of :func:`jumpax.inference.fit_snapshots` (observed species
``M``): moment matching (the first three standardised moments of ``M`` at each time, with
generalised-method-of-moments weights) or distribution matching (Neyman's chi-square between
histograms with bins pooled to hold 20 observed cells), unbiased cross-fitted score-function
gradients and stochastic Gauss-Newton steps on the log-rates, from a data-driven start
(:func:`initial_log_rates`).
"""

from __future__ import annotations

import argparse
import csv
import pathlib
import sys
import time
from collections.abc import Sequence
from typing import Any, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, PRNGKeyArray

from jumpax import ReactionNetwork, inference, simulate
from jumpax.inference import fit_snapshots, simulate_snapshots
from jumpax.inference._snapshots import METHODS, MIN_BIN_CELLS, MOMENT_ORDER, pooled_edges
from jumpax.models import telegraph

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


def _mrna_at_times(key: PRNGKeyArray, log_rates: Array, times: Array, n: int) -> Array:
    """The mRNA counts ``(n, n_times)`` of ``n`` induced cells at the observation times."""
    network = telegraph_network(log_rates)
    results = simulate(key, network, jnp.asarray(X0), times[-1], save_at=times, num_trajectories=n)
    return results.species_counts("M")


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
    network = telegraph_network(jnp.log(jnp.array([rates[name] for name in TRUE_RATES])))
    data = simulate_snapshots(key, network, times, cells, observed=["M"])
    return Snapshots(data.times, data.values[:, 0], data.time_index)


# --------------------------------------------------------------------------------- fitting
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
    iterations: int = 60,
    cells: int = 2000,
    progress: bool = True,
) -> FitResult:
    """Fits the telegraph rates to snapshots (:func:`jumpax.inference.fit_snapshots`).

    Args:
        key: the PRNG key of the simulations.
        data: the observed snapshots.
        method: ``"moments"`` or ``"distribution"``.
        iterations: Gauss-Newton iterations (one simulated batch each).
        cells: simulated cells per iteration (even).
        progress: whether to show a progress bar.

    Returns:
        The :class:`FitResult`; the rates average the log-rates of the second half of the
        iterations.

    Raises:
        ValueError: for an unknown method, an odd or too small ``cells``, too few iterations,
            or data the method cannot fit (see :func:`check_snapshots`).
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {list(METHODS)}, got {method!r}")
    check_snapshots(data, method)
    started = time.perf_counter()
    result = fit_snapshots(
        key, telegraph_network(initial_log_rates(data)),
        inference.Snapshots(data.times, data.counts[:, None], data.time_index, ("M",)),
        [reaction.label for reaction in _TEMPLATE.reactions], method=method,
        iterations=iterations, cells=cells, bootstrap=0, progress=progress,
    )
    estimates = [p["estimate"] for p in result["parameters"].values()]
    rates = dict(zip(TRUE_RATES, estimates, strict=True))
    return FitResult(rates, result["trace"], result["losses"], time.perf_counter() - started)


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
        if all(pooled_edges(data.at(i)).size < 2 for i in range(times.size)):
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
            key, jnp.log(jnp.array(list(fit.rates.values()))), times, cells
        ))
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
              "more cells or more iterations", file=sys.stderr)
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
        "matching (simulation, score-function gradients, Gauss-Newton steps); see jumpax.apps.fit.",
    )
    parser.add_argument(
        "--method", choices=(*METHODS, "both"), default="both",
        help="moment matching, distribution matching, or both (default)",
    )
    parser.add_argument("--seed", type=seed, default=0, help="PRNG seed (data and fit)")
    parser.add_argument(
        "--iterations", type=integer_at_least(4), default=60,
        help="Gauss-Newton iterations (one simulated batch each)",
    )
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
