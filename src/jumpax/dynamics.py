"""The seed path ``jumpax.dynamics``: re-exports :mod:`jumpax.learning._dynamics`."""

from .learning._dynamics import (  # noqa: F401
    AbstractDeterministicModel,
    AbstractDynamicsModel,
    AbstractProbaDist,
    AbstractStochasticModel,
    CategoricalDist,
    ConcatInputs,
    Forward,
    NormalDist,
    RewardFunction,
    StochasticRewardFunction,
    StochasticTransitionModel,
    TransitionModel,
    proba_dist,
)

__all__ = [
    "AbstractDeterministicModel",
    "AbstractDynamicsModel",
    "AbstractProbaDist",
    "AbstractStochasticModel",
    "CategoricalDist",
    "ConcatInputs",
    "Forward",
    "NormalDist",
    "RewardFunction",
    "StochasticRewardFunction",
    "StochasticTransitionModel",
    "TransitionModel",
    "proba_dist",
]
