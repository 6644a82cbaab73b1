"""Fitting dynamics models to transitions: :class:`ModelUpdater` (the seed API).

What is fitted, per model type:

- :class:`~jumpax.dynamics.TransitionModel` / :class:`~jumpax.dynamics.RewardFunction`: the
  prediction ``model(S, A)`` is regressed onto the target with ``loss_function`` (default
  :func:`jumpax.value_losses.huber`).
- :class:`~jumpax.dynamics.StochasticTransitionModel` /
  :class:`~jumpax.dynamics.StochasticRewardFunction`: by default, **maximum likelihood**: the
  loss is the weighted mean of ``-log p(target | S, A)`` (the exact log-density, so a Gaussian
  model learns its variance instead of collapsing it). With a ``loss_function``, the
  distribution's mean (of the one-hot encoding, for a categorical) is regressed onto the target
  instead, and the spread gets no gradient from the loss.

Targets and weights: transition models are trained on ``S_next`` and reward functions on ``Rn``,
on every transition, each weighted by its ``W`` (as in coax: ``In`` is a discount factor, not a
mask, and a transition into a terminal state is data too). Losses reduce as coax's do: the mean
over all elements of ``W`` times the elementwise loss (see :mod:`jumpax.value_losses`), and a
regularizer adds ``mean(W * penalty)``. A weight-0 transition is removed exactly: its values,
even NaN, change neither the loss nor the gradient. Unlike coax, ``W`` is used as given (coax
clips it to ``[0.1, 10]``), and negative weights are refused.

Example:
    >>> import equinox as eqx, gymnasium, jax, jax.numpy as jnp
    >>> from jumpax.dynamics import ConcatInputs, TransitionModel
    >>> from jumpax.model_updaters import ModelUpdater
    >>> from jumpax.transitions import TransitionBatch
    >>> box = gymnasium.spaces.Box(-jnp.inf, jnp.inf, shape=(2,))
    >>> none = gymnasium.spaces.Box(-jnp.inf, jnp.inf, shape=(0,))
    >>> model = TransitionModel(ConcatInputs(eqx.nn.Linear(2, 2, key=jax.random.key(0))), box, none)
    >>> S = jax.random.normal(jax.random.key(1), (64, 2))
    >>> batch = TransitionBatch(S=S, A=jnp.zeros((64, 0)), S_next=0.9 * S)
    >>> updater = ModelUpdater(model)
    >>> metrics = updater.update(batch)
    >>> sorted(metrics)[:2]
    ['ModelUpdater/grads_finite', 'ModelUpdater/grads_max']
"""

import functools as ft
import sys
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax import Array

from . import _value_losses as value_losses
from ._dynamics import AbstractDynamicsModel, Forward
from ._regularizers import AbstractRegularizer
from ._transitions import TransitionBatch, check_weights
from ._value_losses import LossFunction, weighted_mean

__all__ = ["ModelUpdater", "fit_on_minibatches"]

PyTree = Any


def _drop(x: Array, keep: Array) -> Array:
    """Zero the rows of dropped samples, so that a NaN there cannot leak into the gradients."""
    return jnp.where(keep.reshape(-1, *(1,) * (x.ndim - 1)), x, jnp.zeros_like(x))


