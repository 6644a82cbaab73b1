"""Weighted regression losses with the signature ``L(y_true, y_pred, w) -> scalar``.

Every loss here is built from one of Optax's elementwise losses and reduced as coax reduces
it (so a training loop ported from coax takes the same steps): each element's loss is
multiplied by its sample's weight ``w`` and the result is averaged over **all** elements,
``mean(w[:, None, ...] * l)`` (see :func:`weighted_mean`). Weights are not normalised: the
loss scales with them, as an importance weight should. ``w=None`` means weights of 1.

A sample with weight 0 contributes exactly 0, even where its loss is NaN or infinite (coax would
give NaN there), so a weight of 0 removes a sample from the value and the gradient.

These are the functions that :class:`jumpax.model_updaters.ModelUpdater` accepts as
``loss_function`` (by value or by name, see :func:`get`).

Example:
    >>> import jax.numpy as jnp
    >>> from jumpax import value_losses
    >>> y_true = jnp.array([0.0, 1.0, 2.0])
    >>> y_pred = jnp.array([0.0, 1.0, 5.0])
    >>> float(value_losses.mse(y_true, y_pred, w=jnp.array([1.0, 1.0, 0.0])))
    0.0
    >>> float(value_losses.mse(y_true, y_pred))  # 0.5 * 3**2 / 3
    1.5
"""

from collections.abc import Callable

import jax.numpy as jnp
import optax
from jax import Array
from jax.typing import ArrayLike

__all__ = ["LossFunction", "get", "huber", "logloss", "logloss_sign", "mse", "weighted_mean"]

LossFunction = Callable[[ArrayLike, ArrayLike, ArrayLike | None], Array]
"""The type of a loss: ``L(y_true, y_pred, w) -> scalar``."""


def weighted_mean(loss: ArrayLike, w: ArrayLike | None = None) -> Array:
    """Average a loss over all its elements, each multiplied by its sample's weight.

    ``mean(w[:, None, ...] * loss)``, with 0 (not NaN) where ``w == 0``.

    Args:
        loss: Elementwise losses with a leading sample axis, shape ``(batch, ...)``.
        w: Non-negative sample weights, shape ``(batch,)``; ``None`` means weights of 1.

    Returns:
        The weighted mean, a scalar.

    Raises:
        ValueError: If ``w`` is not one weight per sample of ``loss``.
    """
    loss = jnp.asarray(loss)
    if w is None:
        return jnp.mean(loss)
    w = jnp.asarray(w, dtype=loss.dtype)
    if loss.ndim == 0 or w.shape != loss.shape[:1]:
        raise ValueError(
            f"sample weights w have shape {w.shape}, expected one per sample of a loss of "
            f"shape {loss.shape}"
        )
    w = w.reshape(w.shape + (1,) * (loss.ndim - 1))
    return jnp.mean(jnp.where(w != 0, w * loss, 0))


def _as_pair(
    y_true: ArrayLike, y_pred: ArrayLike, w: ArrayLike | None
) -> tuple[Array, Array]:
    """Convert to float arrays and refuse shapes that would silently broadcast.

    Rows of weight 0 are replaced by a harmless value (0.5, a valid probability), so that a
    NaN or infinity there reaches neither the loss nor its gradient.
    """
    y_true, y_pred = jnp.asarray(y_true), jnp.asarray(y_pred)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true has shape {y_true.shape} but y_pred has shape {y_pred.shape}")
    if y_true.ndim == 0:
        raise ValueError("the loss expects a batch: y_true and y_pred need a leading sample axis")
    dtype = jnp.result_type(y_pred.dtype, jnp.float32)
    y_true, y_pred = y_true.astype(dtype), y_pred.astype(dtype)
    if w is not None and jnp.shape(w) == y_true.shape[:1]:
        used = (jnp.asarray(w) != 0).reshape(-1, *(1,) * (y_true.ndim - 1))
        y_true, y_pred = (jnp.where(used, y, 0.5) for y in (y_true, y_pred))
    return y_true, y_pred


def mse(y_true: ArrayLike, y_pred: ArrayLike, w: ArrayLike | None = None) -> Array:
    """Squared-error loss: ``mean(w * 0.5 * (y_pred - y_true)**2)`` (coax's ``mse``).

    Args:
        y_true: Targets, shape ``(batch, ...)``.
        y_pred: Predictions, the same shape as ``y_true``.
        w: Sample weights, shape ``(batch,)``; ``None`` means weights of 1.

    Returns:
        The weighted mean of ``0.5 * (y_pred - y_true)**2`` over all elements.
    """
    y_true, y_pred = _as_pair(y_true, y_pred, w)
    return weighted_mean(optax.losses.l2_loss(y_pred, y_true), w)


def huber(
    y_true: ArrayLike, y_pred: ArrayLike, w: ArrayLike | None = None, delta: float = 1.0
) -> Array:
    """Huber loss: quadratic (``0.5 * e**2``) for errors below ``delta``, linear above.

    Args:
        y_true: Targets, shape ``(batch, ...)``.
        y_pred: Predictions, the same shape as ``y_true``.
        w: Sample weights, shape ``(batch,)``; ``None`` means weights of 1.
        delta: Where the loss turns from quadratic to linear.

    Returns:
        The weighted mean of the elementwise Huber loss over all elements.
    """
    y_true, y_pred = _as_pair(y_true, y_pred, w)
    return weighted_mean(optax.losses.huber_loss(y_pred, y_true, delta=delta), w)


def logloss(y_true: ArrayLike, y_pred: ArrayLike, w: ArrayLike | None = None) -> Array:
    """Binary cross-entropy for labels ``y_true`` in ``{0, 1}`` and probabilities ``y_pred``.

    The probability is converted to a logit ``log(p) - log(1 - p)`` without clipping: a
    prediction of exactly 0 or 1 that is wrong gives an infinite loss.

    Args:
        y_true: Labels in ``{0, 1}`` (or soft labels in ``[0, 1]``), shape ``(batch, ...)``.
        y_pred: Predicted probabilities ``p(y = 1)``, the same shape as ``y_true``.
        w: Sample weights, shape ``(batch,)``; ``None`` means weights of 1.

    Returns:
        The weighted mean of the elementwise cross-entropy over all elements.
    """
    y_true, y_pred = _as_pair(y_true, y_pred, w)
    logits = jnp.log(y_pred) - jnp.log1p(-y_pred)
    return weighted_mean(optax.losses.sigmoid_binary_cross_entropy(logits, y_true), w)


def logloss_sign(y_true_sign: ArrayLike, logits: ArrayLike, w: ArrayLike | None = None) -> Array:
    """Logistic loss for labels in ``{-1, 1}`` and real-valued logits: ``log(1 + exp(-y * z))``.

    Args:
        y_true_sign: Labels in ``{-1, 1}``, shape ``(batch, ...)``.
        logits: Predicted logits ``z``, the same shape as ``y_true_sign``.
        w: Sample weights, shape ``(batch,)``; ``None`` means weights of 1.

    Returns:
        The weighted mean of the elementwise logistic loss over all elements.
    """
    y_true_sign, logits = _as_pair(y_true_sign, logits, w)
    labels = (y_true_sign + 1) / 2
    return weighted_mean(optax.losses.sigmoid_binary_cross_entropy(logits, labels), w)


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
