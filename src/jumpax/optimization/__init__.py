"""Gradient-based optimisation of stochastic reaction networks.

The pieces compose left to right: simulate event-list paths, turn them into per-step
rewards (:mod:`~jumpax.optimization.rewards`), accumulate returns
(:func:`discounted_returns`), and differentiate a loss (:mod:`~jumpax.optimization.losses`)
with ``jax.grad``/``equinox.filter_grad``; or estimate gradients of any scalar function of the
parameters without differentiating it (:mod:`~jumpax.optimization.grad`). Batches follow one
rule throughout: an ensemble adds a leading trajectory axis, steps are the last axis.

Example:
    >>> import jumpax as jx
    >>> from jumpax import optimization as jo
    >>> model = jx.StochasticModel(jx.models.birth_death(), t1=100.0, max_steps=3000)
    >>> results = model(key, model.network.x0, num_trajectories=100)
    >>> rewards = jo.neg_final_state_distance("X")(results, 50.0)
    >>> returns = jo.discounted_returns(rewards, GAMMA=1.0)
    >>> grads = eqx.filter_grad(jo.reinforce_loss())(model, results, returns, returns.mean(0))

Submodules: ``losses``, ``rewards``, ``grad`` (``gradfd``, ``gradspsa``) and ``utils``.
"""

from . import grad, losses, rewards, utils
from .losses import reinforce_loss
from .rewards import neg_final_state_distance, rewards_from_state_metric, steady_state_distance
from .utils import dataloader, discounted_returns

__all__ = [
    "dataloader",
    "discounted_returns",
    "grad",
    "losses",
    "neg_final_state_distance",
    "reinforce_loss",
    "rewards",
    "rewards_from_state_metric",
    "steady_state_distance",
    "utils",
]
