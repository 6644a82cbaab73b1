"""Rate laws: how fast a reaction fires in a given state.

A kinetics object is an Equinox module whose array fields are the (trainable) rate parameters.
It turns a state ``x`` of molecule **counts** into a propensity, the reaction's firing rate in
events per unit time. Each class documents its formula in counts (what the simulator uses) and
how its parameters relate to the textbook formula in concentrations ``c = x / V``, and gives
the same formula as math (an expression tree) through
:meth:`~AbstractKinetics.rate_law`, which is what :func:`jumpax.to_sbml` writes.

Every propensity is additionally gated by the network: a reaction whose reactants are not all
available (``x_i < s_i``) has propensity exactly 0, whatever its kinetics says.
"""

from __future__ import annotations

import abc
import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike

from .._checks import check_finite_nonnegative, check_positive, check_scalar
from .._numerics import where_positive

if TYPE_CHECKING:
    from ._expressions import Node
    from ._network import Side

Reactants = tuple[tuple[int, int], ...]
"""A reaction's reactants as ``(species index, stoichiometric coefficient)`` pairs."""


MAX_ORDER = 170
"""The largest reactant coefficient of a mass-action reaction (``171!`` overflows a double)."""


class AbstractKinetics(eqx.Module):
    """Base class of rate laws.

    Subclasses implement :meth:`propensity`; :meth:`ode_rate` (the deterministic,
    large-volume limit used by the reaction-rate ODE) defaults to the same value.
    :meth:`rate_law` gives the propensity as math (an expression tree), which is how
    :func:`jumpax.to_sbml` writes it; a subclass that computes something else must override
    it too (the export refuses kinetics whose class inherits it).

    Attributes:
        domains: the documented domain of each parameter, ``"non-negative"`` or ``"positive"``
            (class-level): constructors check concrete values, and
            :meth:`parameters_in_domain` checks traced ones (e.g. after an optimizer step).
    """

    domains: ClassVar[dict[str, str]] = {}

    @property
    def species_refs(self) -> tuple[str, ...]:
        """Names of species the rate law reads besides the reaction's reactants."""
        return ()

    @property
    def parameters(self) -> dict[str, Array]:
        """The parameter values that :meth:`rate_law` reads, by name (default: array fields)."""
        return {
            field.name: getattr(self, field.name)
            for field in dataclasses.fields(self)
            if not field.metadata.get("static", False)
        }

    def parameters_in_domain(self) -> Array:
        """Whether every parameter is finite and in its domain (see :attr:`domains`).

        Traceable, so it also checks parameters no constructor saw: values an optimizer step
        produced, or traced ones. :func:`jumpax.simulate` refuses a network where it is False.
        """
        return parameters_in_domains([self])[0]

    def rate_law(self, reactants: Side, volume: Node) -> Node:
        """The propensity as an expression tree (see :class:`jumpax.Expression`).

        Evaluated with :attr:`parameters` on the counts of a state in which the reactants are
        available, the tree gives :meth:`propensity` (up to rounding).

        Args:
            reactants: the reaction's reactants as ``(species name, coefficient)`` pairs.
            volume: the tree standing for the system volume, e.g. ``("const", 2.0)`` or a
                compartment's ``("param", name)``.

        Returns:
            A tree whose ``("species", name)`` leaves are species counts and whose
            ``("param", name)`` leaves are entries of :attr:`parameters`.

        Raises:
            NotImplementedError: for kinetics that have no law as math.
        """
        raise NotImplementedError(f"{type(self).__name__} kinetics cannot be written as math")

    def check_reaction(self, reactants: Reactants) -> None:
        """Raises ``ValueError`` if this rate law cannot drive a reaction with these reactants."""

    @abc.abstractmethod
    def propensity(
        self, x: Array, reactants: Reactants, index: Mapping[str, int], volume: Array
    ) -> Array:
        """The firing rate of one reaction in state ``x``.

        Args:
            x: molecule counts, shape ``(n_species,)``, floating point.
            reactants: the reaction's reactants as ``(species index, coefficient)`` pairs.
            index: maps species names to positions in ``x``.
            volume: the system volume ``V``.

        Returns:
            A scalar propensity (events per unit time).
        """

    def ode_rate(
        self, x: Array, reactants: Reactants, index: Mapping[str, int], volume: Array
    ) -> Array:
        """The reaction's rate in the deterministic (reaction-rate ODE) limit, in counts/time."""
        return self.propensity(x, reactants, index, volume)


