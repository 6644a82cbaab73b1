"""jumpax's PMMH against jsmfsb's particle MCMC on jsmfsb's own Lotka-Volterra example.

The data are jsmfsb's ``lv_noise_10`` (prey and predators at t = 0, 2, ..., 30, Gaussian noise
sd 10), the model ``X -> 2X`` (c1), ``X + Y -> 2Y`` (c2), ``Y -> 0`` (c3) from (50, 100), the
prior flat on the log scale, 100 particles per likelihood in both. Both chains run a Gaussian
random walk on the three log-rates; jsmfsb has no adaptation, so its chain gets the covariance
a jumpax pilot chain adapted (its best case). Each chain runs in its own process pinned to its
own core, so the two run side by side. The report compares the posterior means of the
log-rates within Monte Carlo error (``|z| < 3``, standard errors from each chain's effective
sample size) and the seconds per effective sample.

Needs a benchmark environment with jsmfsb (never a jumpax dependency)::

    python bench/pmmh_jsmfsb.py --iterations 6000 --out bench/out/pmmh_jsmfsb.json
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

import numpy as np

NAMES = ("prey birth", "predation", "predator death")
TRUTH = (1.0, 0.005, 0.6)
PARTICLES = 100
NOISE_SD = 10.0


def lv_noise_10() -> np.ndarray:
    """jsmfsb's ``lv_noise_10`` data set: columns time, prey, predators."""
    import jsmfsb

    return np.asarray(jsmfsb.data.lv_noise_10, np.float64)


def run_jumpax(iterations: int, seed: int) -> dict:
    """jumpax's :func:`~jumpax.inference.pmmh` (adaptive during burn-in), timed."""
    import jax

    import jumpax as jx
    from jumpax.inference import TimeSeries, pmmh

    d = lv_noise_10()
    data = TimeSeries(times=d[None, :, 0], values=d[None, :, 1:],
                      mask=np.ones((1, d.shape[0]), bool), observed=("X", "Y"))
    start = time.perf_counter()
    post = pmmh(jax.random.key(seed), jx.models.lotka_volterra(*TRUTH), data, list(NAMES),
                NOISE_SD, num_particles=PARTICLES, iterations=iterations, initial_step=0.05)
    return {"chain": post["chain"].tolist(), "seconds": time.perf_counter() - start,
            "acceptance": post["acceptance"]}


def run_jsmfsb(iterations: int, seed: int, covariance: np.ndarray) -> dict:
    """jsmfsb's ``pf_marginal_ll`` and ``metropolis_hastings`` on the log-rates, timed."""
    import jax
    import jax.numpy as jnp
    import jax.scipy as jsp
    import jsmfsb

    def observation_log_likelihood(x, t, y, th):
        return jnp.sum(jsp.stats.norm.logpdf(y - x, scale=NOISE_SD))

    def initial_state(key, t0, th):
        return jnp.array([50.0, 100.0])

    def step(key, x, t, dt, th):
        return jsmfsb.models.lv(th).step_gillespie()(key, x, t, dt)

    mll = jsmfsb.pf_marginal_ll(PARTICLES, initial_state, 0.0, step,
                                observation_log_likelihood, jnp.asarray(lv_noise_10()))
    root = jnp.asarray(np.linalg.cholesky(covariance), jnp.float32)

    def log_likelihood(key, s):
        return mll(key, jnp.exp(s))

    def propose(key, s):
        return s + root @ jax.random.normal(key, (3,))

    start = time.perf_counter()
    chain = jsmfsb.metropolis_hastings(
        jax.random.key(seed), jnp.log(jnp.asarray(TRUTH)), log_likelihood, propose,
        iters=iterations, thin=1, verb=False,
    )
    chain = np.asarray(jax.block_until_ready(chain), np.float64)
    accepted = float(np.mean(np.any(np.diff(chain, axis=0) != 0, axis=1)))
    return {"chain": chain.tolist(), "seconds": time.perf_counter() - start,
            "acceptance": accepted}


def summary(chain: np.ndarray, seconds: float) -> dict:
    """Posterior summaries of a chain of log-rates (burn-in already dropped)."""
    from jumpax.inference import effective_sample_size

    ess = np.asarray(effective_sample_size(chain))
    return {
        "mean_log": chain.mean(axis=0).tolist(),
        "se_log": (chain.std(axis=0) / np.sqrt(ess)).tolist(),
        "median": np.exp(np.median(chain, axis=0)).tolist(),
        "lower": np.exp(np.quantile(chain, 0.025, axis=0)).tolist(),
        "upper": np.exp(np.quantile(chain, 0.975, axis=0)).tolist(),
        "ess": ess.tolist(),
        "seconds_per_effective_sample": seconds / float(ess.min()),
    }


