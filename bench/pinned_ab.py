"""Before/after throughput of ``jumpax.simulate`` on one pinned core: a low-noise A/B.

``bench/run.py`` measures wall-clock throughput on all cores, where run-to-run noise on a shared
2-core machine reaches 20-30% for single trajectories. This script compares two source trees
(``--before`` and ``--after``, each a folder holding the ``jumpax`` package) row by row: every
row runs in a fresh process pinned to one core (``taskset``) with one JAX device, the two trees
alternate, and each row keeps the best of ``--rounds`` rounds of at least ``reps`` calls and
2 s (events/s per call; noise on a shared machine only slows a run down, so the best is the
stable statistic).
An A/A run (the same tree twice) agrees within about 2-5%.

    git archive ac7bd60 src | tar -x -C /tmp/before
    python bench/pinned_ab.py --before /tmp/before/src --after src
"""

from __future__ import annotations

import argparse
import os
import pathlib
import subprocess
import sys

ROWS = (
    "birth-death:final:1:15 birth-death:grid:1:15 birth-death:events:1:15 "
    "birth-death:final:1000:4 birth-death:grid:1000:4 birth-death:events:1000:4 "
    "dimerisation:grid:1:15 dimerisation:final:1000:4 chain-51:final:1:9 chain-51:events:1:9 "
    "chain-51:final:1000:3 chain-51:grid:1000:3"
).split()

WORKER = r'''
import sys, time
sys.path.insert(0, {bench!r})
import jax, jax.numpy as jnp, numpy as np
import jumpax as jx
from peers.models import get_model
name, mode, n, reps = sys.argv[1].split(":")
n, reps = int(n), int(reps)
m = get_model(name)
net = jx.ReactionNetwork([jx.Reaction(r.equation(), r.k) for r in m.reactions], species=m.species)
save_at = {{"events": None, "grid": jnp.asarray(m.grid()), "final": "final"}}[mode]
max_steps = m.max_steps if mode == "events" else None
def call(seed):
    r = jx.simulate(jax.random.key(seed), net, dict(m.x0), m.t1, save_at=save_at,
                    max_steps=max_steps, num_trajectories=n)
    jax.block_until_ready(r.x)
    return int(np.sum(np.asarray(r.n_steps)))
call(0)
best, i, begin = 0.0, 0, time.perf_counter()
while i < reps or time.perf_counter() - begin < 2.0:  # 2 s: more chances of a quiet moment
    start = time.perf_counter()
    events = call(i + 1)
    best = max(best, events / (time.perf_counter() - start))
    i += 1
print(best)
'''


def measure(source: pathlib.Path, row: str, core: int) -> float:
    """Best events/s of one row for the package under ``source``, in a fresh pinned process."""
    env = dict(os.environ, PYTHONPATH=str(source.resolve()),
               XLA_FLAGS="--xla_force_host_platform_device_count=1")
    bench = str(pathlib.Path(__file__).resolve().parent)
    command = ["taskset", "-c", str(core), sys.executable, "-c", WORKER.format(bench=bench), row]
    out = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    return float(out.stdout.split()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=pathlib.Path, required=True)
    parser.add_argument("--after", type=pathlib.Path, required=True)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--core", type=int, default=(os.cpu_count() or 1) - 1)
    parser.add_argument("--rows", nargs="*", default=ROWS,
                        help="model:mode:trajectories:reps (mode: final, grid, events)")
    args = parser.parse_args()
    best: dict[str, dict[str, float]] = {row: {} for row in args.rows}
    for r in range(args.rounds):
        for row in args.rows:
            for label, source in (("before", args.before), ("after", args.after)):
                value = measure(source, row, args.core)
                best[row][label] = max(best[row].get(label, 0.0), value)
            print(f"round {r + 1}: {row} done", file=sys.stderr, flush=True)
    print("| model | output | trajectories | before (events/s) | after (events/s) "
          "| after / before |")
    print("|---|---|---|---|---|---|")
    for row, values in best.items():
        name, mode, n, _ = row.split(":")
        print(f"| {name} | {mode} | {n} | {values['before']:.3g} | {values['after']:.3g} | "
              f"{values['after'] / values['before']:.2f} |")


if __name__ == "__main__":
    main()
