"""Which rate parameters are fitted: names resolved to leaves of a network, on the log scale.

A name is a reaction name (for a rate law with one parameter, e.g. mass action's ``k``),
``reaction.parameter`` (e.g. ``"U synthesis.K"``), or an SBML parameter id read by the rate
laws of one or several reactions (``load_sbml`` keeps SBML ids as the parameter names of
``ExpressionKinetics``, and as the :attr:`~jumpax.MassAction.source` of the laws it reads as
mass action): every reaction that reads it is set together.
"""

from __future__ import annotations

from collections.abc import Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike

from .._network._expressions import ExpressionKinetics
from .._network._kinetics import MassAction
from .._network._network import ReactionNetwork

__all__ = ["ParameterSet"]


SOURCE = "source:"
"""Prefix of the location key of a file parameter a mass-action rate was read from (no SBML
id holds a colon, so the key never meets a parameter of the kinetics itself)."""


def _read_from(kinetics, key: str) -> bool:
    """Whether ``key`` is ``SOURCE`` and the file parameter a mass-action rate was read from."""
    return (
        isinstance(kinetics, MassAction) and kinetics.source is not None
        and key == SOURCE + kinetics.source[0]
    )


def _getter(network: ReactionNetwork, i: int, key: str):
    """A function returning the leaf of parameter ``key`` of reaction ``i``.

    ``key`` may name (after ``SOURCE``) the file parameter a mass-action rate was read from:
    the leaf is then its rate constant (:func:`_scale` times the parameter).
    """
    kinetics = network.reactions[i].kinetics
    if isinstance(kinetics, MassAction) and kinetics.transform is not None:
        raise ValueError(
            f"reaction {network.reactions[i].label!r} has a transformed mass-action rate; "
            "inference fits rates on the log scale itself: pass the rate untransformed"
        )
    if _read_from(kinetics, key):
        key = "k"
    if isinstance(getattr(kinetics, key, None), jax.Array):
        return lambda n: getattr(n.reactions[i].kinetics, key)
    return lambda n: n.reactions[i].kinetics.parameters[key]


def _scale(network: ReactionNetwork, i: int, key: str) -> float:
    """The leaf of :func:`_getter` over the parameter's value: the source's factor, else 1."""
    kinetics = network.reactions[i].kinetics
    return kinetics.source[1] if _read_from(kinetics, key) else 1.0


class ParameterSet(eqx.Module):
    """Named rate parameters of a network, read and written on the log scale.

    Attributes:
        names: The parameter names, as given.
        locations: For each name, the ``(reaction index, parameter key)`` pairs it sets.
    """

    names: tuple[str, ...] = eqx.field(static=True)
    locations: tuple[tuple[tuple[int, str], ...], ...] = eqx.field(static=True)

    def __init__(self, network: ReactionNetwork, names: Sequence[str]):
        """Resolve ``names`` in ``network``.

        Raises:
            ValueError: for no names, a repeated name, an unknown or ambiguous name (listing
                the names that exist), or a shared SBML parameter whose reactions disagree on
                its value.
        """
        names = tuple(names)
        if not names:
            raise ValueError("name at least one parameter to fit")
        if len(set(names)) != len(names):
            raise ValueError(f"parameters named twice: {names}")
        locations = []
        for name in names:
            found = self._resolve(network, name)
            values = {
                float(np.asarray(_getter(network, i, key)(network))) / _scale(network, i, key)
                for i, key in found
            }
            if len(values) > 1:
                raise ValueError(f"parameter {name!r} has different values {sorted(values)}")
            locations.append(tuple(found))
        self.names = names
        self.locations = tuple(locations)

    @staticmethod
    def _resolve(network: ReactionNetwork, name: str) -> list[tuple[int, str]]:
        reactions = [r.label for r in network.reactions]
        if name in reactions:
            i = network.reaction_index(name)
            keys = list(network.reactions[i].kinetics.parameters)
            if len(keys) != 1:
                raise ValueError(
                    f"reaction {name!r} has parameters {keys}: name one as '{name}.{keys[0]}'"
                )
            return [(i, keys[0])]
        reaction, dot, key = name.rpartition(".")
        if dot and reaction in reactions:
            i = network.reaction_index(reaction)
            keys = list(network.reactions[i].kinetics.parameters)
            if key not in keys:
                raise ValueError(f"reaction {reaction!r} has no parameter {key!r}; it has {keys}")
            return [(i, key)]
        shared = [
            (i, name) for i, r in enumerate(network.reactions)
            if isinstance(r.kinetics, ExpressionKinetics) and name in r.kinetics.parameters
        ] + [
            (i, SOURCE + name) for i, r in enumerate(network.reactions)
            if _read_from(r.kinetics, SOURCE + name)
        ]
        if shared:
            return shared
        ids = sorted({
            k for r in network.reactions if isinstance(r.kinetics, ExpressionKinetics)
            for k in r.kinetics.parameters
        } | {
            r.kinetics.source[0] for r in network.reactions
            if isinstance(r.kinetics, MassAction) and r.kinetics.source is not None
        })
        raise ValueError(
            f"unknown parameter {name!r}: use a reaction name ({', '.join(map(repr, reactions))}),"
            " 'reaction.parameter'" + (f", or a parameter id ({', '.join(ids)})" if ids else "")
        )

    def values(self, network: ReactionNetwork) -> np.ndarray:
        """The current values, in the order of :attr:`names`."""
        return np.array([
            float(np.asarray(_getter(network, *where[0])(network))) / _scale(network, *where[0])
            for where in self.locations
        ])

    def apply(self, network: ReactionNetwork, log_values: ArrayLike) -> ReactionNetwork:
        """``network`` with the parameters set to ``exp(log_values)`` (traceable)."""
        log_values = jnp.asarray(log_values)
        for j, where in enumerate(self.locations):
            for i, key in where:
                leaf = _getter(network, i, key)
                old = leaf(network)
                value = _scale(network, i, key) * jnp.exp(log_values[j])
                network = eqx.tree_at(leaf, network, value.astype(old.dtype))
        return network

    def log_values(self, network: ReactionNetwork) -> Array:
        """The current values on the log scale.

        Raises:
            ValueError: if a value is not positive (it has no logarithm).
        """
        values = self.values(network)
        bad = [n for n, v in zip(self.names, values, strict=True) if not v > 0]
        if bad:
            raise ValueError(f"parameters {bad} must be positive to be fitted on the log scale")
        return jnp.log(jnp.asarray(values, jnp.float32))