def worker(args: argparse.Namespace) -> None:
    """One chain in this process (``--worker jumpax|jsmfsb``), written as JSON."""
    if args.worker == "jumpax":
        result = run_jumpax(args.iterations, args.seed)
    else:
        covariance = np.asarray(json.loads(args.covariance.read_text()))
        result = run_jsmfsb(args.iterations, args.seed, covariance)
    args.result.write_text(json.dumps(result))


def launch(kind: str, core: int, iterations: int, seed: int, result: pathlib.Path,
           covariance: pathlib.Path | None = None) -> subprocess.Popen:
    """A worker process pinned to ``core`` with one JAX device."""
    command = ["taskset", "-c", str(core), sys.executable, __file__, "--worker", kind,
               "--iterations", str(iterations), "--seed", str(seed), "--result", str(result)]
    if covariance is not None:
        command += ["--covariance", str(covariance)]
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=1")
    return subprocess.Popen(command, env=env)


def wait(process: subprocess.Popen, result: pathlib.Path) -> dict:
    """The JSON a worker wrote."""
    if process.wait():
        raise RuntimeError(f"worker {process.args} failed")
    return json.loads(result.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=6000)
    parser.add_argument("--pilot", type=int, default=1500, help="jumpax pilot iterations")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=pathlib.Path, default=None)
    parser.add_argument("--worker", choices=("jumpax", "jsmfsb"), help=argparse.SUPPRESS)
    parser.add_argument("--result", type=pathlib.Path, help=argparse.SUPPRESS)
    parser.add_argument("--covariance", type=pathlib.Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return
    cores = sorted(os.sched_getaffinity(0))
    with tempfile.TemporaryDirectory() as tmp:
        folder = pathlib.Path(tmp)
        print(f"pilot: jumpax PMMH, {args.pilot} iterations", flush=True)
        pilot = wait(launch("jumpax", cores[-1], args.pilot, args.seed + 1, folder / "pilot"),
                     folder / "pilot")
        chain = np.asarray(pilot["chain"])
        covariance = 2.38**2 / 3 * np.cov(chain.T)
        (folder / "cov").write_text(json.dumps(covariance.tolist()))
        print(f"main chains: {args.iterations} iterations each, side by side", flush=True)
        running = {
            "jumpax": launch("jumpax", cores[-1], args.iterations, args.seed, folder / "a"),
            "jsmfsb": launch("jsmfsb", cores[0], args.iterations, args.seed, folder / "b",
                             folder / "cov"),
        }
        results = {"jumpax": wait(running["jumpax"], folder / "a"),
                   "jsmfsb": wait(running["jsmfsb"], folder / "b")}
    burn_in = args.iterations // 4
    report = {}
    for kind, result in results.items():
        kept = np.asarray(result["chain"])[-(args.iterations - burn_in):]
        report[kind] = summary(kept, result["seconds"]) | {
            "seconds": result["seconds"], "acceptance": result["acceptance"]}
    z = (np.asarray(report["jumpax"]["mean_log"]) - np.asarray(report["jsmfsb"]["mean_log"])) / (
        np.hypot(report["jumpax"]["se_log"], report["jsmfsb"]["se_log"]))
    report["z"] = z.tolist()
    print("| rate | jumpax median [95%] | jsmfsb median [95%] | z (log means) |")
    print("|---|---|---|---|")
    for j, name in enumerate(NAMES):
        a, b = report["jumpax"], report["jsmfsb"]
        print(f"| {name} | {a['median'][j]:.4g} [{a['lower'][j]:.4g}, {a['upper'][j]:.4g}] | "
              f"{b['median'][j]:.4g} [{b['lower'][j]:.4g}, {b['upper'][j]:.4g}] | {z[j]:+.2f} |")
    for kind in ("jumpax", "jsmfsb"):
        r = report[kind]
        print(f"{kind}: {r['seconds']:.0f} s, acceptance {r['acceptance']:.2f}, ESS "
              f"{', '.join(f'{e:.0f}' for e in r['ess'])}, "
              f"{r['seconds_per_effective_sample']:.2f} s per effective sample (worst rate)")
    per_sample = {kind: report[kind]["seconds_per_effective_sample"] for kind in results}
    print(f"time per effective sample, jsmfsb / jumpax: "
          f"{per_sample['jsmfsb'] / per_sample['jumpax']:.1f}")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
