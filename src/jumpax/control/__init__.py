"""Control of reaction networks: environments, controllers and model-based control.

- :class:`ControlEnv`: a network with control inputs (:class:`RateInput`,
  :class:`SpeciesInput`), an observation model, a tracking cost (:class:`SetpointCost`) and a
  horizon, as pure ``reset``/``step`` functions for thousands of parallel rollouts
  (:func:`rollout`), and as a Gymnasium environment (:class:`ReactionNetworkEnv`).
- Registered environments: ``gymnasium.make("jumpax.control:GeneExpressionSetpoint-v0")`` and
  ``gymnasium.make("jumpax.control:ToggleSwitchBalance-v0")``.
- Controllers: :class:`ConstantController`, :class:`PIController`, :class:`MPCController`
  (cross-entropy planning over :class:`ExactModel`, the oracle, or :class:`LearnedModel`).
- The model-based loop with the seed-001 pieces: :func:`collect_transitions`,
  :func:`fit_dynamics` and :func:`compare_controllers`.
"""

import gymnasium

from ._controllers import (
    AbstractController,
    AbstractPlanningModel,
    ConstantController,
    ExactModel,
    LearnedModel,
    MPCController,
    PIController,
    RandomController,
)
from ._env import ControlEnv, EnvState, Episodes, SetpointCost, rollout
from ._environments import gene_expression_setpoint, toggle_switch_balance
from ._gymnasium import ReactionNetworkEnv
from ._inputs import AbstractInput, RateInput, SpeciesInput
from ._model_based import (
    collect_transitions,
    compare_controllers,
    fit_dynamics,
    tune_constant,
    tune_pi,
)

ENVIRONMENTS = {
    "GeneExpressionSetpoint-v0": "jumpax.control._environments:make_gene_expression_setpoint",
    "ToggleSwitchBalance-v0": "jumpax.control._environments:make_toggle_switch_balance",
}
"""The registered Gymnasium ids and their entry points."""

for _id, _entry_point in ENVIRONMENTS.items():
    if _id not in gymnasium.registry:
        gymnasium.register(id=_id, entry_point=_entry_point)

__all__ = [
    "ENVIRONMENTS",
    "AbstractController",
    "AbstractInput",
    "AbstractPlanningModel",
    "ConstantController",
    "ControlEnv",
    "EnvState",
    "Episodes",
    "ExactModel",
    "LearnedModel",
    "MPCController",
    "PIController",
    "RandomController",
    "RateInput",
    "ReactionNetworkEnv",
    "SetpointCost",
    "SpeciesInput",
    "collect_transitions",
    "compare_controllers",
    "fit_dynamics",
    "gene_expression_setpoint",
    "rollout",
    "toggle_switch_balance",
    "tune_constant",
    "tune_pi",
]