def parameters_in_domains(kinetics: Sequence[AbstractKinetics]) -> Array:
    """Whether each kinetics' parameters are finite and in their domains: ``(n,)`` bool.

    Kinetics of one class with parameters of the same shapes are checked together, one
    comparison per parameter name over their stacked values, so tracing and compiling the
    check costs about the same for 10 reactions as for 10,000.

    Args:
        kinetics: the kinetics to check, e.g. one per reaction.

    Returns:
        Entry ``j`` is True where every parameter of ``kinetics[j]`` is finite and in its
        domain (see :attr:`AbstractKinetics.domains`).
    """
    groups: dict[tuple, list[tuple[int, dict[str, Array]]]] = {}
    for j, kinetic in enumerate(kinetics):
        parameters = {name: jnp.asarray(value) for name, value in kinetic.parameters.items()}
        key = tuple(
            (name, domain, parameters[name].shape) for name, domain in kinetic.domains.items()
        )
        groups.setdefault(key, []).append((j, parameters))
    order, flags = [], []
    for key, members in groups.items():
        ok = jnp.ones(len(members), bool)
        for name, domain, _ in key:
            values = jnp.stack([parameters[name] for _, parameters in members])
            values = values.reshape(len(members), -1)
            in_domain = values > 0 if domain == "positive" else values >= 0
            ok = ok & jnp.all(jnp.isfinite(values) & in_domain, axis=1)
        order += [j for j, _ in members]
        flags.append(ok)
    if not flags:
        return jnp.zeros(0, bool)
    return jnp.concatenate(flags)[np.argsort(order)]


def mass_action_rates(
    ks: Array,
    reactants: Sequence[Reactants],
    x: Array,
    volume: Array,
    *,
    exact: bool = True,
    which: Array | None = None,
) -> Array:
    """Mass-action rates of several reactions at once (one gather, no per-reaction graph).

    Args:
        ks: ``(n,)`` rate constants.
        reactants: per reaction, its ``(species index, coefficient)`` pairs.
        x: counts, ``(n_species,)``.
        volume: the system volume.
        exact: ``True`` for the stochastic propensity ``k V^(1-m) prod_i C(x_i, s_i)``
            (falling factorials), ``False`` for the ODE limit ``k V^(1-m) prod_i x_i^s_i / s_i!``.
            Both are products of factors ``>= 1`` once the reactants are available, so no
            intermediate result overflows when the binomial (or power) itself is finite.
        which: positions (an int array) of the reactions wanted, default all. Each rate is
            computed by the same arithmetic either way, so the values agree bit for bit.

    Returns:
        ``(n,)`` rates, or one per entry of ``which``.
    """
    slots = max(1, max(len(r) for r in reactants))
    index = np.zeros((len(reactants), slots), dtype=np.int32)
    coefficient = np.zeros((len(reactants), slots), dtype=np.int64)
    for j, pairs in enumerate(reactants):
        for slot, (i, s) in enumerate(pairs):
            index[j, slot], coefficient[j, slot] = i, s
    order = coefficient.sum(axis=1)
    scale = ks * volume ** jnp.asarray(1 - order, dtype=x.dtype)
    highest = int(coefficient.max(initial=0))
    static_coefficient = coefficient
    if which is not None:
        scale = scale[which]
        index = jnp.asarray(index)[which]
        coefficient = jnp.asarray(coefficient)[which]
    counts = x[index]
    terms = jnp.ones_like(counts)
    for m in range(highest):
        # C(x, s) = prod_{m < s} (x - m) / (s - m) and x^s / s! = prod_{m < s} x / (s - m): for
        # x >= s every factor is >= 1, so the partial products rise from 1 to the final value
        # and cannot overflow unless it does. x - m is clamped at 0, so for a count x < s the
        # factor m = x and all later ones are 0: C(x, s) is exactly +0, never negative or NaN.
        active = coefficient > m
        numerator = jnp.where(counts >= m, counts - m, 0.0) if exact else counts
        divisors = np.maximum(static_coefficient - m, 1)
        if np.all((divisors & (divisors - 1)) == 0):
            # Powers of two: multiplying by the reciprocal is exact (and much cheaper).
            inverse = jnp.asarray(1.0 / divisors, x.dtype)
            factor = jnp.where(active, numerator * (inverse[which] if which is not None
                                                    else inverse), 1.0)
        else:
            remaining = jnp.where(active, coefficient - m, 1).astype(x.dtype)
            factor = jnp.where(active, numerator / remaining, 1.0)
        if highest > 3:
            # XLA would reassociate t * (a / b) into (t * a) / b, whose partial products
            # overflow (40! > float32's range); the barrier keeps each factor whole. Orders up
            # to 3 cannot overflow for counts below 2**31.
            factor = jax.lax.optimization_barrier(factor)
        terms = terms * factor
    return scale * jnp.prod(terms, axis=-1)


