"""Plots of simulation results (matplotlib, written to files; no display needed)."""

from __future__ import annotations

import pathlib
from typing import Any

import numpy as np

from jumpax import SimulationResults

from .._files import atomic_write


def plot_results(
    results: SimulationResults, path: str | pathlib.Path, *, title: str | None = None,
    max_paths: int = 20,
) -> pathlib.Path:
    """Plots trajectories, or an ensemble's mean with a one-sd band and a few sample paths.

    Args:
        results: single or ensemble results, event-list or grid mode.
        path: the image file to write (format from its extension, e.g. ``.png``).
        title: an optional title.
        max_paths: how many individual ensemble paths to draw faintly.

    Returns:
        The path written.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if results.mode == "final":
        raise ValueError("final-state results have no time course to plot")
    fig, ax = plt.subplots(figsize=(7, 4))
    x, t = np.asarray(results.x), np.asarray(results.t)
    if not results.is_ensemble:
        x, t = x[None], t[None]
    for i, name in enumerate(results.species):
        color = f"C{i}"
        for k in range(min(max_paths, x.shape[0])):
            ax.step(t[k], x[k, :, i], where="post", color=color, alpha=0.15, lw=0.8)
        if x.shape[0] > 1 and results.mode == "grid":
            mean, sd = x[..., i].mean(0), x[..., i].std(0)
            ax.plot(t[0], mean, color=color, lw=2, label=f"{name} mean")
            ax.fill_between(t[0], mean - sd, mean + sd, color=color, alpha=0.2)
        else:
            ax.plot([], [], color=color, label=name)
    ax.set_xlabel("time")
    ax.set_ylabel("molecules")
    ax.legend(loc="best", fontsize="small")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return save_figure(fig, path)


def save_figure(fig: Any, path: str | pathlib.Path) -> pathlib.Path:
    """Writes a matplotlib figure whole or not at all, then closes it.

    Args:
        fig: the figure.
        path: the image file to write (format from its extension, e.g. ``.png``).

    Returns:
        The path written.
    """
    import matplotlib.pyplot as plt

    path = pathlib.Path(path)
    try:
        with atomic_write(path) as temporary:
            fig.savefig(temporary, dpi=120)
    finally:
        plt.close(fig)
    return path
