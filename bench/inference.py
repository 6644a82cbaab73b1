"""Recovery and interval coverage of the estimators over repeated synthetic data sets.

``--data snapshots`` (default): two-stage gene expression (``0 -> M``, ``M -> M + P``,
``M -> 0``, ``P -> 0`` at ``k_m=2, k_p=2, g_m=0.5, g_p=0.2``), cells starting empty and
counted once each (M and P) at ``t = 1, 2, 4, 8, 16`` (600 cells per time); the four rates
are fitted from the start ``(1, 1, 1, 1)`` with bootstrap intervals.

``--data timeseries``: Lotka-Volterra (``c1=1, c2=0.005, c3=0.6`` from ``(50, 100)``), 4
series of the prey only at ``t = 0, 1, ..., 40`` with Gaussian noise of sd 5; the three rates
are sampled by PMMH from the start ``(1.3, 0.004, 0.8)``. A series whose predators die out
(its prey then grow without bound) is drawn again from the next seed, as such data would not
be fitted with this model.

For each of ``--datasets`` data sets (fixed seeds 0, 1, ...) the report gives each rate's
mean estimate, worst relative error and how many of the 95% intervals hold the truth.

    python bench/inference.py                      # 20 data sets, moment matching
    python bench/inference.py --datasets 5 --method distribution
    python bench/inference.py --data timeseries --datasets 1 --iterations 3000
"""

from __future__ import annotations

import argparse
import json
import pathlib
import time

import jax
import numpy as np

import jumpax as jx
from jumpax.inference import TimeSeries, fit_snapshots, pmmh, simulate_snapshots
from jumpax.models import lotka_volterra, two_stage_gene_expression

TRUTH = {
    "snapshots": {"transcription": 2.0, "mRNA decay": 0.5, "translation": 2.0,
                  "protein decay": 0.2},
    "timeseries": {"prey birth": 1.0, "predation": 0.005, "predator death": 0.6},
}
SNAPSHOT_TIMES = (1.0, 2.0, 4.0, 8.0, 16.0)
CELLS = 600
SERIES, SERIES_TIMES, NOISE_SD = 4, np.arange(41.0), 5.0


def fit_snapshot_data(seed: int, args: argparse.Namespace) -> dict:
    """Fit one synthetic snapshot data set; returns the estimates and intervals per rate."""
    rates = TRUTH["snapshots"]
    truth = two_stage_gene_expression(
        k_m=rates["transcription"], g_m=rates["mRNA decay"], k_p=rates["translation"],
        g_p=rates["protein decay"],
    )
    data = simulate_snapshots(jax.random.key(10_000 + seed), truth, SNAPSHOT_TIMES, CELLS)
    start = two_stage_gene_expression(1.0, 1.0, 1.0, 1.0)
    result = fit_snapshots(
        jax.random.key(seed), start, data, list(rates), method=args.method, cells=args.cells,
        bootstrap=args.bootstrap, progress=False,
    )
    return result["parameters"]


def prey_series(seed: int) -> TimeSeries:
    """``SERIES`` noisy prey-only series; series whose predators die out are drawn again."""
    truth = lotka_volterra(*TRUTH["timeseries"].values())
    rng = np.random.default_rng(seed)
    kept, attempt = [], 0
    while len(kept) < SERIES:
        key = jax.random.fold_in(jax.random.key(10_000 + seed), attempt)
        attempt += 1
        path = jx.simulate(key, truth, truth.x0, float(SERIES_TIMES[-1]),
                           save_at=SERIES_TIMES, max_steps=200_000)
        counts = np.asarray(path.x)
        if np.all(counts[1:, 1] > 0) and not np.any(np.asarray(path.overflow)):
            kept.append(counts[:, :1] + rng.normal(0, NOISE_SD, (len(SERIES_TIMES), 1)))
    return TimeSeries(times=np.tile(SERIES_TIMES, (SERIES, 1)), values=np.stack(kept),
                      mask=np.ones((SERIES, len(SERIES_TIMES)), bool), observed=("X",))


def fit_series_data(seed: int, args: argparse.Namespace) -> dict:
    """PMMH on one synthetic prey-only data set; returns the estimates and intervals per rate."""
    start = lotka_volterra(1.3, 0.004, 0.8)
    result = pmmh(jax.random.key(seed), start, prey_series(seed), list(TRUTH["timeseries"]),
                  NOISE_SD, num_particles=args.particles, iterations=args.iterations,
                  initial_step=0.05, progress=args.progress)
    return result["parameters"] | {"acceptance": result["acceptance"], "ess": result["ess"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", choices=("snapshots", "timeseries"), default="snapshots")
    parser.add_argument("--datasets", type=int, default=20)
    parser.add_argument("--first-seed", type=int, default=0, help="seed of the first data set")
    parser.add_argument("--method", choices=("moments", "distribution"), default="moments")
    parser.add_argument("--cells", type=int, default=2000, help="simulated cells per iteration")
    parser.add_argument("--bootstrap", type=int, default=20)
    parser.add_argument("--particles", type=int, default=200, help="PMMH particles per series")
    parser.add_argument("--iterations", type=int, default=3000, help="PMMH iterations")
    parser.add_argument("--progress", action="store_true", help="PMMH progress bars")
    parser.add_argument("--out", type=pathlib.Path, default=None, help="write JSON here")
    args = parser.parse_args()
    fits, started = [], time.perf_counter()
    fit = fit_snapshot_data if args.data == "snapshots" else fit_series_data
    rates = TRUTH[args.data]
    for seed in range(args.first_seed, args.first_seed + args.datasets):
        fits.append(fit(seed, args) | {"seed": seed})
        line = ", ".join(f"{n} {fits[-1][n]['estimate']:.3g} [{fits[-1][n]['lower']:.3g}, "
                         f"{fits[-1][n]['upper']:.3g}]" for n in rates)
        print(f"data set {seed}: {line}  ({time.perf_counter() - started:.0f} s)", flush=True)
        if args.out:  # after every data set, so an interrupted run keeps what it measured
            args.out.write_text(json.dumps(fits, indent=2))
    if args.data == "snapshots":
        print(f"\n{args.method}, {args.datasets} data sets of {len(SNAPSHOT_TIMES)} x {CELLS} "
              f"cells, {args.bootstrap} bootstrap replicates:")
    else:
        print(f"\nPMMH, {args.datasets} data sets of {SERIES} prey series x "
              f"{len(SERIES_TIMES)} points, {args.particles} particles, {args.iterations} "
              "iterations:")
    print("| rate | true | mean estimate | worst relative error | 95% intervals holding it |")
    print("|---|---|---|---|---|")
    for name, value in rates.items():
        estimates = np.array([f[name]["estimate"] for f in fits])
        covered = sum(f[name]["lower"] <= value <= f[name]["upper"] for f in fits)
        worst = np.max(np.abs(estimates / value - 1))
        print(f"| {name} | {value:g} | {estimates.mean():.4g} | {100 * worst:.1f}% | "
              f"{covered}/{len(fits)} |")
    print(f"\n{time.perf_counter() - started:.0f} s in all")


if __name__ == "__main__":
    main()