def _binomial(name: str, coefficient: int) -> Node:
    """``C(x, s)`` as math: ``x (x - 1) ... (x - s + 1) / s!``."""
    x = ("species", name)
    if coefficient == 1:
        return x
    factors = [x, *(("minus", x, ("const", float(m))) for m in range(1, coefficient))]
    return ("divide", ("times", *factors), ("const", float(math.factorial(coefficient))))


class MassAction(AbstractKinetics):
    r"""Mass-action kinetics with stochastic rate constant ``k``.

    In counts: ``a(x) = k V^(1-m) prod_i C(x_i, s_i)`` where ``m = sum_i s_i`` is the order,
    ``s_i`` the reactant coefficients and ``C`` the binomial coefficient computed exactly as a
    falling factorial (no ``lgamma``), so it is exactly 0 whenever ``x_i < s_i``.
    For ``2 A -> B`` this is ``k A (A-1) / 2 / V``.

    In concentrations the deterministic rate is ``k prod_i c_i^{s_i} / s_i!``; the ODE limit
    used by :meth:`ode_rate` is ``k V^(1-m) prod_i x_i^{s_i} / s_i!``, the same rate written in
    counts. (Rate constants that already include the ``1/s_i!`` factor, as in many textbooks,
    must be multiplied by ``s_i!`` to be used here.)

    With ``transform`` (stochastix's convention), the stored ``k`` is a free parameter and the
    rate constant is ``transform(k)``: ``MassAction(jnp.log(0.1), transform=jnp.exp)`` trains
    the log-rate, which no optimizer step can drive negative.

    Attributes:
        k: the rate constant (non-negative), or the parameter ``transform`` maps to it.
        transform: ``None``, or a function from ``k`` to the rate constant (static).
        source: ``None``, or ``(parameter, factor)`` where the rate constant is ``factor``
            times a named parameter of a model file (static): :func:`jumpax.load_sbml` reads
            a kinetic law ``c S1 S2 ...`` as mass action, and
            :class:`jumpax.inference.ParameterSet` still finds its rate by the SBML id in ``c``.
    """

    k: Array
    transform: Callable[[Array], Array] | None = eqx.field(static=True)
    source: tuple[str, float] | None = eqx.field(static=True, metadata={"provenance": True})
    domains = {"k": "non-negative"}

    def __init__(
        self,
        k: ArrayLike,
        transform: Callable[[Array], Array] | None = None,
        source: tuple[str, float] | None = None,
    ):
        """Creates a `MassAction`.

        Args:
            k: the rate constant, non-negative; with ``transform``, any value that it maps to
                a non-negative rate constant.
            transform: e.g. ``jnp.exp`` to parametrise the rate by its logarithm.
            source: the model file's parameter the rate constant is read from, and the
                positive factor it is multiplied by (see the class attributes).
        """
        if transform is not None and not callable(transform):
            raise TypeError(f"MassAction transform must be callable, got {transform!r}")
        if source is not None and not (
            isinstance(source[0], str) and np.isfinite(source[1]) and source[1] > 0
        ):
            raise ValueError(f"MassAction source must be (name, positive factor), got {source!r}")
        self.transform = transform
        self.source = None if source is None else (source[0], float(source[1]))
        if transform is None:
            self.k = check_finite_nonnegative("MassAction rate constant k", k)
        else:
            self.k = check_scalar("MassAction parameter k", k)
            check_finite_nonnegative("MassAction rate constant transform(k)", transform(self.k))

    def check_reaction(self, reactants: Reactants) -> None:
        """Refuses reactant coefficients above 170: ``s!`` and the law overflow beyond."""
        too_high = [s for _, s in reactants if s > MAX_ORDER]
        if too_high:
            raise ValueError(
                f"mass action with a reactant coefficient of {max(too_high)}: at most "
                f"{MAX_ORDER} is supported ({MAX_ORDER + 1}! overflows double precision)"
            )

    @property
    def rate_constant(self) -> Array:
        """The rate constant: ``k``, or ``transform(k)``."""
        return self.k if self.transform is None else self.transform(self.k)

    @property
    def parameters(self) -> dict[str, Array]:
        """``{"k": rate_constant}``: what the rate law reads (and SBML export writes)."""
        return {"k": self.rate_constant}

    def propensity(self, x, reactants, index, volume):
        """``k V^(1-m) prod_i C(x_i, s_i)``."""
        return mass_action_rates(self.rate_constant[None], [reactants], x, volume)[0]

    def ode_rate(self, x, reactants, index, volume):
        """``k V^(1-m) prod_i x_i^{s_i} / s_i!``."""
        return mass_action_rates(
            self.rate_constant[None], [reactants], x, volume, exact=False
        )[0]

    def rate_law(self, reactants: Side, volume: Node) -> Node:
        """``k V^(1-m) prod_i x_i (x_i - 1) ... (x_i - s_i + 1) / s_i!``."""
        order = sum(s for _, s in reactants)
        factors: list[Node] = [("param", "k")]
        if order != 1:
            factors.append(("power", volume, ("const", float(1 - order))))
        factors += [_binomial(name, s) for name, s in reactants]
        return ("times", *factors)


