"""Tau-leaping against exact simulation (Direct) on the DSMTS large-count cases.

    .venv/bin/python bench/approximate.py                  # n = 10,000, one device per core
    .venv/bin/python bench/approximate.py --trajectories 1000 --devices 1
    .venv/bin/python bench/approximate.py --write          # also update README_approximate.md

For each case (00005 birth-death from 10,000, 00023 immigration-death to 10,000, 00031
dimerisation from 1,000) and solver it simulates an ensemble on the DSMTS grid t = 0..50 and
reports the first call (compilation included), the best of ``--repeats`` timed calls, the steps
per trajectory (events for Direct; leaps and exact steps for tau-leaping)
and the events-equivalent throughput: exact events (Direct's mean count) times trajectories per
second. Accuracy columns give the largest deviation of the ensemble mean and standard deviation
from the DSMTS analytic values over t = 1..50 (the DSMTS guide's band for approximate
simulators is 2%).
"""

from __future__ import annotations

import argparse
import csv
import os
import pathlib
import platform
import subprocess
import sys
import time

BENCH = pathlib.Path(__file__).resolve().parent
DATA = BENCH.parent / "tests" / "data" / "dsmts"
README = BENCH / "README_approximate.md"
BEGIN, END = "<!-- results begin -->", "<!-- results end -->"

CASES = {
    "00005": ([("X -> 2 X", 0.1), ("X -> 0", 0.11)], {"X": 10_000}),
    "00023": ([("0 -> X", 1000.0), ("X -> 0", 0.1)], {"X": 0}),
    "00031": ([("2 P -> P2", 0.0002), ("P2 -> 2 P", 0.004)], {"P": 1000, "P2": 0}),
}


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trajectories", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--devices", type=int, default=os.cpu_count() or 1,
                        help="XLA CPU devices (the ensemble is sharded over them)")
    parser.add_argument("--write", action="store_true", help="update README_approximate.md")
    return parser.parse_args()


def reference(case):
    with (DATA / f"{case}-results.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    names = [c[: -len("-mean")] for c in rows[0] if c.endswith("-mean")]
    return {n: ([float(r[f"{n}-mean"]) for r in rows], [float(r[f"{n}-sd"]) for r in rows])
            for n in names}


def measure(jx, jax, np, case, solver, n, repeats):
    reactions, x0 = CASES[case]
    network = jx.ReactionNetwork([jx.Reaction(s, k) for s, k in reactions])
    times = np.arange(51.0)

    def run(seed):
        start = time.perf_counter()
        results = jx.simulate(jax.random.key(seed), network, x0, 50.0, solver=solver,
                              save_at=times, num_trajectories=n)
        jax.block_until_ready(results)
        return time.perf_counter() - start, results

    first, results = run(0)
    best = min(run(seed)[0] for seed in range(1, repeats + 1))
    x = np.asarray(results.x, dtype=np.float64)
    mean_dev = sd_dev = 0.0
    for i, name in enumerate(network.species):
        mean, sd = (np.asarray(v)[1:] for v in reference(case)[name])
        mean_dev = max(mean_dev, np.abs(x[:, 1:, i].mean(0) / mean - 1).max())
        sd_dev = max(sd_dev, np.abs(x[:, 1:, i].std(0, ddof=1) / sd - 1).max())
    return {"first": first, "best": best, "steps": float(np.mean(results.n_steps)),
            "mean_dev": mean_dev, "sd_dev": sd_dev}


def machine():
    lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines()[:15]
    nproc = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    load = " ".join(f"{v:.1f}" for v in os.getloadavg())
    return nproc, lscpu, load


def main():
    args = parse_args()
    flags = os.environ.get("XLA_FLAGS", "")
    os.environ["XLA_FLAGS"] = f"{flags} --xla_force_host_platform_device_count={args.devices}"
    import jax
    import numpy as np

    import jumpax as jx

    n = args.trajectories
    rows = []
    for case in CASES:
        exact = measure(jx, jax, np, case, jx.Direct(), n, args.repeats)
        leap = measure(jx, jax, np, case, jx.TauLeaping(), n, args.repeats)
        events = exact["steps"]
        for name, m in (("Direct", exact), ("TauLeaping()", leap)):
            rows.append(
                f"| {case} | {name} | {m['first']:.2f} | {m['best']:.2f} | {m['steps']:,.0f} | "
                f"{events * n / m['best'] / 1e6:.1f} | {exact['best'] / m['best']:.1f}x | "
                f"{100 * m['mean_dev']:.2f}% | {100 * m['sd_dev']:.2f}% |"
            )
        print(rows[-2], rows[-1], sep="\n", flush=True)
    nproc, lscpu, load = machine()
    table = "\n".join(
        [
            f"n = {n:,} trajectories, t = 0..50 saved at 51 times, {len(jax.devices())} XLA CPU "
            f"device(s), best of {args.repeats} after a first call that compiles; jax "
            f"{jax.__version__}, Python {platform.python_version()}, load average {load}.",
            "",
            "| case | solver | first call (s) | best (s) | steps / trajectory | "
            "events-equivalent M/s | speed-up | max mean dev. | max sd dev. |",
            "|---|---|---|---|---|---|---|---|---|",
            *rows,
            "",
            f"Machine: `nproc` = {nproc}; `lscpu | head`:",
            "",
            "```",
            *lscpu,
            "```",
        ]
    )
    print(table)
    if args.write:
        text = README.read_text()
        head, rest = text.split(BEGIN)
        README.write_text(f"{head}{BEGIN}\n{table}\n{END}{rest.split(END)[1]}")


if __name__ == "__main__":
    sys.exit(main())
