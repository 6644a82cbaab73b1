"""Load and simulate SBML models of growing size: compile time against the number of reactions.

Each model is a chain of ``n`` reactions ``S_i -> S_(i+1)``, each with its own general rate law
``Vmax_i * S_i / (Km_i + S_i)`` and its own parameter values, written as plain MathML (no
jumpax annotation: what another tool would write). Every size runs in a fresh process, so
nothing is cached between sizes. Columns, in seconds:

- ``load``: ``jx.load_sbml`` of the file (libsbml's parse and consistency check included);
- ``Direct``: the first ``jx.simulate`` call (compile and run), 10 trajectories, final state,
  to ``t1 = 1``; ``again``: a second call (run only); ``events``: the reactions they fired;
- ``ODE``: the first ``jx.MeanFieldModel`` call (compile and solve) on the same model;
- ``load + Direct``: the time from the file to the first simulation's result;
- ``peak MB``: the process's peak resident memory.

    python bench/sbml_size.py --sizes 10,100,300,1000
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile

WORKER = r"""
import json, resource, sys, time
import jax, jax.numpy as jnp
import jumpax as jx
n, path = int(sys.argv[1]), sys.argv[2]
begin = time.perf_counter()
m = jx.load_sbml(path)
load = time.perf_counter() - begin
def direct(seed):
    start = time.perf_counter()
    r = jx.simulate(jax.random.key(seed), m, m.x0, 1.0, save_at="final", num_trajectories=10)
    jax.block_until_ready(r.x)
    assert not bool(jnp.any(r.overflow))
    return time.perf_counter() - start, int(jnp.sum(r.n_steps))
first, events = direct(0)
again, _ = direct(1)
start = time.perf_counter()
jax.block_until_ready(jx.MeanFieldModel(m)(m.x0, 1.0).x)
ode = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"n": n, "load": load, "direct": first, "again": again, "events": events,
                  "ode": ode,
                  "total": load + first, "peak": peak}))
"""


def write_model(n: int, path: str) -> None:
    """Writes the ``n``-reaction chain as SBML (plain MathML laws)."""
    import jumpax as jx

    reactions = [
        jx.Reaction(
            f"S{i} -> S{i + 1}",
            jx.ExpressionKinetics(f"Vmax * S{i} / (Km + S{i})", Vmax=50.0 + i % 7, Km=20.0 + i % 5),
            f"step_{i}",
        )
        for i in range(n)
    ]
    network = jx.ReactionNetwork(reactions, x0={"S0": 1000})
    with open(path, "w") as file:
        file.write(jx.to_sbml(network))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,30,100,300,1000")
    args = parser.parse_args()
    rows = []
    for n in (int(size) for size in args.sizes.split(",")):
        with tempfile.NamedTemporaryFile(suffix=".xml") as file:
            write_model(n, file.name)
            out = subprocess.run(
                [sys.executable, "-c", WORKER, str(n), file.name],
                capture_output=True, text=True, check=True,
            )
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(rows[-1], flush=True)
    print("\n| reactions | load (s) | Direct, first call (s) | again (s) | events | "
          "ODE, first call (s) | load + Direct (s) | peak MB |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['n']:,} | {r['load']:.2f} | {r['direct']:.2f} | {r['again']:.3f} | "
              f"{r['events']:,} | {r['ode']:.2f} | {r['total']:.2f} | {r['peak']:.0f} |")


if __name__ == "__main__":
    main()