class _Objective(eqx.Module):
    """The training objective of one model: targets, sample weights, loss and regularizer."""

    forward: Forward
    target_field: str = eqx.field(static=True)
    loss_function: LossFunction | None = eqx.field(static=True)
    regularizer: AbstractRegularizer | None

    def _fit(
        self, params: PyTree, function_state: PyTree, batch: TransitionBatch, key: Array
    ) -> tuple[PyTree, PyTree, Array, Array]:
        """Training-mode forward pass: ``(outputs, function_state, targets, weights)``."""
        target = getattr(batch, self.target_field)
        if target is None:
            raise ValueError(f"the batch has no {self.target_field}, the target of this model")
        target = self.forward.target.check(target, self.target_field)
        w = batch.W
        keep = w != 0
        S, A, target = (_drop(x, keep) for x in (batch.S, batch.A, target))
        outputs, function_state = self.forward(
            params, function_state, S, A, inference=False, key=key
        )
        return outputs, function_state, target, w

    def _bare_loss(self, outputs: PyTree, target: Array, w: Array) -> Array:
        """The loss without regularizer: negative log-likelihood, or ``loss_function``."""
        dist = self.forward.target
        if self.loss_function is None:
            return weighted_mean(-dist.log_prob(outputs, target), w)
        if self.forward.stochastic:
            return self.loss_function(dist.flatten(target), dist.flat_mean(outputs), w)
        return self.loss_function(target, outputs, w)

    def __call__(
        self, params: PyTree, function_state: PyTree, batch: TransitionBatch, key: Array
    ) -> tuple[Array, tuple[PyTree, dict[str, Array]]]:
        """The total loss, with the new function state and the loss metrics as auxiliary data."""
        outputs, function_state, target, w = self._fit(params, function_state, batch, key)
        loss_bare = self._bare_loss(outputs, target, w)
        metrics = {"ModelUpdater/loss_bare": loss_bare}
        loss = loss_bare
        if self.regularizer is not None:
            penalty, regularizer_metrics = self.regularizer(outputs, w)
            loss = loss + penalty
            metrics.update(regularizer_metrics)
        metrics["ModelUpdater/loss"] = loss
        return loss, (function_state, metrics)

    def per_sample(
        self, params: PyTree, function_state: PyTree, batch: TransitionBatch, key: Array
    ) -> Array:
        """The bare loss of each sample on its own (0 for samples of weight 0)."""
        outputs, _, target, w = self._fit(params, function_state, batch, key)

        def one(outputs: PyTree, target: Array) -> Array:
            outputs = jax.tree.map(lambda x: x[None], outputs)
            return self._bare_loss(outputs, target[None], jnp.ones(1))

        return jnp.where(w != 0, jax.vmap(one)(outputs, target), 0.0)


def _grads_and_metrics(
    objective: _Objective,
    params: PyTree,
    function_state: PyTree,
    batch: TransitionBatch,
    key: Array,
) -> tuple[PyTree, PyTree, dict[str, Array]]:
    grad_fn = jax.value_and_grad(objective, has_aux=True)
    (_, (function_state, metrics)), grads = grad_fn(params, function_state, batch, key)
    leaves = jax.tree.leaves(grads)
    metrics["ModelUpdater/grads_norm"] = optax.tree.norm(grads)
    metrics["ModelUpdater/grads_max"] = jnp.max(
        jnp.stack([jnp.max(jnp.abs(g), initial=0) for g in leaves])
    )
    metrics["ModelUpdater/grads_finite"] = jnp.all(
        jnp.stack([jnp.all(jnp.isfinite(g)) for g in leaves])
    )
    return grads, function_state, metrics


def _apply_grads(
    optimizer: optax.GradientTransformation,
    params: PyTree,
    optimizer_state: PyTree,
    grads: PyTree,
) -> tuple[PyTree, PyTree]:
    updates, optimizer_state = optimizer.update(grads, optimizer_state, params)
    return optax.apply_updates(params, updates), optimizer_state


def _check_structure(name: str, old: PyTree, new: PyTree) -> None:
    old_def, new_def = jax.tree.structure(old), jax.tree.structure(new)
    if old_def != new_def:
        raise ValueError(
            f"cannot swap {name}: its state has tree structure {new_def}, expected {old_def}"
        )


