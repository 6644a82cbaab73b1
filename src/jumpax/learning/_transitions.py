"""Batches of transitions ``(s, a, r, s')``: what dynamics models are trained on.

A :class:`TransitionBatch` holds one transition per row. It is built by keyword, from exact
simulations (:meth:`TransitionBatch.from_simulation`) or from Gymnasium rollouts
(:meth:`TransitionBatch.from_gymnasium`).

Example:
    >>> import jax.numpy as jnp
    >>> from jumpax.transitions import TransitionBatch
    >>> batch = TransitionBatch(S=jnp.zeros((4, 2)), A=jnp.zeros((4, 0)), S_next=jnp.ones((4, 2)))
    >>> batch.W, batch.In
    (Array([1., 1., 1., 1.], dtype=float32), Array([1., 1., 1., 1.], dtype=float32))
"""

from collections.abc import Callable
from typing import Any

import equinox as eqx
import gymnasium
import jax.numpy as jnp
import numpy as np
from jax import Array
from jax.typing import ArrayLike

from .._checks import is_concrete
from .._results import SimulationResults

__all__ = ["TransitionBatch"]


def _float(x: ArrayLike) -> Array:
    return jnp.asarray(x, dtype=jnp.result_type(float))


def _encode(space: gymnasium.spaces.Space, x: Any) -> np.ndarray:
    """One observation or action as stored in a batch: as is for Box and Discrete, else flat."""
    if isinstance(space, gymnasium.spaces.Box | gymnasium.spaces.Discrete):
        return np.asarray(x)
    return np.asarray(gymnasium.spaces.flatten(space, x))


def check_weights(W: Array) -> None:
    """Refuse concrete negative or non-finite sample weights (they make a loss meaningless).

    Raises:
        ValueError: naming the offending weights.
    """
    if is_concrete(W):
        weights = np.asarray(W)
        if not np.all(np.isfinite(weights) & (weights >= 0)):
            raise ValueError(f"sample weights W must be finite and non-negative, got {weights}")


