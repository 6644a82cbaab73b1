"""Control inputs: how an action enters a reaction network for one sampling interval.

An action is a vector with one entry per input. Each input maps its entry (clipped to its
bounds) to a change of the model held for the interval: :class:`RateInput` sets a rate
parameter (e.g. a light-driven transcription rate), :class:`SpeciesInput` sets the count of an
input species (e.g. an inducer held at a level). Both keep the simulation exact: within an
interval the network is an ordinary, time-homogeneous reaction network.
"""

from __future__ import annotations

import abc

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from .._network._network import MAX_COUNT, ReactionNetwork

__all__ = ["AbstractInput", "RateInput", "SpeciesInput"]


class AbstractInput(eqx.Module):
    """One entry of the action vector and how it acts on the network.

    Attributes:
        low: The smallest value of the entry (actions are clipped to ``[low, high]``).
        high: The largest value of the entry.
    """

    low: eqx.AbstractVar[float]
    high: eqx.AbstractVar[float]

    @abc.abstractmethod
    def check(self, network: ReactionNetwork) -> None:
        """Raise ``ValueError`` if the input does not fit ``network``."""

    @abc.abstractmethod
    def apply(self, network: ReactionNetwork, x: Array, u: Array) -> tuple[ReactionNetwork, Array]:
        """The network and counts for an interval under the (clipped, scalar) action ``u``."""

    def _check_bounds(self) -> None:
        if not (np.isfinite(self.low) and np.isfinite(self.high) and self.low < self.high):
            raise ValueError(
                f"{type(self).__name__} needs finite bounds low < high, got [{self.low}, "
                f"{self.high}]"
            )


class RateInput(AbstractInput):
    """An action entry ``u`` that sets one rate parameter to ``offset + gain * u``.

    Example: light-driven transcription, ``RateInput("transcription", gain=10.0)`` with
    ``u`` in ``[0, 1]`` sets the ``k`` of the reaction named ``"transcription"`` to ``10 u``.

    Attributes:
        reaction: The reaction, by name, reaction string or index.
        parameter: The kinetics parameter set (``"k"`` for mass action, ``"vmax"``, ``"K"``...).
        gain: The parameter's change per unit of action.
        offset: The parameter's value at ``u = 0``.
        low: The smallest action.
        high: The largest action.
    """

    reaction: str | int = eqx.field(static=True)
    parameter: str = eqx.field(static=True)
    gain: float = eqx.field(static=True)
    offset: float = eqx.field(static=True)
    low: float = eqx.field(static=True)
    high: float = eqx.field(static=True)

    def __init__(
        self,
        reaction: str | int,
        parameter: str = "k",
        *,
        gain: float = 1.0,
        offset: float = 0.0,
        low: float = 0.0,
        high: float = 1.0,
    ):
        """Create the input (see the class attributes).

        Raises:
            ValueError: for bounds that are not finite with ``low < high``.
        """
        self.reaction = reaction
        self.parameter = parameter
        self.gain = float(gain)
        self.offset = float(offset)
        self.low = float(low)
        self.high = float(high)
        self._check_bounds()

    def check(self, network: ReactionNetwork) -> None:
        """Check that the reaction and parameter exist and both bounds are in its domain.

        Raises:
            ValueError: naming the reaction, the parameter or the bound at fault.
        """
        kinetics = network.reactions[network.reaction_index(self.reaction)].kinetics
        names = [
            name for name in kinetics.domains if isinstance(getattr(kinetics, name), jax.Array)
        ]
        if self.parameter not in names:
            raise ValueError(
                f"reaction {self.reaction!r} ({type(kinetics).__name__}) has no parameter "
                f"{self.parameter!r}; its parameters are {names}"
            )
        domain = kinetics.domains[self.parameter]
        for u in (self.low, self.high):
            value = self.offset + self.gain * u
            if not (value > 0 if domain == "positive" else value >= 0):
                raise ValueError(
                    f"RateInput on {self.reaction!r}.{self.parameter} gives {value} at action "
                    f"{u}, outside the parameter's domain ({domain})"
                )

    def apply(self, network: ReactionNetwork, x: Array, u: Array) -> tuple[ReactionNetwork, Array]:
        """The network with the parameter set to ``offset + gain * u``; the counts unchanged."""
        i = network.reaction_index(self.reaction)
        old = getattr(network.reactions[i].kinetics, self.parameter)
        value = (self.offset + self.gain * u).astype(old.dtype)
        network = eqx.tree_at(
            lambda n: getattr(n.reactions[i].kinetics, self.parameter), network, value
        )
        return network, x


class SpeciesInput(AbstractInput):
    """An action entry ``u`` that sets an input species to ``round(gain * u)`` molecules.

    The count is set at the start of each interval; reactions may change it within the interval
    (an inducer that only catalyses, e.g. ``I + R -> I``, stays at its level). Rounding to whole
    molecules is the documented discretisation of a continuous action into counts.

    Attributes:
        species: The input species.
        gain: Molecules per unit of action.
        low: The smallest action.
        high: The largest action.
    """

    species: str = eqx.field(static=True)
    gain: float = eqx.field(static=True)
    low: float = eqx.field(static=True)
    high: float = eqx.field(static=True)

    def __init__(self, species: str, *, gain: float = 1.0, low: float = 0.0, high: float = 1.0):
        """Create the input (see the class attributes).

        Raises:
            ValueError: for bounds that are not finite with ``low < high``.
        """
        self.species = species
        self.gain = float(gain)
        self.low = float(low)
        self.high = float(high)
        self._check_bounds()

    def check(self, network: ReactionNetwork) -> None:
        """Check that the species exists and both bounds give counts in ``[0, 2**31)``.

        Raises:
            ValueError: naming the species or the bound at fault.
        """
        network.species_index(self.species)
        for u in (self.low, self.high):
            count = round(self.gain * u)
            if not 0 <= count <= MAX_COUNT:
                raise ValueError(
                    f"SpeciesInput {self.species!r} gives {count} molecules at action {u}; "
                    f"counts must be in [0, {MAX_COUNT}]"
                )

    def apply(self, network: ReactionNetwork, x: Array, u: Array) -> tuple[ReactionNetwork, Array]:
        """The network unchanged; the counts with the input species at ``round(gain * u)``."""
        j = network.species_index(self.species)
        return network, x.at[j].set(jnp.round(self.gain * u).astype(x.dtype))
