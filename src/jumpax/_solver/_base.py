"""The solver contract: how one step of a simulation is drawn.

A solver advances a batch of trajectories by one *step* toward a stop time (the next save time,
time event or ``t1``, which the loop in :mod:`jumpax._simulate` chooses); the loop owns
everything else (events, assignment rules, saves, event lists, step budgets, sharding). A step
is one of:

- one reaction firing (the step's code is the reaction's index, ``>= 0``);
- a leap that fires several reactions at once (:data:`LEAPED`);
- nothing before the stop time: the trajectory is moved to the stop time unchanged
  (:data:`STOPPED`);
- a rejected attempt that changes only the solver's own state (:data:`REJECTED`).

The contract has three methods, all over a batch (a leading trajectory axis on every array):
:meth:`AbstractSolver.init` builds the solver's state for the initial states,
:meth:`AbstractSolver.step` takes a step, and :meth:`AbstractSolver.observe` updates the
solver's state after the loop has changed the state (a step, an event or a rule). A new method
(next-reaction, R-leaping, a hybrid) is one subclass in one file.
"""

from __future__ import annotations

import abc
from typing import TYPE_CHECKING, ClassVar

import equinox as eqx
from jaxtyping import Array, PyTree

if TYPE_CHECKING:
    from .._network._network import ReactionNetwork
    from .._numerics import Clock

STOPPED = -1
"""Step code: nothing happened before the stop time; the trajectory is now at the stop time."""

REJECTED = -2
"""Step code: the attempt was rejected (e.g. a leap that would make a count negative)."""

LEAPED = -3
"""Step code: several reactions fired at once (an approximate, leaping solver)."""


class AbstractSolver(eqx.Module):
    """Base class of every stochastic simulation method driven by :func:`jumpax.simulate`.

    Attributes:
        reverse_differentiable: whether the loop must support reverse-mode differentiation
            through the path (a pathwise estimator); such solvers get a bounded, checkpointed
            loop and are not sharded.
        records_events: whether every step is one reaction (event lists can be recorded).
        integer_counts: whether counts are integers (exact to ``2**31``); a pathwise solver
            keeps them as floats for gradients to flow.
    """

    reverse_differentiable: ClassVar[bool] = False
    records_events: ClassVar[bool] = True
    integer_counts: ClassVar[bool] = True

    def check(self, network: ReactionNetwork) -> None:
        """Refuses a model this solver cannot honour, naming the feature and the solver.

        By default: what no jump process follows (rate rules, variables, no reactions; see
        :meth:`~jumpax.ReactionNetwork.check_jump_process`). Subclasses refuse more.

        Raises:
            ValueError: naming the feature and the solver.
        """
        network.check_jump_process(type(self).__name__)

    @abc.abstractmethod
    def init(
        self, network: ReactionNetwork, x: Array, t: Clock, rng: Array
    ) -> tuple[PyTree, Array]:
        """The solver's state for a batch that starts in states ``x`` at times ``t``.

        Args:
            network: the reaction network.
            x: ``(batch, n_species)`` counts.
            t: ``(batch,)`` start times.
            rng: ``(batch, 4)`` per-trajectory random streams (see :mod:`jumpax._random`).

        Returns:
            ``(solver state, rng)``.
        """

    @abc.abstractmethod
    def step(
        self,
        network: ReactionNetwork,
        x: Array,
        t: Clock,
        t_stop: Array,
        state: PyTree,
        rng: Array,
        allowed: Array,
    ) -> tuple[Array, Clock, Array, PyTree, Array]:
        """One step of every trajectory of the batch toward ``t_stop``.

        Args:
            network: the reaction network.
            x: ``(batch, n_species)`` counts.
            t: ``(batch,)`` current times.
            t_stop: ``(batch,)`` stop times; a step never goes past its stop time.
            state: the solver's state.
            rng: ``(batch, 4)`` random streams.
            allowed: ``(batch,)`` whether each trajectory may change its counts. The others
                (finished, or out of step budget: the loop discards their step) keep them,
                while the code still says what the step would have done; masking the update
                here spares the loop a pass over every count to undo it.

        Returns:
            ``(x, t, code, state, rng)`` after the step: counts, times, the step code
            (a reaction index, :data:`STOPPED`, :data:`REJECTED` or :data:`LEAPED`), the
            solver's state and the streams.
        """

    @abc.abstractmethod
    def observe(
        self,
        network: ReactionNetwork,
        x: Array,
        t: Clock,
        code: Array,
        changed: Array,
        state: PyTree,
        rng: Array,
    ) -> tuple[PyTree, Array]:
        """The solver's state once the loop has settled the state after a step.

        Args:
            network: the reaction network.
            x: ``(batch, n_species)`` the counts the next step starts from.
            t: ``(batch,)`` the times the next step starts from.
            code: ``(batch,)`` the code of the step just taken.
            changed: ``(batch,)`` True where the loop changed the counts beyond the step (a
                time event, a state event or an assignment rule).
            state: the solver's state after the step.
            rng: ``(batch, 4)`` random streams.

        Returns:
            ``(solver state, rng)``.
        """
