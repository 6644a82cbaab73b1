"""The direct method with a straight-through Gumbel-softmax gradient: a pathwise estimator."""

from __future__ import annotations

from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp

from .. import _random
from .._numerics import where_positive
from ._ssa import AbstractSSA, waiting_time


class GumbelSoftmaxDirect(AbstractSSA):
    """The direct method with a straight-through Gumbel-softmax gradient: a pathwise estimator.

    **Forward pass: exact.** The waiting time is ``Exp(a0)`` and the reaction is drawn by the
    Gumbel-max trick, ``r = argmax_j (log a_j + g_j)`` with standard Gumbel noise
    ``g = -log E`` (``E`` a 41-bit exponential, so ratios down to ``1e-12`` are resolved), which
    is exactly ``P(r) = a_r / a0``. A reaction with propensity 0 has ``log a = -inf`` and is
    never chosen; the simulated paths have the same law as :class:`~jumpax.Direct`'s.

    **Backward pass: relaxed.** The state update is ``x + S^T y`` with the straight-through
    one-hot ``y = onehot(r) + (s - stop_gradient(s))``, ``s = softmax((log a + g) /
    temperature)``: its value is exactly ``onehot(r)`` (counts stay whole numbers), its gradient
    is the softmax's. Waiting times are reparameterised (``tau = E / a0``), so event times carry
    gradients too. Gradients of a function of the path (``jax.grad`` through
    :func:`~jumpax.simulate` or a :class:`~jumpax.StochasticModel`) are low-variance but
    biased; lower temperatures reduce the bias and raise the variance.

    Counts are floats (for the gradient), exact below ``2**24`` in float32. The simulation uses
    a bounded, checkpointed loop (``reverse_differentiable``), so set ``max_steps`` close to the
    number of events actually needed.

    Example:
        >>> model = jx.StochasticModel(net, GumbelSoftmaxDirect(temperature=0.5), 10.0, 500)
        >>> def mean_final(model):
        ...     return model(key, x0, save_at="final", num_trajectories=100).x.mean()
        >>> grads = eqx.filter_grad(mean_final)(model)

    Attributes:
        temperature: the softmax temperature of the backward pass (static), positive.
    """

    temperature: float = eqx.field(static=True)
    reverse_differentiable: ClassVar[bool] = True
    integer_counts: ClassVar[bool] = False
    reuses_bits: ClassVar[bool] = True

    def __init__(self, temperature: float = 1.0):
        """Builds the solver.

        Args:
            temperature: the softmax temperature of the relaxation, positive.
        """
        if not (isinstance(temperature, int | float) and 0 < temperature < float("inf")):
            raise ValueError(f"temperature must be a positive number, got {temperature!r}")
        self.temperature = float(temperature)

    def num_words(self, n_reactions):
        """One for the waiting time and two per reaction for the Gumbel noise."""
        return 2 * n_reactions + 1

    @staticmethod
    def _perturbed_logits(bits, propensities):
        """``log a + g`` (``-inf`` where ``a == 0``), ``g`` from ``bits[1:]``.

        :meth:`update` recomputes the same noise from the same words :meth:`sample` used.
        """
        log_a = where_positive(propensities, jnp.log, -jnp.inf)
        return log_a - jnp.log(_random.fine_exponentials(bits[1:], propensities.dtype))

    def sample(self, bits, propensities):
        """Draws ``(tau, r)`` exactly: an exponential waiting time and the Gumbel-max index."""
        logits = self._perturbed_logits(bits, propensities)
        tau = waiting_time(_random.to_unit(bits[0], propensities.dtype), jnp.sum(propensities))
        return tau, jnp.argmax(logits).astype(jnp.int32)

    def update(self, bits, x, propensities, r, stoichiometry):
        """``x + S^T y`` with the straight-through one-hot ``y`` (value exactly ``onehot(r)``)."""
        soft = jax.nn.softmax(self._perturbed_logits(bits, propensities) / self.temperature)
        hard = jax.nn.one_hot(r, propensities.shape[0], dtype=x.dtype)
        return x + (hard + (soft - jax.lax.stop_gradient(soft))) @ stoichiometry
