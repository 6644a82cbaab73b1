"""The seed path ``jumpax.value_losses``: re-exports :mod:`jumpax.learning._value_losses`."""

from .learning._value_losses import (  # noqa: F401
    LossFunction,
    get,
    huber,
    logloss,
    logloss_sign,
    mse,
    weighted_mean,
)

__all__ = [
    "LossFunction",
    "get",
    "huber",
    "logloss",
    "logloss_sign",
    "mse",
    "weighted_mean",
]