class Constant(AbstractKinetics):
    """A constant propensity, independent of the state.

    In counts: ``a(x) = rate`` events per unit time. In concentrations a constant production
    rate ``r`` (concentration per time) corresponds to ``rate = r V``.

    Attributes:
        rate: the propensity (non-negative).
    """

    rate: Array
    domains = {"rate": "non-negative"}

    def __init__(self, rate: ArrayLike):
        """Creates a `Constant`.

        Args:
            rate: events per unit time, non-negative.
        """
        self.rate = check_finite_nonnegative("Constant rate", rate)

    def propensity(self, x, reactants, index, volume):
        """``rate``."""
        return self.rate

    def rate_law(self, reactants: Side, volume: Node) -> Node:
        """``rate``."""
        return ("param", "rate")


class _AbstractHill(AbstractKinetics):
    """Shared parameters and validation of the two Hill rate laws."""

    regulator: str = eqx.field(static=True)
    vmax: Array
    K: Array
    n: Array
    domains = {"vmax": "non-negative", "K": "positive", "n": "positive"}

    def __init__(self, regulator: str, vmax: ArrayLike, K: ArrayLike, n: ArrayLike = 1.0):
        """Creates the Hill rate law.

        Args:
            regulator: name of the regulating species.
            vmax: maximal propensity (events per unit time), non-negative.
            K: half-saturation constant in molecules, positive.
            n: Hill coefficient, positive.
        """
        if not isinstance(regulator, str):
            raise TypeError(f"Hill kinetics needs a species name as regulator, got {regulator!r}")
        if not regulator:
            raise ValueError("Hill kinetics needs a species name as regulator, got ''")
        self.regulator = regulator
        self.vmax = check_finite_nonnegative(f"{type(self).__name__} vmax", vmax)
        self.K = check_positive(f"{type(self).__name__} K", K)
        self.n = check_positive(f"{type(self).__name__} Hill coefficient n", n)

    @property
    def species_refs(self) -> tuple[str, ...]:
        """The regulator."""
        return (self.regulator,)

    def _hill(self, x: Array, index: Mapping[str, int], activation: bool) -> Array:
        """``vmax r^n / (K^n + r^n)`` or ``vmax K^n / (K^n + r^n)`` for the regulator count."""
        r_n = where_positive(x[index[self.regulator]], lambda r: r**self.n, 0.0)
        k_n = self.K**self.n
        return self.vmax * ((r_n if activation else k_n) / (k_n + r_n))

    def _hill_law(self, activation: bool) -> Node:
        """:meth:`_hill` as math."""
        r_n = ("power", ("species", self.regulator), ("param", "n"))
        k_n = ("power", ("param", "K"), ("param", "n"))
        return (
            "times",
            ("param", "vmax"),
            ("divide", r_n if activation else k_n, ("plus", k_n, r_n)),
        )


