"""``jumpax infer``: fit rate parameters of a network (built-in or SBML) to data.

``--method paths`` fits complete paths by exact maximum likelihood with Fisher intervals;
``--method snapshots`` fits snapshots (each cell counted once) by moment or distribution
matching with bootstrap intervals; ``--method timeseries`` samples the posterior from noisy
time series by PMMH. The result is
written as ``{"parameters": {NAME: {"estimate", "lower", "upper"}}, ...}`` (95% intervals).
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys
import warnings
from typing import Any

import numpy as np

from .._files import atomic_write
from ._arguments import UsageError, image_file, integer_at_least, output_file, positive_float, seed

__all__ = ["add_infer_command", "plot_inference", "run_infer"]

METHODS = ("paths", "snapshots", "timeseries")
"""The data kinds ``jumpax infer`` fits."""


DEFAULT_ITERATIONS = {"snapshots": 60, "timeseries": 4000}
"""``--iterations`` when not given, per method."""


def _names(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise argparse.ArgumentTypeError("expected comma-separated parameter names")
    return names


def plot_inference(result: dict[str, Any], path: str | pathlib.Path, *, title: str) -> pathlib.Path:
    """Plot each parameter's estimate and interval, over the PMMH chain or bootstrap replicates.

    Args:
        result: The result of :func:`jumpax.inference.fit_paths`,
            :func:`~jumpax.inference.fit_snapshots` or :func:`~jumpax.inference.pmmh`.
        path: The image file to write.
        title: The figure title.

    Returns:
        The path written.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .plotting import save_figure

    names = list(result["parameters"])
    fig, axes = plt.subplots(1, len(names), figsize=(3.4 * len(names), 3.0), squeeze=False)
    for j, (ax, name) in enumerate(zip(axes[0], names, strict=True)):
        p = result["parameters"][name]
        samples = result.get("chain", result.get("replicates"))
        if samples is not None and len(samples):
            ax.hist(np.exp(samples[:, j]), bins=40 if "chain" in result else 10, color="C0",
                    alpha=0.7, density=True)
        ax.axvline(p["estimate"], color="k", label="estimate")
        ax.axvspan(p["lower"], p["upper"], color="C1", alpha=0.25, label="95% interval")
        ax.set_title(name)
        ax.set_yticks([])
    axes[0, 0].legend(fontsize="small")
    fig.suptitle(title)
    fig.tight_layout()
    return save_figure(fig, path)


