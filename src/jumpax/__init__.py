"""jumpax: exact stochastic simulation, inference, learning and control of reaction networks.

The simulation core is imported with the package; the learning, control, SBML and
continuous-model parts (which pull in Gymnasium, optax, python-libsbml and Diffrax) load on first
use, so ``import jumpax`` stays quick.
"""

import importlib

# _devices comes first: importing it sets the CPU device count before anything can start
# JAX's backend.
from . import _devices, models  # noqa: F401
from ._network._events import AssignmentRule, RateRule, StateEvent, TimeEvent
from ._network._kinetics import (
    AbstractKinetics,
    Constant,
    HillActivation,
    HillRepression,
    MassAction,
    MichaelisMenten,
)
from ._network._network import Reaction, ReactionNetwork
from ._results import PADDING, UNREACHED_COUNT, SimulationResults, time_event_code
from ._simulate._arguments import OverflowWarning
from ._simulate._simulate import simulate
from ._simulate._stochastic_model import StochasticModel
from ._solver._base import AbstractSolver
from ._solver._direct import Direct
from ._solver._first_reaction import FirstReaction
from ._solver._gumbel import GumbelSoftmaxDirect
from ._solver._ssa import AbstractSSA
from ._solver._tau_leaping import TauLeaping

_LAZY_SUBMODULES = (
    "control",
    "dynamics",
    "inference",
    "learning",
    "model_updaters",
    "optimization",
    "regularizers",
    "sbml",
    "transitions",
    "value_losses",
)
_LAZY_NAMES = {
    "ConcatInputs": "learning",
    "RewardFunction": "learning",
    "StochasticRewardFunction": "learning",
    "StochasticTransitionModel": "learning",
    "TransitionModel": "learning",
    "ModelUpdater": "learning",
    "EntropyRegularizer": "learning",
    "KLDivRegularizer": "learning",
    "TransitionBatch": "learning",
    "Expression": "_network._expressions",
    "ExpressionKinetics": "_network._expressions",
    "StateFunction": "_network._expressions",
    "parse_expression": "_network._expressions",
    "load_sbml": "sbml",
    "to_sbml": "sbml",
    "LangevinModel": "_continuous._langevin",
    "MeanFieldModel": "_continuous._mean_field",
}


def __getattr__(name: str):
    """Imports the lazily loaded submodules and their public names on first access."""
    if name in _LAZY_SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    if name in _LAZY_NAMES:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY_NAMES[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


__version__ = "0.1.0"

__all__ = [
    "AbstractKinetics",
    "AbstractSSA",
    "AbstractSolver",
    "AssignmentRule",
    "ConcatInputs",
    "Constant",
    "Direct",
    "EntropyRegularizer",
    "Expression",
    "ExpressionKinetics",
    "FirstReaction",
    "GumbelSoftmaxDirect",
    "HillActivation",
    "HillRepression",
    "KLDivRegularizer",
    "LangevinModel",
    "MassAction",
    "MeanFieldModel",
    "MichaelisMenten",
    "ModelUpdater",
    "OverflowWarning",
    "PADDING",
    "RateRule",
    "Reaction",
    "ReactionNetwork",
    "RewardFunction",
    "SimulationResults",
    "StateEvent",
    "StateFunction",
    "StochasticModel",
    "StochasticRewardFunction",
    "StochasticTransitionModel",
    "TauLeaping",
    "TimeEvent",
    "TransitionBatch",
    "TransitionModel",
    "UNREACHED_COUNT",
    "dynamics",
    "inference",
    "learning",
    "load_sbml",
    "model_updaters",
    "models",
    "optimization",
    "parse_expression",
    "regularizers",
    "sbml",
    "simulate",
    "time_event_code",
    "to_sbml",
    "transitions",
    "value_losses",
]