class HillActivation(_AbstractHill):
    """Hill activation by a regulator species ``R``.

    In counts: ``a(x) = vmax R^n / (K^n + R^n)`` with ``vmax`` in events per unit time and
    ``K`` in molecules. In concentrations (``v_c R_c^n / (K_c^n + R_c^n)``):
    ``vmax = V v_c`` and ``K = V K_c``.

    Attributes:
        regulator: the activating species (static).
        vmax: maximal propensity.
        K: half-activation count.
        n: Hill coefficient.
    """

    def propensity(self, x, reactants, index, volume):
        """``vmax R^n / (K^n + R^n)``."""
        return self._hill(x, index, activation=True)

    def rate_law(self, reactants: Side, volume: Node) -> Node:
        """``vmax R^n / (K^n + R^n)``."""
        return self._hill_law(activation=True)


class HillRepression(_AbstractHill):
    """Hill repression by a regulator species ``R``.

    In counts: ``a(x) = vmax K^n / (K^n + R^n)`` with ``vmax`` in events per unit time and
    ``K`` in molecules. In concentrations: ``vmax = V v_c`` and ``K = V K_c``.

    Attributes:
        regulator: the repressing species (static).
        vmax: maximal propensity (reached when ``R = 0``).
        K: half-repression count.
        n: Hill coefficient.
    """

    def propensity(self, x, reactants, index, volume):
        """``vmax K^n / (K^n + R^n)``."""
        return self._hill(x, index, activation=False)

    def rate_law(self, reactants: Side, volume: Node) -> Node:
        """``vmax K^n / (K^n + R^n)``."""
        return self._hill_law(activation=False)


class MichaelisMenten(AbstractKinetics):
    """Michaelis-Menten kinetics of a substrate ``S``.

    In counts: ``a(x) = vmax S / (Km + S)`` with ``vmax`` in events per unit time and ``Km``
    in molecules. In concentrations (``V_c S_c / (Km_c + S_c)``): ``vmax = V V_c`` and
    ``Km = V Km_c``.

    Attributes:
        vmax: maximal propensity.
        Km: Michaelis constant in molecules.
        substrate: the substrate's name (static); ``None`` means the reaction's only reactant.
    """

    vmax: Array
    Km: Array
    substrate: str | None = eqx.field(static=True)
    domains = {"vmax": "non-negative", "Km": "positive"}

    def __init__(self, vmax: ArrayLike, Km: ArrayLike, substrate: str | None = None):
        """Creates a `MichaelisMenten`.

        Args:
            vmax: maximal propensity, non-negative.
            Km: Michaelis constant in molecules, positive.
            substrate: species name; defaults to the reaction's single reactant.
        """
        self.vmax = check_finite_nonnegative("MichaelisMenten vmax", vmax)
        self.Km = check_positive("MichaelisMenten Km", Km)
        self.substrate = substrate

    @property
    def species_refs(self) -> tuple[str, ...]:
        """The substrate, when named explicitly."""
        return () if self.substrate is None else (self.substrate,)

    def check_reaction(self, reactants: Reactants) -> None:
        """Without ``substrate=``, the reaction must have exactly one reactant species."""
        if self.substrate is None and len(reactants) != 1:
            raise ValueError(
                "MichaelisMenten without substrate= needs a reaction with exactly one reactant "
                f"species, got {len(reactants)}; name the substrate explicitly"
            )

    def propensity(self, x, reactants, index, volume):
        """``vmax S / (Km + S)``."""
        s = x[reactants[0][0] if self.substrate is None else index[self.substrate]]
        return self.vmax * s / (self.Km + s)

    def rate_law(self, reactants: Side, volume: Node) -> Node:
        """``vmax S / (Km + S)``."""
        s = ("species", reactants[0][0] if self.substrate is None else self.substrate)
        return ("divide", ("times", ("param", "vmax"), s), ("plus", ("param", "Km"), s))
