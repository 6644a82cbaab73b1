"""The ``jumpax`` command line: ``jumpax simulate``, ``jumpax demo`` and the workflow commands."""

from __future__ import annotations

import argparse
import pathlib
import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .._files import recording_writes
from ._arguments import (
    UsageError,
    image_file,
    output_dir,
    output_file,
    positive_float,
    positive_int,
    seed,
)

if TYPE_CHECKING:
    from jaxtyping import ArrayLike, PRNGKeyArray

    from jumpax import ReactionNetwork, SimulationResults

INTERRUPTED = 130
"""The exit status after Ctrl-C (128 + SIGINT), as shells report it."""


def _save_at(text: str) -> int | list[float]:
    """``--save-at 51`` (that many equally spaced times) or ``--save-at 0,1,2.5``."""
    if "," not in text:
        try:
            return positive_int(text)
        except argparse.ArgumentTypeError:
            raise argparse.ArgumentTypeError(
                f"expected a number of points or comma-separated times, got {text!r}"
            ) from None
    try:
        times = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated times, got {text!r}"
        ) from None
    if not times:
        raise argparse.ArgumentTypeError(f"expected comma-separated times, got {text!r}")
    if not all(np.isfinite(times)) or min(times) < 0:
        raise argparse.ArgumentTypeError(f"times must be finite and non-negative, got {text!r}")
    if any(b <= a for a, b in zip(times, times[1:], strict=False)):
        raise argparse.ArgumentTypeError(f"times must be strictly increasing, got {text!r}")
    return times


def _model(text: str) -> str:
    """``argparse`` type of the ``model`` argument: a built-in name or an existing SBML file."""
    from jumpax import models

    if text in models.CATALOGUE:
        return text
    if pathlib.Path(text).suffix.lower() in (".xml", ".sbml"):
        if not pathlib.Path(text).is_file():
            raise argparse.ArgumentTypeError(f"no such SBML file: {text}")
        return text
    known = ", ".join(sorted(models.CATALOGUE))
    raise argparse.ArgumentTypeError(
        f"unknown model {text!r}; use FILE.xml or a built-in model: {known}"
    )