def run_infer(args: argparse.Namespace) -> int:
    """Run ``jumpax infer`` with parsed arguments; returns the exit status."""
    import jax

    from jumpax import inference

    from .cli import _resolve_model

    network, _, _ = _resolve_model(args.model)
    try:
        parameters = inference.ParameterSet(network, args.params)
        if args.method == "paths":
            data = inference.read_paths(args.data, network)
        elif args.method == "snapshots":
            data = inference.read_snapshots(args.data, network)
        else:
            data = inference.read_timeseries(args.data, network)
    except OSError as error:
        raise UsageError(f"argument --data: cannot read {args.data}: {error}") from error
    except ValueError as error:
        raise UsageError(str(error)) from error
    if args.method == "timeseries" and args.noise_sd is None:
        raise UsageError("argument --noise-sd: the time-series method needs the noise sd")
    iterations = args.iterations or DEFAULT_ITERATIONS.get(args.method)
    if args.method == "timeseries" and iterations < 100:
        raise UsageError(f"argument --iterations: PMMH needs at least 100, got {iterations}")
    try:
        if args.method == "paths":
            result = inference.fit_paths(network, data, parameters.names)
            summary = f"{result['events']} events"
        elif args.method == "snapshots":
            result = inference.fit_snapshots(
                jax.random.key(args.seed), network, data, parameters.names, method=args.match,
                iterations=iterations, cells=args.cells, bootstrap=args.bootstrap,
                progress=not args.quiet,
            )
            summary = (
                f"{len(data.values)} cells at {len(data.times)} times, {args.match} matching, "
                f"{args.bootstrap} bootstrap replicates"
            )
        else:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", inference.MixingWarning)
                result = inference.pmmh(
                    jax.random.key(args.seed), network, data, parameters.names, args.noise_sd,
                    num_particles=args.particles, iterations=iterations,
                    progress=not args.quiet,
                )
            # Said plainly, and kept with the result: intervals from a short chain mislead.
            result["warnings"] = [str(w.message) for w in caught]
            for message in result["warnings"]:
                print(f"warning: {message}", file=sys.stderr)
            summary = (
                f"{iterations} PMMH iterations, acceptance {result['acceptance']:.2f}, "
                f"ESS {min(result['ess']):.0f}"
            )
    except ValueError as error:
        raise UsageError(f"argument --data: {error}") from error
    print(f"{args.model}, {args.method} ({summary}):")
    for name, p in result["parameters"].items():
        print(f"  {name:16s} {p['estimate']:.5g}  [{p['lower']:.5g}, {p['upper']:.5g}]")
    document = {
        "model": args.model,
        "data": str(args.data),
        "method": args.method,
        "seed": args.seed,
        **{k: v for k, v in result.items() if k not in ("chain", "trace", "losses", "replicates")},
    }
    with atomic_write(args.out) as temporary:
        temporary.write_text(json.dumps(document, indent=2) + "\n")
    print(f"wrote {args.out}")
    if args.plot:
        plot_inference(result, args.plot, title=f"{args.model}: {args.method}")
        print(f"wrote {args.plot}")
    return 0


def add_infer_command(subcommands: Any) -> argparse.ArgumentParser:
    """Register ``jumpax infer`` on an ``argparse`` sub-parsers object.

    Args:
        subcommands: the object returned by ``ArgumentParser.add_subparsers``.

    Returns:
        The ``infer`` sub-parser (its handler is :func:`run_infer`).
    """
    from .cli import _model

    parser = subcommands.add_parser(
        "infer",
        help="fit rate parameters of a network to complete paths, snapshots or noisy time "
        "series",
        description="Exact maximum likelihood from complete paths (Fisher intervals), moment or "
        "distribution matching from snapshots (bootstrap intervals), or PMMH with an "
        "exact-simulation particle filter from noisy time series (posterior intervals); see "
        "docs/inference.md for the CSV formats.",
    )
    parser.add_argument("model", type=_model, help="a built-in model name or FILE.xml (SBML)")
    parser.add_argument("--data", type=pathlib.Path, required=True, help="the data, FILE.csv")
    parser.add_argument(
        "--params", type=_names, required=True,
        help="comma-separated parameters: reaction names, reaction.parameter or SBML ids",
    )
    parser.add_argument("--method", choices=METHODS, required=True, help="the kind of data")
    parser.add_argument("--seed", type=seed, default=0, help="PRNG seed (snapshots, PMMH)")
    parser.add_argument("--out", type=output_file(".json"), required=True,
                        help="write the result to FILE.json")
    parser.add_argument("--plot", type=image_file, help="write a plot of the estimates")
    parser.add_argument("--noise-sd", type=positive_float, default=None,
                        help="measurement noise sd of the time series (molecules)")
    parser.add_argument("--particles", type=integer_at_least(2), default=200,
                        help="particles per series (PMMH)")
    parser.add_argument("--iterations", type=integer_at_least(4), default=None,
                        help="PMMH iterations (default 4000, a quarter burn-in) or snapshot-fit "
                        "iterations (default 60)")
    parser.add_argument("--match", choices=("moments", "distribution"), default="moments",
                        help="snapshots: match moments (default) or histograms")
    parser.add_argument("--cells", type=integer_at_least(4, even=True), default=2000,
                        help="snapshots: simulated cells per iteration")
    parser.add_argument("--bootstrap", type=integer_at_least(2), default=20,
                        help="snapshots: bootstrap replicates for the intervals")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(handler=run_infer, command_parser=parser)
    return parser

