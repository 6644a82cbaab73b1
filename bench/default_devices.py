"""A plain script against an explicit one-device-per-core run: does the default use every core?

Each configuration runs in a fresh process (the device count is fixed when JAX starts), the
configurations alternate over ``--rounds`` rounds, and each keeps its best events/s (noise on a
shared machine only slows a run down). Configurations:

- ``plain``: no ``XLA_FLAGS``, no ``JUMPAX_CPU_DEVICES``: what ``import jumpax`` chooses;
- ``explicit``: ``XLA_FLAGS=--xla_force_host_platform_device_count=<cores>``;
- ``one device``: ``JUMPAX_CPU_DEVICES=1``, the opt-out (and JAX's own default).

    python bench/default_devices.py --rounds 3
"""

from __future__ import annotations

import argparse
import os
import pathlib
import subprocess
import sys

WORKER = r"""
import sys, time
sys.path.insert(0, {bench!r})
import jax, jax.numpy as jnp, numpy as np
import jumpax as jx
from peers.models import get_model
name, mode, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
m = get_model(name)
net = jx.ReactionNetwork([jx.Reaction(r.equation(), r.k) for r in m.reactions], species=m.species)
save_at = {{"grid": jnp.asarray(m.grid()), "final": "final"}}[mode]
def call(seed):
    r = jx.simulate(jax.random.key(seed), net, dict(m.x0), m.t1, save_at=save_at,
                    num_trajectories=n)
    jax.block_until_ready(r.x)
    return int(np.sum(np.asarray(r.n_steps)))
call(0)
best, i, begin = 0.0, 0, time.perf_counter()
while i < 3 or time.perf_counter() - begin < 3.0:
    start = time.perf_counter()
    events = call(i + 1)
    best = max(best, events / (time.perf_counter() - start))
    i += 1
print(jax.device_count(), best)
"""


def measure(row: tuple[str, str, int], variables: dict[str, str]) -> tuple[int, float]:
    """``(devices, best events/s)`` of one row in a fresh process with these variables."""
    env = {k: v for k, v in os.environ.items() if k not in ("XLA_FLAGS", "JUMPAX_CPU_DEVICES")}
    env.update(variables)
    bench = str(pathlib.Path(__file__).resolve().parent)
    command = [sys.executable, "-c", WORKER.format(bench=bench), *map(str, row)]
    out = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    devices, rate = out.stdout.split()[-2:]
    return int(devices), float(rate)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rows", nargs="*", default=["birth-death:final:1000",
                                                      "birth-death:final:10000",
                                                      "dimerisation:grid:1000"],
                        help="model:mode:trajectories (mode: final or grid)")
    args = parser.parse_args()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    configurations = {
        "plain": {},
        "explicit": {"XLA_FLAGS": f"--xla_force_host_platform_device_count={cores}"},
        "one device": {"JUMPAX_CPU_DEVICES": "1"},
    }
    rows = [(name, mode, int(n)) for name, mode, n in (r.split(":") for r in args.rows)]
    best = {(row, c): (0, 0.0) for row in rows for c in configurations}
    for r in range(args.rounds):
        for row in rows:
            for c, variables in configurations.items():
                devices, rate = measure(row, variables)
                best[row, c] = (devices, max(best[row, c][1], rate))
        print(f"round {r + 1}/{args.rounds} done", file=sys.stderr)
    print(f"{cores} cores; best of {args.rounds} rounds, M events/s (devices)\n")
    print("| model | output | trajectories | plain | explicit | one device | plain / explicit |")
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        cells = [f"{best[row, c][1] / 1e6:.1f} ({best[row, c][0]})" for c in configurations]
        ratio = best[row, "plain"][1] / best[row, "explicit"][1]
        print(f"| {row[0]} | {row[1]} | {row[2]:,} | " + " | ".join(cells) + f" | {ratio:.2f} |")


if __name__ == "__main__":
    main()
