"""jumpax: exact stochastic simulation, inference, learning and control of reaction networks.

The simulation core is imported with the package; the learning, SBML and continuous-model parts
(which pull in Gymnasium, optax, python-libsbml and Diffrax) load on first use, so
``import jumpax`` stays quick.
"""

import importlib

from . import kinetics, models, tau_leaping
from .events import AssignmentRule, StateEvent, TimeEvent
from .kinetics import (
    AbstractKinetics,
    Constant,
    HillActivation,
    HillRepression,
    MassAction,
    MichaelisMenten,
)
from .network import Reaction, ReactionNetwork
from .results import SimulationResults
from .simulate import OverflowWarning, simulate
from .solvers import (
    AbstractApproximateSolver,
    AbstractSolver,
    Direct,
    FirstReaction,
    GumbelSoftmaxDirect,
)
from .systems import StochasticModel
from .tau_leaping import TauLeaping

_LAZY_SUBMODULES = (
    "dynamics",
    "expressions",
    "learn",
    "model_updaters",
    "optimization",
    "regularizers",
    "sbml",
    "systems_continuous",
    "transitions",
    "value_losses",
)
_LAZY_NAMES = {
    "ConcatInputs": "dynamics",
    "RewardFunction": "dynamics",
    "StochasticRewardFunction": "dynamics",
    "StochasticTransitionModel": "dynamics",
    "TransitionModel": "dynamics",
    "ExpressionKinetics": "expressions",
    "ModelUpdater": "model_updaters",
    "EntropyRegularizer": "regularizers",
    "KLDivRegularizer": "regularizers",
    "load_sbml": "sbml",
    "to_sbml": "sbml",
    "LangevinModel": "systems_continuous",
    "MeanFieldModel": "systems_continuous",
    "TransitionBatch": "transitions",
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
    "AbstractApproximateSolver",
    "AbstractKinetics",
    "AbstractSolver",
    "AssignmentRule",
    "ConcatInputs",
    "Constant",
    "Direct",
    "EntropyRegularizer",
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
    "Reaction",
    "ReactionNetwork",
    "RewardFunction",
    "SimulationResults",
    "StateEvent",
    "StochasticModel",
    "StochasticRewardFunction",
    "StochasticTransitionModel",
    "TauLeaping",
    "TimeEvent",
    "TransitionBatch",
    "TransitionModel",
    "dynamics",
    "expressions",
    "kinetics",
    "learn",
    "load_sbml",
    "model_updaters",
    "models",
    "optimization",
    "regularizers",
    "sbml",
    "simulate",
    "systems_continuous",
    "tau_leaping",
    "to_sbml",
    "transitions",
    "value_losses",
]
