"""jumpax: exact stochastic simulation, inference, learning and control of reaction networks."""

from . import (
    dynamics,
    expressions,
    kinetics,
    learn,
    model_updaters,
    models,
    optimization,
    regularizers,
    sbml,
    systems_continuous,
    tau_leaping,
    transitions,
    value_losses,
)
from .dynamics import (
    ConcatInputs,
    RewardFunction,
    StochasticRewardFunction,
    StochasticTransitionModel,
    TransitionModel,
)
from .events import AssignmentRule, StateEvent, TimeEvent
from .expressions import ExpressionKinetics
from .kinetics import (
    AbstractKinetics,
    Constant,
    HillActivation,
    HillRepression,
    MassAction,
    MichaelisMenten,
)
from .model_updaters import ModelUpdater
from .network import Reaction, ReactionNetwork
from .regularizers import EntropyRegularizer, KLDivRegularizer
from .results import SimulationResults
from .sbml import load_sbml, to_sbml
from .simulate import OverflowWarning, simulate
from .solvers import (
    AbstractApproximateSolver,
    AbstractSolver,
    Direct,
    FirstReaction,
    GumbelSoftmaxDirect,
)
from .systems import StochasticModel
from .systems_continuous import LangevinModel, MeanFieldModel
from .tau_leaping import TauLeaping
from .transitions import TransitionBatch

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