class TransitionBatch(eqx.Module):
    """A batch of transitions, one per row (every field has a leading batch axis).

    Field names follow the seed API. A transition is ``S --A--> S_next`` with reward ``Rn``.

    Attributes:
        S: Observations, shape ``(batch, *obs_shape)`` (integers ``(batch,)`` for a Discrete
            space; composite spaces are stored flattened with ``gymnasium.spaces.flatten``).
        A: Actions, shape ``(batch, *act_shape)``, stored like ``S``.
        logP: Log-probability of ``A`` under the policy that chose it (0 when not recorded).
        Rn: Rewards (the n-step discounted return for n-step transitions).
        In: The bootstrap (discount) factor to ``S_next``, as in coax: ``gamma**n`` times
            ``1 - done``, so 0 after a terminal state. It is not a mask: models are still
            trained on such transitions.
        S_next: Next observations, like ``S`` (``None`` when not recorded).
        A_next: Next actions (``None`` when not recorded).
        logP_next: Log-probability of ``A_next`` (``None`` when not recorded).
        W: Non-negative, finite sample weights (e.g. importance weights of prioritized
            replay); a weight of 0 removes a transition from a loss.
        idx: Identifiers of the transitions (e.g. their replay-buffer indices).
    """

    S: Array
    A: Array
    logP: Array
    Rn: Array
    In: Array
    S_next: Array | None
    A_next: Array | None
    logP_next: Array | None
    W: Array
    idx: Array

    def __init__(
        self,
        *,
        S: ArrayLike,
        A: ArrayLike,
        logP: ArrayLike | None = None,
        Rn: ArrayLike | None = None,
        In: ArrayLike | None = None,
        S_next: ArrayLike | None = None,
        A_next: ArrayLike | None = None,
        logP_next: ArrayLike | None = None,
        W: ArrayLike | None = None,
        idx: ArrayLike | None = None,
    ):
        """Build a batch by keyword; fields not given get defaults.

        Args:
            S: Observations.
            A: Actions.
            logP: Defaults to zeros.
            Rn: Defaults to zeros.
            In: Defaults to ones (no episode ends).
            S_next: Defaults to ``None``.
            A_next: Defaults to ``None``.
            logP_next: Defaults to ``None``.
            W: Defaults to ones.
            idx: Defaults to ``arange(batch)``.

        Raises:
            ValueError: If the fields do not all have the same batch size, or ``W`` holds a
                negative or non-finite weight.
        """
        S = jnp.asarray(S)
        if S.ndim == 0:
            raise ValueError("S must have a leading batch axis")
        n = S.shape[0]
        zeros, ones = jnp.zeros(n), jnp.ones(n)
        self.S = S
        self.A = jnp.asarray(A)
        self.logP = zeros if logP is None else _float(logP)
        self.Rn = zeros if Rn is None else _float(Rn)
        self.In = ones if In is None else _float(In)
        self.S_next = None if S_next is None else jnp.asarray(S_next)
        self.A_next = None if A_next is None else jnp.asarray(A_next)
        self.logP_next = None if logP_next is None else _float(logP_next)
        self.W = ones if W is None else _float(W)
        self.idx = jnp.arange(n) if idx is None else jnp.asarray(idx)
        for name in ("A", "logP", "Rn", "In", "S_next", "A_next", "logP_next", "W", "idx"):
            value = getattr(self, name)
            if value is not None and (value.ndim == 0 or value.shape[0] != n):
                raise ValueError(
                    f"{name} has shape {value.shape}, but S has batch size {n}: every field "
                    "needs the same leading batch axis"
                )
        for name in ("logP", "Rn", "In", "W", "logP_next"):
            value = getattr(self, name)
            if value is not None and value.ndim != 1:
                raise ValueError(f"{name} must have shape (batch,), got {value.shape}")
        check_weights(self.W)

    def __len__(self) -> int:
        """The number of transitions."""
        return self.S.shape[0]

    @classmethod
    def from_simulation(
        cls,
        results: SimulationResults,
        actions: ArrayLike | None = None,
        reward_fn: Callable[[Array, Array, Array], ArrayLike] | None = None,
    ) -> "TransitionBatch":
        """Transitions between consecutive grid times of simulated trajectories.

        Every pair of consecutive grid points ``x(t_k) -> x(t_{k+1})`` of every trajectory is a
        transition, so a uniform grid gives a time-homogeneous ``dt``-step model.

        Args:
            results: Grid-mode results of :func:`jumpax.simulate` (``save_at=ts``), one
                trajectory ``x`` of shape ``(len(ts), n_species)`` or an ensemble
                ``(n, len(ts), n_species)``.
            actions: Piecewise-constant control inputs: ``actions[k]`` acted on
                ``[t_k, t_{k+1})``; shape ``(len(ts) - 1, *act_shape)``, or
                ``(n, len(ts) - 1, *act_shape)`` for an ensemble. ``None`` means an autonomous
                system: ``A`` is then empty, shape ``(batch, 0)``, matching the action space
                ``gymnasium.spaces.Box(-inf, inf, shape=(0,))``.
            reward_fn: ``reward_fn(S, A, S_next) -> Rn`` on the batched arrays, returning shape
                ``(batch,)``; ``None`` leaves ``Rn`` at 0.

        Returns:
            The batch, trajectory-major (all transitions of trajectory 0 first). ``In`` is 1
            everywhere (a horizon is not an episode end). Trajectories that overflowed their
            step budget (``results.overflow``) get weight ``W = 0``: their grid after the
            overflow holds NaN and is not a sample of the process.

        Raises:
            ValueError: For results not in grid mode, fewer than two grid times, or actions or
                rewards of the wrong shape.
        """
        if results.mode != "grid":
            raise ValueError(
                f"from_simulation needs grid-mode results (simulate with save_at=times), "
                f"got {results.mode}-mode results"
            )
        x, overflow = results.x, jnp.asarray(results.overflow)
        if not results.is_ensemble:
            x, overflow = x[None], overflow[None]
        n, num_times, num_species = x.shape
        if num_times < 2:
            raise ValueError(f"need at least two grid times for a transition, got {num_times}")
        size = n * (num_times - 1)
        if actions is None:
            A = jnp.zeros((size, 0))
        else:
            actions = jnp.asarray(actions)
            lead = (n, num_times - 1) if results.is_ensemble else (num_times - 1,)
            if actions.shape[: len(lead)] != lead:
                raise ValueError(
                    f"actions have shape {actions.shape}, expected one per grid interval: "
                    f"{lead} + act_shape"
                )
            A = actions.reshape(size, *actions.shape[len(lead) :])
        S = x[:, :-1].reshape(size, num_species)
        S_next = x[:, 1:].reshape(size, num_species)
        Rn = None if reward_fn is None else jnp.asarray(reward_fn(S, A, S_next))
        if Rn is not None and Rn.shape != (size,):
            raise ValueError(f"reward_fn returned shape {Rn.shape}, expected ({size},)")
        W = jnp.repeat(~overflow, num_times - 1)
        return cls(S=S, A=A, Rn=Rn, S_next=S_next, W=W)

    @classmethod
    def from_gymnasium(
        cls,
        env: gymnasium.Env,
        num_steps: int,
        policy: Callable[[Any], Any] | None = None,
        *,
        seed: int | None = None,
        gamma: float = 1.0,
    ) -> "TransitionBatch":
        """Record ``num_steps`` transitions of a Gymnasium environment.

        The environment is reset at the start and whenever an episode ends. Observations and
        actions of composite spaces (Dict, Tuple, ...) are stored flattened with
        ``gymnasium.spaces.flatten``; Box and Discrete values are stored as they are.

        Args:
            env: The environment (not vectorised).
            num_steps: How many transitions to record.
            policy: ``policy(observation) -> action``; ``None`` samples actions uniformly from
                ``env.action_space``.
            seed: Seeds the first reset (and the action space when ``policy`` is ``None``).
            gamma: The discount factor, stored as ``In``.

        Returns:
            The batch. ``In`` is 0 for transitions into a terminal state (``terminated``) and
            ``gamma`` otherwise: a truncated episode (time limit) ends in a real, non-terminal
            state.

        Raises:
            ValueError: If ``num_steps`` is not positive.
        """
        if num_steps < 1:
            raise ValueError(f"num_steps must be positive, got {num_steps}")
        if policy is None:
            env.action_space.seed(seed)

            def policy(_: Any) -> Any:
                return env.action_space.sample()

        obs_space, act_space = env.observation_space, env.action_space
        columns: dict[str, list] = {"S": [], "A": [], "Rn": [], "In": [], "S_next": []}
        observation, _ = env.reset(seed=seed)
        for _ in range(num_steps):
            action = policy(observation)
            next_observation, reward, terminated, truncated, _ = env.step(action)
            columns["S"].append(_encode(obs_space, observation))
            columns["A"].append(_encode(act_space, action))
            columns["Rn"].append(reward)
            columns["In"].append(0.0 if terminated else gamma)
            columns["S_next"].append(_encode(obs_space, next_observation))
            observation = env.reset()[0] if terminated or truncated else next_observation
        return cls(**{name: np.stack(values) for name, values in columns.items()})