class ModelUpdater:
    """Fits a dynamics model to batches of transitions with an Optax optimizer.

    Updates replace the model's ``params`` and ``function_state`` in place, so that afterwards
    ``model(S, A)`` predicts with the new parameters. The gradient and optimizer steps are
    compiled once per updater and batch shape.

    Args:
        model: A :class:`~jumpax.dynamics.TransitionModel`,
            :class:`~jumpax.dynamics.StochasticTransitionModel`,
            :class:`~jumpax.dynamics.RewardFunction` or
            :class:`~jumpax.dynamics.StochasticRewardFunction`.
        optimizer: An Optax optimizer; default ``optax.adam(1e-3)``.
        loss_function: ``L(y_true, y_pred, w) -> scalar`` (see :mod:`jumpax.value_losses`), or
            the name of one there. Default: :func:`~jumpax.value_losses.huber` for deterministic
            models and maximum likelihood for stochastic ones (see the module docstring).
        regularizer: A regularizer built on ``model`` (stochastic models only), see
            :mod:`jumpax.regularizers`.
        key: The random key for a ``func`` that takes one (dropout): each update and each
            :meth:`per_sample_loss` call uses a fresh key split from it. Default
            ``jax.random.key(0)``.

    Raises:
        ValueError: If the model has no trainable parameters, the regularizer is given for a
            deterministic model or was built for another distribution family, or
            ``loss_function`` is an unknown name.
    """

    def __init__(
        self,
        model: AbstractDynamicsModel,
        optimizer: optax.GradientTransformation | None = None,
        loss_function: LossFunction | str | None = None,
        regularizer: AbstractRegularizer | None = None,
        *,
        key: Array | None = None,
    ):
        if not jax.tree.leaves(model.params):
            raise ValueError(
                "the model has no trainable parameters: func must hold its arrays as pytree "
                "leaves (an Equinox module), not in a closure"
            )
        if regularizer is not None:
            if not model.stochastic:
                raise ValueError(
                    f"a regularizer needs a stochastic model, but {type(model).__name__} is "
                    "deterministic"
                )
            if regularizer.distribution != model.distribution:
                raise ValueError(
                    f"the regularizer was built for {regularizer.distribution}, but the model "
                    f"predicts {model.distribution}"
                )
        if isinstance(loss_function, str):
            loss_function = value_losses.get(loss_function)
        if loss_function is None and not model.stochastic:
            loss_function = value_losses.huber
        self._model = model
        self._key = jax.random.key(0) if key is None else key
        self._objective = _Objective(model.forward, model.target_field, loss_function, regularizer)
        self._grads_and_metrics = jax.jit(ft.partial(_grads_and_metrics, self._objective))
        self._per_sample_loss = jax.jit(self._objective.per_sample)
        optimizer = optax.adam(1e-3) if optimizer is None else optimizer
        self._optimizer_state = optimizer.init(model.params)
        self._set_optimizer(optimizer)

    def _set_optimizer(self, optimizer: optax.GradientTransformation) -> None:
        self._optimizer = optimizer
        self._apply_grads = jax.jit(ft.partial(_apply_grads, optimizer))

    @property
    def model(self) -> AbstractDynamicsModel:
        """The model being fitted."""
        return self._model

    @property
    def loss_function(self) -> LossFunction | None:
        """The regression loss, or ``None`` for maximum likelihood."""
        return self._objective.loss_function

    @property
    def regularizer(self) -> AbstractRegularizer | None:
        """The regularizer, if any."""
        return self._objective.regularizer

    @property
    def optimizer(self) -> optax.GradientTransformation:
        """The Optax optimizer.

        It can be replaced by one whose state has the same structure (e.g. the same optimizer
        with another learning rate); the optimizer state is kept.
        """
        return self._optimizer

    @optimizer.setter
    def optimizer(self, new_optimizer: optax.GradientTransformation) -> None:
        new_state = jax.eval_shape(new_optimizer.init, self._model.params)
        _check_structure("optimizer", self._optimizer_state, new_state)
        self._set_optimizer(new_optimizer)

    @property
    def optimizer_state(self) -> PyTree:
        """The optimizer state; it can be replaced by one of the same tree structure."""
        return self._optimizer_state

    @optimizer_state.setter
    def optimizer_state(self, new_state: PyTree) -> None:
        _check_structure("optimizer_state", self._optimizer_state, new_state)
        self._optimizer_state = new_state

    def grads_and_metrics(
        self, transition_batch: TransitionBatch
    ) -> tuple[PyTree, PyTree, dict[str, Array]]:
        """Compute the gradients associated with a batch of transitions.

        Args:
            transition_batch: A batch of transitions.

        Returns:
            ``(grads, function_state, metrics)``: the gradients of the loss with respect to
            ``model.params``; the forward-pass state after the batch; and a flat dict of scalar
            metrics: ``ModelUpdater/loss`` (with regularizer), ``ModelUpdater/loss_bare``
            (without), ``ModelUpdater/grads_norm`` (global norm), ``ModelUpdater/grads_max``
            (largest absolute gradient), ``ModelUpdater/grads_finite`` (False if any gradient is
            NaN or infinite) and the regularizer's metrics.
        """
        check_weights(transition_batch.W)
        return self._grads_and_metrics(
            self._model.params, self._model.function_state, transition_batch, self._next_key()
        )

    def _next_key(self) -> Array:
        self._key, key = jax.random.split(self._key)
        return key

    def apply_grads(self, grads: PyTree, function_state: PyTree) -> None:
        """Update the model parameters from pre-computed gradients.

        With :meth:`grads_and_metrics` this splits :meth:`update` in two, e.g. to compute the
        gradients in a separate (remote) process. The gradients are applied as given: check
        ``metrics["ModelUpdater/grads_finite"]`` first.

        Args:
            grads: Gradients with the structure of ``model.params``, from
                :meth:`grads_and_metrics`.
            function_state: The new forward-pass state, from :meth:`grads_and_metrics`.
        """
        params, self._optimizer_state = self._apply_grads(
            self._model.params, self._optimizer_state, grads
        )
        self._model.params = params
        self._model.function_state = function_state

    def update(self, transition_batch: TransitionBatch) -> dict[str, Array]:
        """Take one optimizer step on a batch of transitions.

        Args:
            transition_batch: A batch of transitions.

        Returns:
            The metrics of :meth:`grads_and_metrics`.

        Raises:
            FloatingPointError: If a gradient is NaN or infinite; the model is then left
                unchanged.
        """
        grads, function_state, metrics = self.grads_and_metrics(transition_batch)
        if not bool(metrics["ModelUpdater/grads_finite"]):
            raise FloatingPointError(
                "non-finite gradients (ModelUpdater/loss = "
                f"{float(metrics['ModelUpdater/loss'])}); the model was not updated. Look for "
                "NaN or inf in the batch's unmasked transitions, or lower the learning rate"
            )
        self.apply_grads(grads, function_state)
        return metrics

    def per_sample_loss(self, transition_batch: TransitionBatch) -> Array:
        """The loss of each transition on its own, e.g. as priorities for prioritized replay.

        The value is the bare loss (no regularizer) computed exactly as in training, for one
        sample with weight 1: ``loss_function(y_true_i, y_pred_i)``, or ``-log p(target_i)`` for
        maximum likelihood; the mean of ``W`` times these is ``ModelUpdater/loss_bare``.
        Transitions of weight ``W = 0`` get 0. A negative
        log-density of a continuous target can be negative: shift it (e.g. by the batch
        minimum) before using it as a priority.

        Args:
            transition_batch: A batch of transitions.

        Returns:
            The per-transition losses, shape ``(batch,)``.
        """
        check_weights(transition_batch.W)
        return self._per_sample_loss(
            self._model.params, self._model.function_state, transition_batch, self._next_key()
        )


