"""An ensemble spread over several processes (hosts) with ``jax.distributed``.

Each process simulates its share of the ensemble on its own devices (``simulate`` with
``first_trajectory`` picks the share and shards it over the local devices), then
``process_allgather`` gives every process the whole ensemble. Trajectory ``i`` depends only on
the key and ``i``, so the result is the same as one big run on one machine.

Run on one machine, it starts two local processes itself::

    python examples/multihost.py

On a cluster, start one process per host with the coordinator's address::

    python examples/multihost.py --coordinator host0:12345 --num-processes 4 --process-id $RANK
"""

import argparse
import os
import subprocess
import sys


def run(coordinator: str, num_processes: int, process_id: int, n: int) -> None:
    import jax
    import jax.numpy as jnp
    import numpy as np
    from jax.experimental import multihost_utils

    import jumpax as jx

    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(coordinator, num_processes, process_id)
    network = jx.models.dimerisation()
    share = n // jax.process_count()  # n is a multiple of the process count here
    ts = jnp.linspace(0.0, 50.0, 6)
    local = jx.simulate(jax.random.key(0), network, network.x0, 50.0, save_at=ts,
                        num_trajectories=share, first_trajectory=jax.process_index() * share)
    everything = multihost_utils.process_allgather(local.x, tiled=True)
    if jax.process_index() == 0:
        single = jx.simulate(jax.random.key(0), network, network.x0, 50.0, save_at=ts,
                             num_trajectories=n)
        same = np.array_equal(np.asarray(everything), np.asarray(single.x))
        mean = everything[:, -1, 1].mean()
        print(f"{jax.process_count()} processes, {len(jax.devices())} devices in all: "
              f"{everything.shape[0]} trajectories, mean P2(50) = {mean:.3f}; "
              f"identical to a single-process run: {same}")
    jax.distributed.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--coordinator", default=None, help="host:port of process 0")
    parser.add_argument("--num-processes", type=int, default=2)
    parser.add_argument("--process-id", type=int, default=None)
    parser.add_argument("--n", type=int, default=1000, help="ensemble size")
    args = parser.parse_args()
    if args.process_id is not None:
        run(args.coordinator, args.num_processes, args.process_id, args.n)
        return
    # No process id: launch all processes locally, one CPU device each.
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=1")
    coordinator = args.coordinator or "localhost:12355"
    procs = [
        subprocess.Popen(
            [sys.executable, __file__, "--coordinator", coordinator, "--num-processes",
             str(args.num_processes), "--process-id", str(i), "--n", str(args.n)],
            env=env,
        )
        for i in range(args.num_processes)
    ]
    sys.exit(max(p.wait() for p in procs))


if __name__ == "__main__":
    main()
