"""Score-function (REINFORCE) losses: gradients of expected rewards through path likelihoods.

Differentiating ``reinforce_loss`` differentiates only the log-likelihood of stored paths
(:meth:`jumpax.ReactionNetwork.log_prob`, survival term included), never the simulation loop:
its gradient is an unbiased estimate of ``-d E[return] / d parameters``.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike

from .._results import SimulationResults

__all__ = ["reinforce_loss"]


def _log_prob_fn(model) -> Callable[[SimulationResults], Array]:
    """``model.log_prob`` or ``model.network.log_prob``."""
    if hasattr(model, "log_prob"):
        return model.log_prob
    network = getattr(model, "network", None)
    if hasattr(network, "log_prob"):
        return network.log_prob
    raise ValueError(
        f"reinforce_loss needs a model with a log_prob method (a ReactionNetwork) or a "
        f".network that has one (a StochasticModel), got {type(model).__name__}"
    )


def _broadcast_to_steps(name: str, value: ArrayLike, shape: tuple[int, ...]) -> Array:
    value = jnp.asarray(value)
    try:
        broadcast = jnp.broadcast_shapes(value.shape, shape)
    except ValueError:
        broadcast = None
    if broadcast != shape:
        raise ValueError(
            f"{name} of shape {value.shape} does not broadcast to the per-step log-probabilities "
            f"of shape {shape}; pass one value per step (or a per-trajectory value as x[:, None])"
        )
    return value


def reinforce_loss(stop_returns_grad: bool = True) -> Callable[..., Array]:
    """Create a loss function for the REINFORCE algorithm.

    The loss is ``-mean_n sum_i log p_i * (G_i - b_i)`` where ``log p_i`` is the log-likelihood
    of step ``i`` (:meth:`~jumpax.ReactionNetwork.log_prob`), ``G_i`` the return from step
    ``i`` and ``b_i`` the baseline: a sum over the steps of each trajectory and a mean over the
    trajectories of an ensemble. Its gradient estimates ``-d E[G] / d theta`` without bias for
    any baseline that does not depend on the path it is applied to (a constant, a value from
    an independent simulation, or a leave-one-out mean).

    Example:
        >>> loss_fn = reinforce_loss()
        >>> results = model(key, x0, num_trajectories=100)
        >>> returns = discounted_returns(rewards_fn(results, target), GAMMA=1.0)
        >>> grads = eqx.filter_grad(loss_fn)(model, results, returns)

    Args:
        stop_returns_grad: if True, gradients will not be computed for the returns. This is
            the standard formulation of REINFORCE.

    Returns:
        ``loss(model, ssa_results, returns, baseline=0.0) -> scalar`` where

        - ``model`` has a ``log_prob`` method (a :class:`~jumpax.ReactionNetwork`) or a
          ``.network`` with one (a :class:`~jumpax.StochasticModel`);
        - ``ssa_results`` are event-list results, single ``(max_steps,)`` steps or an ensemble
          ``(n_trajectories, max_steps)``;
        - ``returns`` are the returns for each step, broadcastable to the log-probabilities'
          shape: ``(max_steps,)``, ``(n, max_steps)``, or ``(n, 1)`` for one return per
          trajectory;
        - ``baseline`` is subtracted from the returns to reduce variance, broadcastable the
          same way; gradients never flow into it.

        It raises ``ValueError`` for a model without ``log_prob`` and for returns or a
        baseline of the wrong shape.
    """

    def loss(
        model, ssa_results: SimulationResults, returns: ArrayLike, baseline: ArrayLike = 0.0
    ) -> Array:
        log_probs = _log_prob_fn(model)(ssa_results)
        returns = _broadcast_to_steps("returns", returns, log_probs.shape)
        baseline = _broadcast_to_steps("baseline", baseline, log_probs.shape)
        if stop_returns_grad:
            returns = jax.lax.stop_gradient(returns)
        advantages = returns - jax.lax.stop_gradient(baseline)
        return -jnp.mean(jnp.sum(log_probs * advantages, axis=-1))

    return loss
