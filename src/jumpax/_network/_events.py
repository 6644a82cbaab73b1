"""Discrete events and assignment rules: instantaneous changes of the state during a simulation.

These mirror SBML's events and assignment rules and are honoured exactly by
:func:`jumpax.simulate`:

- an :class:`AssignmentRule` keeps one species equal to a function of the others after every
  change of the state (and at ``t0``);
- a :class:`RateRule` gives one state entry a continuous rate of change (SBML's rate rules):
  the continuous solver :class:`~jumpax.MeanFieldModel` integrates it, the jump solvers
  refuse it by name;
- a :class:`TimeEvent` fires once, exactly at its time, and assigns new values;
- a :class:`StateEvent` fires whenever its trigger (a function of the state) goes from false to
  true, right after the reaction that made it true, and re-arms once the trigger is false.

Expressions are callables ``f(x) -> value`` of the state vector ``x`` (counts in species
order). Use Equinox modules (or module-level functions) rather than fresh lambdas: expressions
are static structure, and a new lambda each time means a new compilation.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import equinox as eqx
import jax
from jaxtyping import Array, ArrayLike

from .._checks import check_finite_nonnegative

Expression = Callable[[Array], Array]
"""A function of the state vector, e.g. ``lambda x: 2 * x[0]``."""


class Function(eqx.Module):
    """A plain function wrapped as a module with the function as static structure.

    Attributes:
        fn: the function (static).
    """

    fn: Expression = eqx.field(static=True)

    def __call__(self, x: Array) -> Array:
        """Evaluates the function on the state."""
        return self.fn(x)


def as_expression(expression: Expression, what: str) -> eqx.Module:
    """An Equinox module evaluating ``expression`` (modules pass through, functions are wrapped).

    Raises:
        ValueError: if ``expression`` is not callable.
    """
    if isinstance(expression, eqx.Module):
        return expression
    if not callable(expression):
        raise TypeError(f"{what} must be callable, got {expression!r}")
    return Function(expression)


class Assignments(eqx.Module):
    """Simultaneous assignments: every value is computed from the state before any is set.

    Attributes:
        species: the assigned species (static).
        values: one expression per species.
    """

    species: tuple[str, ...] = eqx.field(static=True)
    values: tuple[eqx.Module, ...]

    def __init__(self, assignments: Sequence[tuple[str, Expression]]):
        """Creates `Assignments` from ``(species, expression)`` pairs.

        Raises:
            ValueError: for no assignments or a non-callable expression.
        """
        pairs = tuple(assignments)
        if not pairs:
            raise ValueError("an event needs at least one assignment")
        self.species = tuple(str(name) for name, _ in pairs)
        self.values = tuple(
            as_expression(value, f"the assignment to {name!r}") for name, value in pairs
        )


class AssignmentRule(eqx.Module):
    """Keeps ``species`` equal to ``expression(x)`` at all times.

    Attributes:
        species: the species the rule sets (static); reactions must not change it.
        expression: a function of the state, as a module.
    """

    species: str = eqx.field(static=True)
    expression: eqx.Module

    def __init__(self, species: str, expression: Expression):
        """Creates an `AssignmentRule`.

        Args:
            species: the species the rule sets.
            expression: a function of the state vector.
        """
        self.species = str(species)
        self.expression = as_expression(expression, f"the rule for {species!r}")


class RateRule(eqx.Module):
    """Makes ``species`` change continuously at the rate ``expression(x)`` (SBML rate rule).

    The state entry it drives is usually a network *variable* (a parameter, compartment size
    or clock of an SBML model, see :class:`~jumpax.ReactionNetwork`), or a species no reaction
    changes. Only the continuous reaction-rate ODE (:class:`~jumpax.MeanFieldModel`)
    integrates rate rules; every jump solver and the Langevin model refuse a network with one,
    naming the entry, as an exact jump process cannot follow continuous dynamics.

    Example:
        >>> growth = RateRule("V", lambda x: 0.1 * x[1])   # dV/dt = 0.1 V

    Attributes:
        species: the state entry the rule drives (static); reactions must not change it.
        expression: its rate of change, a function of the state, as a module.
    """

    species: str = eqx.field(static=True)
    expression: eqx.Module

    def __init__(self, species: str, expression: Expression):
        """Creates a `RateRule`.

        Args:
            species: the state entry the rule drives.
            expression: its time derivative, a function of the state vector.
        """
        self.species = str(species)
        self.expression = as_expression(expression, f"the rate rule for {species!r}")


class TimeEvent(eqx.Module):
    """Assignments that happen once, exactly at ``time`` (SBML trigger ``time >= T``).

    An event at ``t0`` or earlier never fires (SBML ``initialValue = false`` semantics give the
    same: the trigger must go from false to true). At a save time equal to ``time`` the saved
    state is the post-event state.

    Attributes:
        time: when the event fires (traced: changing it does not recompile). Not trainable:
            every solver reads it through ``jax.lax.stop_gradient`` (see :attr:`firing_time`),
            as no solver differentiates the path with respect to an event's time.
        assignments: what the event sets.
    """

    time: Array
    assignments: Assignments

    def __init__(self, time: ArrayLike, assignments: Sequence[tuple[str, Expression]]):
        """Creates a `TimeEvent`.

        Args:
            time: the firing time, finite and non-negative.
            assignments: ``(species, expression)`` pairs.
        """
        self.time = check_finite_nonnegative("TimeEvent time", time)
        self.assignments = Assignments(assignments)

    @property
    def firing_time(self) -> Array:
        """:attr:`time`, constant to gradients: what the solvers read."""
        return jax.lax.stop_gradient(self.time)


class StateEvent(eqx.Module):
    """Assignments made whenever ``trigger(x)`` goes from false to true.

    The trigger is checked after every reaction; it fires at that reaction's time. It re-arms
    once the trigger is false again. With ``initial_value=False`` a trigger already true at
    ``t0`` fires at ``t0``; with ``True`` (the default) it must first become false.

    **Delays, priorities, persistence** (SBML's event semantics; honoured by the reaction-rate
    ODE, :class:`~jumpax.MeanFieldModel`, and refused by name by the jump solvers and the
    Langevin model). With a ``delay``, a firing at ``t`` is carried out at ``t + delay(x)``
    (the delay read at ``t``), with the values the assignments had at ``t`` unless
    ``values_at_trigger=False`` (then at execution). Events due at one time are carried out one
    at a time, highest ``priority(x)`` first (ties between equal priorities in random order,
    as SBML requires, from a fixed seed so that a solve is reproducible; events without a
    priority after those with one, in list order), the triggers checked again after each.
    A non-``persistent`` event's
    pending firings are dropped as soon as its trigger is false.

    Attributes:
        trigger: a boolean function of the state, as a module.
        assignments: what the event sets.
        initial_value: the trigger's value assumed just before ``t0`` (static).
        delay: ``None``, or the delay as a function of the state (non-negative).
        priority: ``None``, or the priority as a function of the state.
        persistent: whether a pending firing survives its trigger turning false (static).
        values_at_trigger: whether delayed assignments use the values at the firing (static).
    """

    trigger: eqx.Module
    assignments: Assignments
    initial_value: bool = eqx.field(static=True)
    delay: eqx.Module | None
    priority: eqx.Module | None
    persistent: bool = eqx.field(static=True)
    values_at_trigger: bool = eqx.field(static=True)

    def __init__(
        self,
        trigger: Expression,
        assignments: Sequence[tuple[str, Expression]],
        initial_value: bool = True,
        *,
        delay: Expression | None = None,
        priority: Expression | None = None,
        persistent: bool = True,
        values_at_trigger: bool = True,
    ):
        """Creates a `StateEvent`.

        Args:
            trigger: a boolean function of the state vector.
            assignments: ``(species, expression)`` pairs.
            initial_value: the trigger value assumed before ``t0``.
            delay: an optional delay, a function of the state.
            priority: an optional priority, a function of the state.
            persistent: whether pending firings survive the trigger turning false.
            values_at_trigger: whether delayed assignments use the values at the firing.
        """
        self.trigger = as_expression(trigger, "an event trigger")
        self.assignments = Assignments(assignments)
        self.initial_value = bool(initial_value)
        self.delay = None if delay is None else as_expression(delay, "an event delay")
        self.priority = None if priority is None else as_expression(priority, "an event priority")
        self.persistent = bool(persistent)
        self.values_at_trigger = bool(values_at_trigger)

    @property
    def is_scheduled(self) -> bool:
        """Whether the event has a delay, a priority or is not persistent.

        Only the reaction-rate ODE honours these SBML semantics.
        """
        return self.delay is not None or self.priority is not None or not self.persistent