def fit_on_minibatches(
    model: AbstractDynamicsModel,
    data: TransitionBatch,
    key: Array,
    *,
    steps: int,
    batch_size: int,
    learning_rate: float,
    progress: bool = False,
) -> dict[str, Array]:
    """Train ``model`` in place with a :class:`ModelUpdater` on minibatches of ``data``.

    Adam with a learning rate cosine-decayed to 5% of ``learning_rate``; each step draws
    ``batch_size`` transitions with replacement (rows chosen on the host from ``key``).

    Args:
        model: The model (its default loss: maximum likelihood for stochastic models).
        data: The transitions.
        key: A JAX random key for the choice of rows.
        steps: Optimizer steps.
        batch_size: Transitions per step.
        learning_rate: The initial learning rate.
        progress: Whether to show a progress bar (on stderr).

    Returns:
        The metrics of the last step.
    """
    from tqdm.auto import tqdm

    data = jax.tree.map(np.asarray, data)
    schedule = optax.cosine_decay_schedule(learning_rate, steps, alpha=0.05)
    updater = ModelUpdater(model, optax.adam(schedule))
    rng = np.random.default_rng(np.asarray(jax.random.key_data(key)))
    metrics: dict[str, Array] = {}
    for _ in tqdm(range(steps), desc="training", disable=not progress, file=sys.stderr):
        rows = rng.integers(0, len(data), batch_size)
        metrics = updater.update(jax.tree.map(lambda x, rows=rows: x[rows], data))
    return metrics
