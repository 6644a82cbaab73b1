"""Complete paths: exact maximum likelihood with Fisher-information intervals.

The log-likelihood of fully observed paths is :meth:`jumpax.ReactionNetwork.log_prob` summed
over paths (exact, survival term included). For a mass-action rate the maximum is in closed
form, ``k = n_r / integral (a_r / k) dt`` (events of the reaction over its integrated
propensity per unit rate); it starts the search, which then maximises the likelihood of all
fitted parameters jointly on the log scale (damped Newton steps). Intervals come from the
observed information (the Hessian of the log-likelihood in log-parameters): ``exp(s +- z se)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import ndtri

from .._network._kinetics import MassAction
from .._network._network import ReactionNetwork
from .._results import SimulationResults
from ._parameters import ParameterSet

__all__ = ["fit_paths", "log_scale_intervals", "mass_action_mle", "normal_quantile"]


def normal_quantile(level: float) -> float:
    """The two-sided standard normal quantile of a confidence ``level`` (1.96 for 0.95).

    Raises:
        ValueError: for a level outside (0, 1).
    """
    if not 0 < level < 1:
        raise ValueError(f"the interval level must be in (0, 1), got {level}")
    return float(ndtri(0.5 + level / 2))


def log_scale_intervals(
    names: Sequence[str], s: np.ndarray, se: np.ndarray, z: float
) -> dict[str, dict[str, float]]:
    """``{name: {"estimate", "lower", "upper", "se_log"}}``: ``exp(s)`` and ``exp(s +- z se)``."""
    return {
        name: {
            "estimate": float(np.exp(s[j])),
            "lower": float(np.exp(s[j] - z * se[j])),
            "upper": float(np.exp(s[j] + z * se[j])),
            "se_log": float(se[j]),
        }
        for j, name in enumerate(names)
    }


def _step_propensities(network: ReactionNetwork, paths: SimulationResults):
    """Per step: propensities of the state before it, its duration and the fired reaction."""
    x = paths.x.reshape(-1, *paths.x.shape[-2:])
    t = paths.t.reshape(-1, paths.t.shape[-1])
    reactions = paths.reactions.reshape(-1, paths.reactions.shape[-1])
    a = jax.vmap(jax.vmap(network.propensities))(x[:, :-1])
    return a, t[:, 1:] - t[:, :-1], reactions


def mass_action_mle(network: ReactionNetwork, paths: SimulationResults) -> np.ndarray:
    """The closed-form maximum-likelihood rate of every reaction (NaN where not mass action).

    ``k_r = n_r / sum_i (a_r(x_i) / k_r) dt_i``: the events of reaction ``r`` over its
    propensity per unit rate integrated along the paths.
    """
    a, dt, reactions = _step_propensities(network, paths)
    fired = np.asarray(reactions)
    counts = np.bincount(fired[fired >= 0], minlength=network.n_reactions)
    k = np.array([
        float(r.kinetics.k) if isinstance(r.kinetics, MassAction) and r.kinetics.transform is None
        else np.nan for r in network.reactions
    ])
    with np.errstate(divide="ignore", invalid="ignore"):
        exposure = np.asarray(jnp.sum(a * dt[..., None], axis=(0, 1)), np.float64) / k
        return counts / exposure


def _raise_impossible(network: ReactionNetwork, paths: SimulationResults) -> None:
    """Raise a ``ValueError`` naming the first event that ``network`` cannot produce."""
    per_step = np.asarray(network.log_prob(paths)).reshape(-1, paths.reactions.shape[-1])
    path, step = np.argwhere(~np.isfinite(per_step))[0]
    reaction = int(np.asarray(paths.reactions).reshape(per_step.shape)[path, step])
    time = float(np.asarray(paths.t).reshape(per_step.shape[0], -1)[path, step + 1])
    label = network.reactions[reaction].label if reaction >= 0 else "the end of observation"
    raise ValueError(
        f"the data are impossible under the model: event {step + 1} of path {path} "
        f"({label!r} at t = {time:g}) has propensity 0 at the starting parameters; check that "
        "the model is the network that produced the data"
    )


@eqx.filter_jit
def _negative_log_likelihood(s, network, paths, parameters):
    return -jnp.sum(parameters.apply(network, s).log_prob(paths))


def _derivatives(s, network, paths, parameters) -> tuple[float, np.ndarray, np.ndarray]:
    """The negative log-likelihood, its gradient and Hessian at log-parameters ``s``."""
    value, grad, hessian = _value_grad_hessian(
        jnp.asarray(s, jnp.float32), network, paths, parameters
    )
    return float(value), np.asarray(grad, np.float64), np.asarray(hessian, np.float64)


@eqx.filter_jit
def _value_grad_hessian(s, network, paths, parameters):
    f = lambda s: _negative_log_likelihood(s, network, paths, parameters)  # noqa: E731
    value, grad = jax.value_and_grad(f)(s)
    return value, grad, jax.hessian(f)(s)


def fit_paths(
    network: ReactionNetwork,
    paths: SimulationResults,
    names: Sequence[str],
    *,
    level: float = 0.95,
    max_iterations: int = 100,
) -> dict[str, Any]:
    """Maximum-likelihood rates from complete paths, with Fisher-information intervals.

    Args:
        network: The network; parameters not named keep their values.
        paths: Event-list results (simulated, or read with :func:`read_paths`).
        names: The parameters to fit (see :class:`ParameterSet`).
        level: The interval's confidence level.
        max_iterations: Newton iterations at most.

    Returns:
        ``{"parameters": {name: {"estimate", "lower", "upper", "se_log"}}, "log_likelihood",
        "events"}``.

    Raises:
        ValueError: for event lists of another network, no events of a fitted reaction
            (its rate has no finite estimate), or a likelihood whose curvature does not
            identify the parameters.
    """
    z = normal_quantile(level)
    if paths.reactions is None:
        raise ValueError("complete-path inference needs event lists (save_at=None results)")
    if tuple(paths.species) != network.species:
        raise ValueError(f"paths are for species {list(paths.species)}, not {network.species}")
    parameters = ParameterSet(network, names)
    start = np.asarray(parameters.log_values(network), np.float64)
    closed = mass_action_mle(network, paths)
    for j, where in enumerate(parameters.locations):
        if len(where) == 1 and where[0][1] == "k" and np.isfinite(closed[where[0][0]]):
            if closed[where[0][0]] == 0:
                raise ValueError(
                    f"reaction {parameters.names[j]!r} never fires in the paths: its rate's "
                    "maximum-likelihood estimate is 0, with no interval on the log scale"
                )
            start[j] = np.log(closed[where[0][0]])

    s = start
    value, grad, hessian = _derivatives(s, network, paths, parameters)
    if not np.isfinite(value):
        _raise_impossible(parameters.apply(network, jnp.asarray(s, jnp.float32)), paths)
    for _ in range(max_iterations):
        # Damped Newton steps on the negative log-likelihood (convex for mass action in log
        # rates); a step that does not decrease it is halved.
        if np.all(np.linalg.eigvalsh(hessian) > 0):
            direction = -np.linalg.solve(hessian, grad)
        else:  # not locally convex: a gradient step
            direction = -grad
        step = 1.0
        while step > 1e-6:
            candidate = s + step * direction
            new = _derivatives(candidate, network, paths, parameters)
            if np.isfinite(new[0]) and new[0] <= value + 1e-9 * abs(value):
                break
            step /= 2
        else:
            break
        s, (value, grad, hessian) = candidate, new
        if np.max(np.abs(step * direction)) < 1e-7:
            break
    covariance = np.full_like(hessian, np.nan)
    if np.all(np.isfinite(hessian)) and np.all(np.linalg.eigvalsh(hessian) > 0):
        covariance = np.linalg.inv(hessian)
    se = np.sqrt(np.diag(covariance))
    if not np.all(np.isfinite(se)):
        raise ValueError(
            f"the paths do not identify {list(parameters.names)}: the log-likelihood is not "
            "curved in every direction (fit fewer parameters, or add data)"
        )
    s = np.asarray(s, np.float64)
    return {
        "parameters": log_scale_intervals(parameters.names, s, se, z),
        "log_likelihood": -value,
        "events": int(np.sum(np.asarray(paths.n_steps))),
        "level": level,
    }
