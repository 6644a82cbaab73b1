"""A Gaussian surrogate of one step of a reaction network, in molecule counts.

:class:`CountSurrogate` is a ``func`` for :class:`~jumpax.dynamics.StochasticTransitionModel`:
what ``jumpax learn`` (deep abstraction) and model-based control (:mod:`jumpax.control`) fit.
"""

from collections.abc import Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
from jax import Array

__all__ = ["CountSurrogate"]


class CountSurrogate(eqx.Module):
    """A Gaussian step ``x(t) -> x(t + dt)`` in molecule counts, optionally under actions.

    An MLP sees the counts divided by a fixed typical ``scale`` (and the actions, if any) and
    predicts the scaled mean increment and the log-variance relative to ``scale**2``::

        mu = x + scale * f_mu(x / scale, a),    logvar = 2 log(scale) + f_logvar(x / scale, a)

    so the distribution is over raw counts while the network works with numbers of order one.

    Attributes:
        mlp: The network, ``n + n_actions -> 2 n`` for ``n`` observed counts.
        scale: The typical count of each observed species (fixed, not trained).
    """

    mlp: eqx.nn.MLP
    scale: tuple[float, ...] = eqx.field(static=True)

    def __init__(
        self,
        scale: Sequence[float],
        *,
        n_actions: int = 0,
        width: int = 32,
        depth: int = 2,
        key: Array,
    ):
        """Build the network.

        Args:
            scale: The typical count of each species, e.g. the mean over the training data;
                positive.
            n_actions: The length of the action vector; actions should be of order one (e.g. a
                Box in ``[0, 1]``).
            width: Hidden layer width.
            depth: Number of hidden layers.
            key: A JAX random key for the initial weights.

        Raises:
            ValueError: for an empty or non-positive ``scale`` or a negative ``n_actions``.
        """
        scale = tuple(float(s) for s in scale)
        if not scale or not all(s > 0 for s in scale):
            raise ValueError(f"scale must hold one positive number per species, got {scale}")
        if n_actions < 0:
            raise ValueError(f"n_actions must be >= 0, got {n_actions}")
        n = len(scale)
        self.scale = scale
        self.mlp = eqx.nn.MLP(n + n_actions, 2 * n, width, depth, activation=jax.nn.silu, key=key)

    def __call__(self, s: Array, a: Array) -> Array:
        """Means then log-variances of the next counts, given counts ``s`` and actions ``a``."""
        scale = jnp.asarray(self.scale)
        n = s.shape[0]
        out = self.mlp(jnp.concatenate([s / scale, jnp.reshape(a, (-1,))]))
        return jnp.concatenate([s + scale * out[:n], 2 * jnp.log(scale) + out[n:]])
