"""The registered environments: cybergenetic set-point tracking and toggle-switch balancing.

``gymnasium.make("jumpax.control:GeneExpressionSetpoint-v0")`` and
``gymnasium.make("jumpax.control:ToggleSwitchBalance-v0")`` build :class:`ReactionNetworkEnv`
over :func:`gene_expression_setpoint` and :func:`toggle_switch_balance`; keyword arguments of
``gymnasium.make`` are passed to these functions.
"""

from __future__ import annotations

import numpy as np

from .._network._kinetics import HillRepression, MassAction
from .._network._network import Reaction, ReactionNetwork
from ._env import ControlEnv, SetpointCost
from ._gymnasium import ReactionNetworkEnv
from ._inputs import RateInput

__all__ = [
    "gene_expression_setpoint",
    "make_gene_expression_setpoint",
    "make_toggle_switch_balance",
    "toggle_switch_balance",
]


def gene_expression_setpoint(
    *,
    setpoints: tuple[float, ...] = (50.0, 150.0, 100.0),
    dt: float = 2.0,
    horizon: int = 60,
    noise_sd: float = 5.0,
) -> ControlEnv:
    """Optogenetic set-point tracking of a protein in two-stage gene expression.

    Reactions ``0 -> M`` at ``10 u`` (light-driven transcription; the action ``u`` in
    ``[0, 1]`` is the light intensity), ``M -> M + P`` (2 per mRNA), ``M -> 0`` (1 per mRNA),
    ``P -> 0`` (0.1 per protein); the steady protein level under constant light is ``200 u``.
    Only the protein is observed, through fluorescence with Gaussian noise. The set-point is a
    staircase: the horizon is split into ``len(setpoints)`` equal stages. The cost of a step is
    ``((P - r) / 100)**2``. Episodes start with no mRNA and no protein.

    Args:
        setpoints: The protein set-points of the successive stages (each in ``[0, 200]``).
        dt: The sampling interval.
        horizon: Steps per episode.
        noise_sd: The measurement noise, in molecules.
    """
    network = ReactionNetwork(
        [
            Reaction("0 -> M", MassAction(10.0), "transcription"),
            Reaction("M -> M + P", MassAction(2.0), "translation"),
            Reaction("M -> 0", MassAction(1.0), "mRNA decay"),
            Reaction("P -> 0", MassAction(0.1), "protein decay"),
        ],
        x0={"M": 0, "P": 0},
    )
    stages = np.minimum(np.arange(horizon + 1) * len(setpoints) // horizon, len(setpoints) - 1)
    schedule = np.asarray(setpoints, np.float64)[stages]
    return ControlEnv(
        network,
        [RateInput("transcription", gain=10.0)],
        SetpointCost({"P": schedule}, scale={"P": 100.0}),
        dt=dt,
        horizon=horizon,
        observed=("P",),
        noise_sd=noise_sd,
    )


def toggle_switch_balance(
    *, dt: float = 1.0, horizon: int = 50, noise_sd: float = 2.0, target: float = 30.0
) -> ControlEnv:
    """Holding a genetic toggle switch near its unstable balance with two inducers.

    Repressors ``U`` and ``V`` repress each other's synthesis,
    ``0 -> U`` at ``100 K_U^2 / (K_U^2 + V^2)`` and ``0 -> V`` at ``100 K_V^2 / (K_V^2 + U^2)``,
    and decay at 1 per molecule. Inducer ``i`` (action in ``[0, 1]``; aTc and IPTG in Lugagne
    et al. 2017) inactivates a repressor, raising the repression threshold
    ``K = 20 (1 + 4 u)``. Uninduced, the switch has two stable states (one repressor near 97,
    the other near 4) and an unstable balance near 30 of each. Episodes start in the
    ``U``-high state (95, 5); both repressors are observed with Gaussian noise. The cost of a
    step is the mean of ``((U - target) / target)**2`` and ``((V - target) / target)**2``.

    Args:
        dt: The sampling interval.
        horizon: Steps per episode.
        noise_sd: The measurement noise, in molecules.
        target: The balance set-point of both repressors.
    """
    network = ReactionNetwork(
        [
            Reaction("0 -> U", HillRepression("V", 100.0, 20.0, 2.0), "U synthesis"),
            Reaction("0 -> V", HillRepression("U", 100.0, 20.0, 2.0), "V synthesis"),
            Reaction("U -> 0", MassAction(1.0), "U decay"),
            Reaction("V -> 0", MassAction(1.0), "V decay"),
        ],
        species=("U", "V"),
        x0={"U": 95, "V": 5},
    )
    return ControlEnv(
        network,
        [
            RateInput("U synthesis", "K", offset=20.0, gain=80.0),
            RateInput("V synthesis", "K", offset=20.0, gain=80.0),
        ],
        SetpointCost({"U": target, "V": target}),
        dt=dt,
        horizon=horizon,
        noise_sd=noise_sd,
    )


def make_gene_expression_setpoint(**kwargs) -> ReactionNetworkEnv:
    """``GeneExpressionSetpoint-v0``: :func:`gene_expression_setpoint` as a Gymnasium env."""
    return ReactionNetworkEnv(gene_expression_setpoint(**kwargs))


def make_toggle_switch_balance(**kwargs) -> ReactionNetworkEnv:
    """``ToggleSwitchBalance-v0``: :func:`toggle_switch_balance` as a Gymnasium env."""
    return ReactionNetworkEnv(toggle_switch_balance(**kwargs))
