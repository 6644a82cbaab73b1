"""Models that bundle a network with how it is simulated."""

from __future__ import annotations

from typing import Literal

import equinox as eqx
from jaxtyping import ArrayLike, PRNGKeyArray

from .._network._network import ReactionNetwork
from .._results import SimulationResults
from .._solver._base import AbstractSolver
from .._solver._direct import Direct
from ._simulate import simulate


class StochasticModel(eqx.Module):
    """A reaction network with a solver, a default horizon and a step budget.

    Calling it simulates: ``model(key, x0)`` is ``simulate(key, model.network, x0, model.t1,
    solver=model.solver, max_steps=model.max_steps)``. It is an Equinox module, so its rate
    parameters (inside ``model.network``) are trainable leaves, and ``model.network.log_prob``
    scores its paths (what :func:`jumpax.optimization.reinforce_loss` uses).

    Example:
        >>> model = StochasticModel(jx.models.birth_death(), t1=100.0)
        >>> results = model(jax.random.key(0), model.network.x0)

    Attributes:
        network: the reaction network.
        solver: the exact solver used to simulate.
        t1: the default end time (``None``: it must be given at each call).
        max_steps: the step budget (``None``: :func:`jumpax.simulate`'s default).
    """

    network: ReactionNetwork
    solver: AbstractSolver
    t1: float | None = eqx.field(static=True)
    max_steps: int | None = eqx.field(static=True)

    def __init__(
        self,
        network: ReactionNetwork,
        solver: AbstractSolver = Direct(),
        t1: float | None = None,
        max_steps: int | None = None,
    ):
        """Creates a `StochasticModel`.

        Args:
            network: the reaction network.
            solver: the exact solver (default :class:`~jumpax.Direct`).
            t1: the default end time.
            max_steps: the step budget per trajectory.
        """
        self.network = network
        self.solver = solver
        self.t1 = None if t1 is None else float(t1)
        self.max_steps = max_steps

    def __call__(
        self,
        key: PRNGKeyArray,
        x0: ArrayLike | dict[str, int],
        t1: ArrayLike | None = None,
        *,
        t0: ArrayLike = 0.0,
        save_at: ArrayLike | Literal["final"] | None = None,
        num_trajectories: int | None = None,
    ) -> SimulationResults:
        """Simulates the model from ``x0`` to ``t1`` (default: the model's ``t1``).

        Raises:
            ValueError: if neither the call nor the model gives ``t1``.
        """
        if t1 is None:
            if self.t1 is None:
                raise ValueError("no end time: pass t1 or build StochasticModel(..., t1=...)")
            t1 = self.t1
        return simulate(
            key, self.network, x0, t1, t0=t0, solver=self.solver, save_at=save_at,
            max_steps=self.max_steps, num_trajectories=num_trajectories,
        )
