"""Rollout throughput of the control environments: the functional face against Gymnasium.

For each registered environment, transitions per second of
- the functional face: ``jumpax.control.rollout`` of ``--envs`` parallel episodes (random
  actions), one compiled computation (compilation excluded: the best of ``--repeats`` runs);
- the Gymnasium face: one environment stepped at a time through ``env.step`` (random actions),
  ``--gym-steps`` steps after a warm-up episode;
and their ratio. Each transition is an exact simulation of one sampling interval.

    python bench/control.py                 # 1,000 parallel environments
    python bench/control.py --envs 10000
"""

from __future__ import annotations

import argparse
import os
import platform
import time

if "xla_force_host_platform_device_count" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = (
        os.environ.get("XLA_FLAGS", "")
        + f" --xla_force_host_platform_device_count={os.cpu_count()}"
    ).strip()

import gymnasium  # noqa: E402
import jax  # noqa: E402
import numpy as np  # noqa: E402

import jumpax.control as jc  # noqa: E402


def functional(env_id: str, envs: int, repeats: int) -> tuple[float, float]:
    """(transitions/s, compile + first run in s) of parallel rollouts."""
    env = gymnasium.make(f"jumpax.control:{env_id}").unwrapped.env
    controller = jc.RandomController(env)
    start = time.perf_counter()
    episodes = jc.rollout(env, controller, jax.random.key(0), envs)
    jax.block_until_ready(episodes)
    first = time.perf_counter() - start
    best = np.inf
    for i in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(jc.rollout(env, controller, jax.random.key(i + 1), envs))
        best = min(best, time.perf_counter() - start)
    return envs * env.horizon / best, first


def gym_one_at_a_time(env_id: str, steps: int) -> float:
    """Transitions/s of one Gymnasium environment stepped with random actions."""
    env = gymnasium.make(f"jumpax.control:{env_id}")
    env.action_space.seed(0)
    env.reset(seed=0)
    for _ in range(env.unwrapped.env.horizon):  # warm-up: compile reset and step
        env.step(env.action_space.sample())
    env.reset(seed=1)
    start = time.perf_counter()
    done = 0
    while done < steps:
        _, _, terminated, truncated, _ = env.step(env.action_space.sample())
        done += 1
        if terminated or truncated:
            env.reset()
    return steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--envs", type=int, default=1000, help="parallel environments")
    parser.add_argument("--gym-steps", type=int, default=2000, help="Gymnasium steps timed")
    parser.add_argument("--repeats", type=int, default=3, help="timed functional runs")
    args = parser.parse_args()
    print(
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"{jax.device_count()} JAX devices ({jax.default_backend()}), jax {jax.__version__}"
    )
    print()
    print(
        f"| environment | functional, {args.envs} parallel (transitions/s) | compile + first "
        "run (s) | Gymnasium, one at a time (transitions/s) | ratio |"
    )
    print("|---|---|---|---|---|")
    for env_id in jc.ENVIRONMENTS:
        rate, first = functional(env_id, args.envs, args.repeats)
        gym_rate = gym_one_at_a_time(env_id, args.gym_steps)
        ratio = rate / gym_rate
        print(f"| {env_id} | {rate:,.0f} | {first:.1f} | {gym_rate:,.0f} | {ratio:.0f}x |")


if __name__ == "__main__":
    main()
