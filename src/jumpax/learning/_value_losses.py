"""Weighted regression losses with the signature ``L(y_true, y_pred, w) -> scalar``.

Every loss here is built from one of Optax's elementwise losses and reduced the same way:

1. the elementwise loss is summed over the event axes (every axis but the first), giving one
   number per sample;
2. the per-sample losses are averaged with the sample weights ``w``:
   ``sum(w * l) / sum(w)`` (see :func:`weighted_mean`).

Because of the normalisation in step 2, a sample with weight 0 changes neither the value nor the
gradient of the loss: it is removed, exactly. ``w=None`` means equal weights.

These are the functions that :class:`jumpax.model_updaters.ModelUpdater` accepts as
``loss_function`` (by value or by name, see :func:`get`).

Example:
    >>> import jax.numpy as jnp
    >>> from jumpax import value_losses
    >>> y_true = jnp.array([0.0, 1.0, 2.0])
    >>> y_pred = jnp.array([0.0, 1.0, 5.0])
    >>> float(value_losses.mse(y_true, y_pred, w=jnp.array([1.0, 1.0, 0.0])))
    0.0
"""

from collections.abc import Callable

import jax.numpy as jnp
import optax
from jax import Array
from jax.typing import ArrayLike

__all__ = ["LossFunction", "get", "huber", "logloss", "logloss_sign", "mse", "weighted_mean"]

LossFunction = Callable[[ArrayLike, ArrayLike, ArrayLike | None], Array]
"""The type of a loss: ``L(y_true, y_pred, w) -> scalar``."""


def weighted_mean(per_sample: ArrayLike, w: ArrayLike | None = None) -> Array:
    """Average per-sample values with sample weights: ``sum(w * l) / sum(w)``.

    Args:
        per_sample: One value per sample, shape ``(batch,)``.
        w: Non-negative sample weights, shape ``(batch,)``; ``None`` means equal weights.

    Returns:
        The weighted mean, a scalar. If every weight is 0 the result is 0 (and so is its gradient).

    Raises:
        ValueError: If ``w`` does not have the shape of ``per_sample``.
    """
    per_sample = jnp.asarray(per_sample)
    if w is None:
        return jnp.mean(per_sample)
    w = jnp.asarray(w, dtype=per_sample.dtype)
    if w.shape != per_sample.shape:
        raise ValueError(
            f"sample weights w have shape {w.shape}, expected {per_sample.shape} (one per sample)"
        )
    total = jnp.sum(w)
    return jnp.sum(w * per_sample) / jnp.where(total > 0, total, 1)


def _reduce(elementwise: Array, w: ArrayLike | None) -> Array:
    """Sum an elementwise loss over the event axes, then take the weighted mean over samples."""
    per_sample = jnp.sum(elementwise.reshape(elementwise.shape[0], -1), axis=1)
    return weighted_mean(per_sample, w)


def _as_pair(y_true: ArrayLike, y_pred: ArrayLike) -> tuple[Array, Array]:
    """Convert to float arrays and refuse shapes that would silently broadcast."""
    y_true, y_pred = jnp.asarray(y_true), jnp.asarray(y_pred)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true has shape {y_true.shape} but y_pred has shape {y_pred.shape}")
    if y_true.ndim == 0:
        raise ValueError("the loss expects a batch: y_true and y_pred need a leading sample axis")
    dtype = jnp.result_type(y_pred.dtype, jnp.float32)
    return y_true.astype(dtype), y_pred.astype(dtype)


def mse(y_true: ArrayLike, y_pred: ArrayLike, w: ArrayLike | None = None) -> Array:
    """Squared-error loss: ``sum_i w_i * ||y_pred_i - y_true_i||^2 / sum_i w_i``.

    Args:
        y_true: Targets, shape ``(batch, ...)``.
        y_pred: Predictions, the same shape as ``y_true``.
        w: Sample weights, shape ``(batch,)``; ``None`` means equal weights.

    Returns:
        The weighted mean over samples of the squared error summed over the event axes.
    """
    y_true, y_pred = _as_pair(y_true, y_pred)
    return _reduce(optax.losses.squared_error(y_pred, y_true), w)


def huber(
    y_true: ArrayLike, y_pred: ArrayLike, w: ArrayLike | None = None, delta: float = 1.0
) -> Array:
    """Huber loss: quadratic (``0.5 * e**2``) for errors below ``delta``, linear above.

    Args:
        y_true: Targets, shape ``(batch, ...)``.
        y_pred: Predictions, the same shape as ``y_true``.
        w: Sample weights, shape ``(batch,)``; ``None`` means equal weights.
        delta: Where the loss turns from quadratic to linear.

    Returns:
        The weighted mean over samples of the Huber loss summed over the event axes.
    """
    y_true, y_pred = _as_pair(y_true, y_pred)
    return _reduce(optax.losses.huber_loss(y_pred, y_true, delta=delta), w)


def logloss(y_true: ArrayLike, y_pred: ArrayLike, w: ArrayLike | None = None) -> Array:
    """Binary cross-entropy for labels ``y_true`` in ``{0, 1}`` and probabilities ``y_pred``.

    The probability is converted to a logit ``log(p) - log(1 - p)`` without clipping: a
    prediction of exactly 0 or 1 that is wrong gives an infinite loss.

    Args:
        y_true: Labels in ``{0, 1}`` (or soft labels in ``[0, 1]``), shape ``(batch, ...)``.
        y_pred: Predicted probabilities ``p(y = 1)``, the same shape as ``y_true``.
        w: Sample weights, shape ``(batch,)``; ``None`` means equal weights.

    Returns:
        The weighted mean over samples of the cross-entropy summed over the event axes.
    """
    y_true, y_pred = _as_pair(y_true, y_pred)
    logits = jnp.log(y_pred) - jnp.log1p(-y_pred)
    return _reduce(optax.losses.sigmoid_binary_cross_entropy(logits, y_true), w)


def logloss_sign(y_true_sign: ArrayLike, logits: ArrayLike, w: ArrayLike | None = None) -> Array:
    """Logistic loss for labels in ``{-1, 1}`` and real-valued logits: ``log(1 + exp(-y * z))``.

    Args:
        y_true_sign: Labels in ``{-1, 1}``, shape ``(batch, ...)``.
        logits: Predicted logits ``z``, the same shape as ``y_true_sign``.
        w: Sample weights, shape ``(batch,)``; ``None`` means equal weights.

    Returns:
        The weighted mean over samples of the logistic loss summed over the event axes.
    """
    y_true_sign, logits = _as_pair(y_true_sign, logits)
    labels = (y_true_sign + 1) / 2
    return _reduce(optax.losses.sigmoid_binary_cross_entropy(logits, labels), w)


_BY_NAME: dict[str, LossFunction] = {
    "huber": huber,
    "logloss": logloss,
    "logloss_sign": logloss_sign,
    "mse": mse,
}


def get(name: str) -> LossFunction:
    """Look up a loss function by name.

    Args:
        name: One of ``"huber"``, ``"logloss"``, ``"logloss_sign"``, ``"mse"``.

    Returns:
        The loss function.

    Raises:
        ValueError: If there is no loss of that name.
    """
    try:
        return _BY_NAME[name]
    except KeyError:
        raise ValueError(
            f"unknown loss function {name!r}; known losses: {', '.join(sorted(_BY_NAME))}"
        ) from None
