"""``jumpax control ENV_ID``: model-based control against its baselines, on one environment.

Runs :func:`jumpax.control.compare_controllers` (a tuned constant input, a tuned PI controller,
MPC on a model learned with the ModelUpdater, MPC on the true network), prints the tracking
costs, and writes them as JSON and the trajectories under each controller as a plot.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys
from typing import Any

import numpy as np

from .._files import atomic_write
from ._arguments import image_file, output_file, positive_int, seed

__all__ = ["add_control_command", "plot_episodes", "run_control"]

_PREFIX = "jumpax.control:"


def _environment_id(text: str) -> str:
    """``argparse`` type of ``ENV_ID``: a registered id, with or without the module prefix."""
    from jumpax.control import ENVIRONMENTS

    name = text.removeprefix(_PREFIX)
    if name not in ENVIRONMENTS:
        raise argparse.ArgumentTypeError(
            f"unknown environment {text!r}; choose from {', '.join(ENVIRONMENTS)}"
        )
    return name


def plot_episodes(
    env: Any, episodes: dict[str, Any], path: str | pathlib.Path, *, title: str, max_paths: int = 3
) -> pathlib.Path:
    """Plot the tracked species and the actions under each controller, with the set-point.

    Args:
        env: The :class:`~jumpax.control.ControlEnv`.
        episodes: ``{controller name: Episodes}``.
        path: The image file to write.
        title: The figure title.
        max_paths: Episodes drawn per controller.

    Returns:
        The path written.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .plotting import save_figure

    tracked = list(env.cost.species)
    rows = len(tracked) + 1
    names = list(episodes)
    fig, axes = plt.subplots(
        rows, len(names), figsize=(3.6 * len(names), 2.4 * rows), sharex=True, squeeze=False
    )
    times = env.dt * np.arange(env.horizon + 1)
    reference = np.asarray(env.cost.targets)
    reference = reference[np.minimum(np.arange(env.horizon + 1), len(reference) - 1)]
    positions = [env.network.species_index(s) for s in tracked]
    for column, name in enumerate(names):
        runs = episodes[name]
        states, actions = np.asarray(runs.states), np.asarray(runs.actions)
        for row, (species, j) in enumerate(zip(tracked, positions, strict=True)):
            ax = axes[row, column]
            for k in range(min(max_paths, states.shape[0])):
                ax.plot(times, states[k, :, j], color="C0", alpha=0.5, lw=0.9)
            ax.plot(times, states[:, :, j].mean(0), color="C0", lw=2, label="mean")
            ax.step(times, reference[:, row], where="post", color="k", ls="--", label="set-point")
            ax.set_ylabel(species)
            if row == 0:
                cost = -np.asarray(runs.rewards).mean()
                ax.set_title(f"{name} (cost {cost:.3f})", fontsize="medium")
        ax = axes[-1, column]
        for i in range(actions.shape[-1]):
            ax.step(times[:-1], actions[0, :, i], where="post", color=f"C{i + 1}", label=f"u{i}")
        ax.set_ylabel("action")
        ax.set_xlabel("time")
    axes[0, 0].legend(fontsize="small")
    axes[-1, 0].legend(fontsize="small")
    fig.suptitle(title)
    fig.tight_layout()
    return save_figure(fig, path)


def run_control(args: argparse.Namespace) -> int:
    """Run ``jumpax control`` with parsed arguments; returns the exit status."""
    import gymnasium
    import jax
    from tqdm.auto import tqdm

    import jumpax.control as jc

    env = gymnasium.make(_PREFIX + args.env_id).unwrapped.env
    mpc = {
        "population": args.population,
        "elites": max(1, args.population // 8),
        "lookahead": args.lookahead,
        "samples": args.samples,
        "iterations": args.iterations,
    }
    stages = ["constant", "pi", "learned_mpc", "oracle_mpc"]
    with tqdm(total=len(stages), desc="controllers", disable=args.quiet, file=sys.stderr) as bar:

        def report(line: str) -> None:
            bar.update()
            bar.write(line, file=sys.stderr)

        outcome = jc.compare_controllers(
            env,
            jax.random.key(args.seed),
            eval_episodes=args.eval_episodes,
            explore_episodes=args.explore_episodes,
            refit_episodes=args.refit_episodes,
            fit_steps=args.fit_steps,
            mpc=mpc,
            report=report,
            progress=not args.quiet,
        )
    controllers = outcome["controllers"]
    oracle = controllers["oracle_mpc"]["cost"]
    print(f"{args.env_id}: mean tracking cost per step over {args.eval_episodes} episodes")
    for name, entry in controllers.items():
        extra = f", fitted on {entry['transitions']} transitions" if "transitions" in entry else ""
        print(
            f"  {name:12s} {entry['cost']:.4f} +- {entry['sem']:.4f} "
            f"({entry['cost'] / oracle:.2f}x the oracle{extra})"
        )
    if args.json:
        document = {
            "environment": _PREFIX + args.env_id,
            "seed": args.seed,
            "eval_episodes": args.eval_episodes,
            "horizon": env.horizon,
            "dt": env.dt,
            "mpc": mpc,
            "controllers": controllers,
        }
        with atomic_write(args.json) as temporary:
            temporary.write_text(json.dumps(document, indent=2) + "\n")
        print(f"wrote {args.json}")
    if args.plot:
        plot_episodes(env, outcome["episodes"], args.plot, title=args.env_id)
        print(f"wrote {args.plot}")
    return 0


def add_control_command(subcommands: Any) -> argparse.ArgumentParser:
    """Register ``jumpax control`` on an ``argparse`` sub-parsers object.

    Args:
        subcommands: the object returned by ``ArgumentParser.add_subparsers``.

    Returns:
        The ``control`` sub-parser (its handler is :func:`run_control`).
    """
    parser = subcommands.add_parser(
        "control",
        help="compare model-based control with baselines on a control environment",
        description="Constant input, PI, MPC on a learned model (ModelUpdater) and MPC on the "
        "true network (oracle), evaluated on the same episodes; see jumpax.control.",
    )
    parser.add_argument(
        "env_id", metavar="ENV_ID", type=_environment_id,
        help="GeneExpressionSetpoint-v0 or ToggleSwitchBalance-v0 (optionally jumpax.control:...)",
    )
    parser.add_argument("--seed", type=seed, default=0, help="PRNG seed")
    parser.add_argument("--json", type=output_file(".json"), help="write the costs to FILE.json")
    parser.add_argument("--plot", type=image_file, help="write the trajectories to FILE.png")
    parser.add_argument(
        "--eval-episodes", type=positive_int, default=20, help="evaluation episodes per controller"
    )
    parser.add_argument(
        "--explore-episodes", type=positive_int, default=64,
        help="random-action episodes for the first model fit",
    )
    parser.add_argument(
        "--refit-episodes", type=positive_int, default=16,
        help="learned-MPC episodes collected before the refit",
    )
    parser.add_argument(
        "--fit-steps", type=positive_int, default=2000, help="optimizer steps per model fit"
    )
    parser.add_argument(
        "--population", type=positive_int, default=32, help="MPC sequences per planning round"
    )
    parser.add_argument(
        "--lookahead", type=positive_int, default=2, help="MPC planning horizon (steps)"
    )
    parser.add_argument(
        "--samples", type=positive_int, default=8, help="MPC rollouts per sequence"
    )
    parser.add_argument(
        "--iterations", type=positive_int, default=3, help="MPC cross-entropy rounds per step"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.set_defaults(handler=run_control, command_parser=parser)
    return parser
