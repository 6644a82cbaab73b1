"""Gradient quality of jumpax's estimators, and one REINFORCE training step against stochastix.

Part 1, the gradient-quality table: estimates of ``d E[X(t1)] / d log k`` for both rates of
birth-death (``0 -> X`` at 10, ``X -> 0`` at ``0.1 X``, ``t1 = 10``) and immigration-death
(DSMTS 002-01: 1 and ``0.1 X``, ``t1 = 50``), both from ``X(0) = 0`` where
``E[X(t)] = (b/d)(1 - exp(-d t))``. Every estimator gets the same budget of simulated
trajectories per estimate; each is repeated with independent keys and compared with the
analytic gradient: bias (with its standard error), standard deviation of one estimate, and cost
(simulations and milliseconds per estimate, compilation excluded).

Part 2: one REINFORCE step (simulate 100 birth-death trajectories to ``t1 = 100``, rewards
``-(X(t1) - 50)^2``, returns, loss, gradient, Adam update) in jumpax, and the same step written
with stochastix's public API, timed in the same process, the two steps alternating so that they
see the same machine load. stochastix must not go into the project's environment: run this from
a separate one that has both libraries (see bench/README_gradients.md):

    /tmp/benchenv/bin/python bench/gradients.py
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from importlib.metadata import version

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

import jumpax as jx
from jumpax import GumbelSoftmaxDirect
from jumpax import optimization as jo
from jumpax.optimization.grad import gradfd, gradspsa

PROBLEMS = {
    # name: (log rates, t1, max_steps)
    "birth-death": (np.log([10.0, 0.1]), 10.0, 400),
    "immigration-death": (np.log([1.0, 0.1]), 50.0, 300),
}
BUDGET = 200  # simulated trajectories per gradient estimate
EPSILON = 0.05  # finite-difference / SPSA step on the log-rates
TEMPERATURES = (0.1, 0.5, 1.0)
X0 = jnp.zeros(1)


def network(log_k):
    rates = jnp.exp(log_k)
    return jx.ReactionNetwork([jx.Reaction("0 -> X", rates[0]), jx.Reaction("X -> 0", rates[1])])


def analytic(log_k, t1):
    b, d = np.exp(log_k)
    mean = b / d * (1 - np.exp(-d * t1))
    return np.array([mean, -mean + b * t1 * np.exp(-d * t1)])


# ----------------------------------------------------------------------------- estimators
def reinforce(log_k, t1, max_steps, baseline):
    loss = jo.reinforce_loss()

    def estimate(key):
        results = jx.simulate(key, network(log_k), X0, t1, max_steps=max_steps,
                              num_trajectories=BUDGET)
        returns = results.final_state[:, :1]
        # Leave-one-out mean: independent of each trajectory, so the estimate stays unbiased.
        b = (returns.sum() - returns) / (BUDGET - 1) if baseline else 0.0
        return jax.grad(lambda lk: -loss(network(lk), results, returns, b))(log_k)

    return estimate


def mean_final(t1, max_steps, n, solver=None):
    def f(log_k, key):
        results = jx.simulate(key, network(log_k), X0, t1, solver=solver or jx.Direct(),
                              save_at="final",
                              max_steps=max_steps, num_trajectories=n)
        return results.x[:, 0].mean()

    return f


def finite_differences(log_k, t1, max_steps):
    grad_fn = gradfd(mean_final(t1, max_steps, BUDGET // 4), epsilon=EPSILON)
    return lambda key: grad_fn(log_k, key)


def spsa(log_k, t1, max_steps):
    grad_fn = gradspsa(mean_final(t1, max_steps, BUDGET // 4), epsilon=EPSILON, num_samples=2)
    return lambda key: grad_fn(log_k, key, key=jax.random.fold_in(key, 1))


def pathwise(log_k, t1, max_steps, temperature):
    f = mean_final(t1, max_steps, BUDGET, GumbelSoftmaxDirect(temperature))
    return lambda key: jax.grad(f)(log_k, key)


def estimators(log_k, t1, max_steps):
    yield "REINFORCE", reinforce(log_k, t1, max_steps, baseline=False)
    yield "REINFORCE + baseline", reinforce(log_k, t1, max_steps, baseline=True)
    yield f"gradfd (eps={EPSILON}, CRN)", finite_differences(log_k, t1, max_steps)
    yield f"gradspsa (eps={EPSILON}, 2 samples)", spsa(log_k, t1, max_steps)
    for temperature in TEMPERATURES:
        yield f"pathwise Gumbel T={temperature}", pathwise(log_k, t1, max_steps, temperature)


def quality_rows(repeats):
    rows = []
    for problem, (log_k, t1, max_steps) in PROBLEMS.items():
        exact = analytic(log_k, t1)
        log_k = jnp.asarray(log_k, dtype=jnp.float32)
        for name, estimate in estimators(log_k, t1, max_steps):
            estimate = jax.jit(estimate)
            keys = jax.random.split(jax.random.key(0), repeats)
            jax.block_until_ready(estimate(keys[0]))  # compile
            started = time.perf_counter()
            samples = np.stack([np.asarray(estimate(k)) for k in keys])
            seconds = (time.perf_counter() - started) / repeats
            bias = samples.mean(axis=0) - exact
            se = samples.std(axis=0, ddof=1) / np.sqrt(repeats)
            rows.append((problem, name, exact, bias, se, samples.std(axis=0, ddof=1), seconds))
            print(f"  {problem:18s} {name:32s} bias {bias} sd {rows[-1][5]}", file=sys.stderr)
    return rows


def quality_table(rows, repeats):
    lines = [
        f"Each estimate uses {BUDGET} simulated trajectories; {repeats} independent estimates "
        "per row. Bias is mean minus analytic (+- its standard error), sd is the standard "
        "deviation of one estimate; relative values are per cent of the analytic gradient.",
        "",
        "| problem | estimator | d/dlog k1: analytic | bias (+-SE) | sd | d/dlog k2: analytic "
        "| bias (+-SE) | sd | sims | ms / estimate |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for problem, name, exact, bias, se, sd, seconds in rows:
        cells = []
        for i in range(2):
            rel = 100 / abs(exact[i])
            cells += [f"{exact[i]:.2f}", f"{bias[i]:+.2f} +- {se[i]:.2f} ({bias[i] * rel:+.0f}%)",
                      f"{sd[i]:.1f} ({sd[i] * rel:.0f}%)"]
        lines.append(f"| {problem} | {name} | " + " | ".join(cells)
                     + f" | {BUDGET} | {1000 * seconds:.1f} |")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- training step
STEP_TRAJECTORIES, STEP_T1, STEP_MAX_STEPS, STEP_TARGET = 100, 100.0, 3000, 50.0
TIMED_ROUNDS = 30


def jumpax_step():
    """The jitted step and its initial state, in jumpax."""
    model = jx.StochasticModel(network(jnp.log(jnp.array([10.0, 0.1]))), t1=STEP_T1,
                               max_steps=STEP_MAX_STEPS)
    optimizer = optax.adam(1e-2)
    rewards_fn = jo.neg_final_state_distance(0, "L2")
    loss_fn = jo.reinforce_loss()

    @eqx.filter_jit
    def step(model, opt_state, key):
        results = model(key, X0, num_trajectories=STEP_TRAJECTORIES)
        returns = jo.discounted_returns(rewards_fn(results, STEP_TARGET), GAMMA=1.0)
        loss, grads = eqx.filter_value_and_grad(loss_fn)(model, results, returns, returns.mean(0))
        updates, opt_state = optimizer.update(grads, opt_state, eqx.filter(model, eqx.is_array))
        return eqx.apply_updates(model, updates), opt_state, loss

    return step, model, optimizer.init(eqx.filter(model, eqx.is_array))


def stochastix_step():
    """The same step written with stochastix's public API (documented usage: one trajectory
    per call, ``filter_vmap`` over keys)."""
    import stochastix as stx
    from stochastix.kinetics import MassAction
    from stochastix.utils.optimization import (
        discounted_returns,
        neg_final_state_distance,
        reinforce_loss,
    )

    net = stx.ReactionNetwork([stx.Reaction("0 -> X", MassAction(k=10.0)),
                               stx.Reaction("X -> 0", MassAction(k=0.1))])
    model = stx.StochasticModel(net, stx.DirectMethod(), T=STEP_T1, max_steps=STEP_MAX_STEPS)
    optimizer = optax.adam(1e-2)
    rewards_fn = eqx.filter_vmap(neg_final_state_distance(0, "L2"),
                                 in_axes=(eqx.if_array(0), None))
    loss_fn = eqx.filter_vmap(reinforce_loss(), in_axes=(None, eqx.if_array(0), 0, 0))
    simulate = eqx.filter_vmap(lambda model, key: model(key, X0), in_axes=(None, 0))

    def batch_loss(model, results, returns, baseline):
        return loss_fn(model, results, returns, baseline).mean()

    @eqx.filter_jit
    def step(model, opt_state, key):
        results = simulate(model, jax.random.split(key, STEP_TRAJECTORIES))
        returns = jax.vmap(lambda r: discounted_returns(r, 1.0))(rewards_fn(results, STEP_TARGET))
        baseline = jnp.broadcast_to(returns.mean(0), returns.shape)
        loss, grads = eqx.filter_value_and_grad(batch_loss)(model, results, returns, baseline)
        updates, opt_state = optimizer.update(grads, opt_state, eqx.filter(model, eqx.is_array))
        return eqx.apply_updates(model, updates), opt_state, loss

    return step, model, optimizer.init(eqx.filter(model, eqx.is_array))


def interleaved_step_seconds(libraries):
    """Median and minimum seconds per step, the libraries' steps alternating round by round
    (so that both see the same machine load); two warm-up rounds compile."""
    states = {name: list(make()) for name, make in libraries.items()}
    times = {name: [] for name in libraries}
    for i, key in enumerate(jax.random.split(jax.random.key(0), TIMED_ROUNDS + 2)):
        for name, state in states.items():
            step, model, opt_state = state
            started = time.perf_counter()
            model, opt_state, loss = step(model, opt_state, key)
            jax.block_until_ready(loss)
            state[1:] = [model, opt_state]
            if i >= 2:
                times[name].append(time.perf_counter() - started)
    return {name: (statistics.median(t), min(t)) for name, t in times.items()}


# ----------------------------------------------------------------------------- main
def machine():
    return (f"{platform.processor() or platform.machine()}, {os.cpu_count()} logical CPUs, "
            f"Python {platform.python_version()}, JAX {jax.__version__} "
            f"({jax.default_backend()}, {jax.local_device_count()} devices)")


STEP_ONLY = "--step-only"
MULTI_DEVICE = f"--xla_force_host_platform_device_count={os.cpu_count()}"


def step_table():
    libraries = {f"jumpax {jx.__version__}": jumpax_step}
    try:
        import stochastix  # noqa: F401

        libraries[f"stochastix {version('stochastix')}"] = stochastix_step
    except ImportError:
        print("(stochastix is not installed in this environment: see bench/README_gradients.md)")
    seconds = interleaved_step_seconds(libraries)
    print(f"devices: {jax.local_device_count()}\n")
    print("| library | median s / step | min s / step |\n|---|---|---|")
    for name, (median, fastest) in seconds.items():
        print(f"| {name} | {median:.4f} | {fastest:.4f} |")
    if len(seconds) == 2:
        (ours, _), (peer, _) = seconds.values()
        print(f"\njumpax is {peer / ours:.1f}x faster per step (ratio of medians).")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=100, help="estimates per table row")
    parser.add_argument(STEP_ONLY, action="store_true", help="only the training-step timing")
    args = parser.parse_args(argv)
    if args.step_only:
        return step_table()
    print(f"machine: {machine()}\n")
    print("## Gradient quality: d E[X(t1)] / d log k\n")
    print(quality_table(quality_rows(args.repeats), args.repeats))
    print(f"\n## One REINFORCE step: {STEP_TRAJECTORIES} birth-death trajectories, "
          f"t1 = {STEP_T1:g}, max_steps = {STEP_MAX_STEPS} ({TIMED_ROUNDS} rounds after "
          "compilation, the libraries alternating in one process)\n")
    # A fresh process with one XLA CPU device per core, as jumpax's README recommends (jumpax
    # shards ensembles over them; stochastix has no ensemble sharding and uses the first one).
    env = dict(os.environ, XLA_FLAGS=f"{os.environ.get('XLA_FLAGS', '')} {MULTI_DEVICE}")
    sys.stdout.flush()
    subprocess.run([sys.executable, __file__, STEP_ONLY], env=env, check=True)


if __name__ == "__main__":
    main()
