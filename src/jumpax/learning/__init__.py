"""Learning dynamics from transitions (seed 001): models, batches, losses, regularizers, updater.

The public paths of the seed (``jumpax.dynamics``, ``jumpax.transitions``,
``jumpax.value_losses``, ``jumpax.regularizers``, ``jumpax.model_updaters``) re-export the
modules of this package.
"""

from . import _dynamics as dynamics
from . import _model_updaters as model_updaters
from . import _regularizers as regularizers
from . import _transitions as transitions
from . import _value_losses as value_losses
from ._count_surrogate import CountSurrogate
from ._dynamics import (
    ConcatInputs,
    RewardFunction,
    StochasticRewardFunction,
    StochasticTransitionModel,
    TransitionModel,
)
from ._model_updaters import ModelUpdater
from ._regularizers import EntropyRegularizer, KLDivRegularizer
from ._transitions import TransitionBatch

__all__ = [
    "ConcatInputs",
    "CountSurrogate",
    "EntropyRegularizer",
    "KLDivRegularizer",
    "ModelUpdater",
    "RewardFunction",
    "StochasticRewardFunction",
    "StochasticTransitionModel",
    "TransitionBatch",
    "TransitionModel",
    "dynamics",
    "model_updaters",
    "regularizers",
    "transitions",
    "value_losses",
]
