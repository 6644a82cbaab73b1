"""The seed path ``jumpax.dynamics``: re-exports :mod:`jumpax.learning._dynamics`.

It also holds :class:`CountSurrogate`, a ready-made ``func`` for reaction networks.
"""

from .learning._count_surrogate import CountSurrogate  # noqa: F401
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
    "CountSurrogate",
    "Forward",
    "NormalDist",
    "RewardFunction",
    "StochasticRewardFunction",
    "StochasticTransitionModel",
    "TransitionModel",
    "proba_dist",
]
