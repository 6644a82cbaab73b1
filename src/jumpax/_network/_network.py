"""Reactions and reaction networks: parsing, species order, propensities and path likelihoods."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike

from .._checks import (
    as_float_array,
    check_host_values,
    check_positive,
    is_concrete,
    species_position,
)
from .._numerics import where_positive
from ._events import (
    AssignmentRule,
    Assignments,
    Expression,
    RateRule,
    StateEvent,
    TimeEvent,
    as_expression,
)
from ._expressions import Expression as MathExpression
from ._expressions import ExpressionKinetics, general_rates, names, stacked_values
from ._kinetics import AbstractKinetics, MassAction, mass_action_rates, parameters_in_domains

if TYPE_CHECKING:
    from .._results import SimulationResults

MAX_COUNT = 2**31 - 1
"""The largest count the integer solvers represent exactly."""

SPARSE_FROM = 128
"""From this many species on, state changes are applied from the sparse net changes
(:attr:`ReactionNetwork.net_changes`) rather than a dense stoichiometry matrix: below it a
dense row or matrix product is cheaper than a scatter (2.5x on a single dimerisation)."""

Side = tuple[tuple[str, int], ...]
"""One side of a reaction: ``(species name, stoichiometric coefficient)`` pairs."""

_SPECIES_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_TERM = re.compile(rf"^(?:(\d+)\s*)?({_SPECIES_NAME})$")
RESERVED_NAMES = ("time", "trajectory")
"""Names no species may have: they are columns of results tables (``to_table``, CSV)."""


def check_species_names(names: Sequence[object]) -> None:
    """Checks species names: strings of letters, digits and underscores, not reserved.

    Raises:
        TypeError: for a name that is not a string.
        ValueError: for an empty or malformed name, or one of :data:`RESERVED_NAMES`.
    """
    for name in names:
        if not isinstance(name, str):
            raise TypeError(f"species names must be strings, got {name!r}")
        if not re.fullmatch(_SPECIES_NAME, name):
            raise ValueError(
                f"species name {name!r} is not a name of letters, digits and underscores "
                "(not starting with a digit)"
            )
        if name in RESERVED_NAMES:
            raise ValueError(
                f"species name {name!r} is reserved: results tables have columns "
                f"{', '.join(map(repr, RESERVED_NAMES))}"
            )
_NON_INTEGER = re.compile(r"^\d*\.\d*\s*\S")


def _parse_side(text: str, reaction: str) -> Side:
    """Parses one side of a reaction string into merged ``(name, coefficient)`` pairs."""
    text = text.strip()
    if text == "0":
        return ()
    if not text:
        raise ValueError(
            f"reaction {reaction!r} has an empty side; write 0 for 'nothing' (e.g. '0 -> X')"
        )
    counts: dict[str, int] = {}
    for raw in text.split("+"):
        term = raw.strip()
        if not term:
            raise ValueError(f"reaction {reaction!r} has an empty species name (a stray '+')")
        if _NON_INTEGER.match(term):
            raise ValueError(
                f"reaction {reaction!r}: non-integer stoichiometric coefficient in {term!r}"
            )
        match = _TERM.match(term)
        if match is None:
            raise ValueError(
                f"reaction {reaction!r}: malformed term {term!r}; expected '[integer] species' "
                "with a species name of letters, digits and underscores"
            )
        coefficient = 1 if match.group(1) is None else int(match.group(1))
        if coefficient == 0:
            raise ValueError(f"reaction {reaction!r}: zero coefficient in {term!r}")
        if coefficient > MAX_COUNT:
            raise ValueError(
                f"reaction {reaction!r}: coefficient in {term!r} above 2**31 - 1 = {MAX_COUNT}"
            )
        name = match.group(2)
        counts[name] = counts.get(name, 0) + coefficient
    return tuple(counts.items())


def parse_reaction(string: str) -> tuple[Side, Side]:
    """Parses ``"2 A + B -> C"`` into reactant and product sides.

    Args:
        string: a reaction with exactly one ``->``; ``0`` stands for nothing.

    Returns:
        ``(reactants, products)``, each a tuple of ``(species, coefficient)`` pairs in order
        of first appearance, repeated species merged (``A + A`` is ``2 A``).

    Raises:
        ValueError: naming the offending text, for a missing or repeated arrow, ``<->``,
            empty species names, non-integer or zero coefficients and malformed terms.
    """
    if not isinstance(string, str):
        raise TypeError(f"a reaction must be a string like 'A + B -> C', got {string!r}")
    if "<->" in string or "<-" in string:
        raise ValueError(
            f"reaction {string!r}: reversible arrows are not supported; write two reactions"
        )
    arrows = string.count("->")
    if arrows != 1:
        problem = "no '->'" if arrows == 0 else f"{arrows} arrows"
        raise ValueError(f"reaction {string!r} has {problem}; expected exactly one '->'")
    left, right = string.split("->")
    return _parse_side(left, string), _parse_side(right, string)


def _format_side(side: Side) -> str:
    if not side:
        return "0"
    return " + ".join(name if s == 1 else f"{s} {name}" for name, s in side)


class Reaction(eqx.Module):
    """One reaction: its stoichiometry (parsed from a string) and its kinetics.

    Example:
        >>> Reaction("2 A + B -> C", MassAction(0.1), name="binding")
        >>> Reaction("0 -> X", 10.0)  # a number means MassAction(number)

    Attributes:
        reactants: ``(species, coefficient)`` pairs consumed (static).
        products: ``(species, coefficient)`` pairs produced (static).
        kinetics: the rate law; its array fields are trainable parameters.
        name: an optional label (static).
        reversible: whether the kinetics give a *net* rate, forward minus reverse, that may be
            negative (static): an SBML reversible reaction whose law does not split into a
            forward and a reverse term. Only the reaction-rate ODE
            (:class:`~jumpax.MeanFieldModel`) follows it; the jump solvers refuse it, as a
            net rate is not a propensity.
    """

    reactants: Side = eqx.field(static=True)
    products: Side = eqx.field(static=True)
    kinetics: AbstractKinetics
    name: str | None = eqx.field(static=True)
    reversible: bool = eqx.field(static=True)

    def __init__(
        self,
        string: str,
        kinetics: AbstractKinetics | ArrayLike,
        name: str | None = None,
        *,
        reversible: bool = False,
    ):
        """Parses the reaction string and attaches its kinetics.

        Args:
            string: the stoichiometry, e.g. ``"2 A + B -> C"``, ``"0 -> X"``, ``"X -> 0"``.
            kinetics: a rate law; a plain number ``k`` is shorthand for ``MassAction(k)``.
            name: an optional label used in tables and error messages.
            reversible: the kinetics give a net rate that may be negative (see the class
                docstring).
        """
        self.reactants, self.products = parse_reaction(string)
        if not isinstance(kinetics, AbstractKinetics):
            kinetics = MassAction(kinetics)
        self.kinetics = kinetics
        self.name = name
        self.reversible = bool(reversible)

    @property
    def string(self) -> str:
        """The canonical reaction string, e.g. ``"2 A + B -> C"``."""
        return f"{_format_side(self.reactants)} -> {_format_side(self.products)}"

    @property
    def label(self) -> str:
        """The name if given, else the reaction string."""
        return self.name if self.name is not None else self.string


def _as_reaction(item: Reaction | tuple) -> Reaction:
    if isinstance(item, Reaction):
        return item
    if isinstance(item, tuple) and len(item) in (2, 3):
        return Reaction(*item)
    raise ValueError(
        f"expected a Reaction or a (string, kinetics[, name]) tuple, got {item!r}"
    )


class RateTable(eqx.Module):
    """A network's rate parameters stacked the way its rate evaluation reads them.

    :meth:`ReactionNetwork.with_rate_table` stacks them once, outside a simulation loop, so
    that the loop reads a few arrays instead of one scalar per rate parameter (thousands for a
    large SBML model: arguments that dominate compiling).

    Attributes:
        mass_action: ``(n,)`` rate constants of the mass-action reactions, in order.
        general: the general rate laws' values, stacked per shape (see
            :func:`~jumpax._network._expressions.stacked_values`).
    """

    mass_action: Array
    general: tuple[dict[str, Array], ...]

    @classmethod
    def of(cls, network: ReactionNetwork) -> RateTable:
        """The table of ``network``'s current parameters (JAX's default float dtype)."""
        dtype = jnp.result_type(float)
        kinetics = [r.kinetics for r in network.reactions]
        constants = [k.rate_constant for k in kinetics if isinstance(k, MassAction)]
        laws = [k.expression for k in kinetics if isinstance(k, ExpressionKinetics)]
        return cls(
            jnp.stack(constants).astype(dtype) if constants else jnp.zeros(0, dtype),
            stacked_values(laws, dtype),
        )


class ReactionNetwork(eqx.Module):
    """A set of reactions among named species: the model simulated by :func:`jumpax.simulate`.

    Species are ordered by first appearance in the reactions unless ``species=`` is given.
    The network is an Equinox module: ``jax.grad`` of a scalar function of the network gives
    gradients for every rate parameter, and it can be built from traced values.

    Example:
        >>> net = ReactionNetwork([Reaction("0 -> X", 10.0), Reaction("X -> 0", 0.1)])
        >>> net.species
        ('X',)

    **Variables.** A state entry listed in ``variables`` is not a molecule count but a real
    quantity that reactions never change: a parameter, compartment size or clock of an SBML
    model, driven by rate rules, assignment rules or events. It may be fractional or negative.
    The continuous :class:`~jumpax.MeanFieldModel` honours variables and rate rules; the jump
    solvers and the Langevin model refuse a network with either, naming them
    (:meth:`check_jump_process`).

    Attributes:
        reactions: the reactions, in order (their index is the reaction id in results).
        species: names of the state entries (static): the species, and any variables;
            positions in state vectors.
        volume: the system volume ``V`` used by volume-dependent kinetics. Not trainable
            unless ``train_volume``: only rate parameters are, by default.
        default_x0: an optional default initial state (static), see :attr:`x0`.
        rules: assignment rules (applied in order after every change) and rate rules.
        events: time and state events.
        variables: the state entries that are real quantities, not counts (static).
        clock: the variable that holds the time, or ``None`` (static): the continuous models
            set it to the time exactly wherever they read the state.
        observable_names: names of the observables (static), see :meth:`observe`.
        observables: one function of the state per observable name, as modules: a math
            :class:`~jumpax.Expression` of the state entries' names, or a callable module.
        train_volume: whether gradients flow to :attr:`volume` (static).
        rate_table: ``None``, or the rate parameters stacked by :meth:`with_rate_table`.
    """

    reactions: tuple[Reaction, ...]
    species: tuple[str, ...] = eqx.field(static=True)
    volume: Array
    default_x0: tuple[float, ...] | None = eqx.field(static=True)
    rules: tuple[AssignmentRule | RateRule, ...]
    events: tuple[TimeEvent | StateEvent, ...]
    variables: tuple[str, ...] = eqx.field(static=True)
    clock: str | None = eqx.field(static=True)
    observable_names: tuple[str, ...] = eqx.field(static=True)
    observables: tuple[MathExpression | eqx.Module, ...]
    train_volume: bool = eqx.field(static=True)
    rate_table: RateTable | None

    def __init__(
        self,
        reactions: Sequence[Reaction | tuple],
        species: Sequence[str] | None = None,
        volume: ArrayLike = 1.0,
        x0: Mapping[str, int] | ArrayLike | None = None,
        *,
        rules: Sequence[AssignmentRule | RateRule] = (),
        events: Sequence[TimeEvent | StateEvent] = (),
        variables: Sequence[str] = (),
        clock: str | None = None,
        observables: Mapping[str, Expression | MathExpression] | None = None,
        train_volume: bool = False,
    ):
        """Builds the network and checks its species.

        Args:
            reactions: ``Reaction`` objects or ``(string, kinetics[, name])`` tuples.
            species: the species order; must contain every species the reactions use
                (extra, inert species are allowed). Defaults to order of first appearance.
            volume: the system volume, positive.
            x0: an optional default initial state (array or ``{species: count}`` dict),
                available as :attr:`x0`.
            rules: assignment rules, applied in order after every change of the state, and
                rate rules (continuous solvers only).
            events: time and state events (see :mod:`jumpax.events`).
            variables: state entries (names in ``species``) that are real quantities rather
                than counts; see the class docstring.
            clock: a variable that holds the time (math reading ``time``, as SBML models
                do): the continuous models set it to the time itself, not an integral of 1.
            observables: ``{name: function of the state}``: derived quantities that
                :meth:`observe` evaluates on results (an SBML model's parameters and
                compartment sizes). A function is a callable of the state vector, or a math
                :class:`~jumpax.Expression` whose species are the state entries' names.
            train_volume: let gradients flow to the volume. By default only the rate
                parameters (the kinetics' arrays) get gradients: the volume is read through
                ``jax.lax.stop_gradient``, so a training loop over every float of the network
                (``eqx.filter(network, eqx.is_inexact_array)``) leaves it unchanged.
        """
        reactions = tuple(_as_reaction(r) for r in reactions)
        if not reactions and not species:
            raise ValueError("a ReactionNetwork needs at least one reaction, or species=")
        used: dict[str, None] = {}
        for reaction in reactions:
            for name, _ in reaction.reactants + reaction.products:
                used.setdefault(name)
            for name in reaction.kinetics.species_refs:
                used.setdefault(name)
        if species is None:
            species = tuple(used)
        else:
            species = tuple(species)
            duplicates = sorted({s for s in species if species.count(s) > 1})
            if duplicates:
                raise ValueError(f"species listed more than once: {duplicates}")
            unknown = [s for s in used if s not in species]
            if unknown:
                raise ValueError(
                    f"reactions use species {unknown} that are not in species={list(species)}"
                )
        check_species_names(species)
        self.reactions = reactions
        self.species = species
        self.volume = check_positive("volume", volume)
        self.train_volume = bool(train_volume)
        self.rate_table = None
        for reaction, reactants in zip(reactions, self.reactant_indices, strict=True):
            reaction.kinetics.check_reaction(reactants)
        self.variables = tuple(str(v) for v in variables)
        if clock is not None and clock not in self.variables:
            raise ValueError(f"the clock {clock!r} must be one of the variables")
        self.clock = clock
        self.rules = tuple(rules)
        self.events = tuple(events)
        self._check_rules_and_events()
        observables = dict(observables or {})
        clashes = sorted(set(observables) & set(species))
        if clashes:
            raise ValueError(f"observables {clashes} have the names of state entries")
        self.observable_names = tuple(str(name) for name in observables)
        self.observables = tuple(
            value if isinstance(value, MathExpression)
            else as_expression(value, f"the observable {name!r}")
            for name, value in observables.items()
        )
        for name, value in zip(self.observable_names, self.observables, strict=True):
            unknown = [s for s in getattr(value, "species", ()) if s not in species]
            if isinstance(value, MathExpression) and unknown:
                raise ValueError(f"the observable {name!r} reads unknown species {unknown}")
        self.default_x0 = None
        if x0 is not None:
            state = checked_state(species, x0, whole=False, variables=self.variables)
            if not is_concrete(state):
                raise ValueError("a network's default x0 must be concrete, not a traced value")
            self.default_x0 = tuple(float(v) for v in np.asarray(state))

    def _check_rules_and_events(self) -> None:
        unknown = [v for v in self.variables if v not in self.species]
        if unknown:
            raise ValueError(f"variables {unknown} are not in species={list(self.species)}")
        changed = [v for v in self.variables if np.any(self.stoichiometry[:, self.index[v]])]
        if changed:
            raise ValueError(f"variables {changed} are changed by reactions; only species may be")
        ruled: set[str] = set()
        for rule in self.rules:
            if not isinstance(rule, AssignmentRule | RateRule):
                raise TypeError(f"rules must be AssignmentRule or RateRule objects, got {rule!r}")
            kind = "an assignment" if isinstance(rule, AssignmentRule) else "a rate"
            if rule.species not in self.species:
                raise ValueError(f"{kind} rule sets unknown species {rule.species!r}")
            if rule.species in ruled:
                raise ValueError(f"{rule.species!r} is set by more than one rule")
            ruled.add(rule.species)
            if np.any(self.stoichiometry[:, self.species.index(rule.species)]):
                raise ValueError(
                    f"species {rule.species!r} is set by {kind} rule and also changed "
                    "by reactions"
                )
        for event in self.events:
            if not isinstance(event, TimeEvent | StateEvent):
                raise ValueError(f"events must be TimeEvent or StateEvent objects, got {event!r}")
            unknown = [s for s in event.assignments.species if s not in self.species]
            if unknown:
                raise ValueError(f"an event assigns unknown species {unknown}")

    @property
    def assignment_rules(self) -> tuple[AssignmentRule, ...]:
        """The assignment rules, in order."""
        return tuple(r for r in self.rules if isinstance(r, AssignmentRule))

    @property
    def rate_rules(self) -> tuple[RateRule, ...]:
        """The rate rules, in order."""
        return tuple(r for r in self.rules if isinstance(r, RateRule))

    def check_jump_process(self, solver: str) -> None:
        """Refuses what a jump process (or the Langevin model) cannot follow, naming it.

        A jump solver changes the state one reaction at a time: it cannot integrate rate
        rules, has nothing to do without reactions, needs propensities (not net rates) and
        counts molecules, so variables (real quantities in the state) are for the continuous
        :class:`~jumpax.MeanFieldModel`.

        Args:
            solver: the solver's name, for the message.

        Raises:
            ValueError: for rate rules, variables, delayed, prioritised or non-persistent
                events, reversible (net-rate) reactions or no reactions.
        """
        use = "; the reaction-rate ODE (MeanFieldModel) simulates it"
        if self.rate_rules:
            names = [rule.species for rule in self.rate_rules]
            raise ValueError(
                f"{solver} cannot simulate rate rules (continuous dynamics, for {names}){use}"
            )
        if self.variables:
            raise ValueError(
                f"{solver} cannot simulate variables {list(self.variables)} (real quantities "
                f"in the state, not molecule counts){use}"
            )
        if not self.reactions:
            raise ValueError(f"{solver} needs a network with reactions{use}")
        scheduled = [k for k, event in enumerate(self.state_events) if event.is_scheduled]
        if scheduled:
            raise ValueError(
                f"{solver} cannot simulate delayed, prioritised or non-persistent state events "
                f"(state events {scheduled}){use}"
            )
        net = [r.label for r in self.reactions if r.reversible]
        if net:
            raise ValueError(
                f"{solver} cannot simulate reversible reactions {net} whose rate law is a net "
                f"rate (forward minus reverse, not a propensity){use}"
            )

    def observe(self, name: str, x: Array) -> Array:
        """The value of a state entry or observable in states ``x``.

        Example:
            >>> res = jx.MeanFieldModel(m)(m.x0, 10.0, save_at=ts)
            >>> m.observe("k1", res.x)      # an SBML parameter at every saved time

        Args:
            name: a state entry (species or variable) or an observable.
            x: states, shape ``(..., n_species)`` (e.g. ``results.x``).

        Returns:
            The value in each state, shape ``x.shape[:-1]``.

        Raises:
            ValueError: for an unknown name (listing the known ones) or a wrong shape.
        """
        x = jnp.asarray(x)
        if x.ndim < 1 or x.shape[-1] != self.n_species:
            raise ValueError(
                f"states must have shape (..., {self.n_species}), got {tuple(x.shape)}"
            )
        if name in self.species:
            return x[..., self.index[name]]
        if name not in self.observable_names:
            known = list(self.species) + list(self.observable_names)
            raise ValueError(f"unknown state entry or observable {name!r}; known: {known}")
        function = self.observables[self.observable_names.index(name)]
        if isinstance(function, MathExpression):
            index = self.index
            one = lambda state: function.evaluate(state, index)  # noqa: E731
        else:
            one = lambda state: jnp.asarray(function(state))  # noqa: E731
        value = jnp.vectorize(one, signature="(n)->()")
        return value(x.astype(jnp.result_type(float)))

    def at_time(self, x: Array, t: ArrayLike) -> Array:
        """The state with the clock variable (if any) set to the time ``t``."""
        if self.clock is None:
            return x
        return x.at[self.index[self.clock]].set(jnp.asarray(t, x.dtype))

    def apply_rules(self, x: Array) -> Array:
        """The state with every assignment rule applied (in order)."""
        for rule in self.assignment_rules:
            x = x.at[self.species.index(rule.species)].set(rule.expression(x))
        return x

    def apply_assignments(
        self, assignments: Assignments, x: Array, values: Array | None = None
    ) -> Array:
        """The state after simultaneous assignments, then the assignment rules.

        ``values`` are the assigned values if computed earlier (a delayed event's, read at its
        trigger), else the assignments are evaluated in ``x``.
        """
        if values is None:
            values = [value(x) for value in assignments.values]
        for k, name in enumerate(assignments.species):
            x = x.at[self.species.index(name)].set(values[k])
        return self.apply_rules(x)

    # ----------------------------------------------------------------------------- parameters
    @property
    def system_volume(self) -> Array:
        """The volume as the kinetics read it: constant to gradients unless ``train_volume``."""
        return self.volume if self.train_volume else jax.lax.stop_gradient(self.volume)

    @property
    def parameter_labels(self) -> tuple[str, ...]:
        """What :meth:`parameters_ok` checks: ``"volume"``, then ``"reaction <label>"`` each."""
        return ("volume",) + tuple(f"reaction {r.label!r}" for r in self.reactions)

    def parameters_ok(self) -> Array:
        """Whether the volume and each reaction's rate parameters are in their domains.

        Constructors check concrete values; this checks the values the network holds now,
        traced or changed since (an optimizer step can drive a rate negative).

        Returns:
            A boolean array with one entry per :attr:`parameter_labels` entry: True where the
            volume is positive and finite, and where a reaction's rate parameters are in their
            domains (see :attr:`AbstractKinetics.domains`).
        """
        volume_ok = jnp.all(jnp.isfinite(self.volume) & (self.volume > 0))
        reactions_ok = parameters_in_domains([r.kinetics for r in self.reactions])
        return jnp.concatenate([volume_ok[None], reactions_ok])

    def with_rate_table(self) -> ReactionNetwork:
        """This network reading its rates from a :class:`RateTable`, stacked once.

        The simulators call it before their loops, so that a loop reads a few stacked arrays
        instead of one scalar per rate parameter. The parameters the table holds (mass-action
        rate constants and general rate laws' values) are dropped from the reactions'
        kinetics (set to ``None``): the network returned is for evaluating rates, not for
        reading or training parameters, and changes to it are not seen by its table. A
        network that already reads a table is returned as it is.
        """
        if self.rate_table is not None:
            return self

        def held(network):
            nodes = []
            for reaction in network.reactions:
                kinetics = reaction.kinetics
                if isinstance(kinetics, MassAction):
                    nodes.append(kinetics.k)
                elif isinstance(kinetics, ExpressionKinetics):
                    nodes.extend(kinetics.expression.parameters.values())
            return nodes

        table = RateTable.of(self)
        reading = eqx.tree_at(held, self, replace_fn=lambda _: None) if held(self) else self
        return eqx.tree_at(lambda n: n.rate_table, reading, table, is_leaf=lambda x: x is None)

    def _rates_table(self) -> RateTable:
        """The table the rates read: the one held (:meth:`with_rate_table`), else stacked now."""
        return self.rate_table if self.rate_table is not None else RateTable.of(self)

    # ----------------------------------------------------------------------------- structure
    @property
    def time_events(self) -> tuple[TimeEvent, ...]:
        """The time events, in list order."""
        return tuple(e for e in self.events if isinstance(e, TimeEvent))

    @property
    def state_events(self) -> tuple[StateEvent, ...]:
        """The state events, in list order."""
        return tuple(e for e in self.events if isinstance(e, StateEvent))

    @property
    def n_species(self) -> int:
        """Number of species."""
        return len(self.species)

    @property
    def n_reactions(self) -> int:
        """Number of reactions."""
        return len(self.reactions)

    @property
    def index(self) -> dict[str, int]:
        """Maps species names to positions in state vectors."""
        return {name: i for i, name in enumerate(self.species)}

    @property
    def reactant_indices(self) -> tuple[tuple[tuple[int, int], ...], ...]:
        """Per reaction, its reactants as ``(species index, coefficient)`` pairs."""
        index = self.index
        return tuple(tuple((index[n], s) for n, s in r.reactants) for r in self.reactions)

    def _side_matrix(self, side: str) -> np.ndarray:
        matrix = np.zeros((self.n_reactions, self.n_species), dtype=np.int64)
        index = self.index
        for j, reaction in enumerate(self.reactions):
            for name, s in getattr(reaction, side):
                matrix[j, index[name]] = s
        return matrix

    @property
    def reactant_matrix(self) -> np.ndarray:
        """``(n_reactions, n_species)`` reactant coefficients."""
        return self._side_matrix("reactants")

    @property
    def product_matrix(self) -> np.ndarray:
        """``(n_reactions, n_species)`` product coefficients."""
        return self._side_matrix("products")

    @property
    def stoichiometry(self) -> np.ndarray:
        """``(n_reactions, n_species)`` net change of each species when each reaction fires."""
        return self.product_matrix - self.reactant_matrix

    @property
    def net_changes(self) -> tuple[np.ndarray, np.ndarray]:
        """The stoichiometry in sparse form: which species each reaction changes, and by what.

        Returns:
            ``(species, delta)``, both ``(n_reactions, width)``: row ``r`` lists the species
            a firing of ``r`` changes (int32) and their net changes (int64), padded with
            changes of 0 (``width`` is at least 1).
        """
        stoichiometry = self.stoichiometry
        rows = [np.flatnonzero(row) for row in stoichiometry]
        width = max([1] + [row.size for row in rows])
        species = np.zeros((self.n_reactions, width), np.int32)
        delta = np.zeros((self.n_reactions, width), np.int64)
        for r, row in enumerate(rows):
            species[r, : row.size] = row
            delta[r, : row.size] = stoichiometry[r, row]
        return species, delta

    @property
    def x0(self) -> Array:
        """The network's default initial state.

        Raises:
            ValueError: if the network was built without ``x0=``.
        """
        if self.default_x0 is None:
            raise ValueError("this network has no default initial state; pass x0 explicitly")
        return jnp.asarray(self.default_x0, dtype=jnp.result_type(float))

    def reaction_index(self, reaction: int | str) -> int:
        """The position of a reaction given by name, reaction string or index.

        Raises:
            ValueError: for an unknown reaction (listing the network's) or an out-of-range
                index.
        """
        if isinstance(reaction, int) and not isinstance(reaction, bool):
            if not 0 <= reaction < self.n_reactions:
                raise ValueError(
                    f"reaction index {reaction} is out of range for {self.n_reactions} reactions"
                )
            return reaction
        for i, r in enumerate(self.reactions):
            if reaction in (r.name, r.string):
                return i
        labels = ", ".join(repr(r.label) for r in self.reactions)
        raise ValueError(f"unknown reaction {reaction!r}; the network has {labels}")

    def species_index(self, species: int | str) -> int:
        """The position of a species given by name or index.

        Raises:
            ValueError: for an unknown name or an out-of-range index.
        """
        return species_position(self.species, species)

    def as_state(self, x0: Mapping[str, int] | ArrayLike) -> Array:
        """Converts an initial state of the continuous models to a float array.

        Species amounts need not be whole (the continuous models follow amounts, not
        molecules); variables may also be negative.

        Args:
            x0: an array of shape ``(n_species,)`` (or ``(n, n_species)`` for one state per
                trajectory), or a ``{species: amount}`` dict (missing species start at 0).

        Raises:
            ValueError: for unknown species, a wrong shape, negative species amounts or
                non-finite values.
        """
        return as_float_array(
            checked_state(self.species, x0, whole=False, variables=self.variables)
        )


    # ----------------------------------------------------------------------------- rates
    def _rates(self, x: Array, exact: bool) -> Array:
        """Propensities (``exact``) or ODE rates of all reactions, in reaction order.

        Mass-action reactions are evaluated together by one vectorised expression, general rate
        laws together per shared shape (:func:`general_rates`), the others one by one; reactions
        with kinetics other than mass action are gated on reactant availability. Integer counts
        are converted to JAX's default float dtype first.
        """
        x = x.astype(jnp.result_type(float)) if jnp.issubdtype(x.dtype, jnp.integer) else x
        table = self._rates_table()
        reactants = self.reactant_indices
        kinetics = [r.kinetics for r in self.reactions]
        mass_action, general, others = self._by_kind()
        if mass_action:
            grouped = mass_action_rates(
                table.mass_action.astype(x.dtype), [reactants[j] for j in mass_action], x,
                self.system_volume, exact=exact,
            )
            if len(mass_action) == self.n_reactions:
                return grouped
        rates = jnp.zeros(self.n_reactions, x.dtype)
        available = self._available(x) if exact and len(mass_action) < self.n_reactions else None
        if mass_action:
            rates = rates.at[np.array(mass_action)].set(grouped)
        if general:
            grouped = general_rates(
                [kinetics[j] for j in general], x, self.index,
                available=None if available is None else available[np.array(general)],
                values=table.general,
            )
            rates = rates.at[np.array(general)].set(grouped)
        if others:
            rule = "propensity" if exact else "ode_rate"
            one_by_one = [
                getattr(kinetics[j], rule)(x, reactants[j], self.index, self.system_volume)
                for j in others
            ]
            rates = rates.at[np.array(others)].set(jnp.stack(one_by_one).astype(x.dtype))
        if exact:
            gated = np.array([j not in mass_action for j in range(self.n_reactions)])
            rates = jnp.where(gated & ~available, 0.0, rates)
        return rates

    def _by_kind(self) -> tuple[list[int], list[int], list[int]]:
        """Reaction positions by kind: ``(mass action, general laws, others)``, in order.

        General laws are ``ExpressionKinetics``; the others (Hill, Michaelis-Menten, ...) are
        evaluated one by one.
        """
        mass_action, general, others = [], [], []
        for j, reaction in enumerate(self.reactions):
            kinetics = reaction.kinetics
            if isinstance(kinetics, MassAction):
                mass_action.append(j)
            elif isinstance(kinetics, ExpressionKinetics):
                general.append(j)
            else:
                others.append(j)
        return mass_action, general, others

    def _available(self, x: Array, positions: Sequence[int] | None = None) -> Array:
        """Whether each reaction's reactants are all present, ``(n_reactions,)`` booleans.

        Read from the reactants alone (a gather of at most the widest reaction's reactants per
        reaction), not from a dense ``(n_reactions, n_species)`` matrix. With ``positions``,
        for those reactions only (the same values).
        """
        reactants = self.reactant_indices
        if positions is not None:
            reactants = [reactants[j] for j in positions]
        width = max([1] + [len(pairs) for pairs in reactants])
        species = np.zeros((len(reactants), width), np.int32)
        needed = np.full((len(reactants), width), -np.inf)
        for j, pairs in enumerate(reactants):
            for k, (i, coefficient) in enumerate(pairs):
                species[j, k], needed[j, k] = i, coefficient
        return jnp.all(x[species] >= jnp.asarray(needed, x.dtype), axis=1)

    def propensities(self, x: Array) -> Array:
        """Propensities of all reactions in state ``x``.

        Args:
            x: counts, shape ``(n_species,)``.

        Returns:
            ``(n_reactions,)`` propensities; exactly 0 for every reaction whose reactants are
            not all available, so no count can go negative.
        """
        return self._rates(x, exact=True)

    def _reads(self) -> np.ndarray | None:
        """``(n_reactions, n_species)``: the species each propensity reads, if all are known.

        A mass-action propensity reads its reactants; a general law (``ExpressionKinetics``)
        the species in its expression and, through the availability gate, its reactants.
        ``None`` where another kind of kinetics (which may read anything) is present.
        (Expressions never read the time.)
        """
        reads = self.reactant_matrix > 0
        index = self.index
        for j, reaction in enumerate(self.reactions):
            kinetics = reaction.kinetics
            if isinstance(kinetics, ExpressionKinetics):
                species = names(kinetics.expression.tree, "species")
                reads[j, [index[name] for name in species]] = True
            elif not isinstance(kinetics, MassAction):
                return None
        return reads

    def propensity_dependents(self) -> np.ndarray | None:
        """Which propensities each reaction changes, for updating only those after an event.

        Returns:
            ``(n_reactions, width)`` int32: row ``r`` lists the reactions whose propensities
            read a species a firing of ``r`` changes (padded by repeating an entry), or
            ``None`` when a firing can change more than that: kinetics other than mass action
            and general laws of the species (they may read anything), assignment rules or
            events.
        """
        reads = None if self.rules or self.events else self._reads()
        if reads is None:
            return None
        changes = self.stoichiometry != 0
        rows = [np.flatnonzero(reads[:, changes[r]].any(axis=1)) for r in range(self.n_reactions)]
        rows = [row if row.size else np.array([r]) for r, row in enumerate(rows)]
        width = max(row.size for row in rows)
        return np.stack([np.pad(row, (0, width - row.size), mode="edge") for row in rows]).astype(
            np.int32
        )

    def propensities_of(self, x: Array, which: Array) -> Array:
        """Propensities of the reactions at positions ``which`` only.

        For networks of mass action and general laws (``ExpressionKinetics``): the
        mass-action propensities at ``which`` are evaluated alone; the general laws all
        together (few, in the networks where this pays), and picked. Equal bit for bit to the
        same entries of :meth:`propensities`.

        Raises:
            ValueError: if a reaction has other kinetics, or for a concrete position outside
                ``[0, n_reactions)`` (JAX indexing would clamp it silently).
        """
        mass_action, general, others = self._by_kind()
        if others:
            raise ValueError(
                "propensities_of needs a network whose reactions are mass action or general "
                "rate laws (ExpressionKinetics)"
            )
        if is_concrete(which):
            positions = np.asarray(which)
            if np.any((positions < 0) | (positions >= self.n_reactions)):
                raise ValueError(
                    f"reaction positions must lie in [0, {self.n_reactions}), got {positions}"
                )
        x = x.astype(jnp.result_type(float))
        table = self._rates_table()
        constants = table.mass_action.astype(x.dtype)
        if general:
            # In reaction order, read through a static map (a gather that fuses with the pick
            # of ``which``; the general laws' entries read any constant and are replaced).
            slot = np.zeros(self.n_reactions, np.int32)
            slot[mass_action] = np.arange(len(mass_action))
            constants = (
                constants[jnp.asarray(slot)] if mass_action
                else jnp.zeros(self.n_reactions, x.dtype)
            )
        values = mass_action_rates(
            constants, self.reactant_indices, x, self.system_volume, which=which
        )
        if not general:
            return values
        available = self._available(x, general)
        laws = general_rates(
            [self.reactions[j].kinetics for j in general], x, self.index, available=available,
            values=table.general,
        )
        laws = jnp.where(available, laws, 0.0)
        slot = np.full(self.n_reactions, -1, np.int32)
        slot[general] = np.arange(len(general))
        picked = jnp.asarray(slot)[which]
        return jnp.where(picked >= 0, laws[jnp.maximum(picked, 0)], values)

    def ode_rates(self, x: Array) -> Array:
        """Reaction rates of the deterministic (reaction-rate ODE) limit, in counts per time."""
        return self._rates(x, exact=False)

    def ode_rhs(self, t: ArrayLike, x: Array) -> Array:
        """Right-hand side ``dx/dt`` of the reaction-rate equations in counts.

        It is the large-volume limit of the same propensities the simulator uses, so the
        CME, the chemical Langevin equation and the ODE agree.
        Rate rules add their rates to the entries they drive.
        """
        del t
        rates = self.ode_rates(x)
        if self.n_species < SPARSE_FROM:
            rhs = rates @ jnp.asarray(self.stoichiometry, dtype=x.dtype)
        else:  # the net changes only: no dense (n_reactions, n_species) matrix
            species, delta = self.net_changes
            changes = rates[:, None] * jnp.asarray(delta, x.dtype)
            rhs = jnp.zeros_like(x).at[species.reshape(-1)].add(changes.reshape(-1))
        for rule in self.rate_rules:
            rhs = rhs.at[self.index[rule.species]].add(rule.expression(x))
        return rhs

    def to_sbml(self) -> str:
        """This network as an SBML Level 3 document (see :func:`jumpax.sbml.to_sbml`)."""
        from ..sbml import to_sbml

        return to_sbml(self)

    # ----------------------------------------------------------------------------- likelihood
    def log_prob(self, results: SimulationResults) -> Array:
        """Per-step log-likelihood of simulated event-list paths under this network.

        For an event step ``i`` (reaction ``r`` taking ``x[i]`` to ``x[i+1]`` at ``t[i+1]``)
        the entry is ``log a_r(x_i) - a0(x_i) (t_{i+1} - t_i)``; the first padding row holds the
        survival term ``-a0(x_last) (t1 - t_last)``; later rows are 0. ``sum(log_prob)`` is the
        exact log-likelihood of the path, differentiable in every rate parameter.

        Args:
            results: event-list results (``save_at=None``), single or an ensemble.

        Returns:
            ``(max_steps,)``, or ``(n_trajectories, max_steps)`` for an ensemble.

        Raises:
            ValueError: for grid-mode results or results of another network's species.
        """
        if results.reactions is None:
            raise ValueError(
                "log_prob needs event-list results (simulate with save_at=None): grid-mode "
                "results do not record which reactions fired"
            )
        if tuple(results.species) != self.species:
            raise ValueError(
                f"results are for species {list(results.species)}, "
                f"this network has {list(self.species)}"
            )
        path_log_prob = self._path_log_prob
        for _ in range(results.reactions.ndim - 1):
            path_log_prob = jax.vmap(path_log_prob)
        return path_log_prob(results.x, results.t, results.reactions)

    def _path_log_prob(self, x: Array, t: Array, reactions: Array) -> Array:
        a = jax.vmap(self.propensities)(x[:-1])
        fired = reactions >= 0
        a_fired = jnp.take_along_axis(a, jnp.where(fired, reactions, 0)[:, None], axis=1)[:, 0]
        log_rate = jnp.where(fired, where_positive(a_fired, jnp.log, -jnp.inf), 0.0)
        return log_rate - a.sum(axis=1) * (t[1:] - t[:-1])


def checked_state(
    species: tuple[str, ...],
    x0: Mapping[str, int] | ArrayLike,
    *,
    integer: bool = False,
    whole: bool = True,
    variables: tuple[str, ...] = (),
) -> np.ndarray | Array:
    """A validated state of counts for ``species``.

    A NumPy array when concrete (validated on the host, no device work: the simulation entry
    points pass it straight to their compiled function), else the traced value.

    Args:
        species: the species names, in order.
        x0: an array ``(n_species,)`` or ``(n, n_species)``, or a ``{species: count}`` dict.
        integer: integer counts (``int32``, ``int64`` with x64; at most ``2**31 - 1``) instead
            of JAX's default float dtype.
        whole: require whole counts (the jump solvers); the continuous models follow
            fractional amounts.
        variables: entries that are real quantities (any finite value), not counts.

    Raises:
        ValueError: for unknown species, a wrong shape, or negative, non-integer, non-finite
            or (integer counts) too large counts.
    """
    dtype = jnp.result_type(int) if integer else jnp.result_type(float)
    if isinstance(x0, Mapping):
        unknown = [name for name in x0 if name not in species]
        if unknown:
            raise ValueError(f"x0 names unknown species {unknown}; known: {list(species)}")
        values = [x0.get(name, 0) for name in species]
        if all(is_concrete(v) for v in values):
            state = np.asarray([np.asarray(v) for v in values])
        else:
            state = jnp.stack([jnp.asarray(v) for v in values])
    else:
        state = np.asarray(x0) if is_concrete(x0) else jnp.asarray(x0)
    if state.ndim not in (1, 2) or state.shape[-1] != len(species):
        raise ValueError(
            f"x0 must have shape ({len(species)},) for species {list(species)} "
            f"(or (n_trajectories, {len(species)})), got shape {tuple(state.shape)}"
        )
    if is_concrete(state):
        if state.dtype.kind not in "biuf":
            raise ValueError(f"x0 counts must be numbers, got {state.dtype} values")
        counts = np.array([name not in variables for name in species])
        check_host_values("x0 counts", state[..., counts].astype(np.float64), whole=whole)
        if not np.all(np.isfinite(state.astype(np.float64))):
            raise ValueError(f"x0 values must be finite, got {state}")
        if integer and np.any(state > MAX_COUNT):
            raise ValueError(f"x0 counts must be at most 2**31 - 1 = {MAX_COUNT}, got {state}")
        if not integer and np.any(state > np.finfo(dtype).max):
            raise ValueError(f"x0 counts must be finite in {np.dtype(dtype).name}, got {state}")
        return state.astype(dtype)
    if integer:
        return jnp.round(state).astype(dtype)
    return state.astype(dtype)