def simulate_ensemble(
    key: PRNGKeyArray,
    network: ReactionNetwork,
    x0: ArrayLike,
    t1: float,
    *,
    num_trajectories: int,
    progress: bool = True,
    **kwargs: Any,
) -> SimulationResults:
    """Simulates an ensemble in chunks with a progress bar; identical to one ``simulate`` call.

    Each chunk is simulated with ``first_trajectory`` set to its start, so the result equals
    ``jumpax.simulate(key, ..., num_trajectories=num_trajectories)`` exactly.

    Args:
        key: the PRNG key.
        network: the reaction network.
        x0: the initial state.
        t1: the end time.
        num_trajectories: the ensemble size.
        progress: whether to show a progress bar.
        **kwargs: passed on to :func:`jumpax.simulate` (``save_at``, ``max_steps``, ...).

    Returns:
        The ensemble's :class:`~jumpax.SimulationResults`.
    """
    import jax
    from tqdm.auto import tqdm

    from jumpax import simulate

    chunk = max(1, -(-num_trajectories // 20))
    parts = []
    with tqdm(total=num_trajectories, unit="traj", disable=not progress, file=sys.stderr) as bar:
        for start in range(0, num_trajectories, chunk):
            size = min(chunk, num_trajectories - start)
            part = simulate(key, network, x0, t1, num_trajectories=size, first_trajectory=start,
                            **kwargs)
            jax.block_until_ready(part)
            parts.append(part)
            bar.update(size)
    return jax.tree.map(lambda *leaves: jax.numpy.concatenate(leaves), *parts)


def _resolve_model(
    name: str, molecules_per_amount: float | None = None
) -> tuple[ReactionNetwork, ArrayLike, float | None]:
    """The network, initial state and default end time of a built-in model or SBML file.

    Raises:
        UsageError: if the SBML file or its settings file cannot be read.
    """
    from jumpax import models

    if name in models.CATALOGUE:
        if molecules_per_amount is not None:
            raise UsageError("argument --molecules-per-amount: only for SBML files")
        entry = models.CATALOGUE[name]
        network = entry.build()
        return network, network.x0, entry.t1
    from jumpax.sbml import find_settings, load_sbml

    try:
        network = load_sbml(pathlib.Path(name), molecules_per_amount=molecules_per_amount)
        settings = find_settings(name)
    except (OSError, ValueError) as error:
        raise UsageError(f"argument model: cannot load {name}: {error}") from error
    return network, network.x0, None if settings is None else settings.t1


def _cmd_simulate(args: argparse.Namespace) -> int:
    import jax
    import jax.numpy as jnp

    # Everything is checked before the simulation starts.
    network, x0, default_t1 = _resolve_model(args.model, args.molecules_per_amount)
    t1 = args.t1 if args.t1 is not None else default_t1
    if t1 is None:
        raise UsageError("argument --t1: this model has no default end time; pass --t1")
    if isinstance(args.save_at, list) and args.save_at[-1] > t1:
        raise UsageError(f"argument --save-at: times must not exceed t1 = {t1:g}")
    save_at = None
    if isinstance(args.save_at, int):
        save_at = jnp.linspace(0.0, t1, args.save_at)
    elif args.save_at is not None:
        save_at = jnp.asarray(args.save_at)
    if save_at is None and (args.plot or args.n > 1 or args.method == "ode"):
        save_at = jnp.linspace(0.0, t1, 201)
    if args.method == "ode":
        return _solve_ode(args, network, x0, t1, save_at)
    from jumpax._network._network import checked_state

    try:
        network.check_jump_process("the exact simulation")
        checked_state(network.species, x0)
    except ValueError as error:
        raise UsageError(
            f"argument --method: {error}. Pass --method ode, or --molecules-per-amount N for "
            "a model whose amounts are not molecule counts"
        ) from error
    started = time.perf_counter()
    results = simulate_ensemble(
        jax.random.key(args.seed),
        network,
        x0,
        t1,
        num_trajectories=args.n,
        save_at=save_at,
        max_steps=args.max_steps,
        progress=not args.quiet,
    )
    elapsed = time.perf_counter() - started
    events = int(np.sum(results.n_steps))
    print(
        f"simulated {args.n} trajectories of {args.model} to t1={t1:g}: {events:,} events in "
        f"{elapsed:.2f} s ({events / elapsed:,.0f} events/s incl. compilation)"
    )
    final = np.asarray(results.final_state)
    for i, name in enumerate(results.species):
        sd = final[:, i].std(ddof=min(1, args.n - 1))
        print(f"  {name}: final mean {final[:, i].mean():.4g}, sd {sd:.4g}")
    if int(np.sum(results.overflow)):
        print(f"  warning: {int(np.sum(results.overflow))} trajectories hit max_steps (truncated)")
    _write(args, results[0] if args.n == 1 else results, f"{args.model} (n={args.n})")
    return 0


def _solve_ode(
    args: argparse.Namespace, network: ReactionNetwork, x0: ArrayLike, t1: float, save_at
) -> int:
    """``jumpax simulate --method ode``: the reaction-rate ODE on the save times."""
    import jax

    from jumpax import MeanFieldModel

    if args.n != 1:
        raise UsageError("argument --n: the reaction-rate ODE has one solution; omit --n")
    started = time.perf_counter()
    # steps no longer than the save interval: a short trigger window is not stepped over
    spacing = float(np.min(np.diff(np.asarray(save_at)))) if len(save_at) > 1 else t1
    model = MeanFieldModel(network, max_steps=100_000, max_dt=spacing)
    results = jax.block_until_ready(model(x0, t1, save_at=save_at))
    elapsed = time.perf_counter() - started
    print(
        f"solved the reaction-rate ODE of {args.model} to t1={t1:g}: "
        f"{int(results.n_steps):,} steps in {elapsed:.2f} s (incl. compilation)"
    )
    for i, name in enumerate(results.species):
        print(f"  {name}: final value {float(results.x[-1, i]):.6g}")
    if bool(results.overflow):
        print("  warning: the solver stopped before t1 (step or event budget)")
    _write(args, results, f"{args.model} (reaction-rate ODE)")
    return 0


def _write(args: argparse.Namespace, results, title: str) -> None:
    """Writes ``--out`` and ``--plot`` where asked."""
    if args.out:
        results.save(args.out)
        print(f"wrote {args.out}")
    if args.plot:
        from .plotting import plot_results

        plot_results(results, args.plot, title=title)
        print(f"wrote {args.plot}")


def build_parser() -> argparse.ArgumentParser:
    """The ``jumpax`` argument parser with all sub-commands."""
    parser = argparse.ArgumentParser(
        prog="jumpax",
        description="Exact stochastic simulation, inference, learning and control of reaction "
        "networks.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    sim = commands.add_parser("simulate", help="simulate a built-in model or an SBML file")
    sim.add_argument(
        "model", type=_model, help="a built-in model name (see `jumpax models`) or FILE.xml"
    )
    sim.add_argument(
        "--t1", type=positive_float, default=None, help="end time (default: the model's)"
    )
    sim.add_argument("--n", type=positive_int, default=1, help="number of trajectories")
    sim.add_argument(
        "--save-at",
        type=_save_at,
        default=None,
        help="number of equally spaced save times, or comma-separated times "
        "(default: the event list for one trajectory, 201 points otherwise)",
    )
    sim.add_argument(
        "--method",
        choices=("exact", "ode"),
        default="exact",
        help="exact stochastic simulation (Direct, the default) or the reaction-rate ODE "
        "(MeanFieldModel: also rate rules, delayed events, fractional amounts)",
    )
    sim.add_argument(
        "--molecules-per-amount",
        type=positive_float,
        default=None,
        help="SBML files: molecules per unit amount, to simulate a model in moles as counts",
    )
    sim.add_argument("--seed", type=seed, default=0, help="PRNG seed")
    sim.add_argument("--max-steps", type=positive_int, default=None, help="step budget")
    sim.add_argument(
        "--out", type=output_file(".csv", ".npz"), help="write results to FILE.csv or FILE.npz"
    )
    sim.add_argument("--plot", type=image_file, help="write a plot to FILE.png (or .pdf, .svg)")
    sim.add_argument("--quiet", action="store_true", help="no progress bar")
    sim.set_defaults(handler=_cmd_simulate, command_parser=sim)

    listing = commands.add_parser("models", help="list the built-in models")
    listing.set_defaults(handler=_cmd_models, command_parser=listing)

    from . import learn

    learning = commands.add_parser(
        "learn", help="learn a stochastic surrogate of a network (deep abstraction)"
    )
    learn.add_arguments(learning)
    learning.set_defaults(handler=learn.main, command_parser=learning)

    from .fit import add_fit_command

    add_fit_command(commands)

    from .control import add_control_command
    from .infer import add_infer_command

    add_infer_command(commands)
    add_control_command(commands)

    demo = commands.add_parser("demo", help="a short tour of what jumpax does")
    demo.add_argument(
        "--out-dir", type=output_dir, default="jumpax-demo", help="folder for the demo's files"
    )
    demo.set_defaults(handler=_cmd_demo, command_parser=demo)
    return parser


def _cmd_models(args: argparse.Namespace) -> int:
    from jumpax import models

    for name, entry in models.CATALOGUE.items():
        network = entry.build()
        summary = (entry.build.__doc__ or "").strip().splitlines()[0]
        print(f"{name:28s} {network.n_species} species, {network.n_reactions} reactions. {summary}")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    return run_demo(args.out_dir)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``jumpax`` command.

    Bad arguments (including bad output paths and data files) are reported before anything
    runs, as ``jumpax CMD: error: argument --NAME: ...`` on stderr with exit status 2. Ctrl-C
    stops a command with a one-line message and exit status 130; files are written whole or
    not at all, and the message lists those already written.

    Args:
        argv: the arguments (default: ``sys.argv[1:]``).

    Returns:
        The exit status.
    """
    written: list[pathlib.Path] = []
    try:
        with recording_writes() as written:
            parser = build_parser()
            args = parser.parse_args(argv)
            try:
                return args.handler(args)
            except UsageError as error:
                getattr(args, "command_parser", parser).error(str(error))  # exits
                return 2
    except KeyboardInterrupt:
        done = f"kept {', '.join(map(str, written))} (complete)" if written else "nothing written"
        print(f"jumpax: interrupted; {done}", file=sys.stderr)
        return INTERRUPTED
    except OSError as error:  # e.g. a full disk while writing: no traceback for that
        print(f"jumpax: error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
