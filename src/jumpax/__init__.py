"""jumpax: exact stochastic simulation, inference, learning and control of reaction networks."""

from . import kinetics, models
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
from .simulate import OverflowWarning, simulate, simulate_keys
from .solvers import AbstractApproximateSolver, AbstractSolver, Direct, FirstReaction
from .systems import StochasticModel

__version__ = "0.1.0"

__all__ = [
    "AbstractKinetics",
    "AbstractApproximateSolver",
    "AbstractSolver",
    "AssignmentRule",
    "Constant",
    "Direct",
    "FirstReaction",
    "HillActivation",
    "HillRepression",
    "MassAction",
    "MichaelisMenten",
    "OverflowWarning",
    "Reaction",
    "ReactionNetwork",
    "SimulationResults",
    "StateEvent",
    "StochasticModel",
    "TimeEvent",
    "kinetics",
    "models",
    "simulate",
    "simulate_keys",
]
