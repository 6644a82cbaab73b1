"""JAX helpers shared by the JAX adapters.

``crn-jax`` and ``jsmfsb`` take the propensities as a user-written function; both get the same
one from :func:`propensity_fn`, which evaluates ``k * prod_i C(x_i, s_i)`` (the jumpax
convention) with gathers over padded reactant tables: O(reactions) work per call, like the
tools' own loops.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from .harness import Summary
from .models import Model


def _binomial(x, s, max_s: int):
    """``C(x, s)`` for integer ``0 <= s <= max_s`` as a float (0 when ``x < s``)."""
    result = jnp.ones_like(x)
    for m in range(max_s):
        result = result * jnp.where(s > m, (x - m) / (m + 1), 1.0)
    return jnp.where(x >= s, result, 0.0)


def propensity_fn(model: Model):
    """Returns ``f(x) -> a`` (float32 propensities) for ``model``'s mass-action reactions."""
    width = max(1, max(len(r.reactants) for r in model.reactions))
    index = np.zeros((len(model.reactions), width), dtype=np.int32)
    coeff = np.zeros((len(model.reactions), width), dtype=np.float32)
    for j, reaction in enumerate(model.reactions):
        for slot, (name, c) in enumerate(reaction.reactants.items()):
            index[j, slot] = model.species.index(name)
            coeff[j, slot] = c
    rates = np.asarray([r.k for r in model.reactions], dtype=np.float32)
    max_s = int(coeff.max(initial=0))

    def f(x):
        return rates * jnp.prod(_binomial(x[index], coeff, max_s), axis=1)

    return f


def stoichiometry(model: Model):
    """Net change matrix ``(n_reactions, n_species)`` as float32."""
    return jnp.asarray(model.stoichiometry(), dtype=jnp.float32)


def keys(seed: int, n: int):
    """``n`` independent PRNG keys for seed ``seed``."""
    return jax.random.split(jax.random.key(seed), n)


def summarize(obs, events=None) -> Summary:
    """Waits for ``obs``/``events`` (device arrays) and builds a :class:`Summary`."""
    obs, events = jax.block_until_ready((obs, events))
    return Summary.from_arrays(np.asarray(obs), None if events is None else np.asarray(events))
